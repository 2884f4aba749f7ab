# Two nginx nodes share one Redis, one sidecar and one ledger (issue 13,
# docs/spend-keys.md, "Several nodes"): each node counts its own requests
# at once and the other's once they are booked and published, so a spend
# limit holds within the documented bound: beyond the limit, at most the
# requests the other node admits during one propagation delay (booking +
# publish + poll, under 3 s here) plus those in flight. Each node refuses
# within 5 s of the crossing; the rate limit is per node (each node's
# bucket is its own).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use IO::Socket::INET;
use POSIX qw(ceil);
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for json_encode);

my $s = LavaTest->start;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $USAGE = 'prompt=1000,completion=1000';
my $COST = 902_850;                      # t/86: gpt-4o-mini, 20 % meter
my $LIMIT = 10_000_000;                  # $0.01: the 12th request crosses it
my $PROPAGATION = 3;                     # s, the bound this stack keeps
my $PACE = 0.25;                         # s between requests, both nodes

my $m = $s->setup_merchant(funds => 100);

# ---- the second node: the first's configuration, its own port and files ----------

my $dir_a = "$s->{dir}/nginx";
my $dir_b = "$s->{dir}/nginx-b";
mkdir $dir_b;
mkdir "$dir_b/$_" for qw(tmp spool);
my $port_b = do {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die "port: $!";
    my $p = $l->sockport;
    close $l;
    $p;
};
my $conf = LavaTest::slurp("$dir_a/nginx.conf");
for my $own (qw(pid error_log access_log client_body_temp_path proxy_temp_path fastcgi_temp_path
                uwsgi_temp_path scgi_temp_path lava_event_spool lava_auth_file)) {
    $conf =~ s/^(\s*\Q$own\E\s+)\Q$dir_a\E/$1$dir_b/mg;
}
$conf =~ s/listen 127\.0\.0\.1:\d+;/listen 127.0.0.1:$port_b;/ or die "no listen line\n";
open my $fh, '>', "$dir_b/nginx.conf" or die "$dir_b/nginx.conf: $!\n";
print $fh $conf;
close $fh;

my $nginx = $ENV{LAVA_NGINX} // '/usr/sbin/nginx';
my $pid_b = fork // die "fork: $!";
if ($pid_b == 0) {
    open STDOUT, '>>', "$dir_b/nginx.out";
    open STDERR, '>&', \*STDOUT;
    exec $nginx, '-p', "$dir_b/", '-c', "$dir_b/nginx.conf", '-e', "$dir_b/error.log";
    exit 127;
}
my $nb = LavaTest->client($port_b);
ok wait_for(15, sub {
    my $r = eval { $nb->request(target => $T, body => LavaTest::chat_body(),
                               headers => [Authorization => "Bearer $m->{token}", 'x-mock-usage' => $USAGE]) };
    $r && $r->{status} == 200;
}), 'a second nginx serves from the same Redis and ledger';

# ---- a spend key with a $0.01 monthly limit, used through both ---------------------

my $k = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $m->{merchant}, 'two nodes',
                $m->{customer}, 'chat',
                json_encode({ spend_limit => { amount => '0.01', cycle => 'monthly' } }))->[0];
$s->register_secret($k->{key}, 'spend key');
my $hex = sha256_hex($k->{key});
$s->wait_auth(qr/^s $hex /m) or die "spend key not published\n";
ok wait_for(10, sub { grep { /lava auth: snapshot version \d+ loaded/ } LavaTest::slurp_lines("$dir_b/error.log") }),
   'the second node loads snapshots too';
sleep 1.5;

my @nodes = ($s, $nb);
my (@log, %refused_at);
my $t0 = time;
for (my $i = 0; time - $t0 < 60; $i++) {
    my $node = $i % 2;
    next if $refused_at{$node} && $refused_at{1 - $node};
    my $r = $nodes[$node]->request(target => $T, body => LavaTest::chat_body(),
                                   headers => [Authorization => "Bearer $k->{key}", 'x-mock-usage' => $USAGE]);
    push @log, { node => $node, status => $r->{status}, t => time, rid => $r->{rid},
                 code => ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH' ? $r->{json}{error}{code} : '' };
    $refused_at{$node} //= time if $r->{status} == 402;
    last if $refused_at{0} && $refused_at{1};
    sleep $PACE;
}

ok $refused_at{0} && $refused_at{1}, 'both nodes end up refusing the key';
my @served = grep { $_->{status} == 200 } @log;
my @other = grep { $_->{status} != 200 && $_->{status} != 402 } @log;
ok !@other, 'every answer is 200 or 402' or diag explain \@other;
is_deeply [sort { $a cmp $b } map { $_->{code} } grep { $_->{status} == 402 } @log],
          [('spend_limit_exceeded') x scalar(grep { $_->{status} == 402 } @log)], '402 spend_limit_exceeded';

# the crossing request: the first after which the served ones cost over the limit
my $n_cross = 1 + int(($LIMIT - 1) / $COST);            # 12
ok @served >= $n_cross, "at least the $n_cross requests that reach the limit were served";
my $t_cross = $served[$n_cross - 1]{t};
for my $node (0, 1) {
    ok $refused_at{$node} - $t_cross < 5, "node $node refuses within 5 s of the crossing";
}

# the bound: beyond the crossing request, only what the other node admitted
# while the crossing propagated (its share of the pace), plus one in flight
my $after = @served - $n_cross;
my $bound = ceil($PROPAGATION / (2 * $PACE)) + 1;
ok $after <= $bound, "served after the crossing: $after, within the bound of $bound";

# everything booked: the ledger's spend, each request in full
ok wait_for(20, sub {
    $s->sql_value('SELECT count(*) FROM events WHERE spend_key_id = ? AND outcome = ?', $k->{spend_key_id},
                  'complete') == @served }), 'every served request is booked';
my $spent = $s->sql_value(q{SELECT sum(t.amount_nusd) FROM transfers t
                             WHERE t.spend_key_id = ?}, $k->{spend_key_id});
is $spent, @served * $COST, 'each in full';
ok $spent >= $LIMIT, 'the limit was reached';
ok $spent <= $LIMIT + ($bound + 1) * $COST, 'and overshot by at most the bound';
diag sprintf 'served %d (%d after the crossing), spent %d nusd of %d', scalar @served, $after, $spent, $LIMIT;

# ---- the rate limit is per node ---------------------------------------------------

my $rk = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $m->{merchant}, 'rate two nodes',
                 $m->{customer}, 'chat', json_encode({ rate_limit => { rpm => 1, burst => 1 } }))->[0];
$s->register_secret($rk->{key}, 'spend key');
$hex = sha256_hex($rk->{key});
$s->wait_auth(qr/^s $hex /m) or die "rate key not published\n";
sleep 1.5;
my @st;
for my $node (@nodes) {
    push @st, map { $node->request(target => $T, body => LavaTest::chat_body(),
                                   headers => [Authorization => "Bearer $rk->{key}",
                                               'x-mock-usage' => $USAGE])->{status} } 1 .. 3;
}
is_deeply \@st, [200, 200, 429, 200, 200, 429], 'rpm 1 + burst 1: two per node, each node its own bucket';

kill 'QUIT', $pid_b;
waitpid $pid_b, 0;
my @bad = grep { /\[(alert|emerg)\]|exited on signal/ } LavaTest::slurp_lines("$dir_b/error.log");
ok !@bad, 'no alert or crash on the second node' or diag @bad;
$s->finish;
done_testing;
