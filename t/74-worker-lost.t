# A worker that dies costs estimates, never missing rows (docs/security.md,
# class 12): steady concurrent traffic (slow streams, slow non-streaming
# answers) through the stack's nginx (2 workers) while its workers are killed
# with SIGKILL, one after the other. Every request that reached the provider
# is booked exactly once; those whose worker died before their event left it
# are booked by another worker as outcome worker_lost, flagged worker_lost.
# Then a graceful reload under the same traffic: the old workers drain and
# nothing is booked as worker_lost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use LavaTest qw(wait_for);

my $CLIENTS = 6;
my $KILLS = 4;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 100000);
my $dir = $s->dir;

sub master { (split ' ', LavaTest::slurp("$dir/nginx/nginx.pid"))[0] }

# the workers of this test's nginx: the children of its master
sub workers {
    my $mp = master();
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $text = eval { LavaTest::slurp($stat) } // next;
        my ($pid, $state, $ppid) = $text =~ /^(\d+) \(.*\) (\S) (\d+) / or next;
        push @w, $pid if $ppid == $mp && $state ne 'Z';
    }
    return sort { $a <=> $b } @w;
}

# --- clients ------------------------------------------------------------------------

my $parent = $$;
my @clients;
my $stop_file;

sub start_clients {
    my ($phase) = @_;
    $stop_file = "$dir/clients-$phase.stop";
    @clients = ();
    for my $c (1 .. $CLIENTS) {
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            $SIG{TERM} = $SIG{INT} = 'DEFAULT';
            srand $$;
            my $cl = LavaTest->client($s->{port});
            open my $out, '>', "$dir/client-$phase-$c.log" or POSIX::_exit(1);
            $out->autoflush(1);
            my $n = 0;
            until (-e $stop_file) {
                my $tid = "$phase$c-" . ++$n;
                my $stream = $n % 2;
                # streams of about a second; answers that take up to 0.6 s
                my @h = (Authorization => "Bearer $m->{token}", 'x-test-id' => $tid,
                         'x-lava-metadata' => qq({"test_id":"$tid"}),
                         'x-mock-usage' => 'prompt=' . (100 + int rand 900) . ',cached=0,completion='
                                           . (1 + int rand 200),
                         $stream ? ('x-mock-chunks' => 20, 'x-mock-chunk-delay-ms' => 50)
                                 : ('x-mock-delay-ms' => 100 + int rand 500));
                my $r = eval {
                    $stream
                        ? $cl->stream(target => $T, body => LavaTest::chat_body(stream => 1),
                                      headers => \@h, timeout => 30)
                        : $cl->request(target => $T, body => LavaTest::chat_body(), headers => \@h,
                                       timeout => 30);
                };
                printf $out "%s %d %s %d\n", $tid, $r ? $r->{status} : 0,
                       ($r && $r->{rid}) // '-', $r && $r->{complete} ? 1 : 0;
                sleep 0.02 unless $r;
            }
            close $out;
            POSIX::_exit(0);        # not exit: the parent's END blocks stop the stack
        }
        push @clients, $pid;
    }
}

sub stop_clients {
    open my $fh, '>', $stop_file or die "$stop_file: $!\n";
    close $fh;
    waitpid $_, 0 for @clients;
    @clients = ();
}

END { kill 'KILL', @clients if @clients && $$ == $parent }

# --- what reached the provider, what was booked ---------------------------------------

sub reached {
    my ($phase) = @_;
    my %received;
    for (LavaTest::slurp_lines($s->{mock_log})) {
        next unless /"x-test-id"/;
        my $e = LavaTest::json_decode($_) or next;
        my ($tid) = LavaTest::header_values($e, 'x-test-id');
        $received{$tid}++ if defined $tid && $tid =~ /^\Q$phase\E\d+-/;
    }
    return \%received;
}

sub booked {
    my ($phase) = @_;
    my %b;
    for my $row (@{ $s->sql(q{SELECT metadata->>'test_id' AS tid, request_id, outcome, tap_flags,
                                     usage_source, input_tokens, output_tokens, status
                                FROM events WHERE metadata->>'test_id' LIKE ?}, "$phase%") }) {
        push @{ $b{$row->{tid}} }, $row;
    }
    return \%b;
}

# the pipeline has nothing left: nothing in the spool, pending or undelivered,
# and at least $n of the phase booked
sub drained {
    my ($phase, $n) = @_;
    return wait_for(90, sub {
        my @files = glob "$dir/nginx/spool/*.spool";
        my $pending = eval { ($s->redis('xpending', 'lava:usage', 'lava-sidecar'))[0] } // 1;
        my $undelivered = eval {
            my %st = $s->redis('xinfo', 'stream', 'lava:usage');
            my @g = $s->redis('xinfo', 'groups', 'lava:usage');
            my %g = @{ $g[0] };
            $g{'last-delivered-id'} ne $st{'last-generated-id'};
        } // 1;
        return !@files && !$pending && !$undelivered && keys(%{ booked($phase) }) >= $n;
    });
}

