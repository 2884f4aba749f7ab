# The request shapes real SDKs send reach the provider at the right URL, with
# the provider's Host, the method and body unchanged, and the response comes
# back unchanged with x-lava-request-id and the provider's own request id.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
# GET /v1/models is not metered: served with the managed key only when the
# operator lists it (issue 11, the endpoint policy; t/71)
$s->configure_nginx(http => ['lava_provider_endpoint openai GET /v1/models per_request;']);
my $RID = qr/^req_[0-9A-HJKMNP-TV-Z]{26}$/;

my $chat = json_encode(LavaTest::chat_body());
my $msgs = json_encode({ model => 'claude-sonnet-4-5', max_tokens => 64,
                         messages => [{ role => 'user', content => 'Hello' }] });

# [name, method, target, body, host the mock must see, target the mock must see, extra headers]
my @cases = (
    ['openai >= 7.24: path before the query, base URL in u', 'POST',
     '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1', $chat,
     'api.openai.com', '/v1/chat/completions'],
    ['openai 6.28-7.23 / anthropic >= 0.79: whole URL percent-encoded', 'POST',
     '/v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages', $msgs,
     'api.anthropic.com', '/v1/messages', ['anthropic-version' => '2023-06-01']],
    ['openai <= 6.27: raw u', 'POST',
     '/v1/forward?u=https://api.openai.com/v1/chat/completions', $chat,
     'api.openai.com', '/v1/chat/completions'],
    ['half-encoded u', 'POST',
     '/v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1/chat/completions', $chat,
     'api.openai.com', '/v1/chat/completions'],
    ['Lava SDK gateway(): encoded u, another provider host', 'POST',
     '/v1/forward?u=https%3A%2F%2Fapi.groq.com%2Fopenai%2Fv1%2Fchat%2Fcompletions', $chat,
     'api.groq.com', '/openai/v1/chat/completions'],
    ['other query parameters are appended', 'GET',
     '/v1/forward/models?u=https%3A%2F%2Fapi.openai.com%2Fv1&limit=2', undef,
     'api.openai.com', '/v1/models?limit=2'],
    ['the tail of a raw u is kept', 'GET',
     '/v1/forward?u=https://api.openai.com/v1/models?limit=2&order=desc', undef,
     'api.openai.com', '/v1/models?limit=2&order=desc'],
    ['u with its own encoded query and a path after the endpoint', 'GET',
     '/v1/forward/models?u=https%3A%2F%2Fapi.openai.com%2Fv1%3Fa%3D1&b=2', undef,
     'api.openai.com', '/v1/models?a=1&b=2'],
);

for my $c (@cases) {
    my ($name, $method, $target, $body, $host, $want, $extra) = @$c;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => $method, target => $target, body => $body,
                        headers => [authorization => "Bearer $m->{token}",
                                    'x-test-id' => $id, Accept => 'application/json',
                                    'Accept-Encoding' => 'gzip, deflate', @{ $extra // [] }]);
    subtest $name => sub {
        is $r->{status}, 200, 'status 200';
        like $r->{rid}, $RID, 'x-lava-request-id is a request id';
        my @seen = $s->mock_requests($id);
        is scalar @seen, 1, 'the provider got the request once' or return;
        my $q = $seen[0];
        is $q->{method}, $method, 'method unchanged';
        is $q->{target}, $want, "provider saw $want";
        is $q->{host}, $host, "Host is $host";
        is $q->{body_sha256}, sha256_hex($body // ''), 'body unchanged';
        ok !(grep { /gzip|deflate/ } LavaTest::header_values($q, 'accept-encoding')),
            'the provider is not asked for a compressed body';
        my $resp = $s->mock_response($q->{request_id});
        is $resp->{sha256}, sha256_hex($r->{body}), 'response body unchanged';
        my $prid = $host eq 'api.anthropic.com' ? 'request-id' : 'x-request-id';
        is $r->{headers}{$prid}, $q->{request_id}, "the provider's $prid passes through";
        if ($host eq 'api.anthropic.com') {
            is_deeply [LavaTest::header_values($q, 'anthropic-version')], ['2023-06-01'],
                'anthropic-version passes through';
        }
    };
}

# Ids are unique and sort by time.
my @ids = map {
    $s->request(target => '/v1/forward/models?u=https%3A%2F%2Fapi.openai.com%2Fv1',
                headers => [Authorization => "Bearer $m->{token}"])->{rid}
} 1 .. 5;
is scalar(keys %{ { map { $_ => 1 } @ids } }), 5, 'five requests, five ids';
# 48 bits of milliseconds first: ids of later requests never sort earlier
my @ms = map { substr $_, 4, 10 } @ids;
is_deeply [sort @ms], \@ms, 'ids sort by time';

# Streaming is known from the body, not from Accept: a JSON answer to a
# request that accepts text/event-stream is not a stream.
my $r = $s->request(target => '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1',
                    body => $chat, headers => [Authorization => "Bearer $m->{token}",
                                               Accept => 'text/event-stream']);
is $r->{status}, 200, 'Accept: text/event-stream with a non-streaming body';
like $r->{headers}{'content-type'}, qr{^application/json}, 'answered as JSON';
my $ev = $s->wait_event($r->{rid});
is $ev->{stream}, '0', 'event: stream 0';

$s->finish;
done_testing;
