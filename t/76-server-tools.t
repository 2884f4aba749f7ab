# Server-side tools (issue 11, class 14): what a provider bills per call is
# counted and priced. Anthropic web search and web fetch
# (usage.server_tool_use), OpenAI Responses web searches (web_search_call
# output items), Gemini grounding with Google Search (groundingMetadata) are
# booked in web_search_calls, web_fetch_calls and grounded_prompts and priced
# from the rate's per-call columns, JSON and streams alike. A request asking
# for a server-side tool the gateway cannot count is refused with the managed
# key (403 tool_not_metered, JSON, request id, booked as refused; the
# provider sees nothing) and served with the user's own key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my @bearer = (Authorization => "Bearer $m->{token}");
my $byok = 'sk-byok-tools-5e1b9c7d3a';
$s->register_secret($byok, 'BYOK provider key');

sub enc { (my $u = shift) =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $u }

my $OAI = 'https://api.openai.com';
my $ANT = 'https://api.anthropic.com/v1/messages';
my $GEM = 'https://generativelanguage.googleapis.com/v1beta/models';

# One request; returns (answer, provider's view or undef, event).
sub call {
    my (%a) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => '/v1/forward?u=' . enc($a{u}),
                        body => $a{body},
                        headers => [@bearer, 'x-test-id' => $id, @{ $a{headers} // [] }]);
    my $ev = $s->wait_event($r->{rid} // 'none') // {};
    my @seen = $s->mock_requests($id);
    return ($r, $seen[0], $ev);
}

sub booked {
    my ($r) = @_;
    return $s->wait_booked($r->{rid} // 'none') || do { fail(($r->{rid} // 'no id') . ' booked'); {} };
}

# The base cost a row should have: its tokens at its rate, plus the tool
# calls at theirs (each amount a whole number of nano-USD here).
sub expected_base {
    my ($row) = @_;
    my $cost = 0;
    $cost += $row->{input_tokens} * $row->{input_nusd_per_1m} / 1_000_000;
    $cost += $row->{output_tokens} * $row->{output_nusd_per_1m} / 1_000_000;
    $cost += $row->{web_search_calls} * ($row->{web_search_nusd} // 0);
    $cost += $row->{web_fetch_calls} * ($row->{web_fetch_nusd} // 0);
    $cost += $row->{grounded_prompts} * ($row->{grounded_prompt_nusd} // 0);
    return $cost;
}

my @usage = ('x-mock-usage' => 'prompt=1000,completion=1000');

# ---- counted and priced ------------------------------------------------------

my $ant_tools = [{ type => 'web_search_20250305', name => 'web_search', max_uses => 5 },
                 { type => 'web_fetch_20250910', name => 'web_fetch' }];

for my $stream (0, 1) {
    my $how = $stream ? 'stream' : 'JSON';
    subtest "Anthropic web search and fetch, $how" => sub {
        my ($r, $q, $ev) = call(u => $ANT,
            body => { model => 'claude-sonnet-4-5', max_tokens => 100, tools => $ant_tools,
                      messages => [{ role => 'user', content => 'Search the news' }],
                      ($stream ? (stream => JSON::PP::true) : ()) },
            headers => [@usage, 'x-mock-searches' => 3, 'x-mock-fetches' => 2]);
        is $r->{status}, 200, 'served' or diag $r->{body};
        ok $q, 'the provider got it';
        is $ev->{web_search_calls}, 3, 'event: 3 web searches';
        is $ev->{web_fetch_calls}, 2, 'event: 2 web fetches';
        my $row = booked($r);
        is $row->{price_state}, 'priced', 'priced';
        is $row->{web_search_nusd}, 10_000_000, 'a search costs $0.01';
        is $row->{web_fetch_nusd}, 0, 'a fetch costs nothing beyond its tokens';
        is $row->{base_cost_nusd}, 3_000_000 + 15_000_000 + 30_000_000,
           'base cost: tokens plus 3 searches';
        is $row->{base_cost_nusd}, expected_base($row), 'base cost from the row';
    };
}

for my $stream (0, 1) {
    my $how = $stream ? 'stream' : 'JSON';
    subtest "OpenAI Responses web search, $how" => sub {
        my ($r, $q, $ev) = call(u => "$OAI/v1/responses",
            body => { model => 'gpt-5', input => 'What happened today?',
                      tools => [{ type => 'web_search' }],
                      ($stream ? (stream => JSON::PP::true) : ()) },
            headers => [@usage, 'x-mock-searches' => 2]);
        is $r->{status}, 200, 'served' or diag $r->{body};
        is $ev->{web_search_calls}, 2, 'event: 2 web searches';
        my $row = booked($r);
        is $row->{price_state}, 'priced', 'priced';
        is $row->{web_search_nusd}, 10_000_000, 'a web_search call costs $0.01';
        is $row->{base_cost_nusd}, 1_250_000 + 10_000_000 + 20_000_000,
           'base cost: tokens plus 2 searches';
    };
}

for my $c (['gemini-2.5-flash', 0, 3], ['gemini-3.5-flash', 1, 2]) {
    my ($model, $stream, $n) = @$c;
    my $how = $stream ? 'stream' : 'JSON';
    subtest "Gemini grounding with Google Search, $model, $how" => sub {
        my $path = $stream ? ':streamGenerateContent?alt=sse' : ':generateContent';
        my ($r, $q, $ev) = call(u => "$GEM/$model$path",
            body => { contents => [{ role => 'user', parts => [{ text => 'Who won?' }] }],
                      tools => [{ google_search => {} }] },
            headers => [@usage, 'x-mock-searches' => $n]);
        is $r->{status}, 200, 'served' or diag $r->{body};
        is $ev->{web_search_calls}, $n, "event: $n search queries";
        is $ev->{grounded_prompts}, 1, 'event: one grounded prompt';
        my $row = booked($r);
        is $row->{price_state}, 'priced', 'priced';
        if ($model =~ /^gemini-2/) {
            is $row->{grounded_prompt_nusd}, 35_000_000, 'Gemini 2.5: $0.035 per grounded prompt';
            is $row->{web_search_nusd}, 0, '... its queries free';
        } else {
            is $row->{web_search_nusd}, 14_000_000, 'Gemini 3: $0.014 per search query';
            is $row->{grounded_prompt_nusd}, 0, '... the prompt itself free';
        }
        ok $row->{base_cost_nusd} > 0, 'a base cost';
        is $row->{base_cost_nusd}, expected_base($row), 'base cost: tokens plus the grounding';
    };
}

subtest 'a tool call without a price is unpriced, never free' => sub {
    # xAI's rates price tokens only (no web search price seeded)
    my ($r, $q, $ev) = call(u => 'https://api.x.ai/v1/responses',
        body => { model => 'grok-4', input => 'hi', tools => [{ type => 'web_search' }] },
        headers => [@usage, 'x-mock-searches' => 1]);
    is $r->{status}, 200, 'served';
    my $row = booked($r);
    is $row->{web_search_calls}, 1, 'one search booked';
    is $row->{price_state}, 'unpriced', 'unpriced';
    like $row->{price_note} // '', qr/no web search price/, 'for want of a web search price';
};

# ---- client tools and counted tools pass -----------------------------------------

my @served = (
    ['Chat function tool', "$OAI/v1/chat/completions",
     { %{ LavaTest::chat_body() }, tools => [{ type => 'function', function => { name => 'f', parameters => {} } }] }],
    ['Responses function and computer tools', "$OAI/v1/responses",
     { model => 'gpt-5', input => 'hi', tools => [{ type => 'function', name => 'f', parameters => {} },
                                                  { type => 'computer_use_preview', display_width => 1024,
                                                    display_height => 768, environment => 'browser' }] }],
    ['Anthropic custom and bash tools', $ANT,
     { model => 'claude-sonnet-4-5', max_tokens => 9, messages => [{ role => 'user', content => 'Hi' }],
       tools => [{ name => 'f', input_schema => { type => 'object' } },
                 { type => 'bash_20250124', name => 'bash' }] }],
    ['Anthropic code execution beside web search 20260209 (free)', $ANT,
     { model => 'claude-sonnet-4-5', max_tokens => 9, messages => [{ role => 'user', content => 'Hi' }],
       tools => [{ type => 'web_search_20260209', name => 'web_search' },
                 { type => 'code_execution_20250825', name => 'code_execution' }] }],
    ['Gemini functions, code execution, URL context', "$GEM/gemini-2.5-flash:generateContent",
     { contents => [{ role => 'user', parts => [{ text => 'Hi' }] }],
       tools => [{ functionDeclarations => [{ name => 'f' }] }, { codeExecution => {} },
                 { url_context => {} }] }],
);

for my $c (@served) {
    my ($name, $u, $body) = @$c;
    subtest "managed key: $name served" => sub {
        my ($r, $q, $ev) = call(u => $u, body => $body);
        is $r->{status}, 200, 'status 200' or diag $r->{body};
        ok $q, 'the provider got it';
        is $ev->{outcome}, 'complete', 'event: complete';
    };
}

# ---- uncountable tools: refused with the managed key --------------------------------

my $resp = sub { +{ model => 'gpt-5', input => 'hi', tools => [@_] } };
my $ant = sub { +{ model => 'claude-sonnet-4-5', max_tokens => 9,
                   messages => [{ role => 'user', content => 'Hi' }], @_ } };
my $gem = sub { +{ contents => [{ role => 'user', parts => [{ text => 'Hi' }] }], tools => [@_] } };

my @refused = (
    ['Responses file_search', "$OAI/v1/responses", $resp->({ type => 'file_search', vector_store_ids => ['vs_1'] })],
    ['Responses code_interpreter', "$OAI/v1/responses",
     $resp->({ type => 'code_interpreter', container => { type => 'auto' } })],
    ['Responses image_generation', "$OAI/v1/responses", $resp->({ type => 'image_generation' })],
    ['Responses hosted mcp', "$OAI/v1/responses",
     $resp->({ type => 'mcp', server_label => 'x', server_url => 'https://mcp.example/sse' })],
    ['Responses web_search_preview', "$OAI/v1/responses", $resp->({ type => 'web_search_preview' })],
    ['Responses hosted shell', "$OAI/v1/responses", $resp->({ type => 'shell' })],
    ['Responses tool type in another case', "$OAI/v1/responses", $resp->({ type => 'Web_Search' })],
    ['Responses tool without a type', "$OAI/v1/responses", $resp->({ name => 'f' })],
    ['Responses "Type" beside "type"', "$OAI/v1/responses",
     $resp->({ type => 'function', Type => 'file_search', name => 'f' })],
    ['Responses tools not an array', "$OAI/v1/responses",
     { model => 'gpt-5', input => 'hi', tools => { type => 'file_search' } }],
    ['Responses stored prompt', "$OAI/v1/responses",
     { model => 'gpt-5', prompt => { id => 'pmpt_123' } }],
    ['Responses duplicate tools, the last uncounted', "$OAI/v1/responses",
     '{"model":"gpt-5","input":"hi","tools":[{"type":"web_search"}],"tools":[{"type":"file_search"}]}'],
    ['Responses escaped key', "$OAI/v1/responses",
     '{"model":"gpt-5","input":"hi","tool\u0073":[{"type":"code_interpreter"}]}'],
    ['Responses escaped type value', "$OAI/v1/responses",
     '{"model":"gpt-5","input":"hi","tools":[{"type":"file\u005fsearch"}]}'],
    ['Chat web_search_options', "$OAI/v1/chat/completions",
     { %{ LavaTest::chat_body() }, web_search_options => {} }],
    ['Chat search model', "$OAI/v1/chat/completions", LavaTest::chat_body(model => 'gpt-4o-search-preview')],
    ['Chat server tool type', "$OAI/v1/chat/completions",
     { %{ LavaTest::chat_body() }, tools => [{ type => 'browser_search' }] }],
    ['xAI chat search_parameters', 'https://api.x.ai/v1/chat/completions',
     { %{ LavaTest::chat_body(model => 'grok-4') }, search_parameters => { mode => 'on' } }],
    ['Anthropic code execution alone', $ANT,
     $ant->(tools => [{ type => 'code_execution_20250825', name => 'code_execution' }])],
    ['Anthropic MCP connector', $ANT,
     $ant->(mcp_servers => [{ type => 'url', url => 'https://mcp.example/sse', name => 'x' }])],
    ['Anthropic unknown server tool', $ANT,
     $ant->(tools => [{ type => 'tool_search_tool_regex_20251119', name => 'tool_search' }])],
    ['Anthropic web search of an unknown version', $ANT,
     $ant->(tools => [{ type => 'web_search_20990101', name => 'web_search' }])],
    ['Gemini Google Maps', "$GEM/gemini-2.5-flash:generateContent", $gem->({ googleMaps => {} })],
    ['Gemini file search', "$GEM/gemini-2.5-flash:generateContent",
     $gem->({ fileSearch => { fileSearchStoreNames => ['x'] } })],
    ['Gemini member in another case', "$GEM/gemini-2.5-flash:generateContent", $gem->({ GoogleSearch => {} })],
    ['Gemini search beside maps in one Tool', "$GEM/gemini-2.5-flash:generateContent",
     $gem->({ googleSearch => {}, google_maps => {} })],
    ['Cohere v1 web-search connector', 'https://api.cohere.com/v1/chat',
     { model => 'command-r', message => 'Hi', connectors => [{ id => 'web-search' }] }],
);

for my $c (@refused) {
    my ($name, $u, $body) = @$c;
    subtest "managed key: $name refused" => sub {
        my ($r, $q, $ev) = call(u => $u, body => $body);
        is $r->{status}, 403, 'status 403' or diag $r->{body};
        is $r->{json} && $r->{json}{error}{code}, 'tool_not_metered', 'tool_not_metered';
        like $r->{rid} // '', qr/^req_[0-9A-HJKMNP-TV-Z]{26}$/, 'with a request id';
        ok !$q, 'the provider saw nothing';
        is $ev->{outcome}, 'refused', 'event: refused';
        is $ev->{error}, 'tool_not_metered', 'event: error tool_not_metered';
    };
}

# a body too large to be read cannot be checked for tools either: it is
# refused before (413 body_too_large_to_meter, t/72), never forwarded
subtest 'managed key: a body too large to check for tools refused' => sub {
    my $big = 'x' x (1024 * 1024 + 10);
    my ($r, $q, $ev) = call(u => $ANT, body => $ant->(messages => [{ role => 'user', content => $big }]));
    is $r->{status}, 413, 'status 413';
    is $r->{json} && $r->{json}{error}{code}, 'body_too_large_to_meter', 'body_too_large_to_meter';
    ok !$q, 'the provider saw nothing';
};

# A chunked body is read for its tools like any other (it ends with an empty
# last buffer that the inspection once took for a body it could not read).
sub chunked {
    my ($u, $body) = @_;
    my $id = LavaTest::test_id();
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}, Timeout => 5)
        or die "connect: $!\n";
    binmode $c;
    my $half = int(length($body) / 2);
    syswrite $c, "POST /v1/forward?u=" . enc($u) . " HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer $m->{token}\r\nx-test-id: $id\r\n"
        . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . sprintf('%x', $half) . "\r\n" . substr($body, 0, $half) . "\r\n"
        . sprintf('%x', length($body) - $half) . "\r\n" . substr($body, $half) . "\r\n0\r\n\r\n";
    my ($buf, $sel, $deadline) = ('', IO::Select->new($c), time + 10);
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread $c, $buf, 65536, length $buf;
        last unless $n;
    }
    close $c;
    my ($status) = $buf =~ m{^HTTP/1\.[01] (\d{3})};
    my ($rid) = $buf =~ m{\r\nx-lava-request-id: (\S+)}i;
    my $ev = $s->wait_event($rid // 'none') // {};
    my @seen = $s->mock_requests($id);
    return ($status // 0, $seen[0], $ev);
}

subtest 'managed key: a chunked body with an uncountable tool refused' => sub {
    my ($status, $q, $ev) = chunked("$OAI/v1/responses",
        json_encode($resp->({ type => 'file_search', vector_store_ids => ['vs_1'] })));
    is $status, 403, 'status 403';
    ok !$q, 'the provider saw nothing';
    is $ev->{error}, 'tool_not_metered', 'event: error tool_not_metered';
};

subtest 'managed key: a chunked body with counted tools served, its model read' => sub {
    my ($status, $q, $ev) = chunked("$OAI/v1/responses",
        json_encode({ model => 'gpt-5', input => 'hi', tools => [{ type => 'web_search' }] }));
    is $status, 200, 'status 200';
    ok $q, 'the provider got it';
    is $ev->{model}, 'gpt-5', 'event: the model of the body';
};

subtest 'managed key: a chunked streaming chat gets include_usage' => sub {
    my ($status, $q, $ev) = chunked("$OAI/v1/chat/completions",
        json_encode({ model => 'gpt-4o-mini', stream => JSON::PP::true,
                      messages => [{ role => 'user', content => 'Hi' }] }));
    is $status, 200, 'status 200';
    my $sent = $q && LavaTest::json_decode($q->{body});
    is_deeply $sent && $sent->{stream_options}, { include_usage => JSON::PP::true },
              'the provider was asked for usage';
    is $ev->{usage_source}, 'reported', 'usage reported';
};

# ---- the user's own key: anything passes ----------------------------------------

for my $c (@refused[0, 4, 11, 14, 18, 22]) {
    my ($name, $u, $body) = @$c;
    subtest "own key: $name served" => sub {
        my ($r, $q, $ev) = call(u => $u, body => $body, headers => ['X-Provider-API-Key' => $byok]);
        is $r->{status}, 200, 'status 200' or diag $r->{body};
        ok $q, 'the provider got it';
        is $ev->{key_source}, 'byok', 'event: byok';
    };
}

$s->finish;
done_testing;
