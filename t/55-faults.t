# Fault injection (docs/operations.md): steady traffic, streaming and not,
# through the real stack while faults hit it at random moments, one after the
# other: kill -9 and restart of either of two sidecars, Redis stopped and
# started, Redis frozen (SIGSTOP) past the timeouts, Postgres restarted, nginx
# reloaded and restarted, and nginx reloaded or restarted while Redis is away
# (its spool files are then taken over). At the end, in SQL: every request that reached the
# provider is booked exactly once, under the request id its client saw, no
# dead letter, the ledger balances; and `lava-sidecar reconcile` agrees.
#
#   LAVA_FAULT_SEED=<n>      replay a run (the seed is printed)
#   LAVA_FAULT_SECONDS=<s>   traffic and faults this long (default 60; a soak: 600)
#   LAVA_FAULT_CLIENTS=<n>   concurrent clients (default 6)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use LavaTest qw(wait_for);

my $SEED = $ENV{LAVA_FAULT_SEED} // (time() ^ ($$ << 8)) % 1_000_000_007;
my $SECONDS = $ENV{LAVA_FAULT_SECONDS} // 60;
my $CLIENTS = $ENV{LAVA_FAULT_CLIENTS} // 6;
my $SIDECAR = $ENV{LAVA_SIDECAR} // "$LavaTest::ROOT/build/lava-sidecar";
diag "fault injection: LAVA_FAULT_SEED=$SEED LAVA_FAULT_SECONDS=$SECONDS";

my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 100000);
my $dir = $s->dir;
my $spool = "$dir/nginx/spool";
my %env = (LAVA_REDIS_URL => $s->env->{LAVA_REDIS_URL}, LAVA_PG_DSN => $s->env->{LAVA_PG_DSN});

sub pid_of { my ($part) = @_; (split ' ', LavaTest::slurp("$dir/pids/$part"))[0] }
sub alive { my ($pid) = @_; $pid && -e "/proc/$pid" && LavaTest::slurp("/proc/$pid/stat") !~ /^\d+ \(.*?\) Z/ }
sub loaded_lines { scalar grep { /lava auth: snapshot version \d+ loaded/ } LavaTest::slurp_lines($s->error_log) }

# the stack's nginx spools events (scripts/lava-stack); the sidecars claim
# quickly and keep the stream for reconcile
LavaTest::slurp("$dir/nginx/nginx.conf") =~ /^    lava_event_spool \Q$spool\E;$/m
    or die "the stack's nginx.conf has no lava_event_spool $spool\n";
my $base = LavaTest::slurp("$dir/sidecar/sidecar.conf");
my $common = "batch_size = 100\nclaim_idle_ms = 2000\ntrim_interval_ms = 2000\ntrim_retain_ms = 3600000\n";
for my $c (['sidecar.conf', 'first'], ['second.conf', 'second']) {
    open my $fh, '>', "$dir/sidecar/$c->[0]" or die;
    print $fh $base, $common, "consumer = $c->[1]\n";
    close $fh;
}
$s->stop_part('sidecar');
$s->start_part('sidecar');

my $second;
my $parent = $$;
# a test that dies leaves no sidecar of its own behind
END { kill 'KILL', $second if $second && $$ == $parent }
sub start_second {
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        # never the parent's END blocks (they stop the stack): exec or _exit
        @ENV{keys %env} = values %env;
        open STDOUT, '>>', "$dir/sidecar/second.log" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec($SIDECAR, '-c', "$dir/sidecar/second.conf") or POSIX::_exit(127);
    }
    $second = $pid;
}
start_second();

# --- clients ------------------------------------------------------------------------

my $stop_file = "$dir/fault-clients.stop";
my @clients;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $SIG{TERM} = $SIG{INT} = 'DEFAULT';
        srand $SEED + $c;
        my $cl = LavaTest->client($s->{port});
        open my $out, '>', "$dir/fault-client-$c.log" or die;
        $out->autoflush(1);
        my $n = 0;
        until (-e $stop_file) {
            my $tid = "f$c-" . ++$n;
            my $stream = rand() < 0.5;
            my @h = (Authorization => "Bearer $m->{token}", 'x-test-id' => $tid,
                     'x-lava-metadata' => qq({"test_id":"$tid"}),
                     'x-mock-usage' => 'prompt=' . (100 + int rand 900) . ',cached=0,completion=' . (1 + int rand 200));
            my $r = eval {
                $stream
                    ? $cl->stream(target => $T, body => LavaTest::chat_body(stream => 1), headers => \@h, timeout => 30)
                    : $cl->request(target => $T, body => LavaTest::chat_body(), headers => \@h, timeout => 30);
            };
            if ($r) {
                printf $out "%s %d %s %d\n", $tid, $r->{status}, $r->{rid} // '-', $r->{complete} ? 1 : 0;
            } else {
                printf $out "%s 0 - 0\n", $tid;       # no answer (nginx restarting)
                sleep 0.05;
            }
        }
        close $out;
        POSIX::_exit(0);        # not exit: the parent's END blocks stop the stack
    }
    push @clients, $pid;
}

