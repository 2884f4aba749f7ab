# Every provider family through nginx: the provider sees its own key in its
# own auth format (never the forward token), and the usage event carries
# that family's usage, normalised -- or a flagged estimate, never a silent
# zero. Also: the usage-only chunk the gateway asked for is not shown to a
# client that did not ask, and a gzip answer is still metered; a gzip bomb
# without usage bills no more than the request could cost (issue 11, class 9).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;

use LavaTest qw(json_decode json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};

sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

# One request through the gateway: the response, what the provider got, and
# the usage event.
sub call {
    my (%a) = @_;
    my $id = LavaTest::test_id();
    my $target = "/v1/forward?u=" . enc($a{u}) . ($a{query} // '');
    my $r = $s->stream(method => $a{method}, target => $target, body => $a{body},
                       headers => [@{ $a{auth} // [Authorization => "Bearer $tok"] },
                                   'x-test-id' => $id, @{ $a{headers} // [] }]);
    my @seen = $s->mock_requests($id);
    my $ev = $s->wait_event($r->{rid} // '') // {};
    return ($r, $seen[0] // {}, $ev);
}

sub header { my ($q, $n) = @_; [LavaTest::header_values($q, $n)] }

sub no_token_at_provider {
    my ($q) = @_;
    my $all = join "\n", $q->{target} // '', map { "$_->[0]: $_->[1]" } @{ $q->{headers} // [] };
    unlike $all, qr/\Q$tok\E|\Q$m->{secret}\E/, 'the forward token did not reach the provider';
}

sub buckets {
    my ($ev, %want) = @_;
    for my $k (sort keys %want) {
        is $ev->{$k} // 0, $want{$k}, "event: $k $want{$k}";
    }
}

my $chat = { model => 'gpt-4o-mini', messages => [{ role => 'user', content => 'Hello there' }] };
my $stream = { %$chat, stream => JSON::PP::true };

# --- OpenAI: a stream the client did not ask usage for ------------------------
subtest 'OpenAI stream: include_usage added, the usage chunk hidden from the client' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/chat/completions', body => $stream,
                            headers => ['x-mock-usage' => 'prompt=120,cached=100,completion=8']);
    is $r->{status}, 200, 'status 200';
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-openai'], 'Bearer managed key at the provider';
    no_token_at_provider($q);
    my $sent = json_decode($q->{body});
    is_deeply $sent->{stream_options}, { include_usage => JSON::PP::true }, 'the provider was asked for usage';
    is $sent->{messages}[0]{content}, 'Hello there', 'the rest of the body unchanged';
    my @usage = grep { $_->{text} =~ /"choices":\[\]/ } @{ $r->{events} };
    is scalar @usage, 0, 'the client sees no usage-only chunk';
    is $r->{events}[-1]{text}, 'data: [DONE]', 'the stream still ends with [DONE]';
    ok $r->{complete}, 'complete';
    is $ev->{usage_source}, 'reported', 'usage reported';
    buckets($ev, input_tokens => 20, cached_input_tokens => 100, output_tokens => 8);
    is $ev->{bytes_out}, length $r->{body}, 'bytes_out: what the client got';
};

subtest 'OpenAI stream: a client that asked for usage gets its chunk' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/chat/completions',
                            body => LavaTest::chat_body(stream => 1),
                            headers => ['x-mock-usage' => 'prompt=50,completion=8']);
    my @usage = grep { $_->{text} =~ /"choices":\[\]/ } @{ $r->{events} };
    is scalar @usage, 1, 'the usage chunk is there';
    my $sent = $s->mock_response($r->{headers}{'x-request-id'});
    is $sent->{sha256}, sha256_hex($r->{body}), 'byte-identical';
    buckets($ev, input_tokens => 50, output_tokens => 8);
};

subtest 'OpenAI stream without any usage: estimated, never zero' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/chat/completions', body => $stream,
                            headers => ['x-mock-no-usage' => 1, 'x-mock-chunks' => 12]);
    is $r->{status}, 200, 'status 200';
    is $ev->{usage_source}, 'estimated', 'usage_source estimated';
    ok $ev->{input_tokens} > 0 && $ev->{output_tokens} > 0, "estimated $ev->{input_tokens} in, $ev->{output_tokens} out";
    like $ev->{usage_raw} // '', qr/"estimate":"no_usage"/, 'usage_raw says it is an estimate';
};

subtest 'OpenAI Responses API stream' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/responses',
                            body => { model => 'gpt-4.1-mini', input => 'hi', stream => JSON::PP::true },
                            headers => ['x-mock-usage' => 'prompt=40,cached=8,completion=6,reasoning=4']);
    is $r->{status}, 200, 'status 200';
    like $r->{events}[0]{text}, qr/^event: response\.created/, 'named events pass through';
    like $r->{events}[-1]{text}, qr/^event: response\.completed/, 'ends with response.completed, no [DONE]';
    is json_decode($q->{body})->{stream_options}, undef, 'no stream_options added to the Responses API';
    is $ev->{usage_source}, 'reported', 'reported';
    buckets($ev, input_tokens => 32, cached_input_tokens => 8, output_tokens => 6, reasoning_tokens => 4);
};

