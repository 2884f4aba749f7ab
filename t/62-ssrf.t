# SSRF attempts through the forward endpoint: hosts outside the provider
# table in every spelling (IP literals in decimal, octal, hex, IPv6 and
# IPv4-mapped forms, lookalike names), userinfo and '@' / '\' tricks, and a
# client's own Host or absolute request target. None may reach an upstream;
# the few that are really a provider host reach it with that provider's Host.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());
my $auth = "Bearer $m->{token}";

# every host of the provider table: the only Host values an upstream may see
my %allowed;
for (LavaTest::slurp_lines("$LavaTest::ROOT/conf/providers.conf")) {
    next unless /^\s*lava_provider\s+\S+\s+(.*?);/;
    $allowed{$_} = 1 for grep { !/=/ && $_ ne 'custom' } split ' ', $1;
}
ok $allowed{'api.openai.com'}, 'provider hosts read from conf/providers.conf';

# [what, u as sent (raw in the query), acceptable statuses]
my @refused = (
    ['host not in the table', 'https://evil.example/v1/chat/completions'],
    ['loopback IP', 'https://127.0.0.1/v1/chat/completions'],
    ['loopback, decimal', 'https://2130706433/v1/chat/completions'],
    ['loopback, octal', 'https://0177.0.0.1/v1/chat/completions'],
    ['loopback, hex', 'https://0x7f000001/v1/chat/completions'],
    ['loopback, short form', 'https://127.1/v1/chat/completions'],
    ['cloud metadata address', 'https://169.254.169.254/latest/meta-data/'],
    ['cloud metadata name', 'https://metadata.google.internal/computeMetadata/v1/'],
    ['private address', 'https://10.0.0.1/v1/chat/completions'],
    ['unspecified address', 'https://0.0.0.0/v1/chat/completions'],
    ['IPv6 loopback', 'https://[::1]/v1/chat/completions'],
    ['IPv6 loopback, encoded', 'https%3A%2F%2F%5B%3A%3A1%5D%2Fv1'],
    ['IPv4-mapped IPv6', 'https://[::ffff:127.0.0.1]/v1/chat/completions'],
    ['IPv4-mapped IPv6, hex', 'https://[::ffff:7f00:1]/v1/chat/completions'],
    ['IPv6 link-local with zone', 'https://[fe80::1%25eth0]/v1/chat/completions'],
    ['localhost', 'https://localhost/v1/chat/completions'],
    ['provider name as a prefix', 'https://api.openai.com.evil.example/v1/chat/completions'],
    ['provider name as a suffix', 'https://evilapi.openai.com/v1/chat/completions'],
    ['provider name with a trailing dot', 'https://api.openai.com./v1/chat/completions'],
    ['userinfo before the provider', 'https://evil.example@api.openai.com/v1/chat/completions'],
    ['provider as userinfo', 'https://api.openai.com@evil.example/v1/chat/completions'],
    ['provider as userinfo, encoded @', 'https://api.openai.com%40evil.example/v1'],
    ['user and password', 'https://user:pass@api.openai.com/v1/chat/completions'],
    ['port as userinfo', 'https://api.openai.com:443@evil.example/v1'],
    ['backslash before @', 'https://api.openai.com%5C@evil.example/v1'],
    ['backslash as a path separator', 'https://evil.example%5Capi.openai.com/v1'],
    ['raw backslash host', 'https:\\\\evil.example/v1'],
    ['slash-backslash', 'https:/%5Cevil.example/v1'],
    ['scheme-relative', '//evil.example/v1/chat/completions'],
    ['three slashes', 'https:///evil.example/v1'],
    ['fragment hiding the real host', 'https://evil.example%23@api.openai.com/v1'],
    ['encoded fragment', 'https://evil.example/%23api.openai.com'],
    ['NUL in the host', 'https://api.openai.com%00.evil.example/v1'],
    ['tab in the host', 'https://api.openai.com%09.evil.example/v1'],
    ['encoded dot in the host', 'https://api.openai.com%2Eevil.example/v1'],
    ['unicode lookalike host', 'https://api.%D0%BEpenai.com/v1'],
    ['port that is not 443', 'https://api.openai.com:80/v1'],
    ['http', 'http://api.openai.com/v1/chat/completions'],
    ['mixed-case scheme with another host', 'HTTPS://evil.example/v1'],
    ['u twice', 'https://api.openai.com/v1&u=https://evil.example/v1'],
);

for my $c (@refused) {
    my ($what, $u) = @$c;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => "/v1/forward/chat/completions?u=$u",
                        body => $chat, headers => [Authorization => $auth, 'x-test-id' => $id]);
    subtest "$what: refused" => sub {
        ok(($r->{status} == 400 || $r->{status} == 403), "status $r->{status}")
            or diag $r->{body};
        is scalar($s->mock_requests($id)), 0, 'nothing reached an upstream';
    };
}

# Tricks that still name a provider host: allowed, and the upstream sees
# that provider's Host whatever the client put in its own Host or target.
my @routed = (
    ['upper-case host', '/v1/forward/chat/completions?u=https://API.OPENAI.COM/v1', [], 'api.openai.com'],
    ['client Host header of another site', '/v1/forward/chat/completions?u=https://api.openai.com/v1',
     [Host => 'evil.example'], 'api.openai.com'],
    ['absolute request target naming another site',
     'http://evil.example/v1/forward/chat/completions?u=https://api.openai.com/v1', [], 'api.openai.com'],
    ['X-Forwarded-Host of another site', '/v1/forward/chat/completions?u=https://api.openai.com/v1',
     ['X-Forwarded-Host' => 'evil.example', 'X-Forwarded-For' => '10.0.0.1'], 'api.openai.com'],
    ['encoded @ in the path only', '/v1/forward?u=https://api.openai.com/v1/%40evil.example/chat/completions', [],
     'api.openai.com'],
);
for my $c (@routed) {
    my ($what, $target, $h, $host) = @$c;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $target, body => $chat,
                        headers => [Authorization => $auth, 'x-test-id' => $id, @$h]);
    my @seen = $s->mock_requests($id);
    subtest "$what: goes to $host only" => sub {
        ok $r->{status} < 500, "answered ($r->{status})";
        is scalar(@seen), 1, 'one request upstream';
        is $seen[0]{host}, $host, "upstream Host is $host" if @seen;
    };
}

# Whatever was sent above: every request an upstream ever saw carried the
# Host of a provider in the table.
my @bad = grep { !$allowed{lc($_->{host} // '')} } $s->mock_requests;
is scalar(@bad), 0, 'every upstream request had a provider host'
    or diag explain [map { $_->{host} } @bad];

$s->finish;
done_testing;