# --- faults -------------------------------------------------------------------------

my %count;
my $redis_frozen = 0;
my @faults = (
    sidecar_kill => sub {
        if (rand() < 0.5) {
            my $pid = pid_of('sidecar');
            kill 'KILL', $pid;
            wait_for(10, sub { !alive($pid) });
            sleep rand 2;
            $s->start_part('sidecar');
        } else {
            kill 'KILL', $second;
            waitpid $second, 0;
            undef $second;
            sleep rand 2;
            start_second();
        }
    },
    redis_restart => sub {
        $s->stop_part('redis');
        sleep 0.5 + rand 3;
        $s->start_part('redis');
    },
    redis_freeze => sub {
        # past the module's reply timeout (1 s), sometimes past the sidecars' (6 s)
        my $pid = pid_of('redis');
        kill 'STOP', $pid;
        $redis_frozen = $pid;
        sleep 1.5 + rand 6;
        kill 'CONT', $pid;
        $redis_frozen = 0;
    },
    postgres_restart => sub {
        $s->stop_part('postgres');
        sleep rand 2;
        $s->start_part('postgres');
    },
    nginx_reload => sub {
        kill 'HUP', pid_of('nginx');
    },
    nginx_restart => sub {
        nginx_restart();
    },
    # two at once: the spool files of the old workers are taken over
    redis_away_nginx_reload => sub {
        $s->stop_part('redis');
        sleep rand 1.5;
        kill 'HUP', pid_of('nginx');
        sleep 0.5 + rand 2;
        $s->start_part('redis');
    },
    redis_away_nginx_restart => sub {
        $s->stop_part('redis');
        sleep rand 1.5;
        nginx_restart();
        sleep rand 1;
        $s->start_part('redis');
    },
);

# graceful: in-flight requests finish and are logged
sub nginx_restart {
    my $pid = pid_of('nginx');
    kill 'QUIT', $pid;
    wait_for(30, sub { !alive($pid) }) or die "nginx did not stop\n";
    $s->start_part('nginx');
}
my %fault = @faults;
my @names = grep { !ref } @faults;

# the schedule: only the fault loop draws from this seed (the clients have their own)
srand $SEED;
my $t0 = time;
my $deadline = $t0 + $SECONDS;
while (time < $deadline) {
    sleep 1 + rand 2;
    last if time >= $deadline;
    my $name = $names[int rand @names];
    note sprintf '%6.1fs %s', time - $t0, $name;
    $count{$name}++;
    $fault{$name}->();
}
kill 'CONT', $redis_frozen if $redis_frozen;
diag 'faults: ' . join ', ', map { "$_ $count{$_}" } sort keys %count;

open my $fh, '>', $stop_file or die;
close $fh;
for my $pid (@clients) {
    waitpid $pid, 0;
}

# everything up again, then let the pipeline drain
for my $part (qw(redis postgres nginx sidecar)) {
    my $pid = -e "$dir/pids/$part" ? pid_of($part) : undef;
    $s->start_part($part) unless alive($pid);
}
start_second() unless $second && alive($second) && waitpid($second, WNOHANG) == 0;

# --- what the clients saw, what the provider received --------------------------------

my (%client, $sent, $answered);
for my $c (1 .. $CLIENTS) {
    for (LavaTest::slurp_lines("$dir/fault-client-$c.log")) {
        my ($tid, $status, $rid, $complete) = split ' ';
        next unless defined $complete;
        $sent++;
        next if $rid eq '-';
        $answered++;
        $client{$tid} = { status => $status, rid => $rid, complete => $complete };
    }
}
my %received;
for (LavaTest::slurp_lines($s->{mock_log})) {
    next unless /"x-test-id"/;
    my $e = LavaTest::json_decode($_) or next;
    my ($tid) = LavaTest::header_values($e, 'x-test-id');
    $received{$tid}++ if defined $tid;
}
my @reached = sort keys %received;
diag sprintf 'requests: %d sent, %d answered with a request id, %d reached the provider',
    $sent, $answered, scalar @reached;
cmp_ok scalar @reached, '>=', 500, 'traffic: hundreds of requests reached the provider';
is scalar(grep { $received{$_} > 1 } @reached), 0, 'the provider received each request once';

# --- drained ------------------------------------------------------------------------

