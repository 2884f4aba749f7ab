# Stream entries of version 2 (docs/events.md, "Version 2"): the module
# writes the event's fields packed into one stream field `e` beside v and
# request_id; the sidecar books them exactly as the version 1 entry they
# stand for (same costs to the nano-USD, same content hash: a redelivery in
# the other version is a duplicate, other content a dead letter), still
# books version 1 entries left in the stream by an older module, and
# dead-letters a payload that does not parse. lava_event_version 1 makes the
# module write version 1 again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);

use LavaTest qw(wait_for);

my $OPENAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

my $s = LavaTest->start;
sub sql1 { $s->sql_value(@_) }

# USD per 1M tokens; per token in nusd: input 1250, cached 125, output 10000
sql1(q{SELECT add_rate('openai', 'tm-v2', '2020-01-01', input => 1.25, cached_input => 0.125,
                       output => 10)});
my $m = $s->setup_merchant(name => 'V2', meter_kind => 'percentage', meter_amount => 20,
                           funds => 100);

# The raw entry of a request: (stream id, [field, value, ...]) as Redis holds it.
sub raw_entry {
    my ($rid) = @_;
    my $found;
    wait_for(10, sub {
        for my $e ($s->redis('xrange', 'lava:usage', '-', '+')) {
            my %f = @{ $e->[1] };
            $found = $e, last if ($f{request_id} // '') eq $rid;
        }
        $found;
    });
    return $found ? ($found->[0], $found->[1]) : ();
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

sub unpack_v2 {
    my ($p) = @_;
    my @kv;
    while (length $p) {
        $p =~ s/\A([a-z0-9_]+):(\d+):// or return undef;
        push @kv, $1, substr($p, 0, $2);
        substr($p, $2, 1) eq "\n" or return undef;
        substr($p, 0, $2 + 1) = '';
    }
    return { @kv };
}

sub call {
    my (%o) = @_;
    my @h = (Authorization => "Bearer " . ($o{token} // $m->{token}),
             'x-mock-usage' => 'prompt=1000,cached=200,completion=100');
    my $body = LavaTest::chat_body(model => 'tm-v2', stream => $o{stream});
    return $o{stream} ? $s->stream(target => $OPENAI, body => $body, headers => \@h)
                      : $s->request(target => $OPENAI, body => $body, headers => \@h);
}

sub booked {
    my ($rid) = @_;
    return $s->wait_booked($rid) || do { fail("$rid booked"); {} };
}

# 800 uncached * 1250 + 200 cached * 125 + 100 * 10000
my $BASE = 800 * 1250 + 200 * 125 + 100 * 10000;
is $BASE, 2_025_000, 'the expected base cost';

sub check_cost {
    my ($row, $name) = @_;
    is $row->{base_cost_nusd}, $BASE, "$name: base cost $BASE nusd";
    is $row->{fee_nusd}, $BASE / 5, "$name: the 20% fee, exact";
    is $row->{total_nusd}, $row->{base_cost_nusd} + $row->{fee_nusd} + $row->{service_charge_nusd},
       "$name: total = base + fee + service charge";
}

# --- the module writes version 2 ------------------------------------------------

my %by_version;
for my $stream (0, 1) {
    my $name = $stream ? 'SSE' : 'JSON';
    my $r = call(stream => $stream);
    is $r->{status}, 200, "$name: 200";
    my ($id, $kv) = raw_entry($r->{rid});
    ok $kv, "$name: its entry is in the stream" or next;
    my %f = @$kv;
    is_deeply [sort keys %f], [qw(e request_id v)], "$name: three stream fields: v, request_id, e";
    is $f{v}, '2', "$name: v 2";
    my $e = unpack_v2($f{e});
    ok $e, "$name: e unpacks as docs/events.md says";
    is_deeply [@$e{qw(payer merchant_id customer_id meter model status outcome stream
                      input_tokens cached_input_tokens output_tokens requests)}],
              ['customer', $m->{merchant}, $m->{customer}, 'chat', 'tm-v2', 200, 'complete', $stream,
               800, 200, 100, 1], "$name: the event's fields are in it";
    ok !exists $e->{v} && !exists $e->{request_id}, "$name: v and request_id only outside";
    like $e->{ts_ms} // '', qr/^\d{13}$/, "$name: ts_ms";
    my $row = booked($r->{rid});
    check_cost($row, $name);
    is sql1('SELECT v FROM events WHERE request_id = ?', $r->{rid}), 1,
       "$name: events.v is the fields' version, 1";
    $by_version{2} = $row unless $stream;
}

{
    my $r = $s->request(target => $OPENAI, body => LavaTest::chat_body(model => 'tm-v2'),
                        headers => [Authorization => 'Bearer not-a-token']);
    is $r->{status}, 401, 'a refused request: 401';
    my (undef, $kv) = raw_entry($r->{rid});
    my %f = @{ $kv // [] };
    is $f{v}, '2', 'its event is version 2 too';
    my $e = unpack_v2($f{e} // '') // {};
    is $e->{outcome}, 'refused', 'outcome refused';
    ok length($e->{error} // ''), "with its error ($e->{error})";
    my $row = booked($r->{rid});
    is $row->{total_nusd} // -1, 0, 'booked, costing nothing';
}

# --- entries written directly: version 1 still booked, version 2 the same -------

my $seq = 0;
sub rid { sprintf 'req_06H9%022d', ++$seq }
my $TS = int(time * 1000);

sub fields {
    my (%o) = @_;
    my @kv = (v => 1, request_id => rid(), ts_ms => $TS, duration_ms => 5, ttfb_ms => 2,
              merchant_id => $m->{merchant}, customer_id => $m->{customer}, meter => 'chat',
              payer => 'customer', key_source => 'managed', provider => 'openai',
              host => 'api.openai.com', endpoint => '/v1/chat/completions', method => 'POST',
              model => 'tm-v2', status => 200, outcome => 'complete', stream => 0,
              usage_source => 'reported', input_tokens => 800, cached_input_tokens => 200,
              output_tokens => 100,
              usage_raw => qq({"prompt_tokens":1000,\n"note":"a:1:b\\n"}), requests => 1,
              metadata => '{"k":"v:2:x"}', bytes_out => 321);
    my %i = map { $kv[2 * $_] => $_ } 0 .. $#kv / 2;
    for my $k (keys %o) {
        if (exists $i{$k}) { $kv[2 * $i{$k} + 1] = $o{$k} } else { push @kv, $k, $o{$k} }
    }
    return @kv;
}

sub as_v2 {
    my (@kv) = @_;
    my %f = @kv;
    return (v => 2, request_id => $f{request_id}, e => pack_v2(@kv));
}

sub xadd { $s->redis('xadd', 'lava:usage', '*', @_) }

my @v1 = fields();
my %v1 = @v1;
xadd(@v1);
my $v1_row = booked($v1{request_id});
check_cost($v1_row, 'a version 1 entry');

my @v2 = fields();
my %v2 = @v2;
xadd(as_v2(@v2));
my $v2_row = booked($v2{request_id});
check_cost($v2_row, 'the same event as a version 2 entry');
# the meter's count before each request differs: one came after the other
is $v2_row->{fee_units_before} - $v1_row->{fee_units_before}, 1100,
   'the second counts after the first (1100 tokens)';
delete @$_{qw(request_id fee_units_before booked_at)} for $v1_row, $v2_row;
is_deeply $v2_row, $v1_row, 'version 1 and 2 of one event book the same row';
is_deeply
    $s->sql(q{SELECT kind, debit_account, credit_account, amount_nusd FROM transfers
              WHERE request_id = ? ORDER BY kind}, $v2{request_id}),
    $s->sql(q{SELECT kind, debit_account, credit_account, amount_nusd FROM transfers
              WHERE request_id = ? ORDER BY kind}, $v1{request_id}),
    'and the same transfers';
is_deeply
    $s->sql(q{SELECT usage_raw, metadata::text AS metadata, bytes_out, ttfb_ms, endpoint
              FROM events WHERE request_id = ?}, $v2{request_id}),
    $s->sql(q{SELECT usage_raw, metadata::text AS metadata, bytes_out, ttfb_ms, endpoint
              FROM events WHERE request_id = ?}, $v1{request_id}),
    'and the same event row (texts holding ":" and new lines included)';

# --- one request id in both versions -------------------------------------------

sub dead_for {
    my ($rid) = @_;
    return $s->sql('SELECT * FROM dead_letters WHERE request_id = ? ORDER BY id', $rid);
}

# a marker entry booked after the others: everything before it was read
sub settle {
    my %mk = fields();
    xadd(as_v2(%mk));
    booked($mk{request_id});
}

{
    my @a = fields(output_tokens => 7);
    my %a = @a;
    xadd(@a);
    booked($a{request_id});
    xadd(as_v2(@a));
    settle();
    is sql1('SELECT count(*) FROM events WHERE request_id = ?', $a{request_id}), 1,
       'version 1 then the same event as version 2: booked once';
    is scalar @{ dead_for($a{request_id}) }, 0, 'the second is a plain duplicate, no dead letter';

    my @b = fields(output_tokens => 8);
    my %b = @b;
    xadd(as_v2(@b));
    booked($b{request_id});
    xadd(@b);
    settle();
    is sql1('SELECT count(*) FROM events WHERE request_id = ?', $b{request_id}), 1,
       'version 2 then the same as version 1: booked once';
    is scalar @{ dead_for($b{request_id}) }, 0, 'no dead letter';

    my @c = @b;                             # the same id, other content
    $c[$_ + 1] = 9 for grep { $c[$_] eq 'output_tokens' } map { 2 * $_ } 0 .. $#c / 2;
    xadd(as_v2(@c));
    my $dl = wait_for(10, sub { dead_for($b{request_id})->[0] });
    ok $dl, 'the same request id with other content (version 2) is dead-lettered';
    like $dl->{reason} // '', qr/other content/, "reason: $dl->{reason}" if $dl;
    is sql1('SELECT output_tokens FROM events WHERE request_id = ?', $b{request_id}), 8,
       'the first content stays booked';
}

# --- a version 2 entry that cannot be read --------------------------------------

{
    my @p = fields();
    my %p = @p;
    my %e = as_v2(@p);
    my $cut = substr $e{e}, 0, length($e{e}) - 4;
    my $bad_id = xadd(v => 2, request_id => $p{request_id}, e => $cut);
    my $dl = wait_for(10, sub { $s->sql('SELECT * FROM dead_letters WHERE stream_id = ?', $bad_id)->[0] });
    ok $dl, 'a payload cut short: dead-lettered';
    like $dl->{reason} // '', qr/field e: payload ends inside a field/, "reason: $dl->{reason}" if $dl;
    my $f = LavaTest::json_decode($dl->{fields} // '{}') // {};
    is_deeply [@$f{qw(v request_id e)}], ['2', $p{request_id}, $cut],
              'kept as it came, ready to be sent again';
    ok !sql1('SELECT count(*) FROM events WHERE request_id = ?', $p{request_id}), 'nothing booked';

    my %q = fields();
    my $noe = xadd(v => 2, request_id => $q{request_id});
    $dl = wait_for(10, sub { $s->sql('SELECT * FROM dead_letters WHERE stream_id = ?', $noe)->[0] });
    like $dl->{reason} // '', qr/field e is missing/, 'version 2 without e: dead-lettered';
}

# --- lava_event_version 1 ------------------------------------------------------

$s->configure_nginx(http => ['lava_event_version 1;']);
{
    my $r = call();
    is $r->{status}, 200, 'lava_event_version 1: 200';
    my (undef, $kv) = raw_entry($r->{rid});
    my %f = @{ $kv // [] };
    is $f{v}, '1', 'the module writes version 1';
    ok !exists $f{e}, 'a stream field per event field';
    is_deeply [@f{qw(model input_tokens cached_input_tokens output_tokens payer)}],
              ['tm-v2', 800, 200, 100, 'customer'], 'with the usage';
    my $row = booked($r->{rid});
    check_cost($row, 'a version 1 request');
    is $row->{total_nusd}, $by_version{2}{total_nusd}, 'costing what the version 2 request cost';
}

$s->finish;
done_testing;
