# Small gaps real clients found on the forward endpoint (issue 14):
#  - a client that stops reading at the stream's final event (openai-node
#    7.x at [DONE], Anthropic message_stop, Gemini's chunk with a
#    finishReason, Responses response.completed, Cohere message-end) and
#    closes at once: the stream was relayed to its end,
#    outcome complete, never client_abort. The mock holds the connection
#    open after its last event (x-mock-end-hold-ms), so the client's close
#    always comes before the end of the provider's body;
#  - the provider is asked for Accept-Encoding: identity (no header at all
#    would let it pick any coding), whatever the client sent;
#  - every other path under /v1/ answers JSON 404 not_found with a request
#    id (conf/lava-server.conf), never nginx's HTML page.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_decode json_encode wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};

sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

my $chat = { model => 'gpt-4o-mini', stream => JSON::PP::true,
             stream_options => { include_usage => JSON::PP::true },
             messages => [{ role => 'user', content => 'Hello there' }] };
my $msgs = { model => 'claude-sonnet-4-5', max_tokens => 64, stream => JSON::PP::true,
             messages => [{ role => 'user', content => 'Hello there' }] };
my $gen = { contents => [{ role => 'user', parts => [{ text => 'Hello there' }] }] };

# --- a client that closes right after the final event ---------------------------
my @finals = (
    ['OpenAI chat stream, closed at data: [DONE]',
     'https://api.openai.com/v1/chat/completions', $chat, [Authorization => "Bearer $tok"],
     qr/^data: \[DONE\]/m, [input_tokens => 31, output_tokens => 9]],
    ['Anthropic stream, closed at message_stop',
     'https://api.anthropic.com/v1/messages', $msgs, ['x-api-key' => $tok],
     qr/^event: message_stop/m, [input_tokens => 31, output_tokens => 9]],
    ['Gemini stream, closed at the chunk with a finishReason',
     'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
     $gen, ['x-goog-api-key' => $tok],
     qr/"finishReason"/, [input_tokens => 31, output_tokens => 9]],
    ['OpenAI Responses stream, closed at response.completed',
     'https://api.openai.com/v1/responses',
     { model => 'gpt-4.1-mini', input => 'Hello there', stream => JSON::PP::true },
     [Authorization => "Bearer $tok"],
     qr/^event: response\.completed/m, [input_tokens => 31, output_tokens => 9]],
    ['Cohere v2 chat stream, closed at message-end',
     'https://api.cohere.com/v2/chat',
     { model => 'command-a-03-2025', stream => JSON::PP::true,
       messages => [{ role => 'user', content => 'Hello there' }] },
     [Authorization => "Bearer $tok"],
     qr/^event: message-end/m, [input_tokens => 31, output_tokens => 9]],
);

