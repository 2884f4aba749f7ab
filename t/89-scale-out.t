# Scale-out: two gateways, two streams on a Redis Cluster of three masters,
# a sidecar per stream, one ledger (docs/operations.md, "Scaling out").
#
#   nginx A ──XADD──▶ lava:usage:{A} (master owning {A}'s slot) ──▶ sidecar a ─┐
#   nginx B ──XADD──▶ lava:usage:{B} (another master)           ──▶ sidecar b ─┴─▶ Postgres
#
# Each gateway and its stream's sidecars talk to the master that owns the
# stream's hash slot (hiredis 0.14 has no cluster client): lava_redis and
# redis_url name it, and every key of a group carries the group's hash tag
# (lava_stream, lava_auth_prefix; stream, auth_prefix), so the snapshot's
# MULTI/EXEC and every stream command stay on that node.
#
# The population, the mix and every check of the ledger are t/43's
# (t/lib/LavaBulk.pm): each request costs what an independent computation
# says, every account holds what it should, the balances sum to zero,
# graduated counts chain, ledger_check holds, each request is booked once.
# Then: each gateway's events are in its own stream only, every entry of
# both streams is acknowledged by every group reading it, each sidecar
# booked some.
#
# Then stream B is split between two sidecars by paying customer
# (partitions = 2): what was booked books nothing again, new requests of
# customers of both partitions are booked once each; with partition 1
# stopped its requests wait and reconcile calls them not yet delivered.
#
# Last, how MOVED is handled: stream A's slot is moved to another master
# while gateway A serves. Requests are still served; the XADDs answered
# MOVED keep the events (memory, then spool) and the error log names the
# new owner; pointing lava_redis (reload) and the sidecar's redis_url
# (SIGHUP) at it books every one of them, once.
#
# LAVA_SCALE_HTTP / LAVA_SCALE_DIRECT change the counts (default 1200 / 400).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use File::Path qw(make_path);
use IO::Socket::INET;
use POSIX ();
use Redis;
use Test::More;
use Time::HiRes qw(time sleep);

use LavaBulk;
use LavaTest qw(wait_for);

my $N_HTTP = $ENV{LAVA_SCALE_HTTP} // 1200;
my $N_DIRECT = $ENV{LAVA_SCALE_DIRECT} // 400;
my $WORKERS = 6;
my $SIDECAR = $ENV{LAVA_SIDECAR} // "$FindBin::Bin/../build/lava-sidecar";
my $NGINX = $ENV{LAVA_NGINX} // '/usr/sbin/nginx';
my $SEED = $ENV{LAVA_SCALE_SEED} // 20261207;
srand $SEED;
diag "seed $SEED";

system('redis-server --version >/dev/null 2>&1') == 0 or plan skip_all => 'no redis-server';

my $s = LavaTest->start;
my $t0 = time;
my $dir = $s->dir;
LavaBulk::init($s);
LavaBulk::setup();          # known to the stack's gateway through its own Redis

# --- what this file starts itself, stopped by pid ------------------------
my %pid;
sub spawn {
    my ($name, $log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    $pid{$name} = $pid;
    return $pid;
}
sub stop {
    my ($name, $sig) = @_;
    my $pid = delete $pid{$name} or return;
    kill $sig // 'TERM', $pid;
    my $t = time;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (time - $t > 15) { kill 'KILL', $pid; waitpid $pid, 0; last }
        sleep 0.05;
    }
}
END { stop($_) for grep { !/^redis/ } sort keys %pid; stop($_) for sort keys %pid; }

sub free_ports {
    my @s = map { IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                        Listen => 1) or die "no free port: $!\n" } 1 .. $_[0];
    return map { $_->sockport } @s;
}
sub port_open { my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $_[0], Timeout => 1); !!$c }
sub node { Redis->new(server => "127.0.0.1:$_[0]", reconnect => 0, cnx_timeout => 2, read_timeout => 10) }
sub cli { my $out = `redis-cli -p @_ 2>&1`; chomp $out; $out }

