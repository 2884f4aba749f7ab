# The disk spool of the event queue (lava_event_spool, docs/directives.md):
# with Redis away, events beyond the memory queue and those held at worker
# exit (reload, restart, a killed worker) go to spool files, which are
# replayed once Redis is back, each booked once. When even the spool is full,
# `refuse` answers 503 and `serve` serves and counts what it drops. Torn and
# damaged files are handled without a crash.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path ();
use Compress::Zlib ();
use Test::More;
use Time::HiRes qw(sleep time);

use LavaTest qw(wait_for);

my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 1000);
my $spool = $s->dir . '/nginx/spool';

# nginx restarted with these http-level directives (LavaTest::configure_nginx)
my $configured = 0;
sub configure {
    my (@lines) = @_;
    # the stack's nginx made the directory already: start without it, so that
    # the first test below sees nginx create it
    $s->configure_nginx(http => \@lines,
                        while_stopped => sub { File::Path::remove_tree($spool) unless $configured++ });
}


sub spool_files { my ($glob) = @_; my @f = glob("$spool/" . ($glob // '*.spool')); @f }

sub nginx_pid { (split ' ', LavaTest::slurp($s->dir . '/pids/nginx'))[0] }

sub workers {
    my $master = nginx_pid();
    return grep { ((LavaTest::slurp("/proc/$_/stat") =~ /^\d+ \(.*?\) \S (\d+)/)[0] // 0) == $master }
           map { m{/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
}

# n requests, alternating JSON and SSE; big => metadata that makes each event
# about 4 KiB (to fill a spool quickly). Returns the responses.
sub traffic {
    my ($n, %o) = @_;
    my @r;
    for my $i (1 .. $n) {
        my $stream = $i % 2;
        my @h = (Authorization => "Bearer $m->{token}", 'x-mock-usage' => 'prompt=100,cached=0,completion=10');
        push @h, 'x-lava-metadata' => LavaTest::json_encode({ pad => 'x' x 3500 }) if $o{big};
        push @r, $stream
            ? $s->stream(target => $T, body => LavaTest::chat_body(stream => 1), headers => \@h)
            : $s->request(target => $T, body => LavaTest::chat_body(), headers => \@h);
    }
    return @r;
}

sub booked_count {
    my (@rids) = @_;
    return 0 unless @rids;
    return $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@rids);
}

sub all_booked_once {
    my ($rids, $what) = @_;
    my $n = wait_for(30, sub { booked_count(@$rids) == @$rids ? 1 : undef });
    ok $n, "$what: all " . scalar(@$rids) . ' requests booked' or
        diag 'booked ' . booked_count(@$rids) . ' of ' . scalar @$rids;
    my $dup = $s->sql_value('SELECT count(*) FROM (SELECT request_id FROM transfers
                              WHERE request_id = ANY(?) GROUP BY request_id, kind
                             HAVING count(*) > 1) x', $rids);
    is $dup, 0, "$what: no request charged twice";
}

# --- Redis away: events go to the spool ---------------------------------------------

configure("lava_event_spool $spool;", 'lava_event_queue 5;');
ok -d $spool, 'nginx created the spool directory';

$s->stop_part('redis');
my @r = traffic(24);
is scalar(grep { $_->{status} == 200 && $_->{rid} } @r), 24, 'Redis away: every request served, with a request id';
ok scalar(spool_files()) >= 1, 'the events are in spool files';
my @rids = map { $_->{rid} } @r;

# reload: the old workers leave their files to the new ones
my @old = workers();
kill 'HUP', nginx_pid();
ok wait_for(15, sub { !grep { -e "/proc/$_" } @old }), 'reload: the old workers exited';

# restart with Redis still away: the files stay for the next nginx
@r = traffic(6);
push @rids, map { $_->{rid} } @r;
$s->stop_part('nginx');
my @files = spool_files();
ok @files >= 2, 'after the reload and a stop the spool files are on disk (' . scalar(@files) . ')';
unlike LavaTest::slurp($s->error_log), qr/are lost at worker exit/, 'nothing lost at exit';

$s->start_part('redis');
$s->start_part('nginx');
all_booked_once(\@rids, 'spooled through a reload and a restart');
ok wait_for(10, sub { !spool_files() }), 'every spool file was replayed and removed';
like LavaTest::slurp($s->error_log), qr/lava spool: replaying .* left by another process/,
     'the files were claimed by the new workers';

# --- a worker killed while it holds spool files -----------------------------------

$s->stop_part('redis');
@r = traffic(20);
my @kill_rids = map { $_->{rid} } @r;
ok scalar(spool_files()) >= 1, 'spool files written while Redis is away';
# the event is made in the log phase, which can run just after the client has
# its last byte: kill only once every request is in the access log
ok wait_for(10, sub { my $log = LavaTest::slurp($s->dir . '/nginx/access.log');
                      !grep { index($log, "rid=$_ ") < 0 } @kill_rids }),
   'the 20 requests went through the log phase';
my @killed = workers();
kill 'KILL', @killed;
ok wait_for(10, sub { scalar(workers()) == 2 }), 'nginx started new workers';
$s->start_part('redis');
all_booked_once(\@kill_rids, 'after kill -9 of the workers');
ok wait_for(10, sub { !spool_files() }), 'the spool is empty again';

# --- events held in memory at exit --------------------------------------------------

# A frozen Redis with a long reply timeout: the connection stays "ready", the
# XADDs wait in memory. A reload makes the old workers write them to the
# spool; when Redis wakes up it also runs the XADDs it had received, so some
# events reach the stream twice, and are booked once.
configure("lava_event_spool $spool;", 'lava_event_queue 1000;', 'lava_redis_timeout 60s;');
my $redis_pid = (split ' ', LavaTest::slurp($s->dir . '/pids/redis'))[0];
kill 'STOP', $redis_pid;
@r = traffic(10);
my @mem_rids = map { $_->{rid} } @r;
is scalar(grep { $_->{status} == 200 } @r), 10, 'Redis frozen: served';
@old = workers();
kill 'HUP', nginx_pid();
ok wait_for(15, sub { !grep { -e "/proc/$_" } @old }), 'reload: the old workers exited';
like LavaTest::slurp($s->error_log), qr/lava events: worker exit with [1-9]\d* events written to the spool/,
     'the old workers wrote the events they held in memory to the spool';
kill 'CONT', $redis_pid;
all_booked_once(\@mem_rids, 'held in memory at exit');
ok wait_for(10, sub { !spool_files() }), 'the spool is empty again';

# --- damaged files ---------------------------------------------------------------

sub record {
    my (@args) = @_;
    my $payload = pack('V', scalar @args) . join '', map { pack('V', length) . $_ } @args;
    return pack('VV', length $payload, Compress::Zlib::crc32($payload)) . $payload;
}

sub event_fields {
    my ($rid) = @_;
    return (v => 1, request_id => $rid, ts_ms => int(time * 1000), duration_ms => 5,
            payer => 'merchant', merchant_id => $m->{merchant}, key_source => 'managed',
            provider => 'openai', host => 'api.openai.com', endpoint => '/v1/chat/completions',
            method => 'POST', model => 'gpt-4o-mini', status => 200, outcome => 'complete',
            stream => 0, usage_source => 'reported', input_tokens => 10, output_tokens => 2,
            requests => 1, bytes_out => 100);
}

sub hand_rid { my ($n) = @_; sprintf 'req_06H0000000000000000000%04d', $n }

sub write_file {
    my ($name, $bytes) = @_;
    open my $fh, '>', "$spool/$name" or die "$spool/$name: $!\n";
    binmode $fh;
    print $fh $bytes;
    close $fh;
}

# torn: the last record cut short, as a crash during its write leaves it
my $torn = 'LAVASPL1' . record(event_fields(hand_rid(1))) . record(event_fields(hand_rid(2)));
my $cut = record(event_fields(hand_rid(3)));
write_file('0000000000001-1-0.spool', $torn . substr($cut, 0, length($cut) - 7));
# bad checksum in the second of three records
my $bad = record(event_fields(hand_rid(5)));
substr($bad, 4, 1) = chr(ord(substr($bad, 4, 1)) ^ 1);
write_file('0000000000002-1-0.spool',
           'LAVASPL1' . record(event_fields(hand_rid(4))) . $bad . record(event_fields(hand_rid(6))));
# not a spool file at all
write_file('0000000000003-1-0.spool', "hello, world\n" x 3);

all_booked_once([hand_rid(1), hand_rid(2), hand_rid(4)], 'records before a cut or a bad checksum');
is booked_count(hand_rid(3), hand_rid(5), hand_rid(6)), 0, 'nothing after a cut or a bad checksum';
ok wait_for(10, sub { !-e "$spool/0000000000001-1-0.spool" }), 'the torn file was replayed and removed';
ok wait_for(10, sub { -e "$spool/0000000000002-1-0.spool.corrupt" }), 'the damaged file is kept as *.corrupt';
ok wait_for(10, sub { -e "$spool/0000000000003-1-0.spool.corrupt" }),
   'a file that is not a spool file is kept as *.corrupt';
my $log = LavaTest::slurp($s->error_log);
like $log, qr/record cut short at offset \d+/, 'the cut is logged';
like $log, qr/bad checksum at offset \d+, the last \d+ bytes are not replayed/, 'the bad checksum is logged';
unlink spool_files('*.corrupt');

# --- full spool: refuse ----------------------------------------------------------

configure("lava_event_spool $spool;", 'lava_event_queue 5;', 'lava_event_spool_max 256k;',
          'lava_event_spool_full refuse;');
$s->stop_part('redis');
my (@ok, @refused);
for my $i (1 .. 400) {
    my ($x) = traffic(1, big => 1);
    if ($x->{status} == 200) { push @ok, $x->{rid}; next }
    push @refused, $x;
    last if @refused >= 5;
}
ok @refused >= 5, 'refuse: requests are refused once queue and spool are full (' . scalar(@ok) . ' served first)';
my $x = $refused[0];
is $x->{status}, 503, 'refuse: 503';
is $x->{json}{error}{code}, 'event_spool_full', 'refuse: error code event_spool_full';
like $x->{rid} // '', qr/^req_/, 'refuse: the answer has a request id';
like LavaTest::slurp($s->error_log), qr/requests refused with 503/, 'refusals are logged';
$s->start_part('redis');
all_booked_once(\@ok, 'refuse: every request served');
ok wait_for(20, sub { !spool_files() }), 'refuse: the spool drained';

# --- full spool: serve -----------------------------------------------------------

my $dropped_log = $s->dir . '/nginx/dropped.log';
configure("lava_event_spool $spool;", 'lava_event_queue 5;', 'lava_event_spool_max 256k;',
          'lava_event_spool_full serve;', q{log_format lava_dropped '$pid $lava_events_dropped';},
          "access_log $dropped_log lava_dropped;");
$s->stop_part('redis');
my $log_from = -s $s->error_log;
my @served = traffic(200, big => 1);
is scalar(grep { $_->{status} == 200 } @served), 200, 'serve: every request served';
sleep 1.5;                             # drop counts are logged once a second
my %since;
for (split /\n/, substr(LavaTest::slurp($s->error_log), $log_from)) {
    $since{$1} = $2 if /(\d+)#\d+: lava events: queue .* dropped, (\d+) since start/;
}
my $dropped = 0;
$dropped += $_ for values %since;
ok $dropped > 0, 'serve: the dropped events are counted and logged';
my %var;
for (LavaTest::slurp_lines($dropped_log)) {
    $var{$1} = $2 if /^(\d+) (\d+)$/;
}
my $var_total = 0;
$var_total += $_ for values %var;
# the access log line is written before the request's own event is pushed
cmp_ok $var_total, '>=', $dropped - scalar(keys %var), '$lava_events_dropped shows the count';
cmp_ok $var_total, '<=', $dropped, '$lava_events_dropped counts no more than dropped';
$s->start_part('redis');
my @srids = map { $_->{rid} } @served;
wait_for(30, sub { booked_count(@srids) + $dropped >= @srids });
is booked_count(@srids) + $dropped, scalar @srids, "serve: booked + dropped ($dropped) = served";

# LavaTest::finish, but the test killed these workers itself
my @bad = grep { /\[(alert|emerg)\]|exited on signal/ } LavaTest::slurp_lines($s->error_log);
my $killed = join '|', @killed;
@bad = grep { !/worker process (?:$killed) exited on signal 9/ } @bad;
ok !@bad, 'no [alert], [emerg] or worker crash in error.log but the kills of the test'
    or diag join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)];
$s->down;
done_testing;
