# The spool's fdatasync() runs off the event loop (issue 12; the directive
# lava_event_spool_thread_pool, docs/directives.md). A slow disk is made with
# t/lib/slow-fdatasync.c, loaded into nginx with LD_PRELOAD: every
# fdatasync() takes 1.5 s longer and logs the process and thread that called
# it. With Redis away, every event goes to the spool and its files are synced
# about once a second:
#   - with the thread pool (the default pool, and a declared one) the syncs
#     run in threads of the workers, not in their main thread, and no request
#     waits for them;
#   - with `off` (what an nginx without threads does) they run in the
#     workers' main thread and the same disk holds requests up: the control
#     that shows the slow disk is there to be seen;
#   - a kill -9 of the whole nginx (master and workers) while events are
#     spooled and a sync is under way loses nothing: once Redis and nginx are
#     back every request is booked exactly once and the spool is emptied.
# nginx -t refuses a pool nobody declared.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);

use LavaTest qw(wait_for);

my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $SLOW_MS = 1500;      # added to every fdatasync()
my $STALL_MS = 1000;     # a request this slow waited for a sync

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 1000);
my $spool = $s->dir . '/nginx/spool';
my $shim = $s->dir . '/slow-fdatasync.so';
my $synclog = $s->dir . '/fdatasync.log';

my $cc = $ENV{CC} // 'cc';
system("$cc -shared -fPIC -O2 -Wall -o $shim $FindBin::Bin/lib/slow-fdatasync.c") == 0
    or BAIL_OUT("cannot build the slow-fdatasync shim with $cc");

sub nginx_pid { (split ' ', LavaTest::slurp($s->dir . '/pids/nginx'))[0] }