# --- a Redis Cluster of three masters on loopback ------------------------
my @ports = free_ports(6);
my @NODE = @ports[0 .. 2];
my @BUS = @ports[3 .. 5];
for my $i (0 .. 2) {
    my $d = "$dir/cluster/$NODE[$i]";
    make_path($d);
    spawn("redis$i", "$d/redis.out", 'redis-server', '--bind', '127.0.0.1', '--port', $NODE[$i],
          '--protected-mode', 'yes', '--daemonize', 'no', '--dir', $d, '--logfile', "$d/redis.log",
          '--cluster-enabled', 'yes', '--cluster-port', $BUS[$i],
          '--cluster-config-file', "$d/nodes.conf", '--cluster-node-timeout', 5000,
          '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec');
    $s->add_redis($NODE[$i]);
}
ok wait_for(10, sub { !grep { !port_open($_) } @NODE }), 'three cluster-mode redis-servers listen';
my $create = `redis-cli --cluster create @{[ map { "127.0.0.1:$_" } @NODE ]} --cluster-replicas 0 --cluster-yes 2>&1`;
is $?, 0, 'redis-cli --cluster create: three masters' or diag $create;
ok wait_for(30, sub { !grep { cli($_, 'cluster', 'info') !~ /cluster_state:ok/ } @NODE }),
   'the cluster is ok on every node';

# who owns a key's slot: the port of that master
my %ID = map { my $p = $_; (cli($p, 'cluster', 'myid') => $p) } @NODE;
sub owner {
    my ($key) = @_;
    my $slot = cli($NODE[0], 'cluster', 'keyslot', $key);
    for my $range (node($NODE[0])->cluster('slots')) {
        return $range->[2][1] if $slot >= $range->[0] && $slot <= $range->[1];
    }
    return undef;
}

# Two group tags whose slots two different masters own.
my ($TA, $TB);
for my $i (1 .. 100) {
    my $t = "gw$i";
    if (!defined $TA) { $TA = $t; next }
    if (owner("{$t}") != owner("{$TA}")) { $TB = $t; last }
}
my %G = (A => { tag => $TA }, B => { tag => $TB });
for my $g (values %G) {
    $g->{stream} = "lava:usage:{$g->{tag}}";
    $g->{auth} = "lava:auth:{$g->{tag}}";
    $g->{node} = owner($g->{stream});
}
isnt $G{A}{node}, $G{B}{node}, "streams $G{A}{stream} and $G{B}{stream} live on different masters";
is owner("$G{$_}{auth}:snapshot"), $G{$_}{node}, "group $_: snapshot, version and stream share a slot"
    for qw(A B);

# --- the sidecars: A on stream A; B0 and B1 split stream B by customer -----
$s->stop_part('sidecar');       # the stack's own, on its standalone Redis
my $base_conf = LavaTest::slurp("$dir/sidecar/sidecar.conf");
sub sidecar_conf {
    my ($name, $g, %set) = @_;
    my $c = $base_conf;
    my %v = (redis_url => "redis://127.0.0.1:$g->{node}", stream => $g->{stream},
             auth_prefix => $g->{auth}, consumer => "scale-$name", %set);
    $c =~ s/^\s*#?\s*\Q$_\E\s*=.*\n//mg for keys %v;
    $c .= join '', map { "$_ = $v{$_}\n" } sort keys %v;
    open my $fh, '>', "$dir/sidecar-$name.conf" or die;
    print $fh $c;
    close $fh;
}
sub start_sidecar {
    my ($name) = @_;
    delete local $ENV{LAVA_REDIS_URL};      # the file names the node
    local $ENV{LAVA_PG_DSN} = $s->env->{LAVA_PG_DSN};
    spawn("sidecar-$name", "$dir/sidecar-$name.log",
          $SIDECAR, '-c', "$dir/sidecar-$name.conf");
    $s->add_log("sidecar-$name.log");
}
sidecar_conf('a', $G{A});
sidecar_conf('b', $G{B});
start_sidecar($_) for qw(a b);
for my $g (qw(A B)) {
    ok wait_for(20, sub { eval { node($G{$g}{node})->get("$G{$g}{auth}:version") } }),
       "group $g: the auth snapshot is published on its master";
}

# --- the gateways: the stack's (A) and a second nginx (B) ----------------
sub gateway_conf {
    my ($g) = @_;
    return ["lava_redis 127.0.0.1:$G{$g}{node};", "lava_stream \"$G{$g}{stream}\";",
            "lava_auth_prefix \"$G{$g}{auth}\";"];
}
$s->configure_nginx(http => gateway_conf('A'));

