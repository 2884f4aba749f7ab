# Ready means ready (issue 15): every worker authenticates from its first
# request after nginx starts, or reloads into a new auth zone. The master
# loads the snapshot (lava_auth_file, else Redis) before the workers exist;
# before, only worker 0 loaded it and the others answered 503
# auth_unavailable for a few milliseconds. Clients hammer the gateway with a
# known token while nginx is restarted and reloaded; no answer may be 503
# auth_unavailable or a 401.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use Test::More;

use LavaTest;

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $port = $s->{port};
my $file = $s->dir . '/nginx/auth.snapshot';
my $conf = $s->dir . '/nginx/nginx.conf';

ok LavaTest::wait_for(10, sub { -s $file }), 'worker 0 keeps the snapshot in lava_auth_file';

# The probe: refused 400 invalid_metadata once key, customer and meter are
# known (LavaTest::wait_accepted); never forwarded.
my $req = "POST /v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%2Fchat%2Fcompletions HTTP/1.1\r\n"
        . "Host: 127.0.0.1:$port\r\nAuthorization: Bearer $m->{token}\r\n"
        . "x-lava-metadata: []\r\nContent-Type: application/json\r\n"
        . "Content-Length: 2\r\nConnection: close\r\n\r\n{}";

# A client: requests back to back until the stop file exists, one line per
# answer ("<status> <code>") in its log; refused connections are skipped.
sub client {
    my ($log, $stop) = @_;
    my $pid = fork // die "fork: $!\n";
    return $pid if $pid;
    open my $out, '>', $log or _exit(1);
    $out->autoflush(1);
    until (-e $stop) {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 2);
        unless ($c) { sleep 0.002; next }
        print $c $req;
        local $/;
        my $res = <$c> // '';
        close $c;
        next unless $res =~ m{^HTTP/1\.1 (\d+)};
        my $status = $1;
        my ($code) = $res =~ /"code":"([a-z_]+)"/;
        print $out "$status ", $code // '-', "\n";
    }
    close $out;
    _exit(0);
}

sub master_pid { my ($p) = LavaTest::slurp("$s->{dir}/nginx/nginx.pid") =~ /(\d+)/; $p }

sub answers {
    my @lines = map { LavaTest::slurp_lines($_) } glob "$s->{dir}/ready-client-*.log";
    chomp @lines;
    return @lines;
}

my $stop = "$s->{dir}/ready-stop";
unlink $stop;
my @kids = map { client("$s->{dir}/ready-client-$_.log", $stop) } 1 .. 4;

ok LavaTest::wait_for(10, sub { scalar(answers()) >= 20 }), 'the clients are answered';

my $restarts = 8;
for my $i (1 .. $restarts) {
    my $n = answers();
    $s->stop_part('nginx');
    $s->start_part('nginx');
    LavaTest::wait_for(10, sub { scalar(answers()) > $n + 20 })
        or diag "restart $i: few answers after the start";
}

# Reloads into a new zone (its size changed): the old zone is not handed on,
# the master fills the new one before the new workers start.
for my $i (1 .. 4) {
    my $n = answers();
    my $text = LavaTest::slurp($conf);
    my $size = $i % 2 ? '9m' : '8m';
    $text =~ s/lava_auth_zone lava_auth \d+m;/lava_auth_zone lava_auth $size;/ or die "no lava_auth_zone in $conf\n";
    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh $text;
    close $fh;
    my $reconf = sub { scalar grep { /reconfiguring/ } LavaTest::slurp_lines($s->error_log) };
    my $r0 = $reconf->();
    kill 'HUP', master_pid() or die "reload: $!\n";
    ok LavaTest::wait_for(10, sub { $reconf->() > $r0 }), "reload $i ($size zone): nginx reloads";
    LavaTest::wait_for(10, sub { scalar(answers()) > $n + 40 })
        or diag "reload $i: few answers after the reload";
}

open my $fh, '>', $stop or die "$stop: $!\n";
close $fh;
waitpid $_, 0 for @kids;

my @all = answers();
my %seen;
$seen{$_}++ for @all;
diag join ', ', map { "$_: $seen{$_}" } sort keys %seen;
cmp_ok scalar(@all), '>', 20 * ($restarts + 4), 'the clients were answered throughout';
is scalar(grep { /^503 auth_unavailable/ } @all), 0, 'no answer 503 auth_unavailable';
is scalar(grep { /^401 / } @all), 0, 'no answer 401';
is scalar(grep { !/^400 invalid_metadata$/ } @all), 0,
   'every answer is the one of a known token (400 invalid_metadata)';

my $loaded = grep { /lava auth: snapshot taken from ".*auth\.snapshot" until redis has one/ }
             LavaTest::slurp_lines($s->error_log);
cmp_ok $loaded, '>=', $restarts, 'each start loaded lava_auth_file before the workers';

$s->finish;
done_testing;
