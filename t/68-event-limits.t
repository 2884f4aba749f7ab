# Limits checked before forwarding (issue 11, class 6): every value the usage
# event carries from the request has the limit the sidecar applies
# (lib/lava_event_fields.h), and the module checks it before the request
# leaves. At the limit a request is forwarded and booked (never dead-lettered);
# one byte over, it is refused with a JSON 4xx, never reaches the provider,
# and its refusal is booked too (the event's value cut to the limit). A
# provider's status outside 100-599 is sent (and booked) as 502.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $U = 'u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $GEM = 'u=https%3A%2F%2Fgenerativelanguage.googleapis.com%2Fv1beta%2Fmodels%2F';
my $TTS = 'u=https%3A%2F%2Fapi.elevenlabs.io%2Fv1%2Ftext-to-speech%2F21m00Tcm4TlvDq8ikWAM';
my $gem_body = json_encode({ contents => [{ role => 'user', parts => [{ text => 'Hi' }] }] });
my @bearer = (Authorization => "Bearer $m->{token}");
# the user's own key: any path and method of the host may pass (issue 11)
my @byok = (@bearer, 'X-Provider-API-Key' => 'sk-byok-limits-0c4e1a');

my ($ENDPOINT, $METHOD, $MODEL, $METADATA) = (2048, 32, 256, 4096);

# an endpoint of $n bytes: "/v1/" and the rest after the forward prefix
sub endpoint_target { '/v1/forward/' . ('a' x ($_[0] - 4)) . "?$U" }
sub model_of { my $n = shift; 'gpt-4o-' . ('x' x ($n - 7)) }
sub metadata_of { my $n = shift; '{"k":"' . ('v' x ($n - 8)) . '"}' }

my @cases = (
    # [name, request, expected status, code (refused) or undef, column => value expected in events]
    ["endpoint of $ENDPOINT bytes",
     { method => 'GET', target => endpoint_target($ENDPOINT), headers => [@byok] },
     200, undef, endpoint => '/v1/' . ('a' x ($ENDPOINT - 4))],
    ["endpoint of " . ($ENDPOINT + 1) . " bytes",
     { method => 'GET', target => endpoint_target($ENDPOINT + 1), headers => [@byok] },
     414, 'endpoint_too_long', endpoint => '/v1/' . ('a' x ($ENDPOINT - 4))],
    ["method of $METHOD bytes",
     { method => 'M' x $METHOD, target => "/v1/forward/files?$U", headers => [@byok] },
     200, undef, method => 'M' x $METHOD],
    ["method of " . ($METHOD + 1) . " bytes",
     { method => 'M' x ($METHOD + 1), target => "/v1/forward/files?$U", headers => [@byok] },
     400, 'method_too_long', method => 'M' x $METHOD],
    ["method of 40 bytes refused for another reason",
     { method => 'M' x 40, target => '/v1/forward/files', headers => [@byok] },
     400, 'missing_u', method => 'M' x $METHOD],
    ["model of $MODEL bytes",
     { method => 'POST', target => "/v1/forward/chat/completions?$U", headers => [@bearer],
       body => LavaTest::chat_body(model => model_of($MODEL)) },
     200, undef, model => model_of($MODEL)],
    ["model of " . ($MODEL + 1) . " bytes",
     { method => 'POST', target => "/v1/forward/chat/completions?$U", headers => [@bearer],
       body => LavaTest::chat_body(model => model_of($MODEL + 1)) },
     400, 'model_too_long', model => undef],
    # model_id is the member ElevenLabs bills by (OpenAI's body has none)
    ["model_id of " . ($MODEL + 1) . " bytes",
     { method => 'POST', target => "/v1/forward?$TTS", headers => [@bearer],
       body => { model_id => model_of($MODEL + 1), text => 'Hello' } },
     400, 'model_too_long', model => undef],
    ["Gemini model in the path of $MODEL bytes",
     { method => 'POST', target => "/v1/forward?$GEM" . model_of($MODEL) . '%3AgenerateContent',
       headers => [@bearer], body => $gem_body },
     200, undef, model => model_of($MODEL)],
    ["Gemini model in the path of " . ($MODEL + 1) . " bytes",
     { method => 'POST', target => "/v1/forward?$GEM" . model_of($MODEL + 1) . '%3AgenerateContent',
       headers => [@bearer], body => $gem_body },
     400, 'model_too_long', model => undef],
    ["metadata of $METADATA bytes",
     { method => 'POST', target => "/v1/forward/chat/completions?$U",
       headers => [@bearer, 'x-lava-metadata' => metadata_of($METADATA)],
       body => LavaTest::chat_body() },
     200, undef, metadata_len => $METADATA - 8],
    ["metadata of " . ($METADATA + 1) . " bytes",
     { method => 'POST', target => "/v1/forward/chat/completions?$U",
       headers => [@bearer, 'x-lava-metadata' => metadata_of($METADATA + 1)],
       body => LavaTest::chat_body() },
     400, 'invalid_metadata', metadata_len => undef],
);

for my $c (@cases) {
    my ($name, $req, $status, $code, $col, $want) = @$c;
    my $id = LavaTest::test_id();
    my $r = $s->request(%$req, headers => [@{ $req->{headers} }, 'x-test-id' => $id]);
    subtest "$name -> $status" => sub {
        is $r->{status}, $status, "status $status" or diag substr $r->{body}, 0, 300;
        like $r->{rid} // '', qr/^req_[0-9A-Z]{26}$/, 'x-lava-request-id';
        if ($code) {
            like $r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON';
            is $r->{json} && $r->{json}{error}{code}, $code, "code $code";
            is scalar($s->mock_requests($id)), 0, 'nothing reached the provider';
        } else {
            is scalar($s->mock_requests($id)), 1, 'forwarded';
        }
        my $row = $r->{rid} && $s->wait_booked($r->{rid});
        ok $row, 'booked' or return;
        is $row->{outcome}, $code ? 'refused' : 'complete', "outcome $row->{outcome}";
        is $row->{status}, $status, 'status booked';
        my $ev = $s->sql(q{SELECT method, endpoint, model, length(metadata->>'k') AS metadata_len
                             FROM events WHERE request_id = ?}, $r->{rid})->[0];
        is $ev->{$col}, $want, "$col booked as expected";
        is $s->sql_value('SELECT count(*) FROM dead_letters WHERE request_id = ?', $r->{rid}), 0,
            'not dead-lettered';
    };
}

# A hostile provider: nginx relays any three-digit status, the event takes
# 100-599 (lib/lava_event_fields.h). Outside it the client gets 502 and the
# request is booked, not dead-lettered.
for my $st (600, 999) {
    my $r = $s->request(method => 'POST', target => "/v1/forward/chat/completions?$U",
                        headers => [@bearer, 'x-mock-status' => $st], body => LavaTest::chat_body());
    subtest "provider status $st" => sub {
        is $r->{status}, 502, 'sent as 502';
        my $row = $r->{rid} && $s->wait_booked($r->{rid});
        ok $row, 'booked' or return;
        is $row->{status}, 502, 'booked with status 502';
    };
}

# Nothing the requests above produced was dead-lettered.
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters at all';

$s->finish;
done_testing;
