# Bad input gets a clear JSON answer with the right status and
# x-lava-request-id, never reaches the provider, costs nothing, and no input
# crashes a worker.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());
my $OK_U = 'u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $bearer = "Bearer $m->{token}";
my $unknown_secret = 'lava_sk_' . ('0' x 64);

# [name, target, Authorization (undef: none), status, code(s), extra headers]
my @cases = (
    ['no u', '/v1/forward/chat/completions', $bearer, 400, 'missing_u'],
    ['no u but another query parameter', '/v1/forward/chat/completions?limit=2', $bearer, 400, 'missing_u'],
    ['empty u', '/v1/forward/chat/completions?u=', $bearer, 400, qr/^(missing_u|invalid_u)$/],
    ['no token', "/v1/forward/chat/completions?$OK_U", undef, 401, 'missing_token'],
    ['token that is not base64 JSON', "/v1/forward/chat/completions?$OK_U", 'Bearer %%%not-a-token', 401, 'invalid_token'],
    ['base64 of something else', "/v1/forward/chat/completions?$OK_U", 'Bearer ' . $s->token(x => 1) . '!!', 401, 'invalid_token'],
    ['unknown bare secret key', "/v1/forward/chat/completions?$OK_U", "Bearer $unknown_secret", 401, 'invalid_key'],
    ['token with an unknown secret key', "/v1/forward/chat/completions?$OK_U",
     'Bearer ' . $s->token(secret_key => $unknown_secret, customer_id => $m->{customer}), 401, 'invalid_key'],
    ['token with an unknown customer', "/v1/forward/chat/completions?$OK_U",
     'Bearer ' . $s->token(secret_key => $m->{secret}, customer_id => 'cus_nobody'), 401, 'unknown_customer'],
    ['token with an unknown meter', "/v1/forward/chat/completions?$OK_U",
     'Bearer ' . $s->token(secret_key => $m->{secret}, customer_id => $m->{customer}, meter_slug => 'nope'),
     400, 'unknown_meter'],
    ['unknown host', '/v1/forward?u=https%3A%2F%2Fevil.example.com%2Fv1%2Fchat%2Fcompletions', $bearer, 403, 'host_not_allowed'],
    ['provider host as a prefix of another', '/v1/forward?u=https://api.openai.com.evil.example/v1/chat/completions', $bearer, 403, 'host_not_allowed'],
    ['loopback host', '/v1/forward?u=https://127.0.0.1/v1/chat/completions', $bearer, 403, 'host_not_allowed'],
    ['http, not https', '/v1/forward?u=http://api.openai.com/v1/chat/completions', $bearer, 400, 'invalid_u'],
    ['another scheme', '/v1/forward?u=ftp%3A%2F%2Fapi.openai.com%2Fv1', $bearer, 400, 'invalid_u'],
    ['no scheme', '/v1/forward?u=api.openai.com%2Fv1%2Fchat%2Fcompletions', $bearer, 400, 'invalid_u'],
    ['CR LF in u', '/v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%2Fchat%0D%0AX-Injected:%201', $bearer, 400, 'invalid_u'],
    ['LF in u', '/v1/forward?u=https://api.openai.com/v1/chat%0Acompletions', $bearer, 400, 'invalid_u'],
    ['CR LF in the path after the endpoint', "/v1/forward/chat%0D%0AX-Injected:%201?$OK_U", $bearer, 400, 'invalid_u'],
    ['NUL in u', '/v1/forward?u=https://api.openai.com/v1/chat%00completions', $bearer, 400, 'invalid_u'],
    ['tab in u', '/v1/forward?u=https://api.openai.com/v1/chat%09completions', $bearer, 400, 'invalid_u'],
    ['userinfo', '/v1/forward?u=https://user:pass@api.openai.com/v1/chat/completions', $bearer, 400, 'invalid_u'],
    ['userinfo, encoded', '/v1/forward?u=https%3A%2F%2Fuser%40api.openai.com%2Fv1', $bearer, 400, 'invalid_u'],
    ['provider name as userinfo', '/v1/forward?u=https%3A%2F%2Fapi.openai.com%40evil.example%2Fv1', $bearer, 400, 'invalid_u'],
    ['unexpected port', '/v1/forward?u=https://api.openai.com:8443/v1/chat/completions', $bearer, 400, 'invalid_u'],
    ['port 80', '/v1/forward?u=https%3A%2F%2Fapi.openai.com%3A80%2Fv1', $bearer, 400, 'invalid_u'],
    ['empty port', '/v1/forward?u=https://api.openai.com:/v1/chat/completions', $bearer, 400, qr/^(invalid_u|host_not_allowed)$/],
    ['dot segments', '/v1/forward?u=https://api.openai.com/v1/../../admin', $bearer, 400, 'invalid_u'],
    ['encoded dot segments', '/v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%2F%2E%2E%2Fadmin', $bearer, 400, 'invalid_u'],
    ['bad escape in u', '/v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%ZZ', $bearer, 400, 'invalid_u'],
    ['backslash host trick', '/v1/forward?u=https://api.openai.com%5C@evil.example/v1', $bearer, 400, qr/^(invalid_u|host_not_allowed)$/],
    ['a path that only starts like the endpoint', "/v1/forwardx?$OK_U", $bearer, 404, 'not_found'],
    ['metadata that is not a JSON object', "/v1/forward/chat/completions?$OK_U", $bearer, 400, 'invalid_metadata',
     ['x-lava-metadata' => '[1,2]']],
);

