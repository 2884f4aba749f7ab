# The forward token is accepted in every carrier the SDKs use and none of
# them reaches the provider: the provider sees the managed key in its own
# format, or the user's own key (BYOK). Secrets never appear in logs or events.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());
my $U = 'u=https%3A%2F%2Fapi.openai.com%2Fv1';
my @carriers = qw(authorization x-api-key x-goog-api-key xi-api-key x-provider-api-key);

sub uri_escape { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

# What the provider saw for one request: checks that no carrier and no secret
# reached it, and returns the request record.
sub provider_view {
    my ($id, @secrets) = @_;
    my @seen = $s->mock_requests($id);
    is scalar @seen, 1, 'the provider got the request' or return {};
    my $q = $seen[0];
    my $everything = join "\n", $q->{target}, map { "$_->[0]: $_->[1]" } @{ $q->{headers} };
    for my $secret (grep { defined } @secrets) {
        unlike $everything, qr/\Q$secret\E/, 'no forward token or secret key reached the provider';
    }
    unlike $q->{target}, qr/[?&]key=/, 'no key= in the provider URL';
    return $q;
}

my @ids;
my @forms = (
    ['Authorization: Bearer <token>', "/v1/forward/chat/completions?$U", [Authorization => "Bearer $m->{token}"]],
    ['authorization: bearer <token> (lower case)', "/v1/forward/chat/completions?$U", [authorization => "bearer $m->{token}"]],
    ['x-api-key (Anthropic SDK 0.x)', "/v1/forward/chat/completions?$U", ['x-api-key' => $m->{token}]],
    ['X-Api-Key (mixed case)', "/v1/forward/chat/completions?$U", ['X-Api-Key' => $m->{token}]],
    ['x-goog-api-key', "/v1/forward/chat/completions?$U", ['x-goog-api-key' => $m->{token}]],
    ['xi-api-key', "/v1/forward/chat/completions?$U", ['xi-api-key' => $m->{token}]],
    ['?key=<bare secret key>', "/v1/forward/chat/completions?$U&key=$m->{secret}", []],
    ['?key=<token, percent-encoded>', "/v1/forward/chat/completions?key=" . uri_escape($m->{token}) . "&$U", []],
    ['Bearer <bare secret key>', "/v1/forward/chat/completions?$U", [Authorization => "Bearer $m->{secret}"]],
);
for my $f (@forms) {
    my ($name, $target, $h) = @$f;
    my $id = LavaTest::test_id();
    my $r = $s->request(target => $target, body => $chat, headers => [@$h, 'x-test-id' => $id]);
    subtest $name => sub {
        is $r->{status}, 200, 'accepted' or diag $r->{body};
        my $q = provider_view($id, $m->{token}, $m->{secret});
        is_deeply [LavaTest::header_values($q, 'authorization')], ['Bearer sk-mock-openai'],
            'the provider sees the managed key as Bearer';
        is_deeply [map { LavaTest::header_values($q, $_) } qw(x-api-key x-goog-api-key xi-api-key)], [],
            'no other key header reached the provider';
        my $ev = $s->wait_event($r->{rid} // '');
        is $ev->{key_source}, 'managed', 'event: key_source managed';
        is $ev->{merchant_id}, $m->{merchant}, 'event: merchant';
    };
    push @ids, $r->{rid} if $r->{rid};
}

# Two carriers at once: still nothing of either reaches the provider.
{
    my $id = LavaTest::test_id();
    my $r = $s->request(target => "/v1/forward/chat/completions?$U&key=$m->{secret}", body => $chat,
                        headers => [Authorization => "Bearer $m->{token}", 'x-api-key' => $m->{token},
                                    'x-goog-api-key' => $m->{secret}, 'x-test-id' => $id]);
    subtest 'every carrier at once' => sub {
        is $r->{status}, 200, 'accepted';
        provider_view($id, $m->{token}, $m->{secret});
    };
}

# Anthropic: the managed key goes in x-api-key, and anthropic-version is set
# when the client sent none.
{
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages',
                        body => { model => 'claude-sonnet-4-5', max_tokens => 16,
                                  messages => [{ role => 'user', content => 'hi' }] },
                        headers => ['x-api-key' => $m->{token}, 'x-test-id' => $id]);
    subtest 'Anthropic: managed key in x-api-key' => sub {
        is $r->{status}, 200, 'accepted';
        my $q = provider_view($id, $m->{token}, $m->{secret});
        is_deeply [LavaTest::header_values($q, 'x-api-key')], ['sk-mock-anthropic'], 'x-api-key is the managed key';
        is_deeply [LavaTest::header_values($q, 'authorization')], [], 'no Authorization';
        is_deeply [LavaTest::header_values($q, 'anthropic-version')], ['2023-06-01'], 'anthropic-version set';
    };
}

# Bring your own key: the X-Provider-API-Key header, or provider_key in the token.
my $byok = 'sk-user-own-key-123';
for my $f (['X-Provider-API-Key header', [Authorization => "Bearer $m->{token}", 'X-Provider-API-Key' => $byok]],
           ['provider_key in the token',
            [Authorization => 'Bearer ' . $s->token(secret_key => $m->{secret}, customer_id => $m->{customer},
                                                    meter_slug => 'chat', provider_key => $byok)]]) {
    my ($name, $h) = @$f;
    my $id = LavaTest::test_id();
    my $r = $s->request(target => "/v1/forward/chat/completions?$U", body => $chat,
                        headers => [@$h, 'x-test-id' => $id,
                                    'x-mock-usage' => 'prompt=1000,cached=0,completion=100']);
    subtest "BYOK: $name" => sub {
        is $r->{status}, 200, 'accepted';
        my $q = provider_view($id, $m->{token}, $m->{secret});
        is_deeply [LavaTest::header_values($q, 'authorization')], ["Bearer $byok"],
            "the provider sees the user's key";
        is_deeply [LavaTest::header_values($q, 'x-provider-api-key')], [], 'X-Provider-API-Key is not forwarded';
        my $ev = $s->wait_event($r->{rid} // '');
        is $ev->{key_source}, 'byok', 'event: key_source byok';
        my $row = $s->wait_booked($r->{rid} // '');
        is $row->{key_source}, 'byok', 'booked as byok';
        is $row->{input_tokens}, 1000, 'still metered';
        # the user pays the provider directly: the wallet is charged the fee only
        is $s->sql_value("SELECT coalesce(sum(amount_nusd), 0) FROM transfers WHERE request_id = ? AND kind = 'base'",
                         $r->{rid}), 0, 'no base cost moved for a BYOK request';
    };
    push @ids, $r->{rid} if $r->{rid};
}

# Secrets appear nowhere: not in nginx's logs, the sidecar's log, the events.
$s->wait_booked($_) for @ids;
my @events = $s->redis('xrange', 'lava:usage', '-', '+');
my $all = join "\n", (map { LavaTest::slurp("$s->{dir}/$_") }
                      qw(nginx/access.log nginx/error.log sidecar/sidecar.log)),
                     map { join ' ', @{ $_->[1] } } @events;
for my $secret ($m->{secret}, $m->{token}, uri_escape($m->{token}), $byok, 'sk-mock-openai') {
    unlike $all, qr/\Q$secret\E/, 'a secret (' . substr($secret, 0, 10) . '...) is in no log and no event';
}

$s->finish;
done_testing;