my $nb = "$dir/nginx-b";
make_path("$nb/tmp", "$nb/html");
copy("$dir/nginx/$_", "$nb/$_") or die "$_: $!" for qw(providers.conf provider-keys lava-forward.conf);
chmod 0600, "$nb/provider-keys";
my ($PORT_B) = free_ports(1);
my $conf_b = LavaTest::slurp("$dir/nginx/nginx.conf");
$conf_b =~ s{\Q$dir/nginx/\E}{$nb/}g;
$conf_b =~ s/listen 127\.0\.0\.1:\d+;/listen 127.0.0.1:$PORT_B;/ or die 'no listen line';
my $b_directives = join '', map { "    $_\n" } @{ gateway_conf('B') };
$conf_b =~ s/(^    # lava-test-conf\n).*?(^    # lava-test-conf end\n)/$1$b_directives$2/ms or die 'no test block';
open my $fh, '>', "$nb/nginx.conf" or die;
print $fh $conf_b;
close $fh;
spawn('nginx-b', "$nb/nginx.out", $NGINX, '-p', "$nb/", '-c', "$nb/nginx.conf", '-e', "$nb/error.log");
$s->add_log('nginx-b/error.log');
$s->add_log('nginx-b/access.log');
ok wait_for(15, sub { port_open($PORT_B) }), 'gateway B listens';
my $B = LavaTest->client($PORT_B);

for my $m (LavaBulk::merchants()) {
    ok $s->wait_accepted($m->{token}, 20), "gateway A knows $m->{merchant} (from stream A's master)";
    ok $B->wait_accepted($m->{token}, 20), "gateway B knows $m->{merchant} (from stream B's master)";
}

# --- the mix, half through each gateway; direct entries into both streams --
my @HTTP = LavaBulk::plan_all($N_HTTP);
my @kids = LavaBulk::send_http(\@HTTP, $WORKERS, sub { $_[0] % 2 ? $B : $s });
my @DIRECT = LavaBulk::make_direct($N_DIRECT);
my %r = (A => node($G{A}{node}), B => node($G{B}{node}));
for my $i (0 .. $#DIRECT) {
    my $e = $DIRECT[$i];
    my $g = $i % 2 ? 'B' : 'A';
    $r{$g}->xadd($G{$g}{stream}, '*', map { $_ => $e->{$_} } sort keys %$e);
}
my %res = LavaBulk::collect(\@kids, $WORKERS);
my @rids = LavaBulk::check(\@HTTP, \%res, \@DIRECT);

# --- where each event went ------------------------------------------------
sub stream_rids {
    my ($g) = @_;
    my %ids;
    for my $e (node($G{$g}{node})->xrange($G{$g}{stream}, '-', '+')) {
        # every event's: an entry of version 3 carries several
        for my $f (LavaTest::entry_events($e->[1])) {
            $ids{ $f->{request_id} }++ if $f->{request_id};
        }
    }
    return \%ids;
}
my %in = (A => stream_rids('A'), B => stream_rids('B'));
my @misplaced;
for my $i (0 .. $#HTTP) {
    my ($want, $other) = $i % 2 ? ('B', 'A') : ('A', 'B');
    my $rid = $HTTP[$i]{rid} or next;
    push @misplaced, "$rid: via gateway $want, in stream " . join(',', grep { $in{$_}{$rid} } qw(A B))
        if !$in{$want}{$rid} || $in{$other}{$rid};
}
for my $i (0 .. $#DIRECT) {
    my $want = $i % 2 ? 'B' : 'A';
    push @misplaced, "$DIRECT[$i]{request_id}: direct to $want" unless $in{$want}{ $DIRECT[$i]{request_id} };
}
is scalar(@misplaced), 0, 'each gateway\'s events are in its own stream only'
    or diag join "\n", @misplaced[0 .. ($#misplaced < 9 ? $#misplaced : 9)];

sub groups {
    my ($g) = @_;
    my $n = node($G{$g}{node});
    my %stream = $n->xinfo('STREAM', $G{$g}{stream});
    return $stream{'last-generated-id'}, map { +{ @$_ } } $n->xinfo('GROUPS', $G{$g}{stream});
}
for my $g (qw(A B)) {
    my ($last, @groups) = groups($g);
    my @names = sort map { $_->{name} } @groups;
    is_deeply \@names, ['lava-sidecar'], "stream $g is read by " . join(', ', @names);
    is_deeply [map { [$_->{pending}, $_->{'last-delivered-id'}] } @groups],
              [map { [0, $last] } @groups], "stream $g: every entry delivered to every group and acknowledged";
}

for my $name (qw(a b)) {
    my @log = LavaTest::slurp_lines("$dir/sidecar-$name.log");
    ok !grep({ /\berror\b|dead-lettered [1-9]/i } @log), "sidecar $name logged no error";
    ok grep({ /booked [1-9]/ } @log), "sidecar $name booked some of them";
}
my @bad_b = grep { /\[(alert|emerg)\]|exited on signal/ } LavaTest::slurp_lines("$nb/error.log");
ok !@bad_b, 'gateway B: no [alert], [emerg] or worker crash' or diag join '', @bad_b[0 .. ($#bad_b < 9 ? $#bad_b : 9)];
diag sprintf '%d requests through two gateways and two streams booked and checked in %.1f s',
    scalar @rids, time - $t0;

# --- stream B split in two partitions by customer ------------------------
# b stops; b0 and b1 (partitions = 2) read stream B in their own groups
# from its start: everything in it is booked already and books nothing
# again. Then requests of customers of both partitions: each booked once,
# by the sidecar of its customer's partition.
# FNV-1a, 32 bit, of the customer id (sidecar/partition.c)
sub partition_of {
    my ($id, $n) = @_;
    my $h = 2166136261;
    for (unpack 'C*', $id) { $h ^= $_; $h = ($h * 16777619) % 4294967296 }
    return $h % $n;
}
my @cust = LavaBulk::customers();
for my $p (0, 1) {
    next if grep { partition_of($_->[1], 2) == $p } @cust;
    # a customer of the partition the population happens to lack
    my $m = $cust[0][0];
    my $c;
    do { $c = $s->sql_value('SELECT create_customer(?)', $m->{merchant}) } until partition_of($c, 2) == $p;
    $s->sql_value('SELECT fund_wallet(?, ?)', $c, 100);
    push @cust, [$m, $c];
}
my %tok = map { $_->[1] => $s->token(secret_key => $_->[0]{secret}, customer_id => $_->[1], meter_slug => 'chat') }
          @cust;
ok $B->wait_accepted($tok{$_}, 20), "gateway B knows customer $_" for map { $_->[1] } @cust;
# the probes' events (refused, booked as such) booked before the counts are taken
ok wait_for(10, sub {
    my ($last, @groups) = groups('B');
    @groups == 1 && $groups[0]{pending} == 0 && $groups[0]{'last-delivered-id'} eq $last;
}), 'stream B drained by sidecar b';
my %count0 = map { $_ => $s->sql_value("SELECT count(*) FROM $_") } qw(events transfers);
stop('sidecar-b');
sidecar_conf('b0', $G{B}, partitions => 2, partition => 0);
sidecar_conf('b1', $G{B}, partitions => 2, partition => 1);
start_sidecar($_) for qw(b0 b1);
ok wait_for(30, sub {
    my ($last, @groups) = groups('B');
    my @p = grep { $_->{name} =~ /^lava-sidecar\.p[01]of2$/ } @groups;
    @p == 2 && !grep { $_->{pending} != 0 || $_->{'last-delivered-id'} ne $last } @p;
}), 'partitions 0 and 1 read stream B from its start, in groups lava-sidecar.p0of2 and .p1of2';
is_deeply { map { $_ => $s->sql_value("SELECT count(*) FROM $_") } qw(events transfers) }, \%count0,
          'what was booked already books nothing again';
my (@part_rids, %n_part);
for my $i (0 .. 39) {
    my $c = $cust[$i % @cust][1];
    my $r = $B->request(target => '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1',
                        body => LavaTest::chat_body(model => 'bulk-a'),
                        headers => [Authorization => "Bearer $tok{$c}", 'x-mock-usage' => "prompt=${\(100 + $i)},completion=7"]);
    next unless $r->{status} == 200;
    push @part_rids, $r->{rid};
    $n_part{ partition_of($c, 2) }++;
}
is scalar(@part_rids), 40, 'gateway B served 40 requests of ' . scalar(@cust) . ' customers';
ok $n_part{0} && $n_part{1}, "customers of both partitions ($n_part{0} and $n_part{1} requests)";
ok wait_for(30, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@part_rids) == 40 }),
   'all 40 booked';
is $s->sql_value(q{SELECT count(*) FROM request_costs c
                    WHERE c.request_id = ANY(?) AND c.cost_state = 'priced'
                      AND c.base_cost_nusd + c.fee_nusd + c.service_charge_nusd
                          = (SELECT sum(amount_nusd) FROM transfers t WHERE t.request_id = c.request_id)},
                 \@part_rids), 40, 'each priced and its transfers move exactly its cost';
for my $p (0, 1) {
    my @log = LavaTest::slurp_lines("$dir/sidecar-b$p.log");
    ok !grep({ /\berror\b|dead-lettered [1-9]/i } @log), "sidecar b$p logged no error";
    ok grep({ /booked [1-9]/ } @log), "sidecar b$p (partition $p) booked its customers' requests";
}
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };

# --- a partition stopped: its entries wait for it; reconcile says so ----
# b0 acknowledges b1's entries unread in its own group; reconcile, run with
# b0's configuration, reads every partition's group: b1's entries are not
# yet delivered, not missing.
stop('sidecar-b1');
my ($mc) = grep { partition_of($_->[1], 2) == 1 } @cust;
my $tok = $tok{ $mc->[1] };
my @waiting;
for my $i (1 .. 12) {
    my $r = $B->request(target => '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1',
                        body => LavaTest::chat_body(model => 'gpt-4o-mini'),
                        headers => [Authorization => "Bearer $tok", 'x-mock-usage' => 'prompt=10,completion=5']);
    push @waiting, $r->{rid} if $r->{status} == 200;
}
is scalar(@waiting), 12, 'gateway B serves with partition 1 stopped';
ok wait_for(10, sub {
    my ($last, @groups) = groups('B');
    my ($g0) = grep { $_->{name} eq 'lava-sidecar.p0of2' } @groups;
    $g0->{pending} == 0 && $g0->{'last-delivered-id'} eq $last;
}), 'partition 0 read and acknowledged them all';
is $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@waiting), 0,
   'none of them booked: partition 1 is stopped';
my $rec = `env -u LAVA_REDIS_URL LAVA_PG_DSN=$s->{env}{LAVA_PG_DSN} $SIDECAR -c $dir/sidecar-b0.conf reconcile 2>&1`;
is $? >> 8, 0, 'reconcile with partition 0\'s configuration: exit 0, nothing missing' or diag $rec;
like $rec, qr/missing\s+0\b/, 'reconcile: 0 missing';
like $rec, qr/not yet delivered\s+12\b/, 'reconcile: the 12 requests of partition 1 are not yet delivered'
    or diag $rec;
start_sidecar('b1');
ok wait_for(30, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@waiting) == 12 }),
   'partition 1 books them once its sidecar is back';

