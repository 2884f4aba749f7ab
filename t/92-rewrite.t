# One API for every model (issue 14, the endpoints): the rewrite endpoint
# /v1/rewrite/<format>/<provider URL> as @lavapayments/nodejs builds it, the
# unified POST /v1/chat/completions and /v1/messages where the model picks
# the provider, GET /v1/models. Translated answers (JSON and SSE) are billed
# from the provider's own usage: each booked row is compared with the same
# request sent through the forward endpoint, to the nano-dollar.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use Test::More;

use LavaTest qw(json_decode json_encode wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};

sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

my $usage = 'prompt=1200,completion=340';
my $oa_chat = { model => 'claude-sonnet-4-5', max_tokens => 64,
                messages => [{ role => 'system', content => 'Be brief.' },
                             { role => 'user', content => 'Hello there' }] };
my $an_msgs = { model => 'claude-sonnet-4-5', max_tokens => 64, system => 'Be brief.',
                messages => [{ role => 'user', content => 'Hello there' }] };

# the booked row of a request, with the fields compared across endpoints
sub booked {
    my ($rid) = @_;
    return $s->wait_booked($rid // '') || do { fail('booked ' . ($rid // '(no id)')); {} };
}

my @money = qw(base_cost_nusd fee_nusd service_charge_nusd total_nusd);
sub same_cost {
    my ($row, $ref, $what) = @_;
    ok defined $row->{$_} && defined $ref->{$_} && $row->{$_} eq $ref->{$_},
        "$what: $_ as on the forward endpoint (" . ($row->{$_} // 'none') . ')'
        for grep { exists $ref->{$_} } @money;
}

# the reference: the provider's own shape through the forward endpoint
my $ref_anthropic = do {
    my $r = $s->request(target => '/v1/forward?u=' . enc('https://api.anthropic.com/v1/messages'),
                        body => $an_msgs,
                        headers => ['x-api-key' => $tok, 'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'reference: Anthropic through the forward endpoint';
    booked($r->{rid});
};
ok exists $ref_anthropic->{$_}, "the booked row has $_" for @money;

# --- the rewrite endpoint, the provider's own format -----------------------------
subtest 'rewrite, same format: the URL as the SDK builds it (not encoded, "//" kept)' => sub {
    for my $url ('https://api.anthropic.com/v1/messages',
                 'https:/api.anthropic.com/v1/messages',       # slashes merged on the way
                 'api.anthropic.com/v1/messages',              # no scheme
                 enc('https://api.anthropic.com/v1/messages')) {  # encoded whole
        my $id = LavaTest::test_id();
        my $r = $s->request(target => "/v1/rewrite/anthropic/$url", body => $an_msgs,
                            headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                        'x-mock-usage' => $usage]);
        is $r->{status}, 200, "$url: 200";
        is $r->{json}{type}, 'message', "$url: the provider's own answer";
        ok $r->{rid}, "$url: x-lava-request-id";
        my ($q) = $s->mock_requests($id);
        is $q && $q->{target}, '/v1/messages', "$url: the provider got /v1/messages";
        is $q && lc($q->{host} // ''), 'api.anthropic.com', "$url: on its host";
        ok !grep({ $_->[1] =~ /\Q$tok\E/ } @{ $q->{headers} // [] }),
            "$url: the token did not reach the provider";
        my $row = booked($r->{rid});
        is $row->{provider}, 'anthropic', "$url: booked to anthropic";
        is $row->{input_tokens}, 1200, "$url: input tokens";
        same_cost($row, $ref_anthropic, $url);
    }
};

subtest 'rewrite: a format or a URL the gateway does not take' => sub {
    for my $t (['/v1/rewrite/cohere/https://api.cohere.com/v2/chat', 404, 'not_found'],
               ['/v1/rewrite/openai', 404, 'not_found'],
               ['/v1/rewrite/openai/https://evil.example.com/v1/chat/completions', 403, 'host_not_allowed'],
               ['/v1/rewrite/openai/http://api.openai.com/v1/chat/completions', 400, 'invalid_u']) {
        my ($target, $status, $code) = @$t;
        my $r = $s->request(target => $target, body => $oa_chat,
                            headers => [Authorization => "Bearer $tok"]);
        is $r->{status}, $status, "$target: $status";
        is $r->{json}{error}{code}, $code, "$target: $code";
        ok $r->{rid}, "$target: x-lava-request-id";
        is $s->wait_event($r->{rid} // '')->{outcome}, 'refused', "$target: booked as refused";
    }
    # hostile URLs: dot segments, userinfo, another port, a key in the query
    for my $t (['/v1/rewrite/anthropic/https://api.anthropic.com/v1/../v1/messages', 'invalid_u'],
               ['/v1/rewrite/anthropic/https://api.anthropic.com/v1/%2e%2e/messages', 'invalid_u'],
               ['/v1/rewrite/anthropic/https://user@api.anthropic.com/v1/messages', 'invalid_u'],
               ['/v1/rewrite/anthropic/https://api.anthropic.com:8443/v1/messages', 'invalid_u'],
               ['/v1/rewrite/anthropic/https://api.anthropic.com.evil.example/v1/messages',
                'host_not_allowed']) {
        my ($target, $code) = @$t;
        my $r = $s->request(target => $target, body => $an_msgs,
                            headers => [Authorization => "Bearer $tok"]);
        is $r->{json}{error}{code}, $code, "$target: $code";
    }
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/rewrite/anthropic/https://api.anthropic.com/v1/messages?key=' . $tok
                                  . '&beta=true',
                        body => $an_msgs, headers => ['x-test-id' => $id]);
    is $r->{status}, 200, 'the token as ?key= of the URL: accepted';
    my ($q) = $s->mock_requests($id);
    is $q && $q->{target}, '/v1/messages?beta=true', 'the key left the URL, the rest kept';
    unlike LavaTest::slurp($s->dir . '/nginx/access.log'), qr/\Q$tok\E/, 'and no log has it';

    $r = $s->request(target => '/v1/rewrite/openai/https://api.openai.com/v1/chat/completions',
                     body => $oa_chat);
    is $r->{status}, 401, 'no token: 401';
    is $r->{json}{error}{code}, 'missing_token', 'missing_token';
};

# --- the unified endpoints: the model picks the provider ---------------------------
subtest 'unified chat/completions: provider/model and a priced bare name, same shape' => sub {
    for my $model ('openai/gpt-4o-mini', 'gpt-4o-mini') {
        my $id = LavaTest::test_id();
        my $r = $s->request(target => '/v1/chat/completions',
                            body => LavaTest::chat_body(model => $model),
                            headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                        'x-mock-usage' => $usage]);
        is $r->{status}, 200, "$model: 200";
        is $r->{json}{object}, 'chat.completion', "$model: a chat completion";
        my ($q) = $s->mock_requests($id);
        is $q && $q->{target}, '/v1/chat/completions', "$model: OpenAI's chat path";
        is $q && lc($q->{host} // ''), 'api.openai.com', "$model: on api.openai.com";
        my $sent = $q && json_decode($q->{body} // '');
        is $sent && $sent->{model}, 'gpt-4o-mini', "$model: the provider got its own model name";
        my $row = booked($r->{rid});
        is $row->{provider}, 'openai', "$model: booked to openai";
        is $row->{model}, 'gpt-4o-mini', "$model: model";
        is $row->{output_tokens}, 340, "$model: output tokens";
    }
};

subtest 'unified: a model that names no provider, none, or a GET' => sub {
    for my $b ({ model => 'no-such-model-x', messages => [] },
               { model => 'nosuchprovider/foo', messages => [] },
               { model => 'google/../../v1/files', messages => [] },  # Gemini's model is a path segment
               { model => 'elevenlabs/eleven_v3', messages => [] },   # no chat endpoint
               { model => 'anthropic/', messages => [] },
               { model => 42, messages => [] },
               { messages => [] }) {
        my $r = $s->request(target => '/v1/chat/completions', body => $b,
                            headers => [Authorization => "Bearer $tok"]);
        is $r->{status}, 400, ($b->{model} // 'no model') . ': 400';
        is $r->{json}{error}{code}, 'unknown_model', 'unknown_model';
        ok $r->{rid}, 'x-lava-request-id';
    }
    my $r = $s->request(target => '/v1/chat/completions', headers => [Authorization => "Bearer $tok"]);
    is $r->{status}, 405, 'GET: 405';
    is $r->{json}{error}{code}, 'method_not_allowed', 'method_not_allowed';
    $r = $s->request(target => '/v1/chat/completions/extra', body => $oa_chat,
                     headers => [Authorization => "Bearer $tok"]);
    is $r->{status}, 404, 'a longer path: JSON 404';
    is $r->{json}{error}{code}, 'not_found', 'not_found';
};

subtest 'unified messages: an Anthropic client, anthropic/<model>' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/messages',
                        body => { %$an_msgs, model => 'anthropic/claude-sonnet-4-5' },
                        headers => ['x-api-key' => $tok, 'x-test-id' => $id,
                                    'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'status 200';
    is $r->{json}{type}, 'message', 'an Anthropic message';
    my ($q) = $s->mock_requests($id);
    my $sent = $q && json_decode($q->{body} // '');
    is $sent && $sent->{model}, 'claude-sonnet-4-5', 'the provider got its own model name';
    same_cost(booked($r->{rid}), $ref_anthropic, 'unified messages');
};

# --- translated: the client's format to another provider's -----------------------
my %refs;
sub ref_row {
    my ($url, $body, $auth) = @_;
    return $refs{$url} //= do {
        my $r = $s->request(target => '/v1/forward?u=' . enc($url), body => $body,
                            headers => [@$auth, 'x-mock-usage' => $usage]);
        booked($r->{rid});
    };
}

subtest 'rewrite openai -> Anthropic, JSON: translated both ways, billed from Anthropic' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                        body => $oa_chat,
                        headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                    'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'status 200';
    is $r->{json}{object}, 'chat.completion', 'an OpenAI chat.completion';
    ok length($r->{json}{choices}[0]{message}{content} // ''), 'with the text';
    is $r->{json}{choices}[0]{finish_reason}, 'stop', 'finish_reason stop (end_turn)';
    is $r->{json}{usage}{prompt_tokens}, 1200, 'usage.prompt_tokens';
    is $r->{json}{usage}{completion_tokens}, 340, 'usage.completion_tokens';
    like $r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON';
    my ($q) = $s->mock_requests($id);
    my $sent = $q && json_decode($q->{body} // '') // {};
    is $q && $q->{target}, '/v1/messages', 'Anthropic got /v1/messages';
    is $sent->{system}, 'Be brief.', 'the system message became "system"';
    is $sent->{max_tokens}, 64, 'max_tokens';
    is_deeply [map { $_->{role} } @{ $sent->{messages} // [] }], ['user'], 'the user turn only';
    ok !exists $sent->{stream_options}, 'no OpenAI member left';
    my $row = booked($r->{rid});
    is $row->{endpoint}, '/v1/messages', 'booked endpoint: the provider\'s';
    same_cost($row, $ref_anthropic, 'translated JSON');
};

subtest 'rewrite openai -> Anthropic, SSE: chat.completion.chunk events, [DONE], usage chunk' => sub {
    my $r = $s->stream(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                       body => { %$oa_chat, stream => JSON::PP::true,
                                 stream_options => { include_usage => JSON::PP::true } },
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => $usage,
                                   'x-mock-chunks' => 4]);
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'} // '', qr{^text/event-stream}, 'an event stream';
    my @data = map { /^data: (.*)$/m ? $1 : () } map { $_->{text} } @{ $r->{events} };
    is $data[-1], '[DONE]', 'ends with data: [DONE]';
    my @chunks = map { json_decode($_) // {} } grep { $_ ne '[DONE]' } @data;
    ok @chunks > 4, 'a chunk per event (' . scalar(@chunks) . ')';
    ok !grep({ ($_->{object} // '') ne 'chat.completion.chunk' } @chunks), 'all chat.completion.chunk';
    my $text = join '', map { $_->{choices}[0]{delta}{content} // '' } @chunks;
    ok length $text, 'text deltas';
    my ($u) = grep { $_->{usage} } @chunks;
    is $u && $u->{usage}{prompt_tokens}, 1200, 'the usage chunk: prompt_tokens';
    ok $r->{events}[0]{t} < $r->{events}[-1]{t}, 'events arrive as the provider sends them';
    my $row = booked($r->{rid});
    is $row->{outcome}, 'complete', 'outcome complete';
    is $row->{stream}, 1, 'booked as a stream';
    same_cost($row, $ref_anthropic, 'translated SSE');
};

subtest 'unified chat/completions, anthropic/claude-sonnet-4-5: an OpenAI client, Anthropic billed' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/chat/completions',
                        body => { %$oa_chat, model => 'anthropic/claude-sonnet-4-5' },
                        headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                    'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'status 200';
    is $r->{json}{object}, 'chat.completion', 'a chat.completion';
    my ($q) = $s->mock_requests($id);
    is $q && lc($q->{host} // ''), 'api.anthropic.com', 'to Anthropic';
    is $q && (json_decode($q->{body} // '') // {})->{model}, 'claude-sonnet-4-5', 'its model name';
    same_cost(booked($r->{rid}), $ref_anthropic, 'unified, translated');
};

subtest 'unified chat/completions, google/<model>: Gemini\'s URL names the model and the stream' => sub {
    for my $stream (0, 1) {
        my $id = LavaTest::test_id();
        my $r = $s->stream(target => '/v1/chat/completions',
                           body => { %$oa_chat, model => 'google/gemini-2.5-flash',
                                     ($stream ? (stream => JSON::PP::true) : ()) },
                           headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                       'x-mock-usage' => $usage]);
        is $r->{status}, 200, "stream $stream: status 200";
        my ($q) = $s->mock_requests($id);
        is $q && $q->{target},
            '/v1beta/models/gemini-2.5-flash:' . ($stream ? 'streamGenerateContent?alt=sse' : 'generateContent'),
            "stream $stream: Gemini's method";
        my $sent = $q && json_decode($q->{body} // '') // {};
        ok !exists $sent->{model} && ref $sent->{contents} eq 'ARRAY', "stream $stream: a Gemini body";
        if ($stream) {
            like $r->{body}, qr/^data: \[DONE\]/m, 'an OpenAI stream back';
        } else {
            is $r->{json}{object}, 'chat.completion', 'a chat.completion back';
        }
        my $row = booked($r->{rid});
        is $row->{provider}, 'google', "stream $stream: booked to google";
        is $row->{output_tokens}, 340, "stream $stream: Gemini's usage";
    }
};

subtest 'unified, same shape, a stream without include_usage: the usage chunk still hidden' => sub {
    my $r = $s->stream(target => '/v1/chat/completions',
                       body => { model => 'openai/gpt-4o-mini', stream => JSON::PP::true,
                                 messages => [{ role => 'user', content => 'Hi' }] },
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'status 200';
    unlike $r->{body}, qr/"usage":\{/, 'no usage chunk shown';
    is booked($r->{rid})->{output_tokens}, 340, 'the provider\'s usage booked';
};

subtest 'a provider error in the client\'s shape, status kept, booked' => sub {
    my $r = $s->request(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                        body => $oa_chat,
                        headers => [Authorization => "Bearer $tok", 'x-mock-status' => 529]);
    is $r->{status}, 529, 'Anthropic\'s 529 kept';
    ok ref $r->{json}{error} eq 'HASH' && defined $r->{json}{error}{message},
        'an OpenAI error object';
    ok !defined $r->{json}{type}, 'not Anthropic\'s {"type":"error"}';
    is $s->wait_event($r->{rid} // '')->{status}, 529, 'booked with 529';
};

subtest 'a translated provider error that echoes the managed key: masked before translation' => sub {
    my $managed = 'sk-mock-anthropic';   # scripts/lava-stack's managed key for anthropic
    my $r = $s->request(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                        body => $oa_chat,
                        headers => [Authorization => "Bearer $tok", 'x-mock-echo-key' => 3]);
    is $r->{status}, 401, 'the provider\'s 401 kept';
    ok ref $r->{json}{error} eq 'HASH' && defined $r->{json}{error}{message},
        'an OpenAI error object';
    unlike $r->{body}, qr/\Q$managed\E/, 'the managed key is nowhere in the translated body';
    like $r->{json}{error}{message} // '', qr/\*{17}/, 'its copies overwritten in the message';
    unlike join("\n", map { "$_: $r->{headers}{$_}" } keys %{ $r->{headers} }), qr/\Q$managed\E/,
        'nor in a header';
};

subtest 'rewrite anthropic -> OpenAI: an Anthropic message from a chat completion' => sub {
    my $oa_ref = ref_row('https://api.openai.com/v1/chat/completions',
                         LavaTest::chat_body(), [Authorization => "Bearer $tok"]);
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/rewrite/anthropic/https://api.openai.com/v1/chat/completions',
                        body => { %$an_msgs, model => 'gpt-4o-mini' },
                        headers => ['x-api-key' => $tok, 'x-test-id' => $id, 'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'status 200';
    is $r->{json}{type}, 'message', 'an Anthropic message';
    is $r->{json}{usage}{output_tokens}, 340, 'usage.output_tokens';
    my ($q) = $s->mock_requests($id);
    my $sent = $q && json_decode($q->{body} // '') // {};
    is $sent->{messages}[0]{role}, 'system', 'system became the first message';
    same_cost(booked($r->{rid}), $oa_ref, 'anthropic -> openai');
};

subtest 'rewrite openai -> Gemini: a streaming client gets streamGenerateContent' => sub {
    my $url = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent';
    my $id = LavaTest::test_id();
    my $r = $s->stream(target => "/v1/rewrite/openai/$url",
                       body => { %$oa_chat, model => 'gemini-2.5-flash', stream => JSON::PP::true },
                       headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                   'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'status 200';
    my ($q) = $s->mock_requests($id);
    like $q && $q->{target}, qr{/models/gemini-2\.5-flash:streamGenerateContent\?alt=sse$},
        'Gemini asked for its stream';
    my @data = map { /^data: (.*)$/m ? $1 : () } map { $_->{text} } @{ $r->{events} };
    is $data[-1], '[DONE]', 'an OpenAI stream back';
    my $row = booked($r->{rid});
    is $row->{provider}, 'google', 'booked to google';
    is $row->{input_tokens}, 1200, 'Gemini\'s usage';
};

subtest 'what cannot be translated is refused, naming it' => sub {
    my $r = $s->request(target => '/v1/rewrite/anthropic/https://api.openai.com/v1/embeddings',
                        body => { model => 'text-embedding-3-small', input => 'x' },
                        headers => [Authorization => "Bearer $tok"]);
    is $r->{status}, 400, 'an Anthropic body to OpenAI embeddings: 400';
    is $r->{json}{error}{code}, 'translation_unsupported', 'translation_unsupported';
    is $s->wait_event($r->{rid} // '')->{outcome}, 'refused', 'booked as refused';
};

# --- hostile providers: cut, error events, answers too large ----------------------
subtest 'a translated stream the provider cuts short: no [DONE], the usage it gave billed' => sub {
    my $r = $s->stream(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                       body => { %$oa_chat, stream => JSON::PP::true },
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => $usage,
                                   'x-mock-chunks' => 6, 'x-mock-cut-after' => 2]);
    is $r->{status}, 200, 'status 200';
    unlike $r->{body}, qr/\[DONE\]/, 'the client sees the stream cut, not ended';
    like $r->{body}, qr/chat\.completion\.chunk/, 'what came before was translated';
    my $ev = $s->wait_event($r->{rid} // '') // {};
    is $ev->{input_tokens}, 1200, 'Anthropic\'s input tokens (message_start) booked';
    isnt $ev->{outcome}, 'complete', 'not booked complete (' . ($ev->{outcome} // '') . ')';
};

subtest 'an error event in a translated stream reaches the client in its shape' => sub {
    my $r = $s->stream(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                       body => { %$oa_chat, stream => JSON::PP::true },
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => $usage,
                                   'x-mock-stream-error' => 1]);
    is $r->{status}, 200, 'status 200';
    my @data = map { /^data: (.*)$/m ? $1 : () } map { $_->{text} } @{ $r->{events} };
    my ($err) = grep { $_->{error} } map { json_decode($_) // {} } grep { $_ ne '[DONE]' } @data;
    ok $err, 'an error chunk ({"error":...})';
    like $err && $err->{error}{message} // '', qr/overloaded/i, 'Anthropic\'s message kept';
    unlike $r->{body}, qr/^event: error/m, 'no Anthropic event left';
};

# --- GET /v1/models ------------------------------------------------------------
subtest 'GET /v1/models: OpenAI list format, from the rate records' => sub {
    for my $auth ([Authorization => "Bearer $m->{secret}"], [Authorization => "Bearer $tok"]) {
        my $r = $s->request(target => '/v1/models', headers => $auth);
        is $r->{status}, 200, 'status 200';
        is $r->{json}{object}, 'list', 'object list';
        my %ids = map { $_->{id} => $_ } @{ $r->{json}{data} // [] };
        ok $ids{'anthropic/claude-sonnet-4-5'}, 'anthropic/claude-sonnet-4-5 listed';
        ok $ids{'openai/gpt-4o-mini'}, 'openai/gpt-4o-mini listed';
        is_deeply [sort keys %{ $ids{'openai/gpt-4o-mini'} // {} }], [qw(created id object owned_by)],
            'the fields of RestModel';
        is $ids{'openai/gpt-4o-mini'}{owned_by}, 'openai', 'owned_by the provider';
        is $ids{'openai/gpt-4o-mini'}{object}, 'model', 'object model';
        ok !grep({ $_->{id} =~ m{/\*$} } @{ $r->{json}{data} // [] }), 'no "*" bound listed';
        ok $r->{rid}, 'x-lava-request-id';
    }
    my $r = $s->request(target => '/v1/models');
    is $r->{status}, 401, 'no token: 401';
    is $r->{json}{error}{code}, 'missing_token', 'missing_token';
    is $s->wait_event($r->{rid} // '')->{outcome}, 'refused', 'booked as refused';
    $r = $s->request(target => '/v1/models', headers => [Authorization => 'Bearer lava_sk_nosuchkey0000']);
    is $r->{status}, 401, 'an unknown key: 401';
    is $r->{json}{error}{code}, 'invalid_key', 'invalid_key';
    $r = $s->request(target => '/v1/models', method => 'POST', body => '{}',
                     headers => [Authorization => "Bearer $tok"]);
    is $r->{status}, 405, 'POST: 405';
};

subtest 'nginx -t refuses lava_api chat without lava_forward' => sub {
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $http = "upstream u { server 127.0.0.1:9; }\n    lava_allow_private_upstreams on;\n"
             . "    lava_provider test upstream=u auth=bearer usage=openai api.test.example;";
    my ($rc, $out) = LavaTest::nginx_t(dir => $dir, scheme => 'http', http => $http,
                                       location => 'location = /v1/chat/completions { lava_api chat; }');
    isnt $rc, 0, 'refused';
    like $out, qr/"lava_api" rewrite, chat and messages need "lava_forward"/, 'saying what is missing';
    ($rc, $out) = LavaTest::nginx_t(dir => $dir, scheme => 'http', http => $http,
                                    location => 'location = /v1/models { lava_api models; }');
    is $rc, 0, 'lava_api models needs none' or diag $out;
};

# the last: this nginx collects less JSON than the answer is
subtest 'a JSON answer over lava_tap_json_max: 502 translation_failed, the request billed' => sub {
    $s->configure_nginx(http => ['lava_tap_json_max 16k;']);
    my $r = $s->request(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                        body => $oa_chat,
                        headers => [Authorization => "Bearer $tok", 'x-mock-usage' => $usage,
                                    'x-mock-bytes' => 40000]);
    is $r->{status}, 502, 'status 502';
    is $r->{json}{error}{code}, 'translation_failed', 'translation_failed';
    is $r->{headers}{'content-length'}, length $r->{body}, 'Content-Length of what was sent';
    ok $r->{rid}, 'x-lava-request-id';
    my $ev = $s->wait_event($r->{rid} // '') // {};
    is $ev->{provider}, 'anthropic', 'the provider served it: an event of anthropic';
    ok(($ev->{output_tokens} // 0) > 0, 'billed (' . ($ev->{usage_source} // '') . ')');
};

$s->finish;
done_testing;