subtest 'OpenAI embeddings and images' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/embeddings',
                            body => { model => 'text-embedding-3-small', input => ['a', 'b'] },
                            headers => ['x-mock-usage' => 'prompt=9']);
    buckets($ev, input_tokens => 9, output_tokens => 0);
    ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/images/generations',
                         body => { model => 'dall-e-2', prompt => 'a cat', n => 3 });
    is $r->{status}, 200, 'images 200';
    is $ev->{images}, 3, 'event: images 3, counted in the answer';
    is $ev->{usage_source}, 'reported', 'reported';
};

# --- hosts with their own streaming habits ------------------------------------
subtest 'Mistral: no stream_options (it refuses them), usage from its last chunk' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.mistral.ai/v1/chat/completions',
                            body => { %$stream, model => 'mistral-small-latest' },
                            headers => ['x-mock-usage' => 'prompt=31,completion=8']);
    is $r->{status}, 200, '200, not 422';
    ok !exists json_decode($q->{body})->{stream_options}, 'body unchanged for Mistral';
    is_deeply header($q, 'host'), ['api.mistral.ai'], 'Host api.mistral.ai';
    buckets($ev, input_tokens => 31, output_tokens => 8);
};

subtest 'Groq: x_groq.usage and the usage chunk, counted once' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.groq.com/openai/v1/chat/completions', body => $stream,
                            headers => ['x-mock-usage' => 'prompt=24,completion=8']);
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-groq'], 'Groq key';
    buckets($ev, input_tokens => 24, output_tokens => 8);
    is $ev->{usage_source}, 'reported', 'reported';
};

subtest 'xAI: cumulative usage on every chunk, the last one wins' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.x.ai/v1/chat/completions', body => $stream,
                            headers => ['x-mock-usage' => 'prompt=30,completion=8', 'x-mock-chunks' => 8]);
    buckets($ev, input_tokens => 30, output_tokens => 8);
};

# --- Anthropic -----------------------------------------------------------------
my $msg = { model => 'claude-sonnet-4-5', max_tokens => 64, stream => JSON::PP::true,
            messages => [{ role => 'user', content => 'hi' }] };