my @refused;
for my $c (@cases) {
    my ($name, $target, $auth, $status, $code, $extra) = @$c;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $target, body => $chat,
                        headers => [(defined $auth ? (Authorization => $auth) : ()),
                                    'x-test-id' => $id, @{ $extra // [] }]);
    subtest "$name -> $status" => sub {
        is $r->{status}, $status, "status $status";
        like $r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON';
        ok $r->{json} && ref $r->{json}{error} eq 'HASH', '{"error": {...}}' or diag $r->{body};
        my $e = $r->{json}{error} // {};
        ref $code ? like($e->{code}, $code, "code $e->{code}") : is($e->{code}, $code, "code $code");
        is $e->{status}, $status, 'error.status';
        ok length($e->{message} // ''), 'error.message';
        like $r->{rid} // '', qr/^req_[0-9A-Z]{26}$/, 'x-lava-request-id';
        is scalar($s->mock_requests($id)), 0, 'nothing reached the provider';
        unlike $r->{body}, qr/\Q$m->{secret}\E/, 'the secret key is not echoed';
    };
    push @refused, [$r->{rid}, $status] if $r->{rid};
}

# Every refusal is an event and is booked at zero cost.
for (@refused) {
    my ($rid, $status) = @$_;
    my $row = $s->wait_booked($rid);
    ok $row && $row->{outcome} eq 'refused' && $row->{status} == $status
       && $row->{total_nusd} == 0 && $row->{moved_nusd} == 0,
       "$rid booked as refused, $status, at zero cost"
       or diag explain $row;
}

# Nothing nginx is sent crashes a worker: random bytes in u, in the path and
# in the token. Every answer is either JSON from the gateway or the provider's.
srand 20261123;
my @alphabet = (map { chr } 0x21 .. 0x7e);
my @pieces = ('%00', '%0D', '%0A', '%25', '%2F', '%3A', '%40', '%3F', '%23', '%5C', '%FF', '%C3%A9',
              '..', '//', ':443', ':0', '@', 'https://', 'api.openai.com', '%2e%2E', '[::1]', '%', '&u=');
my $bad = 0;
for my $i (1 .. 300) {
    my $u = join '', map { rand() < 0.5 ? $pieces[rand @pieces] : $alphabet[rand @alphabet] } 1 .. 1 + int rand 12;
    $u =~ s/([ #])/sprintf '%%%02X', ord $1/ge;
    my $path = rand() < 0.3 ? '/' . join('', map { $pieces[rand @pieces] } 1 .. 3) : '';
    $path =~ s/[?#]//g;
    my $tok = rand() < 0.5 ? $m->{token} : join '', map { $alphabet[rand @alphabet] } 1 .. int rand 80;
    my $target = "/v1/forward$path?u=" . (rand() < 0.5 ? "https://api.openai.com/$u" : $u);
    my $r = eval { $s->request(method => 'POST', target => $target, body => $chat,
                               headers => [Authorization => "Bearer $tok"], timeout => 10) };
    if (!$r) { $bad++; diag "no answer for $target: $@"; next }
    next if $r->{status} == 200;
    next if $r->{status} == 400 && !$r->{rid};      # nginx's own refusal of the request line
    unless ($r->{json} && $r->{json}{error} && $r->{rid}) {
        $bad++;
        diag "$target -> $r->{status} $r->{body}";
    }
}
is $bad, 0, '300 random targets and tokens: every answer is a JSON error or the provider\'s';

$s->finish;
done_testing;
