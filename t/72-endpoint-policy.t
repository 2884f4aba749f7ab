# The endpoint policy (issue 11, classes 1, 2 and 3): with the managed key
# only the endpoints the gateway meters are served; everything else --
# batches, files, fine-tuning, stored objects, realtime secrets, account
# paths -- gets 403 endpoint_not_metered (JSON, request id, booked as
# refused) and the provider sees nothing, unless the operator lists it with
# lava_provider_endpoint (billed per request). With the user's own key any
# path passes. A retrieval of a stored object never bills its usage again,
# and OpenAI Responses "background": true (usage only later) is refused with
# the managed key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my @bearer = (Authorization => "Bearer $m->{token}");
my $byok = 'sk-byok-policy-8d2f6a1c4e';
$s->register_secret($byok, 'BYOK provider key');

sub enc { (my $u = shift) =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $u }

# One request to the provider URL $u; returns (answer, provider's view or
# undef, event).
sub call {
    my (%a) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => $a{method} // 'POST', target => '/v1/forward?u=' . enc($a{u}),
                        body => $a{body},
                        headers => [@bearer, 'x-test-id' => $id, @{ $a{headers} // [] }]);
    my $ev = $s->wait_event($r->{rid} // 'none') // {};
    my @seen = $s->mock_requests($id);
    return ($r, $seen[0], $ev);
}

sub refused_ok {
    my ($code, $r, $q, $ev) = @_;
    is $r->{status}, 403, 'status 403';
    is $r->{json} && $r->{json}{error}{code}, $code, $code;
    like $r->{rid} // '', qr/^req_[0-9A-HJKMNP-TV-Z]{26}$/, 'with a request id';
    ok !$q, 'the provider saw nothing';
    is $ev->{outcome}, 'refused', 'event: refused';
    is $ev->{error}, $code, "event: error $code";
}

my $OAI = 'https://api.openai.com';
my $chat = LavaTest::chat_body();

# [name, method, URL, body]: endpoints the gateway does not meter
my @unmetered = (
    ['OpenAI batches', 'POST', "$OAI/v1/batches",
     { input_file_id => 'file-1', endpoint => '/v1/chat/completions', completion_window => '24h' }],
    ['OpenAI batch list', 'GET', "$OAI/v1/batches"],
    ['OpenAI files', 'GET', "$OAI/v1/files"],
    ['OpenAI file contents', 'GET', "$OAI/v1/files/file-abc/content"],
    ['OpenAI fine-tuning', 'POST', "$OAI/v1/fine_tuning/jobs", { training_file => 'file-1', model => 'gpt-4o-mini' }],
    ['OpenAI videos', 'POST', "$OAI/v1/videos", { model => 'sora-2', prompt => 'a cat' }],
    ['OpenAI realtime client secret', 'POST', "$OAI/v1/realtime/client_secrets",
     { session => { type => 'realtime', model => 'gpt-realtime' } }],
    ['OpenAI vector stores', 'GET', "$OAI/v1/vector_stores"],
    ['OpenAI assistants', 'GET', "$OAI/v1/assistants"],
    ['OpenAI organization', 'GET', "$OAI/v1/organization/users"],
    ['OpenAI stored completions list', 'GET', "$OAI/v1/chat/completions"],
    ['OpenAI stored completion', 'GET', "$OAI/v1/chat/completions/chatcmpl-stored1"],
    ['OpenAI stored completion deleted', 'DELETE', "$OAI/v1/chat/completions/chatcmpl-stored1"],
    ['OpenAI stored response', 'GET', "$OAI/v1/responses/resp_stored1"],
    ['OpenAI models', 'GET', "$OAI/v1/models"],
    ['Anthropic message batches', 'POST', 'https://api.anthropic.com/v1/messages/batches',
     { requests => [{ custom_id => 'a', params => { model => 'claude-sonnet-4-5', max_tokens => 9,
                                                   messages => [{ role => 'user', content => 'Hi' }] } }] }],
    ['Anthropic legacy complete', 'POST', 'https://api.anthropic.com/v1/complete',
     { model => 'claude-2.1', prompt => "\n\nHuman: Hi\n\nAssistant:", max_tokens_to_sample => 9 }],
    ['Gemini batchGenerateContent', 'POST',
     'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchGenerateContent',
     { batch => { display_name => 'b' } }],
    ['Gemini Imagen predict', 'POST',
     'https://generativelanguage.googleapis.com/v1beta/models/imagen-4.0-generate-001:predict',
     { instances => [{ prompt => 'a cat' }], parameters => { sampleCount => 4 } }],
    ['ElevenLabs sound generation', 'POST', 'https://api.elevenlabs.io/v1/sound-generation', { text => 'rain' }],
    ['ElevenLabs dubbing', 'POST', 'https://api.elevenlabs.io/v1/dubbing', { target_lang => 'de' }],
    ['Retell call creation', 'POST', 'https://api.retellai.com/v2/create-phone-call',
     { from_number => '+14155550100', to_number => '+14155550101' }],
);

for my $c (@unmetered) {
    my ($name, $method, $u, $body) = @$c;
    subtest "managed key: $name refused" => sub {
        refused_ok('endpoint_not_metered', call(method => $method, u => $u, body => $body));
    };
}

# The user's own key: the same paths pass, and nothing unmetered is billed.
for my $c (@unmetered) {
    my ($name, $method, $u, $body) = @$c;
    subtest "own key: $name served" => sub {
        my ($r, $q, $ev) = call(method => $method, u => $u, body => $body,
                                headers => ['X-Provider-API-Key' => $byok]);
        is $r->{status}, 200, 'status 200' or diag $r->{body};
        ok $q, 'the provider got it';
        is $ev->{usage_source}, 'none', 'usage_source none';
    };
}

# Class 2: a stored completion answers its usage again; never billed again.
subtest 'own key: a stored completion is not billed again' => sub {
    my ($r, $q, $ev) = call(method => 'GET', u => "$OAI/v1/chat/completions/chatcmpl-stored2",
                            headers => ['X-Provider-API-Key' => $byok,
                                        'x-mock-usage' => 'prompt=1000,completion=500']);
    is $r->{status}, 200, 'status 200';
    is $r->{json} && $r->{json}{usage}{prompt_tokens}, 1000, 'the answer carries the stored usage';
    is $ev->{usage_source}, 'none', 'usage_source none';
    is $ev->{input_tokens} // 0, 0, 'no input tokens';
    is $ev->{output_tokens} // 0, 0, 'no output tokens';
};

# The metered endpoints keep working with the managed key.
for my $c (['OpenAI chat', "$OAI/v1/chat/completions", $chat],
           ['OpenAI responses', "$OAI/v1/responses", { model => 'gpt-4.1-mini', input => 'Hi' }],
           ['Anthropic messages', 'https://api.anthropic.com/v1/messages',
            { model => 'claude-sonnet-4-5', max_tokens => 9, messages => [{ role => 'user', content => 'Hi' }] }]) {
    my ($name, $u, $body) = @$c;
    subtest "managed key: $name served and metered" => sub {
        my ($r, $q, $ev) = call(u => $u, body => $body);
        is $r->{status}, 200, 'status 200' or diag $r->{body};
        ok $q, 'the provider got it';
        is $ev->{usage_source}, 'reported', 'usage reported';
    };
}

# Class 3: background responses answer queued, their usage only later.
my $bg = { model => 'gpt-4.1-mini', input => 'Write a long essay', background => JSON::PP::true };
subtest 'managed key: Responses with "background": true refused' => sub {
    refused_ok('background_not_metered', call(u => "$OAI/v1/responses", body => $bg));
};
subtest 'managed key: "background": false served' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/v1/responses", body => { %$bg, background => JSON::PP::false });
    is $r->{status}, 200, 'status 200';
    is $ev->{usage_source}, 'reported', 'usage reported';
};
subtest 'own key: "background": true served' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/v1/responses", body => $bg,
                            headers => ['X-Provider-API-Key' => $byok]);
    is $r->{status}, 200, 'status 200';
    is $r->{json} && $r->{json}{status}, 'queued', 'queued';
};