sub check_phase {
    my ($phase, $what) = @_;
    my $reached = reached($phase);
    my @reached = sort keys %$reached;
    ok drained($phase, scalar @reached), "$what: the pipeline drained";
    my $booked = booked($phase);
    my @missing = grep { !$booked->{$_} } @reached;
    is scalar @missing, 0, "$what: every request that reached the provider is booked"
        or diag 'missing: ' . join ' ', @missing[0 .. ($#missing < 19 ? $#missing : 19)];
    my @twice = grep { @{ $booked->{$_} } > 1 } keys %$booked;
    is scalar @twice, 0, "$what: no request booked twice";
    is scalar(grep { $reached->{$_} > 1 } @reached), 0, "$what: the provider received each request once";
    return ($reached, $booked);
}

# --- phase k: workers killed under traffic ------------------------------------------

my @w = workers();
cmp_ok scalar @w, '>=', 2, 'nginx runs two workers or more';

start_clients('k');
sleep 2;
my %killed;
for my $i (1 .. $KILLS) {
    my @now = workers();
    my $victim = $now[int rand @now];
    kill 'KILL', $victim;
    $killed{$victim} = 1;
    note "killed worker $victim";
    # the master respawns it; the successor books what it left
    wait_for(10, sub { my @n = workers(); @n >= @w && !grep { $_ == $victim } @n })
        or diag "no worker respawned after $victim";
    sleep 1 + rand 1;
}
sleep 1;
stop_clients();

my ($reached, $booked) = check_phase('k', 'kills');
my @reached = keys %$reached;
diag sprintf 'kills: %d requests reached the provider, %d killed workers', scalar @reached,
    scalar keys %killed;
cmp_ok scalar @reached, '>=', 50, 'kills: steady traffic reached the provider';

my @lost = grep { $_->[0]{outcome} eq 'worker_lost' } map { $booked->{$_} // () } @reached;
cmp_ok scalar @lost, '>=', 1, 'kills: requests of the killed workers booked as worker_lost';
diag sprintf 'kills: %d booked as worker_lost (%d estimated, %d reported)', scalar @lost,
    scalar(grep { $_->[0]{usage_source} eq 'estimated' } @lost),
    scalar(grep { $_->[0]{usage_source} eq 'reported' } @lost);
is scalar(grep { ($_->[0]{tap_flags} // '') !~ /\bworker_lost\b/ } @lost), 0,
    'kills: each worker_lost event is flagged worker_lost';
is scalar(grep { $_->[0]{usage_source} ne 'none' && $_->[0]{input_tokens} <= 0 } @lost), 0,
    'kills: a worker_lost request is billed its prompt at least';
my @others = grep { $_->[0]{outcome} ne 'worker_lost' } map { $booked->{$_} // () } @reached;
is scalar(grep { ($_->[0]{tap_flags} // '') =~ /\bworker_lost\b/ } @others), 0,
    'kills: no other event is flagged worker_lost';

# the clients' own view: every request id a client received is the one booked
my %client;
for my $c (1 .. $CLIENTS) {
    for (LavaTest::slurp_lines("$dir/client-k-$c.log")) {
        my ($tid, $status, $rid) = split ' ';
        $client{$tid} = $rid if defined $rid && $rid ne '-';
    }
}
is scalar(grep { $client{$_} && $booked->{$_} && $booked->{$_}[0]{request_id} ne $client{$_} } @reached),
    0, 'kills: each booked under the x-lava-request-id its client received';
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0,
    'kills: no dead letter (a worker_lost estimate of a booked request is a plain duplicate)';
my $log = LavaTest::slurp($s->error_log);
like $log, qr/lava inflight: worker \d+ is gone, [1-9]\d* of its requests booked as worker_lost/,
    'the successors logged what they booked';

# --- phase r: a graceful reload under traffic --------------------------------------------

my $lost_before = $s->sql_value(q{SELECT count(*) FROM events WHERE outcome = 'worker_lost'});
start_clients('r');
sleep 2;
my @old = workers();
kill 'HUP', master();
# the old workers drain their requests and exit
wait_for(30, sub { my %now = map { $_ => 1 } workers(); !grep { $now{$_} } @old })
    or diag 'the old workers did not exit';
sleep 2;
stop_clients();

my ($reached_r, $booked_r) = check_phase('r', 'reload');
cmp_ok scalar keys %$reached_r, '>=', 30, 'reload: steady traffic reached the provider';
is $s->sql_value(q{SELECT count(*) FROM events WHERE outcome = 'worker_lost'}), $lost_before,
    'reload: nothing booked as worker_lost (the old workers drained)';
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'reload: no dead letter';

# --- phase q: events waiting in the queue ------------------------------------------------
# No spool, Redis away: answered requests' events wait in their worker's
# memory. The workers are killed; their successors book each from its record
# with the usage the event had (reported), flagged worker_lost.

$s->configure_nginx(http => ['lava_event_spool "";']);
$s->stop_part('redis');
my %want;
for my $i (1 .. 8) {
    my $tid = "q1-$i";
    my ($p, $c) = (100 + 7 * $i, 10 + $i);
    my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                        headers => [Authorization => "Bearer $m->{token}", 'x-test-id' => $tid,
                                    'x-lava-metadata' => qq({"test_id":"$tid"}),
                                    'x-mock-usage' => "prompt=$p,cached=0,completion=$c"]);
    is $r->{status}, 200, "queued: answered while Redis is away ($tid)";
    $want{$tid} = { rid => $r->{rid}, input => $p, output => $c };
}
# the scenario is events waiting in the queue: each request's log phase has
# run. The client can read the last byte of the answer before its worker
# gets there; killed in between, a request is booked from its in-flight
# record as not answered (an estimate), which phase k checks, not this one.
sleep 1;
my @q_old = workers();
kill 'KILL', @q_old;
$killed{$_} = 1 for @q_old;
wait_for(10, sub { my %n = map { $_ => 1 } workers(); keys(%n) >= @q_old && !grep { $n{$_} } @q_old })
    or diag 'no workers respawned';
sleep 1;
$s->start_part('redis');
my ($reached_q, $booked_q) = check_phase('q', 'queued');
is scalar keys %$reached_q, 8, 'queued: the provider answered all 8';
my @q_ok = grep {
    my $b = $booked_q->{$_} && $booked_q->{$_}[0];
    $b && $b->{outcome} eq 'worker_lost' && ($b->{tap_flags} // '') =~ /\bworker_lost\b/
       && $b->{usage_source} eq 'reported' && $b->{status} == 200
       && $b->{request_id} eq $want{$_}{rid}
       && $b->{input_tokens} == $want{$_}{input} && $b->{output_tokens} == $want{$_}{output}
} sort keys %want;
is scalar @q_ok, 8, 'queued: each booked as worker_lost with the usage its event had'
    or diag explain $booked_q;

# --- the sidecar: a worker_lost event meets the request's own -------------------------
# (docs/events.md, "Worker lost"): made from a booked event of this test, each
# pair under a request id of its own

my @complete = grep { $_->[0]{outcome} eq 'complete' && !$_->[0]{tap_flags} }
                map { $booked->{$_} // () } @reached;
my ($tmpl) = grep { $_ } map { scalar $s->event($_->[0]{request_id}) } grep { defined } @complete[0 .. 4];
ok $tmpl, 'a booked event to make pairs from';
my $pair = 0;
sub xadd_pair {
    my ($first, $second, $gap) = @_;
    my $rid = substr($tmpl->{request_id}, 0, 26) . sprintf '%04d', 9000 + ++$pair;
    my %own = (%$tmpl, request_id => $rid, metadata => qq({"test_id":"d$pair"}));
    delete $own{_id};
    my %lost = (%own, outcome => 'worker_lost', tap_flags => 'abort_estimate,worker_lost',
                usage_source => 'estimated', output_tokens => 1 + ($own{output_tokens} // 0) * 3);
    my %ev = (own => \%own, lost => \%lost);
    $s->redis('xadd', 'lava:usage', '*', %{ $ev{$first} });
    wait_for(15, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $rid) }) if $gap;
    $s->redis('xadd', 'lava:usage', '*', %{ $ev{$second} });
    wait_for(15, sub { !eval { ($s->redis('xpending', 'lava:usage', 'lava-sidecar'))[0] }
                       && $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $rid) });
    sleep 1;
    return ($rid, $s->sql_value('SELECT outcome FROM events WHERE request_id = ?', $rid),
            $s->sql_value('SELECT count(*) FROM dead_letters WHERE request_id = ?', $rid));
}
SKIP: {
    skip 'no event to make pairs from', 3 unless $tmpl;
    my ($rid, $outcome, $dead) = xadd_pair('own', 'lost', 0);
    is "$outcome $dead", 'complete 0', 'the own event, then worker_lost: the own booked, no dead letter';
    ($rid, $outcome, $dead) = xadd_pair('own', 'lost', 1);
    is "$outcome $dead", 'complete 0', 'worker_lost a batch after the own event: a plain duplicate';
    ($rid, $outcome, $dead) = xadd_pair('lost', 'own', 1);
    is "$outcome $dead", 'worker_lost 1',
        'worker_lost booked first: it stays, the own event is kept as a dead letter';
}

# --- the end: finish() with the crashes this test caused --------------------------------

my @bad = grep {
    /\[(alert|emerg)\]|exited on signal/
    && !(/worker process (\d+) exited on signal 9/ && $killed{$1})
    && !(/shared memory zone "\S+" was locked by (\d+)/ && $killed{$1})
} LavaTest::slurp_lines($s->error_log);
ok !@bad, 'no [alert], [emerg] or crash in error.log but the kills of this test'
    or diag join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)];
my @found = $s->check_secrets;
ok !@found, 'no secret written to the logs, Redis or Postgres' or diag join "\n", @found;
$s->down;
done_testing;