subtest 'Moonshot (Kimi): Bearer, usage inside the last chunk\'s choice, cache hits as cached_tokens' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.moonshot.ai/v1/chat/completions',
                            body => { %$stream, model => 'kimi-k2-0905-preview' },
                            headers => ['x-mock-usage' => 'prompt=120,cached=100,completion=9']);
    is $r->{status}, 200, 'status 200';
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-moonshot'], 'Bearer managed key';
    is_deeply header($q, 'host'), ['api.moonshot.ai'], 'Host api.moonshot.ai';
    like $r->{body}, qr/"choices":\[\{[^\]]*"usage":\{/, 'the usage came inside the choice';
    is $ev->{provider}, 'moonshot', 'provider moonshot';
    is $ev->{usage_source}, 'reported', 'reported, not estimated';
    buckets($ev, input_tokens => 20, cached_input_tokens => 100, output_tokens => 9);
    my ($r2, $q2, $ev2) = call(u => 'https://api.moonshot.ai/v1/chat/completions',
                               body => { %$chat, model => 'moonshot-v1-8k' },
                               headers => ['x-mock-usage' => 'prompt=50,cached=30,completion=4']);
    is $r2->{status}, 200, 'JSON: status 200';
    buckets($ev2, input_tokens => 20, cached_input_tokens => 30, output_tokens => 4);
};

subtest 'EmberCloud: Bearer, OpenAI usage' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.embercloud.ai/v1/chat/completions',
                            body => { %$stream, model => 'glm-4.7' },
                            headers => ['x-mock-usage' => 'prompt=41,completion=7']);
    is $r->{status}, 200, 'status 200';
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-embercloud'], 'Bearer managed key';
    is_deeply header($q, 'host'), ['api.embercloud.ai'], 'Host api.embercloud.ai';
    ok json_decode($q->{body})->{stream_options}{include_usage}, 'include_usage asked for';
    is $ev->{provider}, 'embercloud', 'provider embercloud';
    is $ev->{model}, 'glm-4.7', 'model glm-4.7';
    buckets($ev, input_tokens => 41, output_tokens => 7);
};

subtest 'Anthropic stream: x-api-key, the client\'s anthropic-version kept, cache writes apart' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.anthropic.com/v1/messages', body => $msg,
                            auth => ['x-api-key' => $tok],
                            headers => ['anthropic-version' => '2024-10-22',
                                        'x-mock-usage' => 'prompt=25,cached=400,cache_write=100,cache_write_1h=200,completion=8']);
    is $r->{status}, 200, 'status 200';
    is_deeply header($q, 'x-api-key'), ['sk-mock-anthropic'], 'managed key in x-api-key';
    is_deeply header($q, 'authorization'), [], 'no Authorization';
    is_deeply header($q, 'anthropic-version'), ['2024-10-22'], 'the client\'s anthropic-version, once';
    no_token_at_provider($q);
    buckets($ev, input_tokens => 25, cached_input_tokens => 400, cache_write_tokens => 100,
            cache_write_1h_tokens => 200, output_tokens => 8);
};

subtest 'Anthropic: an error event mid-stream books a flagged estimate' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.anthropic.com/v1/messages', body => $msg,
                            headers => ['x-mock-stream-error' => 1, 'x-mock-usage' => 'prompt=30']);
    ok((grep { $_->{text} =~ /^event: error/ } @{ $r->{events} }), 'the client sees the error event');
    is $ev->{usage_source}, 'estimated', 'estimated';
    like $ev->{tap_flags} // '', qr/usage_partial/, 'flagged usage_partial';
    like $ev->{tap_flags} // '', qr/error_event/, 'flagged error_event';
    is $ev->{input_tokens}, 30, 'input as reported by message_start';
    ok $ev->{output_tokens} >= 1, 'output at least what was reported';
};

# --- Google ----------------------------------------------------------------------
my $gen = { contents => [{ role => 'user', parts => [{ text => 'What is the answer?' }] }] };

