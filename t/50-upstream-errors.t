# What the provider does wrong, and what the client does: provider errors pass
# through unchanged and cost nothing, an unreachable provider is a JSON 502,
# a cut stream is an upstream_error, a client that leaves is a client_abort.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;

use LavaTest qw(json_encode wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my @auth = (Authorization => "Bearer $m->{token}");

# Provider 4xx and 5xx: status, headers and body as the provider sent them.
for my $status (400, 401, 429, 500, 503) {
    my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                        headers => [@auth, 'x-mock-status' => $status]);
    subtest "provider $status passes through" => sub {
        is $r->{status}, $status, "status $status";
        my $sent = $s->mock_response($r->{headers}{'x-request-id'} // '');
        ok $sent, "the provider's x-request-id passes through";
        is sha256_hex($r->{body}), $sent->{sha256}, "the provider's body, unchanged";
        like $r->{json}{error}{type} // '', qr/_error$/, "OpenAI's error shape, not the gateway's";
        is $r->{headers}{'retry-after'}, '1', 'retry-after passes through' if $status == 429;
        like $r->{rid}, qr/^req_/, 'x-lava-request-id';
        my $row = $s->wait_booked($r->{rid});
        is $row->{status}, $status, "booked with status $status";
        is $row->{total_nusd}, 0, 'at zero cost';
        is $row->{moved_nusd}, 0, 'nothing moved';
    };
}

# The provider cannot be reached.
$s->stop_part('mock');
{
    my $r = $s->request(target => $T, body => LavaTest::chat_body(), headers => \@auth);
    subtest 'provider unreachable -> 502 JSON' => sub {
        is $r->{status}, 502, 'status 502';
        is $r->{json}{error}{code}, 'provider_unreachable', 'code provider_unreachable' or diag $r->{body};
        is $r->{json}{error}{status}, 502, 'error.status';
        like $r->{rid}, qr/^req_/, 'x-lava-request-id';
        my $ev = $s->wait_event($r->{rid});
        is $ev->{outcome}, 'upstream_error', 'event: upstream_error';
        my $row = $s->wait_booked($r->{rid});
        is $row->{total_nusd}, 0, 'booked at zero cost';
    };
}
$s->start_part('mock');

# The provider closes the connection without answering.
{
    my $r = $s->request(target => $T, body => LavaTest::chat_body(), headers => [@auth, 'x-mock-close' => 1]);
    is $r->{status}, 502, 'provider hangs up: 502';
    is $r->{json}{error}{status}, 502, 'provider hangs up: JSON error';
    like $r->{rid}, qr/^req_/, 'provider hangs up: x-lava-request-id';
    is $s->wait_event($r->{rid})->{outcome}, 'upstream_error', 'provider hangs up: upstream_error';
}

# The provider is back: requests work again.
is $s->request(target => $T, body => LavaTest::chat_body(), headers => \@auth)->{status}, 200,
   'the provider is back: 200';

# The provider cuts the stream mid-way: the client sees the body end early,
# and the event says upstream_error.
{
    my $r = $s->stream(target => $T, body => LavaTest::chat_body(stream => 1),
                       headers => [@auth, 'x-mock-cut-after' => 3, 'x-mock-chunk-delay-ms' => 20]);
    is $r->{status}, 200, 'cut stream: headers were 200';
    ok !$r->{complete}, 'cut stream: the client does not see a complete body';
    my $ev = $s->wait_event($r->{rid});
    is $ev->{outcome}, 'upstream_error', 'cut stream: event outcome upstream_error';
    is $ev->{stream}, '1', 'cut stream: stream 1';
    ok $s->wait_booked($r->{rid}), 'cut stream: booked';
}

# The client goes away mid-stream.
my $abort_rid;
{
    my $r = $s->stream(target => $T, body => LavaTest::chat_body(stream => 1),
                       headers => [@auth, 'x-mock-chunks' => 30, 'x-mock-chunk-delay-ms' => 100],
                       on_event => sub { $_[1] >= 2 ? 'abort' : undef });
    ok $r->{aborted}, 'client abort: the client closed after 3 events';
    $abort_rid = $r->{rid};
    my $ev = $s->wait_event($r->{rid});
    is $ev->{outcome}, 'client_abort', 'client abort: event outcome client_abort';
    my $row = $s->wait_booked($r->{rid});
    is $row->{outcome}, 'client_abort', 'client abort: booked';
    # the provider bills what it generated: the answer was read on to its
    # final usage (lava_drain_timeout, t/36-client-abort.t) and booked
    my $sent = $s->mock_response($r->{headers}{'x-request-id'}, 10);
    ok $sent && $sent->{complete}, 'client abort: the provider stream was read on to its usage';
    is $ev->{usage_source}, 'reported', 'client abort: the provider\'s usage booked';
}

# A client that leaves before the provider answers.
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}) or die;
    my $id = LavaTest::test_id();
    my $body = json_encode(LavaTest::chat_body());
    print $sock "POST $T HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $m->{token}\r\n"
              . "x-mock-delay-ms: 1500\r\nx-test-id: $id\r\nContent-Type: application/json\r\n"
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my $q = wait_for(5, sub { ($s->mock_requests($id))[0] });
    ok $q, 'early abort: the request reached the provider';
    close $sock;
    my $rid = wait_for(10, sub {
        for (LavaTest::slurp_lines("$s->{dir}/nginx/access.log")) {
            return $1 if /outcome=client_abort/ && /rid=(req_\w+)/ && $1 ne ($abort_rid // '');
        }
        undef;
    });
    ok $rid, 'early abort: logged as client_abort';
    is $s->wait_event($rid // '')->{outcome}, 'client_abort', 'early abort: event client_abort';
}

$s->finish;
done_testing;