# The operator lists more endpoints, billed per request.
$s->configure_nginx(http => ['lava_provider_endpoint openai GET /v1/models per_request;',
                             'lava_provider_endpoint openai GET /v1/models/* per_request;',
                             'lava_provider_endpoint anthropic POST /v1/messages/count_tokens per_request;',
                             'lava_body_inspect_max 1k;']);

# A body too large to be read (for "background", or anything the meter
# needs) is not served with the managed key (413 body_too_large_to_meter,
# t/78 has more); with the user's own key it is.
my $big = { model => 'gpt-4.1-mini', input => 'x' x 2048 };
sub too_large_ok {
    my ($r, $q, $ev) = @_;
    is $r->{status}, 413, 'status 413';
    is $r->{json} && $r->{json}{error}{code}, 'body_too_large_to_meter', 'body_too_large_to_meter';
    like $r->{rid} // '', qr/^req_[0-9A-HJKMNP-TV-Z]{26}$/, 'with a request id';
    ok !$q, 'the provider saw nothing';
    is $ev->{outcome}, 'refused', 'event: refused';
}
subtest 'managed key: a Responses body too large to check refused' => sub {
    too_large_ok(call(u => "$OAI/v1/responses", body => $big));
};
subtest 'own key: a Responses body too large to check served' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/v1/responses", body => $big,
                            headers => ['X-Provider-API-Key' => $byok]);
    is $r->{status}, 200, 'status 200';
    ok $q, 'the provider got it';
};
subtest 'managed key: a chat body too large to read refused too' => sub {
    too_large_ok(call(u => "$OAI/v1/chat/completions",
                      body => LavaTest::chat_body(content => 'x' x 2048)));
};
subtest 'own key: a chat body too large to check served' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/v1/chat/completions",
                            body => LavaTest::chat_body(content => 'x' x 2048),
                            headers => ['X-Provider-API-Key' => $byok]);
    is $r->{status}, 200, 'status 200';
    ok $q, 'the provider got it';
};
for my $c (['GET', "$OAI/v1/models"], ['GET', "$OAI/v1/models/gpt-4o"],
           ['POST', 'https://api.anthropic.com/v1/messages/count_tokens',
            { model => 'claude-sonnet-4-5', messages => [{ role => 'user', content => 'Hi' }] }]) {
    my ($method, $u, $body) = @$c;
    subtest "lava_provider_endpoint: $method $u served" => sub {
        my ($r, $q, $ev) = call(method => $method, u => $u, body => $body);
        is $r->{status}, 200, 'status 200' or diag $r->{body};
        ok $q, 'the provider got it';
        is $ev->{usage_source}, 'none', 'usage_source none';
        is $ev->{requests}, 1, 'one request';
        ok $s->wait_booked($r->{rid}), 'booked';
    };
}
for my $c (['POST', "$OAI/v1/models"], ['GET', "$OAI/v1/models/gpt-4o/x"],
           ['GET', "$OAI/v1/models/a%2Fb"], ['GET', "$OAI/v1/files"],
           ['GET', 'https://api.anthropic.com/v1/messages/count_tokens']) {
    my ($method, $u) = @$c;
    subtest "lava_provider_endpoint: $method $u still refused" => sub {
        refused_ok('endpoint_not_metered', call(method => $method, u => $u));
    };
}

