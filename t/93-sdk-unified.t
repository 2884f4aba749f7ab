# Real, unmodified clients through the unified and rewrite endpoints (issue
# 14), pinned in t/sdk/package.json and installed by `make sdk-kit` (make
# test runs it) into build/sdk:
#  - the openai Node SDK, baseURL <gateway>/v1, model
#    anthropic/claude-sonnet-4-5, against the mock Anthropic provider: a
#    tool call, without and with streaming, and a provider error in the
#    SDK's own error type;
#  - the Anthropic Node SDK, baseURL <gateway>, model openai/gpt-4o-mini,
#    against the mock OpenAI provider (POST /v1/messages), without and with
#    streaming;
#  - @lavapayments/nodejs gateway(url, {format: 'openai'}) and models.list().
# Each answer is billed from Anthropic's own usage: the booked costs equal
# those of the same usage through the forward endpoint.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_decode json_encode);

my $kit = "$FindBin::Bin/../build/sdk/node_modules";
plan skip_all => "the SDK kit is not installed: run make sdk-kit (npm ci of t/sdk)"
    unless -d "$kit/openai" && -d "$kit/\@lavapayments/nodejs";

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $usage = 'prompt=1200,completion=340';

sub sdk {
    my ($case, %headers) = @_;
    local $ENV{NODE_PATH} = $kit;
    local $ENV{LAVA_GW} = $s->url;
    local $ENV{LAVA_TOKEN} = $m->{token};
    local $ENV{LAVA_SECRET} = $m->{secret};
    local $ENV{LAVA_CUSTOMER} = $m->{customer};
    local $ENV{LAVA_METER} = 'chat';
    local $ENV{LAVA_HEADERS} = json_encode(\%headers);
    my $out = `node $FindBin::Bin/sdk/unified.cjs $case 2>&1`;
    my $r = json_decode((split /\n/, $out)[-1] // '') // { failed => $out };
    diag $r->{failed} if $r->{failed};
    return $r;
}

sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

my @money = qw(base_cost_nusd fee_nusd service_charge_nusd total_nusd);
my $ref = do {
    my $r = $s->request(target => '/v1/forward?u=' . enc('https://api.anthropic.com/v1/messages'),
                        body => { model => 'claude-sonnet-4-5', max_tokens => 64,
                                  messages => [{ role => 'user', content => 'Hello' }] },
                        headers => ['x-api-key' => $m->{token}, 'x-mock-usage' => $usage]);
    $s->wait_booked($r->{rid} // '') // {};
};

sub billed_as_forward {
    my ($rid, $what) = @_;
    my $row = $s->wait_booked($rid // '') // {};
    is $row->{provider}, 'anthropic', "$what: booked to anthropic";
    is $row->{model}, 'claude-sonnet-4-5', "$what: model";
    is $row->{input_tokens}, 1200, "$what: Anthropic's input tokens";
    is $row->{output_tokens}, 340, "$what: Anthropic's output tokens";
    is $row->{outcome}, 'complete', "$what: outcome complete";
    is $row->{$_}, $ref->{$_}, "$what: $_ as on the forward endpoint" for @money;
}

subtest 'openai SDK: chat.completions.create with a tool, model anthropic/claude-sonnet-4-5' => sub {
    my $r = sdk('chat', 'x-mock-tool-call' => 'get_weather', 'x-mock-usage' => $usage);
    my $c = $r->{completion} // {};
    is $c->{object}, 'chat.completion', 'a chat.completion';
    my $choice = $c->{choices}[0] // {};
    is $choice->{finish_reason}, 'tool_calls', 'finish_reason tool_calls';
    my $call = $choice->{message}{tool_calls}[0] // {};
    is $call->{type}, 'function', 'a function call';
    is $call->{function}{name}, 'get_weather', 'of get_weather';
    is_deeply json_decode($call->{function}{arguments} // ''), { city => 'Paris' }, 'its arguments';
    is $c->{usage}{prompt_tokens}, 1200, 'usage.prompt_tokens';
    is $c->{usage}{completion_tokens}, 340, 'usage.completion_tokens';
    like $r->{rid} // '', qr/^req_/, 'x-lava-request-id';
    billed_as_forward($r->{rid}, 'JSON');
};

subtest 'openai SDK: the same, streaming' => sub {
    my $r = sdk('stream', 'x-mock-tool-call' => 'get_weather', 'x-mock-usage' => $usage,
                'x-mock-chunks' => 3);
    ok $r->{chunks} > 2, "chunks ($r->{chunks})";
    ok length($r->{text} // ''), 'text deltas';
    is scalar @{ $r->{calls} // [] }, 1, 'one tool call';
    is $r->{calls}[0]{name}, 'get_weather', 'of get_weather';
    is_deeply json_decode($r->{calls}[0]{arguments} // ''), { city => 'Paris' },
        'its argument deltas joined';
    is $r->{finish}, 'tool_calls', 'finish_reason tool_calls';
    is $r->{usage}{prompt_tokens}, 1200, 'the usage chunk: prompt_tokens';
    is $r->{usage}{completion_tokens}, 340, 'completion_tokens';
    billed_as_forward($r->{rid}, 'SSE');
};

subtest 'openai SDK: a provider error arrives as the SDK\'s APIError, status kept' => sub {
    my $r = sdk('error', 'x-mock-status' => 529);
    ok $r->{error} && $r->{error}{api}, 'an OpenAI.APIError';
    is $r->{error}{status}, 529, 'status 529 kept';
};

my $oa_ref = do {
    my $r = $s->request(target => '/v1/forward?u=' . enc('https://api.openai.com/v1/chat/completions'),
                        body => LavaTest::chat_body(),
                        headers => [Authorization => "Bearer $m->{token}", 'x-mock-usage' => $usage]);
    $s->wait_booked($r->{rid} // '') // {};
};

subtest 'Anthropic SDK: messages.create, model openai/gpt-4o-mini' => sub {
    my $r = sdk('messages', 'x-mock-usage' => $usage);
    my $msg = $r->{message} // {};
    is $msg->{type}, 'message', 'an Anthropic message';
    is $msg->{role}, 'assistant', 'from the assistant';
    ok length(($msg->{content}[0] // {})->{text} // ''), 'with text';
    is $msg->{stop_reason}, 'end_turn', 'stop_reason end_turn';
    is $msg->{usage}{input_tokens}, 1200, 'usage.input_tokens';
    is $msg->{usage}{output_tokens}, 340, 'usage.output_tokens';
    my $row = $s->wait_booked($r->{rid} // '') // {};
    is $row->{provider}, 'openai', 'booked to openai';
    is $row->{$_}, $oa_ref->{$_}, "$_ as on the forward endpoint" for @money;
};

subtest 'Anthropic SDK: messages.stream, model openai/gpt-4o-mini' => sub {
    my $r = sdk('messages_stream', 'x-mock-usage' => $usage, 'x-mock-chunks' => 3);
    my @t = @{ $r->{types} // [] };
    is $t[0], 'message_start', 'message_start first';
    is $t[-1], 'message_stop', 'message_stop last';
    ok scalar(grep { $_ eq 'content_block_delta' } @t) >= 1, 'content_block_delta events';
    is $r->{message}{usage}{output_tokens}, 340, 'the final message\'s output_tokens';
};

subtest '@lavapayments/nodejs gateway(url, {format: "openai"})' => sub {
    my $r = sdk('gateway', 'x-mock-usage' => $usage);
    my $c = $r->{completion} // {};
    is $c->{object}, 'chat.completion', 'an OpenAI chat.completion from Anthropic';
    ok length($c->{choices}[0]{message}{content} // ''), 'with the text';
    is $c->{usage}{prompt_tokens}, 1200, 'usage.prompt_tokens';
};

subtest '@lavapayments/nodejs models.list()' => sub {
    my $r = sdk('models');
    is $r->{list}{object}, 'list', 'object list';
    my %ids = map { $_->{id} => $_ } @{ $r->{list}{data} // [] };
    ok $ids{'anthropic/claude-sonnet-4-5'}, 'anthropic/claude-sonnet-4-5';
    is $ids{'anthropic/claude-sonnet-4-5'}{owned_by}, 'anthropic', 'owned_by';
};

$s->finish;
done_testing;
