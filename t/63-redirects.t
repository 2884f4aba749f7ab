# A provider that answers with a redirect: nginx passes the 3xx and its
# Location to the client unchanged and never follows it, so a provider (or
# whoever answers in its name) cannot point the gateway at an internal
# address. The "provider" here is a small server of this test that answers
# every request with a redirect to a second listener, the "internal service",
# which must never see a connection.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep);

use LavaTest qw(json_encode);
use File::Temp ();

my $dir = File::Temp::tempdir('lava-redirect-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $provider = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                     ReuseAddr => 1) or die "listen: $!\n";
my $internal = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                     ReuseAddr => 1) or die "listen: $!\n";
my ($pport, $iport) = ($provider->sockport, $internal->sockport);

# One child serves both listeners, one request at a time, and logs a line per
# request ("provider <request line>") or connection ("internal").
my $parent = $$;
my $pid = fork // die "fork: $!\n";
if ($pid == 0) {
    $SIG{TERM} = sub { _exit(0) };
    close STDOUT;
    close STDERR;
    my $sel = IO::Select->new($provider, $internal);
    my %redirect = (
        '/r301' => [301, "http://127.0.0.1:$iport/stolen"],
        '/r302' => [302, "http://127.0.0.1:$iport/stolen?k=1"],
        '/r303' => [303, "/v1/internal"],
        '/r307' => [307, "https://169.254.169.254/latest/meta-data/"],
        '/r308' => [308, "http://[::1]:$iport/stolen"],
    );
    for (;;) {
        # gone with the test, however it ended
        _exit(0) if getppid() != $parent;
        for my $l ($sel->can_read(0.5)) {
            my $c = $l->accept or next;
            if ($l == $internal) {
                logline('internal');
                close $c;
                next;
            }
            my $buf = '';
            while (index($buf, "\r\n\r\n") < 0) {
                my $n = sysread $c, $buf, 65536, length $buf;
                last unless $n;
            }
            my ($line) = $buf =~ /^([^\r\n]*)/;
            logline("provider $line");
            my ($len) = $buf =~ /\r\ncontent-length:\s*(\d+)/i;
            my $have = length($buf) - index($buf, "\r\n\r\n") - 4;
            while (defined $len && $have < $len) {
                my $n = sysread $c, my $more, 65536;
                last unless $n;
                $have += $n;
            }
            my ($path) = $line =~ m{^\S+ ([^?\s]*)};
            my ($code, $loc) = @{ $redirect{$path =~ m{(/r\d+)(?:/|$)} ? $1 : ''} // [302, "http://127.0.0.1:$iport/"] };
            my $body = '{"redirect":true}';
            print $c "HTTP/1.1 $code Redirect\r\nLocation: $loc\r\nContent-Type: application/json\r\n"
                   . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
            close $c;
        }
    }
}
close $provider;
close $internal;
END { kill 'TERM', $pid if $pid && $$ == $parent }

sub logline {
    open my $fh, '>>', "$dir/log" or return;
    print $fh "$_[0]\n";
    close $fh;
}

# This test's stack sends every provider's traffic to the server above.
{
    no warnings 'redefine';
    *LavaTest::_stack = sub {
        my ($self, @args) = @_;
        local $ENV{LAVA_STACK_DIR} = $self->{dir};
        local $ENV{LAVA_UPSTREAM_OVERRIDE} = "http://127.0.0.1:$pport";
        delete local $ENV{LAVA_UPSTREAM_TLS};
        my $cmd = join ' ', map { quotemeta } "$LavaTest::ROOT/scripts/lava-stack", @args;
        return scalar `$cmd 2>&1`;
    };
}

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());

for my $code (301, 302, 303, 307, 308) {
    my $r = $s->request(method => 'POST', target => "/v1/forward?u=https://api.openai.com/v1/r$code/chat/completions",
                        body => $chat, headers => [Authorization => "Bearer $m->{token}"]);
    subtest "provider answers $code" => sub {
        is $r->{status}, $code, "the client gets the $code";
        ok length($r->{headers}{location} // ''), "with the provider's Location: $r->{headers}{location}";
        like $r->{rid} // '', qr/^req_/, 'x-lava-request-id';
    };
}
sleep 0.3;

my @log = LavaTest::slurp_lines("$dir/log");
is scalar(grep { /^provider / } @log), 5, 'the provider saw each request once';
is scalar(grep { /^internal/ } @log), 0, 'the redirect targets saw no connection';

$s->finish;
done_testing;