my $booked_sql = q{SELECT count(*) FROM events WHERE metadata->>'test_id' IS NOT NULL};
my $drained = wait_for(120, sub {
    my @files = glob "$spool/*.spool";
    my $pending = eval { ($s->redis('xpending', 'lava:usage', 'lava-sidecar'))[0] } // 1;
    my $undelivered = eval {
        my %st = $s->redis('xinfo', 'stream', 'lava:usage');
        my @g = $s->redis('xinfo', 'groups', 'lava:usage');
        my %g = @{ $g[0] };
        $g{'last-delivered-id'} ne $st{'last-generated-id'};
    } // 1;
    return !@files && !$pending && !$undelivered && $s->sql_value($booked_sql) >= @reached;
});
ok $drained, 'the pipeline drained: no spool file, nothing pending or undelivered';

# --- the ledger ---------------------------------------------------------------------

my %booked;
for my $row (@{ $s->sql(q{SELECT metadata->>'test_id' AS tid, request_id, count(*) OVER
                            (PARTITION BY metadata->>'test_id') AS n
                            FROM events WHERE metadata->>'test_id' IS NOT NULL}) }) {
    $booked{$row->{tid}} = $row;
}
my @missing = grep { !$booked{$_} } @reached;
is scalar @missing, 0, 'every request that reached the provider is booked'
    or diag 'missing: ' . join ' ', @missing[0 .. ($#missing < 19 ? $#missing : 19)];
my @twice = grep { $_->{n} > 1 } values %booked;
is scalar @twice, 0, 'no request booked twice';
my @wrong = grep { $booked{$_} && $client{$_} && $booked{$_}{request_id} ne $client{$_}{rid} } @reached;
is scalar @wrong, 0, 'each booked under the x-lava-request-id its client received';
my @answered_reached = grep { $client{$_} } @reached;
cmp_ok scalar @answered_reached, '>=', 0.9 * @reached, 'most answered requests are checked against their id';
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letter';
is_deeply [map { $_->{rule} } @{ $s->sql('SELECT rule FROM ledger_check WHERE NOT ok') }], [],
    'ledger_check: balances sum to zero, stored balances equal transfers, every request moved what it cost';
is $s->sql_value('SELECT count(*) FROM (SELECT request_id, kind FROM transfers WHERE request_id IS NOT NULL
                   GROUP BY 1, 2 HAVING count(*) > 1) x'), 0, 'no request charged twice';
is $s->sql_value(q{SELECT count(*) FROM events e WHERE e.metadata->>'test_id' IS NOT NULL AND e.outcome = 'complete'
                   AND e.price_state = 'priced' AND NOT EXISTS (SELECT 1 FROM transfers t
                   WHERE t.request_id = e.request_id)}), 0, 'every priced request has its transfers';

# --- reconcile ------------------------------------------------------------------------

my ($ids_fh, $ids) = tempfile(UNLINK => 1);
print $ids_fh "$client{$_}{rid}\n" for grep { $client{$_}{status} == 200 } keys %client;
close $ids_fh;
my $out = `LAVA_REDIS_URL=$env{LAVA_REDIS_URL} LAVA_PG_DSN=$env{LAVA_PG_DSN} $SIDECAR -c $dir/sidecar/sidecar.conf reconcile --ids $ids 2>&1`;
is $? >> 8, 0, 'lava-sidecar reconcile: reconciled' or diag $out;
like $out, qr/missing\s+0\s.*\n(?:.*\n)*?.*missing\s+0\s/, 'nothing missing from the stream or the id list';

# --- logs -----------------------------------------------------------------------------

my $log = LavaTest::slurp($s->error_log);
unlike $log, qr/are lost at worker exit/, 'no event lost at a worker exit';
unlike $log, qr/events dropped/, 'no event dropped';
my $sclog = LavaTest::slurp("$dir/sidecar/sidecar.log") . LavaTest::slurp("$dir/sidecar/second.log");
my %seen = (
    'spooled' => scalar(() = $log =~ /lava events: writing events to the spool/g),
    'spool files claimed' => scalar(() = $log =~ /lava spool: replaying/g),
    'entries claimed by a sidecar' => scalar(() = $sclog =~ /claimed \d+ entries/g),
    'batches with duplicates' => scalar(() = $sclog =~ /duplicate [1-9]/g),
);
diag 'the faults at work: ' . join ', ', map { "$_ $seen{$_}" } sort keys %seen;
ok $seen{spooled} > 0, 'events went through the spool'
    if ($count{redis_restart} // 0) + ($count{redis_freeze} // 0);
ok $seen{'spool files claimed'} > 0, 'spool files of exited workers were taken over'
    if ($count{redis_away_nginx_reload} // 0) + ($count{redis_away_nginx_restart} // 0);

kill 'TERM', $second;
waitpid $second, 0;
undef $second;
$s->finish;
diag "fault injection passed: LAVA_FAULT_SEED=$SEED";
done_testing;
