# Small gaps real clients found on the forward endpoint (issue 14):
#  - a client that stops reading at the stream's final event (openai-node
#    7.x at [DONE], Anthropic message_stop, Gemini's chunk with a
#    finishReason) and closes at once: the stream was relayed to its end,
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

done_testing;