# --- MOVED: stream A's slot moves to the third master ---------------------
my ($to) = grep { $_ != $G{A}{node} && $_ != $G{B}{node} } @NODE;
my $from = $G{A}{node};
my %id_of = reverse %ID;
my $slot = cli($from, 'cluster', 'keyslot', $G{A}{stream});
cli($to, 'cluster', 'setslot', $slot, 'importing', $id_of{$from});
cli($from, 'cluster', 'setslot', $slot, 'migrating', $id_of{$to});
my @keys = split /\n/, cli($from, 'cluster', 'getkeysinslot', $slot, 100);
my $mig = cli($from, 'migrate', '127.0.0.1', $to, '""', 0, 5000, 'keys', @keys);
is $mig, 'OK', "the slot's keys (" . join(', ', @keys) . ") migrated";
cli($_, 'cluster', 'setslot', $slot, 'node', $id_of{$to}) for @NODE;
like cli($from, 'xlen', $G{A}{stream}), qr/MOVED $slot 127\.0\.0\.1:$to/, "the old master answers MOVED $slot 127.0.0.1:$to";

my $m = (LavaBulk::merchants())[0];
my @moved;
for my $i (1 .. 20) {
    my $r = $s->request(target => '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1',
                        body => LavaTest::chat_body(model => 'gpt-4o-mini'),
                        headers => [Authorization => "Bearer $m->{token}", 'x-mock-usage' => 'prompt=10,completion=5']);
    push @moved, $r->{rid} if $r->{status} == 200;
}
is scalar(@moved), 20, 'gateway A serves while its stream\'s slot has moved';
ok wait_for(10, sub { grep { /xadd to "\Q$G{A}{stream}\E" failed \(MOVED $slot 127\.0\.0\.1:$to\)/ }
                      LavaTest::slurp_lines($s->error_log) }),
   'the error log names the new owner (MOVED)';
ok wait_for(10, sub { grep { /lava auth: reading the snapshot from redis failed \(MOVED $slot 127\.0\.0\.1:$to\), keeping the loaded one/ }
                      LavaTest::slurp_lines($s->error_log) }),
   'the auth poll gets MOVED too and keeps the loaded snapshot';
sleep 1;
is $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@moved), 0,
   'nothing booked while the gateway writes to the old master';

# the operator points both at the new owner: nginx reload (here a restart),
# the sidecar's redis_url and SIGHUP
$G{A}{node} = $to;
$s->configure_nginx(http => gateway_conf('A'));
sidecar_conf('a', $G{A});
kill 'HUP', $pid{'sidecar-a'};
ok wait_for(30, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@moved) == 20 }),
   'every event kept through MOVED is booked from the new owner';
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };

stop('nginx-b', 'QUIT');
stop($_) for qw(sidecar-a sidecar-b0 sidecar-b1);
$s->finish;
stop($_) for grep { /^redis/ } sort keys %pid;
done_testing;
