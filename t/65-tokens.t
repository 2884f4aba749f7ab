# Forged, truncated, oversized and wrong-type forward tokens: each one is
# refused with 401 (or nginx's own 400/494 for a header too large), reaches
# no provider, and is not echoed. A token cannot name another merchant's
# customer, and a NUL inside a JSON string cannot cut a forged key down to a
# real one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $a = $s->setup_merchant(name => 'Merchant A');
my $b = $s->setup_merchant(name => 'Merchant B');
my $chat = json_encode(LavaTest::chat_body());
my $U = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $json = JSON::PP->new->canonical(1);

sub b64 { encode_base64($_[0], '') }
sub tok { b64($json->encode({@_})) }

# the token works as it is
my $r = $s->request(method => 'POST', target => $U, body => $chat,
                    headers => [Authorization => "Bearer $a->{token}"]);
is $r->{status}, 200, 'the genuine token is accepted';

(my $nopad = $a->{token}) =~ s/=+$//;
my $fake_secret = 'lava_sk_' . ('f' x 64);

# [what, token as sent, allowed statuses (default 401)]
my @cases = (
    ['forged secret key', tok(secret_key => $fake_secret, customer_id => $a->{customer}, meter_slug => 'chat')],
    ['forged bare secret key', $fake_secret],
    ['secret key one character short', tok(secret_key => substr($a->{secret}, 0, -1), customer_id => $a->{customer})],
    ['secret key with one more character', tok(secret_key => "$a->{secret}0", customer_id => $a->{customer})],
    ['secret key in upper case', tok(secret_key => uc $a->{secret}, customer_id => $a->{customer})],
    ['merchant A key with merchant B customer', tok(secret_key => $a->{secret}, customer_id => $b->{customer}, meter_slug => 'chat')],
    ['merchant B key with merchant A customer', tok(secret_key => $b->{secret}, customer_id => $a->{customer}, meter_slug => 'chat')],
    ['NUL after a real secret key', b64(qq({"secret_key":"$a->{secret}\\u0000forged","customer_id":"$a->{customer}"}))],
    ['NUL after a real customer id', b64(qq({"secret_key":"$a->{secret}","customer_id":"$a->{customer}\\u0000x"}))],
    ['real secret key with a trailing space', tok(secret_key => "$a->{secret} ", customer_id => $a->{customer})],
    ['secret key too long', tok(secret_key => 'lava_sk_' . ('a' x 200))],
    ['customer id too long', tok(secret_key => $a->{secret}, customer_id => 'c' x 65)],
    ['provider key with a line break', tok(secret_key => $a->{secret}, customer_id => $a->{customer},
                                           provider_key => "sk-x\r\nX-Injected: 1")],
    ['provider key with a space', tok(secret_key => $a->{secret}, provider_key => 'sk x')],
    (map { ["truncated to $_ characters", substr($nopad, 0, $_)] }
         grep { $_ < length($nopad) - 1 } 1, 4, 10, 40, int(length($nopad) / 2), length($nopad) - 2),
    ['base64 of a truncated JSON token', b64(substr($json->encode({secret_key => $a->{secret}}), 0, -1))],
    ['not base64', '%%%%not*base64%%%%'],
    ['base64 of binary', b64(join '', map { chr } 0 .. 255)],
    ['empty JSON object', b64('{}')],
    ['JSON array', b64(qq(["$a->{secret}"]))],
    ['JSON string', b64(qq("$a->{secret}"))],
    ['JSON number', b64('12345')],
    ['JSON null', b64('null')],
    ['secret key as a number', b64('{"secret_key":12345}')],
    ['secret key as an array', b64(qq({"secret_key":["$a->{secret}"]}))],
    ['secret key as an object', b64(qq({"secret_key":{"k":"$a->{secret}"}}))],
    ['secret key as null', b64('{"secret_key":null}')],
    ['secret key as true', b64('{"secret_key":true}')],
    ['customer id as a number', b64(qq({"secret_key":"$a->{secret}","customer_id":42}))],
    ['meter slug as an array', b64(qq({"secret_key":"$a->{secret}","meter_slug":["chat"]}))],
    ['provider key as a number', b64(qq({"secret_key":"$a->{secret}","provider_key":1}))],
    ['disable_billing as a string', b64(qq({"secret_key":"$a->{secret}","disable_billing":"true"}))],
    ['deeply nested JSON', b64(('[' x 3000) . (']' x 3000))],
    ['deeply nested value', b64(qq({"secret_key":"$fake_secret","x":) . ('{"a":' x 900) . '1' . ('}' x 900) . '}')],
    ['oversized, under the header limit', 'A' x 7000],
    ['oversized JSON token', tok(secret_key => $fake_secret, pad => 'x' x 5500)],
    ['oversized, over the header limit', 'A' x 20000, qr/^(400|401|494)$/],
);

for my $c (@cases) {
    my ($what, $token, $ok) = @$c;
    $ok //= qr/^401$/;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $U, body => $chat,
                        headers => [Authorization => "Bearer $token", 'x-test-id' => $id]);
    subtest $what => sub {
        like $r->{status}, $ok, "status $r->{status}";
        if ($r->{status} == 401) {
            ok $r->{json} && $r->{json}{error}{code}, "JSON error $r->{json}{error}{code}";
        }
        is scalar($s->mock_requests($id)), 0, 'nothing reached the provider';
        my $all = join "\n", $r->{body}, map { "@$_" } @{ $r->{header_list} // [] };
        unlike $all, qr/\Q$a->{secret}\E/, 'the secret key is not echoed';
        ok index($all, $token) < 0 || length($token) < 12, 'the token is not echoed';
    };
}

# The same tokens in the other carriers.
for my $carrier (['x-api-key'], ['x-goog-api-key'], ['xi-api-key'], ['?key=']) {
    my $tok = tok(secret_key => $fake_secret);
    my $id = LavaTest::test_id();
    my ($target, @h) = $carrier->[0] eq '?key='
        ? ("$U&key=$tok", ())
        : ($U, $carrier->[0] => $tok);
    $target =~ s/\+/%2B/g;
    my $r = $s->request(method => 'POST', target => $target, body => $chat,
                        headers => [@h, 'x-test-id' => $id]);
    is $r->{status}, 401, "forged token in $carrier->[0]: 401";
    is scalar($s->mock_requests($id)), 0, "forged token in $carrier->[0]: nothing upstream";
}

$s->finish;
done_testing;
