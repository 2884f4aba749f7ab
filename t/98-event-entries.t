# Stream entries of several events, version 3 (docs/events.md, "Version 3"):
# the module gathers the version 2 events of one worker, for at most
# lava_event_batch_wait or lava_event_batch events, into one XADD; the
# sidecar books each event of such an entry on its own, exactly as the
# version 2 entry it stands for (same costs to the nano-USD), dead-letters
# only the event at fault (each under its own stream id "<entry id>/<k>",
# exactly once), reads versions 1, 2 and 3 mixed in one stream, and books
# nothing twice and loses nothing when it is killed mid-batch or gets the
# same entries again. lava_event_batch 1 is the behaviour before: one event
# per entry. Bad values of the two directives are refused by nginx -t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for);

my $OPENAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

# --- nginx -t: the directives' bounds ------------------------------------------

{
    my $dir = tempdir('lava-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $provider = <<'HTTP';
    upstream lava_test { server 127.0.0.1:9; keepalive 4; }
    lava_allow_private_upstreams on;
    lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;
HTTP
    my $t = sub { LavaTest::nginx_t(dir => $dir, scheme => 'http', http => $provider . $_[0]) };
    for my $ok ('lava_event_batch 1;', 'lava_event_batch 256;', 'lava_event_batch_wait 0;',
                'lava_event_batch_wait 100ms;') {
        my ($rc, $out) = $t->($ok);
        is $rc, 0, "nginx -t accepts $ok" or diag $out;
    }
    for my $c (['lava_event_batch 0;', qr/"lava_event_batch" must be 1 to 256/],
               ['lava_event_batch 257;', qr/"lava_event_batch" must be 1 to 256/],
               ['lava_event_batch many;', qr/invalid number/],
               ['lava_event_batch_wait 101ms;', qr/"lava_event_batch_wait" must be at most 100ms/],
               ['lava_event_batch_wait 1s;', qr/"lava_event_batch_wait" must be at most 100ms/]) {
        my ($rc, $out) = $t->($c->[0]);
        isnt $rc, 0, "nginx -t refuses $c->[0]";
        like $out, $c->[1], '  naming the bound' or diag $out;
    }
}

my $s = LavaTest->start;
sub sql1 { $s->sql_value(@_) }

# USD per 1M tokens; per token in nusd: input 1250, cached 125, output 10000
sql1(q{SELECT add_rate('openai', 'tm-v3', '2020-01-01', input => 1.25, cached_input => 0.125,
                       output => 10)});
my $m = $s->setup_merchant(name => 'V3', meter_kind => 'percentage', meter_amount => 20,
                           funds => 1000);

# 800 uncached * 1250 + 200 cached * 125 + 100 * 10000, and the 20% fee
my $BASE = 800 * 1250 + 200 * 125 + 100 * 10000;
is $BASE, 2_025_000, 'the expected base cost';

sub check_cost {
    my ($row, $name) = @_;
    is $row->{base_cost_nusd}, $BASE, "$name: base cost $BASE nusd";
    is $row->{fee_nusd}, $BASE / 5, "$name: the 20% fee, exact";
    is $row->{total_nusd}, $row->{base_cost_nusd} + $row->{fee_nusd} + $row->{service_charge_nusd},
       "$name: total = base + fee + service charge";
}

sub ledger_ok {
    my ($name) = @_;
    my @bad = map { $_->{rule} } grep { !$_->{ok} } @{ $s->sql('SELECT rule, ok FROM ledger_check') };
    ok !@bad, "$name: ledger_check holds" or diag "failed: @bad";
}

sub pending_count { ($s->redis('xpending', 'lava:usage', 'lava-sidecar'))[0] // 0 }

sub booked_count {
    my (@rids) = @_;
    return 0 unless @rids;
    return sql1('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@rids);
}

# the stream's entries with their events (LavaTest::entry_events)
sub entries {
    return map { { id => $_->[0], kv => $_->[1], events => [LavaTest::entry_events($_->[1])] } }
           $s->redis('xrange', 'lava:usage', '-', '+');
}

# N requests at the same time (one process each); their request ids
sub concurrent {
    my ($n) = @_;
    my $dir = $s->dir;
    my @kids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            my $r = $s->request(target => $OPENAI, body => LavaTest::chat_body(model => 'tm-v3'),
                                headers => [Authorization => "Bearer $m->{token}",
                                            'x-mock-usage' => 'prompt=1000,cached=200,completion=100']);
            open my $fh, '>', "$dir/v3-$$.rid" or POSIX::_exit(1);
            print $fh "$r->{status} " . ($r->{rid} // '') . "\n";
            close $fh;
            POSIX::_exit(0);        # not exit: the parent's END blocks stop the stack
        }
        push @kids, $pid;
    }
    my @rids;
    for my $pid (@kids) {
        waitpid $pid, 0;
        my ($status, $rid) = split ' ', LavaTest::slurp("$dir/v3-$pid.rid") // '';
        unlink "$dir/v3-$pid.rid";
        is $status, 200, "concurrent request: 200";
        push @rids, $rid if $rid;
    }
    return @rids;
}

# --- through nginx: events of concurrent requests share entries -----------------

$s->configure_nginx(http => ['lava_event_batch 8;', 'lava_event_batch_wait 100ms;']);
my %before = map { $_->{id} => 1 } entries();
my @rids = concurrent(24);
is scalar @rids, 24, '24 request ids';
$s->wait_booked($_) for @rids;
my @new = grep { !$before{ $_->{id} } } entries();
my %in;
for my $e (@new) {
    $in{ $_->{request_id} }++ for @{ $e->{events} };
}
is_deeply [sort grep { $in{$_} != 1 } @rids], [], 'every request has exactly one event in the stream';
my @multi = grep { @{ $_->{events} } > 1 } @new;
ok @multi, 'some entries carry several events (' . scalar(@multi) . ' of ' . scalar(@new) . ')';
ok !(grep { @{ $_->{events} } > 8 } @new), 'none more than lava_event_batch (8)';
for my $e (@multi) {
    my @kv = @{ $e->{kv} };
    is_deeply [@kv[0, 1, 2]], ['v', '3', 'e'], "entry $e->{id}: two fields, v 3 and e";
    is scalar(@kv), 4, "entry $e->{id}: nothing else";
    is scalar(() = $kv[3] =~ /(?:\A|\n)request_id:30:req_/g), scalar(@{ $e->{events} }),
       "entry $e->{id}: e holds a request_id pair per event";
}
my $nbooked = 0;
for my $rid (@rids) {
    my $row = $s->wait_booked($rid) or do { fail("$rid booked"); next };
    $nbooked++;
    check_cost($row, "request $rid") if $nbooked <= 3;
    is $row->{total_nusd}, $BASE + $BASE / 5 + $row->{service_charge_nusd}, "$rid: its exact total"
        if $nbooked > 3;
}
is $nbooked, 24, 'all 24 booked';
my $bad_sid = sql1(q{SELECT count(*) FROM events WHERE request_id = ANY(?)
                     AND stream_id !~ '^[0-9]+-[0-9]+(/[0-9]+)?$'}, \@rids);
is $bad_sid, 0, 'events.stream_id: the entry id, "/<k>" for an event of a version 3 entry';
ok wait_for(10, sub { pending_count() == 0 }), 'all acknowledged';
ledger_ok('after concurrent requests');

# lava_event_batch 1: one event per entry, as before
$s->configure_nginx(http => ['lava_event_batch 1;', 'lava_event_batch_wait 100ms;']);
%before = map { $_->{id} => 1 } entries();
my @one = concurrent(8);
$s->wait_booked($_) for @one;
@new = grep { !$before{ $_->{id} } } entries();
is scalar(grep { $_->{kv}[1] eq '2' && @{ $_->{events} } == 1 } @new), scalar(@new),
   'lava_event_batch 1: every entry of version 2, one event each';
is booked_count(@one), 8, 'and all 8 booked';

# --- entries written directly: versions 1, 2 and 3 in one stream ---------------

my $seq = 0;
sub rid { sprintf 'req_06H98%021d', ++$seq }
my $TS = int(time * 1000);

sub fields {
    my (%o) = @_;
    my @kv = (v => 1, request_id => rid(), ts_ms => $TS, duration_ms => 5, ttfb_ms => 2,
              merchant_id => $m->{merchant}, customer_id => $m->{customer}, meter => 'chat',
              payer => 'customer', key_source => 'managed', provider => 'openai',
              host => 'api.openai.com', endpoint => '/v1/chat/completions', method => 'POST',
              model => 'tm-v3', status => 200, outcome => 'complete', stream => 0,
              usage_source => 'reported', input_tokens => 800, cached_input_tokens => 200,
              output_tokens => 100, requests => 1, bytes_out => 321,
              usage_raw => qq({"note":"a:1:b\\n"}));
    my %i = map { $kv[2 * $_] => $_ } 0 .. $#kv / 2;
    for my $k (keys %o) {
        if (exists $i{$k}) { $kv[2 * $i{$k} + 1] = $o{$k} } else { push @kv, $k, $o{$k} }
    }
    return @kv;
}

# docs/events.md's packing, written here from the document
sub pack_v2 {
    my (@kv) = @_;
    my $p = '';
    while (my ($k, $v) = splice @kv, 0, 2) {
        next if $k eq 'v' || $k eq 'request_id' || !length $v;
        $p .= "$k:" . length($v) . ":$v\n";
    }
    return $p;
}

sub as_v2 { my %f = @_; return (v => 2, request_id => $f{request_id}, e => pack_v2(@_)) }

# a version 3 entry of these events (array refs of version 1 pairs), as
# docs/events.md says: per event a request_id pair, then its version 2 payload
sub as_v3 {
    return (v => 3, e => join '', map { my %f = @$_;
                                        "request_id:" . length($f{request_id}) . ":$f{request_id}\n"
                                        . pack_v2(@$_) } @_);
}

sub rid_of { my %f = @{ $_[0] }; $f{request_id} }
sub xadd { $s->redis('xadd', 'lava:usage', '*', @_) }
sub dead_for { $s->sql('SELECT * FROM dead_letters WHERE request_id = ? ORDER BY id', $_[0]) }

{
    my @v1 = fields();
    my @v2 = fields();
    my @v3 = map { [fields()] } 1 .. 3;
    xadd(@v1);
    xadd(as_v2(@v2));
    my $id3 = xadd(as_v3(@v3));
    my @all = (rid_of(\@v1), rid_of(\@v2), map { rid_of($_) } @v3);
    ok wait_for(15, sub { booked_count(@all) == 5 }), 'versions 1, 2 and 3 in one stream: all booked';
    check_cost($s->wait_booked($_), "mixed: $_") for @all;
    my $sids = $s->sql('SELECT request_id, stream_id FROM events WHERE request_id = ANY(?)
                        ORDER BY stream_id', [map { rid_of($_) } @v3]);
    is_deeply [map { $_->{stream_id} } @$sids], ["$id3/1", "$id3/2", "$id3/3"],
              'the events of the version 3 entry: stream ids <entry id>/1, /2, /3';
    is_deeply [map { $_->{request_id} } @$sids], [map { rid_of($_) } @v3], 'in their order';

    # the same event again, in another version: a duplicate, booked once
    xadd(@{ $v3[0] });
    xadd(as_v3([fields()], $v3[1]));
    my @mk = fields();
    xadd(as_v2(@mk));
    $s->wait_booked(rid_of(\@mk));
    is sql1('SELECT count(*) FROM events WHERE request_id = ANY(?)', [map { rid_of($_) } @v3]), 3,
       'an event of a version 3 entry sent again as version 1 or inside another entry: booked once';
    is scalar(@{ dead_for(rid_of($v3[0])) }) + scalar(@{ dead_for(rid_of($v3[1])) }), 0,
       'plain duplicates, no dead letter';
}

# --- a poison event among good ones ---------------------------------------------

my (@good, @poison);
{
    my @ev = ([fields()], [fields(input_tokens => '12abc')], [fields()],
              [fields(customer_id => 'no-such-customer')], [fields()]);
    my $id = xadd(as_v3(@ev));
    my @g = map { rid_of($ev[$_]) } 0, 2, 4;
    ok wait_for(15, sub { booked_count(@g) == 3 }), 'the three good events of the entry are booked';
    check_cost($s->wait_booked($_), "beside poison: $_") for @g;
    my $d2 = wait_for(10, sub { dead_for(rid_of($ev[1]))->[0] });
    ok $d2, 'the event with a bad integer is dead-lettered';
    is $d2->{stream_id}, "$id/2", '  under its own stream id (<entry id>/2)' if $d2;
    like $d2->{reason} // '', qr/input_tokens/, "  reason: " . ($d2->{reason} // '');
    my $f = LavaTest::json_decode($d2->{fields} // '{}') // {};
    is_deeply [@$f{qw(v request_id)}], ['2', rid_of($ev[1])],
              '  kept as the version 2 entry it stands for, ready to be sent again';
    my $d4 = wait_for(10, sub { dead_for(rid_of($ev[3]))->[0] });
    ok $d4, 'the event of a customer the ledger does not have (refused by the booking) is dead-lettered';
    like $d4->{reason} // '', qr/no account wallet:no-such-customer/, "  reason: " . ($d4->{reason} // '');
    is $d4->{stream_id}, "$id/4", '  under its own stream id (<entry id>/4)' if $d4;
    is booked_count(rid_of($ev[1]), rid_of($ev[3])), 0, 'neither poison event is booked';
    is sql1('SELECT count(*) FROM dead_letters WHERE request_id = ANY(?)', \@g), 0,
       'no good event is dead-lettered';
    ok wait_for(10, sub { pending_count() == 0 }), 'the entry is acknowledged';
    ledger_ok('beside poison');
}

# --- the sidecar killed mid-batch, then everything delivered again -------------

{
    my $dir = $s->dir;
    my $conf = "$dir/sidecar/sidecar.conf";
    my $base_conf = LavaTest::slurp($conf);
    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh $base_conf, "batch_size = 5\n";
    close $fh;
    $s->stop_part('sidecar');

    # 300 entries of 10 events (3,000), every 97th event poison (bad integer)
    my $n = 0;
    for my $i (1 .. 300) {
        my @ev;
        for my $k (1 .. 10) {
            my @f = ++$n % 97 == 0 ? fields(output_tokens => 'x1') : fields();
            push @ev, \@f;
            if ($n % 97 == 0) { push @poison, rid_of(\@f) } else { push @good, rid_of(\@f) }
        }
        xadd(as_v3(@ev));
    }
    is scalar(@poison), 30, '3,000 events in 300 entries, 30 of them poison';

    $s->start_part('sidecar');
    my $pid = (split ' ', LavaTest::slurp("$dir/pids/sidecar"))[0];
    ok wait_for(30, sub { booked_count(@good) > 0 }), 'the sidecar books';
    kill 'KILL', $pid;
    wait_for(10, sub { !-e "/proc/$pid" || LavaTest::slurp("/proc/$pid/stat") =~ /^\d+ \(.*?\) Z/ });
    my $at_kill = booked_count(@good);
    ok $at_kill < @good, "killed mid-way ($at_kill of " . scalar(@good) . ' booked)';
    $s->start_part('sidecar');
    ok wait_for(60, sub { booked_count(@good) == @good }), 'restarted: every good event booked';
    ok wait_for(20, sub { sql1('SELECT count(*) FROM dead_letters WHERE request_id = ANY(?)',
                               \@poison) == @poison }), 'every poison event dead-lettered';
    ok wait_for(20, sub { pending_count() == 0 }), 'nothing left pending';

    # the group rewound: every entry of the stream delivered again, as after
    # a crash between the commit and the acknowledgement
    $s->redis('xgroup', 'setid', 'lava:usage', 'lava-sidecar', '0');
    my @mk = fields();
    xadd(as_v2(@mk));
    ok $s->wait_booked(rid_of(\@mk), 60), 'everything read again (a marker after it is booked)';
    ok wait_for(20, sub { pending_count() == 0 }), 'and acknowledged';

    is sql1('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@good), scalar(@good),
       'nothing booked twice';
    is sql1('SELECT count(*) FROM (SELECT request_id FROM transfers WHERE request_id = ANY(?)
             GROUP BY request_id, kind HAVING count(*) > 1) x', \@good), 0, 'no transfer twice';
    is sql1('SELECT count(*) FROM dead_letters WHERE request_id = ANY(?)', \@poison),
       scalar(@poison), 'each poison event dead-lettered exactly once';
    is sql1('SELECT count(*) FROM dead_letters WHERE request_id = ANY(?)', \@good), 0,
       'no good event dead-lettered';
    is sql1('SELECT count(DISTINCT total_nusd) FROM request_breakdown WHERE request_id = ANY(?)',
            \@good), 1, 'every good event costs the same';
    is sql1('SELECT min(base_cost_nusd) FROM request_breakdown WHERE request_id = ANY(?)', \@good),
       $BASE, 'the exact base cost';
    ledger_ok('after the kill and the redelivery');

    open $fh, '>', $conf or die "$conf: $!\n";
    print $fh $base_conf;
    close $fh;
}

$s->finish;
done_testing;