for my $f (@finals) {
    my ($name, $u, $body, $auth, $final, $usage) = @$f;
    subtest $name => sub {
        for my $run (1 .. 3) {
            my $id = LavaTest::test_id();
            my $r = $s->stream(target => '/v1/forward?u=' . enc($u), body => $body,
                               headers => [@$auth, 'x-test-id' => $id,
                                           'x-mock-usage' => 'prompt=31,completion=9',
                                           'x-mock-chunks' => 3, 'x-mock-chunk-delay-ms' => 5,
                                           'x-mock-end-hold-ms' => 400],
                               on_event => sub { $_[0]{text} =~ $final ? 'abort' : undef });
            is $r->{status}, 200, "run $run: status 200";
            ok $r->{aborted}, "run $run: the client closed at the final event";
            my $ev = $s->wait_event($r->{rid} // '', 15) // {};
            is $ev->{outcome}, 'complete', "run $run: outcome complete";
            is $ev->{usage_source}, 'reported', "run $run: the provider's usage";
            my %u = @$usage;
            is $ev->{$_} // 0, $u{$_}, "run $run: $_ $u{$_}" for sort keys %u;
            is $ev->{tap_flags} // '', '', "run $run: no flag (no estimate, no partial usage)";
            my ($q) = $s->mock_requests($id);
            my $sent = $q && $s->mock_response($q->{request_id}, 10);
            ok $sent && $sent->{complete}, "run $run: the provider finished its answer";
        }
    };
}

# The gateway added include_usage and hides the usage chunk: [DONE] still
# ends the stream for the client.
subtest 'OpenAI stream without include_usage (usage chunk hidden), closed at [DONE]' => sub {
    my $body = { %$chat };
    delete $body->{stream_options};
    my $r = $s->stream(target => '/v1/forward?u=' . enc('https://api.openai.com/v1/chat/completions'),
                       body => $body,
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => 'prompt=31,completion=9',
                                   'x-mock-chunks' => 3, 'x-mock-end-hold-ms' => 400],
                       on_event => sub { $_[0]{text} =~ /^data: \[DONE\]/m ? 'abort' : undef });
    ok $r->{aborted}, 'the client closed at [DONE]';
    unlike $r->{body}, qr/"usage":\{/, 'no usage chunk shown';
    my $ev = $s->wait_event($r->{rid} // '', 15) // {};
    is $ev->{outcome}, 'complete', 'outcome complete';
    is $ev->{output_tokens} // 0, 9, 'the provider\'s usage';
};

# Before the last event the client has not had the whole answer: still an abort.
subtest 'a client that closes before the last event is client_abort' => sub {
    my $r = $s->stream(target => '/v1/forward?u=' . enc('https://api.openai.com/v1/chat/completions'),
                       body => $chat,
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => 'prompt=31,completion=9',
                                   'x-mock-chunks' => 3, 'x-mock-chunk-delay-ms' => 200,
                                   'x-mock-end-hold-ms' => 400],
                       on_event => sub { $_[1] >= 1 ? 'abort' : undef });
    ok $r->{aborted}, 'the client closed after two events, 0.2 s before the next';
    my $ev = $s->wait_event($r->{rid} // '', 15) // {};
    is $ev->{outcome}, 'client_abort', 'outcome client_abort';
    is $ev->{output_tokens} // 0, 9, 'the provider\'s usage all the same';
};

# --- Accept-Encoding: identity ------------------------------------------------------
subtest 'the provider is asked for identity, whatever the client accepts' => sub {
    for my $ae (undef, 'gzip, deflate, br', 'identity') {
        my $id = LavaTest::test_id();
        my $r = $s->request(target => '/v1/forward?u=' . enc('https://api.openai.com/v1/chat/completions'),
                            body => LavaTest::chat_body(),
                            headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                        defined $ae ? ('Accept-Encoding' => $ae) : ()]);
        is $r->{status}, 200, 'status 200 (client: ' . ($ae // 'no Accept-Encoding') . ')';
        my ($q) = $s->mock_requests($id);
        is_deeply [LavaTest::header_values($q // {}, 'accept-encoding')], ['identity'],
            'the provider got Accept-Encoding: identity, once';
    }
    # BYOK too: the same header whoever's key it is
    my $byok = $s->token(secret_key => $m->{secret}, customer_id => $m->{customer},
                         meter_slug => 'chat', provider_key => 'sk-byok-identity-0123456789');
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/forward?u=' . enc('https://api.anthropic.com/v1/messages'),
                        body => { %$msgs, stream => JSON::PP::false },
                        headers => ['x-api-key' => $byok, 'x-test-id' => $id,
                                    'Accept-Encoding' => 'gzip']);
    my ($q) = $s->mock_requests($id);
    is_deeply [LavaTest::header_values($q // {}, 'accept-encoding')], ['identity'],
        'with the user\'s own key too';
};

subtest 'a provider that compresses anyway is still metered (gunzip tap)' => sub {
    my $r = $s->stream(target => '/v1/forward?u=' . enc('https://api.openai.com/v1/chat/completions'),
                       body => $chat,
                       headers => [Authorization => "Bearer $tok", 'x-mock-gzip' => 1,
                                   'x-mock-usage' => 'prompt=44,completion=6']);
    is $r->{status}, 200, 'status 200';
    is $r->{headers}{'content-encoding'}, 'gzip', 'the compressed answer passed as it was';
    my $ev = $s->wait_event($r->{rid} // '', 15) // {};
    is $ev->{usage_source}, 'reported', 'usage read through the gunzip tap';
    is_deeply [@$ev{qw(input_tokens output_tokens)}], [44, 6], 'the provider\'s usage';
};

# --- every other path under /v1/: JSON 404 ----------------------------------------
# (/v1/models, /v1/rewrite/... and /v1/chat/completions are served since issue
# 14's endpoints: t/92-rewrite.t; their neighbours still answer 404 here)
for my $case (['GET', '/v1/models/gpt-4o-mini'], ['GET', '/v1/usage'],
              ['POST', '/v1/embeddings'], ['POST', '/v1/chat'],
              ['POST', '/v1/rewrites/openai/https://api.anthropic.com/v1/messages'],
              ['DELETE', '/v1/']) {
    my ($method, $path) = @$case;
    subtest "$method $path: JSON 404 not_found with a request id" => sub {
        my $r = $s->request(method => $method, target => $path,
                            headers => [Authorization => "Bearer $tok"],
                            $method eq 'POST' ? (body => LavaTest::chat_body()) : ());
        is $r->{status}, 404, 'status 404';
        like $r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON';
        is $r->{json} && $r->{json}{error}{code}, 'not_found', 'code not_found';
        unlike $r->{body}, qr/<html/i, 'not nginx\'s HTML page';
        like $r->{rid} // '', qr/\S/, 'x-lava-request-id';
        my $ev = $s->wait_event($r->{rid} // '', 10) // {};
        is $ev->{outcome}, 'refused', 'booked as refused';
        is $ev->{error}, 'not_found', 'error not_found';
    };
}

$s->finish;
done_testing;
