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

# lines of the error log written since this test began
my $log_start = () = LavaTest::slurp_lines($s->error_log);
sub log_count {
    my ($re) = @_;
    my @lines = LavaTest::slurp_lines($s->error_log);
    return scalar grep { /$re/ } @lines[$log_start .. $#lines];
}
my $from_file_re = qr/lava auth: snapshot taken from ".*auth\.snapshot" until redis has one/;
my $from_redis_re = qr/lava auth: snapshot read from redis before the workers start/;

my $stop = "$s->{dir}/ready-stop";
unlink $stop;
my @kids = map { client("$s->{dir}/ready-client-$_.log", $stop) } 1 .. 4;

ok LavaTest::wait_for(10, sub { scalar(answers()) >= 20 }), 'the clients are answered';

# Restarts with the snapshot file (the usual case), without it (the master
# reads Redis), and with a FIFO or a symlink in its place (a worker could
# put one there: the master, root, neither waits on it nor follows it, and
# reads Redis instead).
my @modes = (('file') x 4, 'none', 'none', 'fifo', 'symlink');
my $restarts = @modes;
for my $i (1 .. $restarts) {
    my $mode = $modes[$i - 1];
    my $n = answers();
    $s->stop_part('nginx');
    if ($mode ne 'file') {
        unlink $file;
        if ($mode eq 'fifo') {
            require POSIX;
            POSIX::mkfifo($file, 0600) or die "mkfifo: $!\n";
        } elsif ($mode eq 'symlink') {
            symlink '/etc/hostname', $file or die "symlink: $!\n";
        }
    }
    my $t0 = time;
    $s->start_part('nginx');
    cmp_ok time - $t0, '<', 8, "restart $i ($mode): nginx starts";
    LavaTest::wait_for(10, sub { scalar(answers()) > $n + 20 })
        or diag "restart $i ($mode): few answers after the start";
    # worker 0 writes the file again (renamed over whatever was there)
    ok LavaTest::wait_for(10, sub { -f $file && !-l $file && -s $file }),
       "restart $i ($mode): worker 0 keeps the snapshot file";
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
    my $r0 = log_count($from_file_re);
    kill 'HUP', master_pid() or die "reload: $!\n";
    ok LavaTest::wait_for(10, sub { log_count($from_file_re) > $r0 }),
       "reload $i ($size zone): the master loads the file into the new zone";
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

is log_count($from_file_re), 4 + 4, 'the starts with the file, and the reloads, loaded lava_auth_file';
is log_count($from_redis_re), 4, 'the starts without a usable file read the snapshot from Redis';
is log_count(qr/auth\.snapshot" is not a regular file/), 1, 'the FIFO is named and not used';
is log_count(qr/opening ".*auth\.snapshot" failed \(\d+: Too many levels of symbolic links\)/), 1,
   'the symlink is not followed';

$s->finish;
done_testing;