subtest 'Gemini streamGenerateContent?alt=sse: x-goog-api-key, CRLF events, running totals' => sub {
    my ($r, $q, $ev) = call(u => 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
                            body => $gen, auth => ['x-goog-api-key' => $tok],
                            headers => ['x-mock-usage' => 'prompt=10,cached=4,completion=9,reasoning=5',
                                        'x-mock-chunks' => 3]);
    is $r->{status}, 200, 'status 200';
    like $r->{body}, qr/\r\n\r\n/, 'CRLF event ends pass through';
    is_deeply header($q, 'x-goog-api-key'), ['sk-mock-google'], 'managed key in x-goog-api-key';
    like $q->{target}, qr/alt=sse/, 'alt=sse kept';
    unlike $q->{target}, qr/[?&]key=/, 'no key in the query';
    is $ev->{model}, 'gemini-2.5-flash', 'model from the answer';
    buckets($ev, input_tokens => 6, cached_input_tokens => 4, output_tokens => 9, reasoning_tokens => 5);
};

subtest 'Gemini with the token in ?key=: the provider key goes to x-goog-api-key, never the URL' => sub {
    my ($r, $q, $ev) = call(u => 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent',
                            query => '&key=' . enc($tok), auth => [], body => $gen,
                            headers => ['x-mock-usage' => 'prompt=7,completion=3']);
    is $r->{status}, 200, 'status 200';
    unlike $q->{target}, qr/key/i, 'no key in the provider URL';
    is_deeply header($q, 'x-goog-api-key'), ['sk-mock-google'], 'managed key in x-goog-api-key';
    no_token_at_provider($q);
    buckets($ev, input_tokens => 7, output_tokens => 3);
};

subtest 'Gemini OpenAI-compatible endpoint: Bearer, OpenAI usage' => sub {
    my ($r, $q, $ev) = call(u => 'https://generativelanguage.googleapis.com/v1beta/openai/chat/completions',
                            body => { %$chat, model => 'gemini-2.0-flash' },
                            headers => ['x-mock-usage' => 'prompt=8,completion=9']);
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-google'], 'Bearer managed key';
    is_deeply header($q, 'x-goog-api-key'), [], 'no x-goog-api-key';
    buckets($ev, input_tokens => 8, output_tokens => 9);
};

# --- Cohere ------------------------------------------------------------------------
subtest 'Cohere v2 chat stream: billed units from message-end' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.cohere.com/v2/chat',
                            body => { model => 'command-a-03-2025', stream => JSON::PP::true,
                                      messages => [{ role => 'user', content => 'hi' }] },
                            headers => ['x-mock-usage' => 'prompt=5,completion=8']);
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-cohere'], 'Bearer';
    like $r->{events}[-1]{text}, qr/^event: message-end/, 'message-end last';
    buckets($ev, input_tokens => 5, output_tokens => 8);
};

# --- voice -------------------------------------------------------------------------
subtest 'ElevenLabs text to speech: xi-api-key, billed by characters of the text' => sub {
    my $text = "Gr\x{fc}\x{df}e aus K\x{f6}ln!";
    my $body = JSON::PP->new->utf8(1)->encode({ text => $text, model_id => 'eleven_multilingual_v2' });
    my ($r, $q, $ev) = call(u => 'https://api.elevenlabs.io/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM',
                            body => $body, auth => ['xi-api-key' => $tok]);
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'}, qr{^audio/mpeg}, 'audio passes through';
    is_deeply header($q, 'xi-api-key'), ['sk-mock-elevenlabs'], 'managed key in xi-api-key';
    no_token_at_provider($q);
    is $ev->{characters}, length $text, 'characters of the text (not bytes)';
    is $ev->{usage_source}, 'reported', 'reported';
    like $ev->{tap_flags} // '', qr/usage_from_request/, 'flagged usage_from_request';
    like $ev->{usage_raw} // '', qr/"character_cost":15/, 'the provider\'s character-cost kept';
};

subtest 'ElevenLabs speech to text: billed by audio duration' => sub {
    my $b = "--xx\r\nContent-Disposition: form-data; name=\"model_id\"\r\n\r\nscribe_v1\r\n--xx--\r\n";
    my ($r, $q, $ev) = call(u => 'https://api.elevenlabs.io/v1/speech-to-text', body => $b,
                            headers => ['Content-Type' => 'multipart/form-data; boundary=xx',
                                        'x-mock-seconds' => '12.345']);
    is $ev->{usage_duration_ms}, 12345, 'usage_duration_ms 12345';
    is $ev->{usage_source}, 'reported', 'reported';
};