# nginx -t refuses a malformed lava_provider_endpoint.
my $dir = tempdir('lava-policy-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub nginx_t {
    my ($line) = @_;
    return LavaTest::nginx_t(dir => $dir, http => <<"HTTP");
    upstream lava_test { server 127.0.0.1:9; keepalive 4; }
    lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;
    lava_allow_private_upstreams on;
    $line
HTTP
}
my ($rc, $out) = nginx_t('lava_provider_endpoint test GET /v1/models/* per_request;');
is $rc, 0, 'nginx -t: a well-formed lava_provider_endpoint' or diag $out;
for my $bad (['test GET /v1/models per_token', 'another basis'],
             ['test get /v1/models per_request', 'a lower-case method'],
             ['test GET v1/models per_request', 'a pattern without /'],
             ['test GET /v1/models?x=1 per_request', 'a query in the pattern'],
             ['test GET /v1/a%2Fb per_request', 'an escape in the pattern'],
             ['test GET /v1/** per_request', 'a "**" segment'],
             ['test GET /v1/models/gpt-* per_request', 'a "*" inside a segment'],
             ['other GET /v1/models per_request', 'an undefined provider'],
             ['test GET /v1/models', 'no basis']) {
    my ($args, $what) = @$bad;
    my ($rc, $out) = nginx_t("lava_provider_endpoint $args;");
    isnt $rc, 0, "nginx -t refuses $what" or diag $out;
    like $out, qr/lava_provider_endpoint/, 'naming the directive';
}

$s->finish;
done_testing;
