# Request smuggling attempts: CR/LF, spaces and encoded newlines in `u`, in the
# path and in headers; conflicting body framings; a second request hidden
# behind the body. Whatever nginx or the gateway answers, the provider must
# only ever see one well-formed request per client request, with no header
# the client did not send as a header and no line break in its target.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());
my $auth = "Authorization: Bearer $m->{token}";
my $port = $s->{port};

# Sends raw bytes on one connection, reads until the server closes it (or
# 5 s pass) and returns the status codes of every response seen.
sub raw {
    my ($bytes) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
        or die "connect: $!\n";
    binmode $c;
    syswrite $c, $bytes;
    my $buf = '';
    my $sel = IO::Select->new($c);
    my $deadline = time + 5;
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread $c, $buf, 65536, length $buf;
        last unless $n;
    }
    close $c;
    # a response may follow the previous body without a line break
    return ($buf =~ m{HTTP/1\.[01] (\d{3}) }g);
}

sub mock_count { scalar $s->mock_requests }

my $U = 'u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $len = length $chat;

# [what, raw request, statuses that are acceptable, requests the mock may get]
my @cases = (
    ['Content-Length and Transfer-Encoding together',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\nContent-Length: 4\r\n"
     . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", qr/^400$/, 0],
    ['two different Content-Length headers',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\nContent-Length: $len\r\n"
     . "Content-Length: 3\r\nConnection: close\r\n\r\n$chat", qr/^400$/, 0],
    ['Transfer-Encoding other than chunked',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\n"
     . "Transfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n0\r\n\r\n", qr/^(400|501)$/, 0],
    ['header folded onto a continuation line',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\nX-A: 1\r\n X-Injected: 1\r\n"
     . "Content-Length: $len\r\nConnection: close\r\n\r\n$chat", qr/^400$/, 0],
    ['bare CR inside a header value',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\n"
     . "X-Provider-API-Key: sk-a\rX-Injected: 1\r\nContent-Length: $len\r\nConnection: close\r\n\r\n$chat",
     qr/^400$/, 0],
    ['space in a header name',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\nX-Injected : 1\r\n"
     . "Content-Length: $len\r\nConnection: close\r\n\r\n$chat", qr/^400$/, 0],
    ['raw space in u',
     "POST /v1/forward?u=https://api.openai.com/v1/chat completions HTTP/1.1\r\nHost: x\r\n$auth\r\n"
     . "Content-Length: $len\r\nConnection: close\r\n\r\n$chat", qr/^400$/, 0],
    ['raw tab in u',
     "POST /v1/forward?u=https://api.openai.com/v1/chat\tcompletions HTTP/1.1\r\nHost: x\r\n$auth\r\n"
     . "Content-Length: $len\r\nConnection: close\r\n\r\n$chat", qr/^400$/, 0],
    ['chunked body with a trailer header',
     "POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\nTransfer-Encoding: chunked\r\n"
     . "Connection: close\r\n\r\n" . sprintf('%x', $len) . ";ext=1\r\n$chat\r\n0\r\nX-Injected: 1\r\n\r\n",
     qr/^200$/, 1],
);

for my $c (@cases) {
    my ($what, $bytes, $ok, $max) = @$c;
    my $before = mock_count();
    my @st = raw($bytes);
    sleep 0.2;
    subtest $what => sub {
        ok @st >= 1, 'answered';
        like $st[0] // '', $ok, "status $st[0]" if @st;
        ok mock_count() - $before <= $max, 'at most ' . $max . ' request upstream';
    };
}

# A second request hidden behind the body on a kept-alive connection is a
# request of the client to nginx, not to the provider: it is judged on its
# own (no token: 401) and the provider sees exactly the declared body.
{
    my $id = LavaTest::test_id();
    my $hidden = "GET /v1/forward/models?$U HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $before = mock_count();
    my @st = raw("POST /v1/forward/chat/completions?$U HTTP/1.1\r\nHost: x\r\n$auth\r\nx-test-id: $id\r\n"
                 . "Content-Type: application/json\r\nContent-Length: $len\r\n\r\n$chat$hidden");
    sleep 0.2;
    my @seen = $s->mock_requests($id);
    is_deeply \@st, [200, 401], 'request behind the body: answered on its own, without a token 401'
        or diag "statuses: @st";
    is mock_count() - $before, 1, 'one request upstream';
    is $seen[0]{body_sha256}, sha256_hex($chat), 'the provider got exactly the declared body' if @seen;
}

# Line breaks and spaces in u and in the path, raw, encoded and encoded twice.
my @targets = (
    "/v1/forward?u=https://api.openai.com/v1/chat%0D%0AX-Injected:%201",
    "/v1/forward?u=https://api.openai.com/v1/chat%250D%250AX-Injected:%25201",
    "/v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%2Fchat%250d%250aX-Injected%3A%25201",
    "/v1/forward?u=https://api.openai.com/v1/chat%20HTTP/1.1%0D%0AX-Injected:%201%0D%0A%0D%0A",
    "/v1/forward?u=https://api.openai.com/v1/chat%E5%98%8A%E5%98%8DX-Injected:%201",
    "/v1/forward?u=https://api.openai.com/v1/chat%C4%8D%C4%8AX-Injected:%201",
    "/v1/forward?u=https://api.openai.com/v1/chat%00X-Injected",
    "/v1/forward/chat%0D%0AX-Injected:%201?$U",
    "/v1/forward/chat%250D%250AX-Injected:%201/chat/completions?$U",
    "/v1/forward/chat%20completions/chat/completions?$U",
    "/v1/forward/chat/completions?$U&x=%0D%0AX-Injected:%201",
    "/v1/forward/chat/completions?$U&x=%250D%250AX-Injected:%201",
    "/v1/forward/chat/completions?$U&%0D%0AX-Injected:%201=1",
);
for my $t (@targets) {
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $t, body => $chat,
                        headers => [Authorization => "Bearer $m->{token}", 'x-test-id' => $id]);
    my @seen = $s->mock_requests($id);
    subtest "target $t" => sub {
        ok $r->{status} == 400 || $r->{status} == 200, "status $r->{status}";
        ok @seen <= 1, 'at most one request upstream';
        for my $q (@seen) {
            unlike $q->{target}, qr/[\x00-\x20\x7f]/, "upstream target has no raw control byte or space: $q->{target}";
            unlike $q->{target}, qr/%(0[0-9a-f]|1[0-9a-f]|7f)/i,
                'nor an escaped one the provider would decode into a line break';
        }
    };
}

# Across everything above: no header the client smuggled reached the provider.
my @inj = grep { LavaTest::header_values($_, 'x-injected') } $s->mock_requests;
is scalar(@inj), 0, 'no X-Injected header ever reached the provider'
    or diag explain [map { $_->{target} } @inj];

$s->finish;
done_testing;