subtest 'Retell: an ended call, billed by its duration' => sub {
    my ($r, $q, $ev) = call(method => 'GET', u => 'https://api.retellai.com/v2/get-call/call_abc',
                            headers => ['x-mock-seconds' => '61.5']);
    is $r->{status}, 200, 'status 200';
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-retell'], 'Bearer';
    is $ev->{usage_duration_ms}, 61500, 'usage_duration_ms 61500';
    like $ev->{usage_raw} // '', qr/"call_id":"call_abc"/, 'the call id kept for audit';
};

subtest 'Pearch: billed per request' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.pearch.ai/v2/search', body => { query => 'engineers' });
    is $r->{status}, 200, 'status 200';
    is_deeply header($q, 'authorization'), ['Bearer sk-mock-pearch'], 'Bearer';
    is $ev->{usage_source}, 'none', 'no usage';
    is $ev->{requests}, 1, 'one request';
};

# --- a compressed answer ---------------------------------------------------------
subtest 'gzip from the provider never blinds the tap' => sub {
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/chat/completions', body => $chat,
                            headers => ['x-mock-gzip' => 1, 'x-mock-usage' => 'prompt=77,completion=5']);
    is $r->{headers}{'content-encoding'}, 'gzip', 'the client gets the gzip body';
    my $sent = $s->mock_response($r->{headers}{'x-request-id'});
    is $sent->{sha256}, sha256_hex($r->{body}), 'the compressed bytes unchanged';
    is $ev->{usage_source}, 'reported', 'reported';
    buckets($ev, input_tokens => 77, output_tokens => 5);
    unlike $ev->{tap_flags} // '', qr/compressed/, 'not flagged compressed';

    ($r, $q, $ev) = call(u => 'https://api.anthropic.com/v1/messages', body => $msg,
                         headers => ['x-mock-gzip' => 1, 'x-mock-usage' => 'prompt=12,completion=8']);
    is $r->{headers}{'content-encoding'}, 'gzip', 'a gzip stream';
    buckets($ev, input_tokens => 12, output_tokens => 8);
};

# A provider's gzip bomb: 20 MB of text in a few KB of gzip, no usage. The
# estimate stops at the request's own bound (max_tokens), or the family's
# default without one, and the tap stops inflating early.
subtest 'a gzip bomb without usage bills no more than the request could cost' => sub {
    my @bomb = ('x-mock-gzip' => 1, 'x-mock-no-usage' => 1, 'x-mock-bytes' => 20_000_000);
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/chat/completions',
                            body => { %$chat, max_tokens => 500 }, headers => \@bomb);
    is $r->{status}, 200, 'relayed';
    ok length $r->{body} < 1_000_000, sprintf 'a small body on the wire (%d bytes)', length $r->{body};
    is $ev->{usage_source}, 'estimated', 'estimated, and said so';
    ok $ev->{output_tokens} > 0 && $ev->{output_tokens} <= 500,
       "output capped at max_tokens ($ev->{output_tokens})";
    like $ev->{tap_flags} // '', qr/\bestimate_capped\b/, 'flagged estimate_capped';
    like LavaTest::slurp($s->error_log), qr/inflates more than \d+ times its size/, 'the tap stopped inflating';

    ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/responses',
                         body => { model => 'gpt-4o-mini', input => 'hi', max_output_tokens => 64 },
                         headers => \@bomb);
    ok $ev->{output_tokens} <= 64, "Responses: capped at max_output_tokens ($ev->{output_tokens})";

    ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/chat/completions', body => $chat,
                         headers => \@bomb);
    ok $ev->{output_tokens} > 0 && $ev->{output_tokens} <= 128_000,
       "no bound stated: the family's default ($ev->{output_tokens})";
};

$s->finish;
done_testing;