sub workers {
    my $master = nginx_pid();
    return grep { ((LavaTest::slurp("/proc/$_/stat") =~ /^\d+ \(.*?\) \S (\d+)/)[0] // 0) == $master }
           map { m{/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
}

# nginx restarted with these http-level directives and the slow disk; the log
# of fdatasync() calls starts empty once it runs
sub configure_slow {
    my (@lines) = @_;
    local $ENV{LD_PRELOAD} = $shim;
    local $ENV{LAVA_SLOW_SYNC_MS} = $SLOW_MS;
    local $ENV{LAVA_SLOW_SYNC_LOG} = $synclog;
    $s->configure_nginx(http => \@lines);
    unlink $synclog;
}

# fdatasync() calls of these workers: (in their main thread, in other threads)
sub sync_calls {
    my (@pids) = @_;
    my %w = map { $_ => 1 } @pids;
    my ($main, $thread) = (0, 0);
    for (LavaTest::slurp_lines($synclog)) {
        next unless /^(\d+) (\d+)$/ && $w{$1};
        if ($1 == $2) { $main++ } else { $thread++ }
    }
    return ($main, $thread);
}

# sequential JSON requests for $secs seconds: (request ids, slowest ms, count
# answered 200)
sub traffic_for {
    my ($secs) = @_;
    my (@rids, $max, $ok);
    $max = 0;
    $ok = 0;
    my $end = time + $secs;
    while (time < $end) {
        my $t0 = time;
        my $r = $s->request(target => $T, body => LavaTest::chat_body(), timeout => 30,
                            headers => [Authorization => "Bearer $m->{token}",
                                        'x-mock-usage' => 'prompt=100,cached=0,completion=10']);
        my $ms = (time - $t0) * 1000;
        $max = $ms if $ms > $max;
        $ok++ if $r->{status} == 200;
        push @rids, $r->{rid} if $r->{rid};
    }
    return (\@rids, $max, $ok);
}

sub spool_files { my @f = glob "$spool/*.spool"; @f }

sub booked_once {
    my ($rids, $what) = @_;
    my $count = sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', $rids) };
    ok wait_for(60, sub { $count->() == @$rids }), "$what: all " . scalar(@$rids) . ' requests booked'
        or diag 'booked ' . $count->() . ' of ' . scalar @$rids;
    is $s->sql_value('SELECT count(*) FROM (SELECT request_id FROM transfers WHERE request_id = ANY(?)
                       GROUP BY request_id, kind HAVING count(*) > 1) x', $rids),
       0, "$what: no request charged twice";
}

# --- the thread pool: nginx's default pool ---------------------------------------

configure_slow("lava_event_spool $spool;", 'lava_event_queue 5;');
$s->stop_part('redis');
my @workers = workers();
my ($rids, $max, $ok) = traffic_for(6);
my @all = @$rids;
is $ok, scalar @$rids, 'default pool: every request served while Redis is away (' . scalar(@$rids) . ')';
ok scalar(spool_files()) >= 1, 'default pool: the events are in spool files';
my ($main, $thread) = sync_calls(@workers);
cmp_ok $thread, '>=', 2, "default pool: the workers synced their spool files in threads ($thread calls)";
is $main, 0, 'default pool: no fdatasync() in a worker\'s main thread';
cmp_ok $max, '<', $STALL_MS, sprintf('default pool: no request waited for a %d ms fdatasync() (slowest %.0f ms)',
                                     $SLOW_MS, $max);

# --- kill -9 of nginx while it spools and syncs ------------------------------------

($rids, undef, $ok) = traffic_for(2.5);
push @all, @$rids;
ok wait_for(10, sub { my $log = LavaTest::slurp($s->dir . '/nginx/access.log');
                      !grep { index($log, "rid=$_ ") < 0 } @$rids }),
   'the last requests went through the log phase';
($main, $thread) = sync_calls(@workers);
my $master = nginx_pid();
my @killed = ($master, workers());
kill 'KILL', @killed;
ok wait_for(10, sub { !grep { -e "/proc/$_" && LavaTest::slurp("/proc/$_/stat") !~ /^\d+ \(.*?\) Z/ } @killed }),
   'kill -9 of the master and the workers';
ok scalar(spool_files()) >= 1, 'the spool files are on disk after the kill (' . scalar(spool_files()) . ')';
$s->stop_part('nginx');                   # forgets the dead master
$s->start_part('redis');
$s->start_part('nginx');
booked_once(\@all, 'spooled with syncs in threads, then kill -9');
ok wait_for(20, sub { !spool_files() }), 'every spool file was replayed and removed';

# --- a declared pool ----------------------------------------------------------------

{
    my $conf = $s->dir . '/nginx/nginx.conf';
    my $text = LavaTest::slurp($conf);
    $text =~ s/^(events )/thread_pool lava_sync threads=1;\n$1/m or die "no events block in $conf\n";
    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh $text;
    close $fh or die "$conf: $!\n";
}
configure_slow("lava_event_spool $spool;", 'lava_event_queue 5;', 'lava_event_spool_thread_pool lava_sync;');
$s->stop_part('redis');
@workers = workers();
($rids, $max, $ok) = traffic_for(4);
($main, $thread) = sync_calls(@workers);
cmp_ok $thread, '>=', 1, "declared pool: the syncs ran in its thread ($thread calls)";
is $main, 0, 'declared pool: no fdatasync() in a worker\'s main thread';
cmp_ok $max, '<', $STALL_MS, sprintf('declared pool: no request waited for a sync (slowest %.0f ms)', $max);
$s->start_part('redis');
booked_once($rids, 'declared pool');

# --- off: in the event loop, the control ------------------------------------------

configure_slow("lava_event_spool $spool;", 'lava_event_queue 5;', 'lava_event_spool_thread_pool off;');
$s->stop_part('redis');
@workers = workers();
($rids, $max, $ok) = traffic_for(6);
($main, $thread) = sync_calls(@workers);
cmp_ok $main, '>=', 2, "off: the workers synced in their main thread ($main calls)";
is $thread, 0, 'off: no fdatasync() in another thread';
cmp_ok $max, '>=', $STALL_MS, sprintf('off: the slow disk held requests up (slowest %.0f ms): '
                                      . 'what the thread pool avoids is there to be seen', $max);
is $ok, scalar @$rids, 'off: every request served all the same';
$s->start_part('redis');
booked_once($rids, 'off');
ok wait_for(20, sub { !spool_files() }), 'the spool is empty again';

# --- nginx -t: a pool nobody declared ---------------------------------------------

{
    my $dir = tempdir('lava-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $http = <<"HTTP";
    upstream lava_test { server 127.0.0.1:9; keepalive 4; }
    lava_allow_private_upstreams on;
    lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;
    lava_event_spool $dir/spool;
HTTP
    my ($rc, $out) = LavaTest::nginx_t(dir => $dir, scheme => 'http', http => $http);
    is $rc, 0, 'nginx -t accepts a spool with the default pool' or diag $out;
    ($rc, $out) = LavaTest::nginx_t(dir => $dir, scheme => 'http',
                                    http => $http . "    lava_event_spool_thread_pool nosuch;\n");
    isnt $rc, 0, 'nginx -t refuses lava_event_spool_thread_pool naming an undeclared pool';
    like $out, qr/unknown thread pool "nosuch"/, '  nginx names the pool' or diag $out;
}

# LavaTest::finish, but the test killed nginx itself
my @bad = grep { /\[(alert|emerg)\]|exited on signal/ } LavaTest::slurp_lines($s->error_log);
ok !@bad, 'no [alert], [emerg] or worker crash in error.log' or diag join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)];
my @found = $s->check_secrets;
ok !@found, 'no secret written to the logs, Redis or Postgres' or diag join "\n", @found;
$s->down;

done_testing;
