# The mock provider on its own: the other tests rely on what it answers and
# on what it records, so both are checked here first (no nginx involved).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(json_decode wait_for);

my $dir = tempdir('lava-mock-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', "$dir/mock.err";
    exec $^X, "$LavaTest::ROOT/scripts/mock-provider", '--listen', '127.0.0.1:0',
         '--log', "$dir/requests.jsonl", '--port-file', "$dir/port";
    die "exec: $!";
}
END { if ($pid) { kill 'TERM', $pid; waitpid $pid, 0 } }

my $port = wait_for(10, sub { -s "$dir/port" && LavaTest::slurp("$dir/port") =~ /(\d+)/ && $1 })
    or BAIL_OUT('the mock provider did not start');
my $c = LavaTest->client($port);
my $body = LavaTest::chat_body();

sub log_entries { map { json_decode($_) } LavaTest::slurp_lines("$dir/requests.jsonl") }

# Non-streaming chat completion: OpenAI's shape, with usage details.
my $r = $c->request(target => '/v1/chat/completions', body => $body,
                    headers => [Authorization => 'Bearer sk-test', 'x-test-id' => 'a1']);
is $r->{status}, 200, 'chat completion answers 200';
like $r->{headers}{'content-type'}, qr{^application/json}, 'JSON response';
like $r->{headers}{'x-request-id'}, qr/^req_[0-9a-f]{32}$/, 'x-request-id like OpenAI';
is $r->{json}{object}, 'chat.completion', 'object chat.completion';
is $r->{json}{model}, 'gpt-4o-mini', 'model gpt-4o-mini';
ok $r->{json}{usage}{prompt_tokens} > 0, 'usage.prompt_tokens';
is $r->{json}{usage}{prompt_tokens_details}{cached_tokens}, 0, 'usage.prompt_tokens_details.cached_tokens';
is $r->{json}{usage}{total_tokens},
   $r->{json}{usage}{prompt_tokens} + $r->{json}{usage}{completion_tokens}, 'total_tokens adds up';

my ($req) = grep { $_->{method} } log_entries();
is $req->{target}, '/v1/chat/completions', 'log: target';
is $req->{host}, "127.0.0.1:$port", 'log: Host';
is_deeply [LavaTest::header_values($req, 'authorization')], ['Bearer sk-test'], 'log: headers';
is $req->{body_sha256}, sha256_hex(LavaTest::json_encode($body)), 'log: body digest';
# the mock writes its response record after the last byte is sent: wait for it
my $resp = LavaTest::wait_for(5, sub {
    (grep { ($_->{response_to} // '') eq $req->{request_id} } log_entries())[0] });
is $resp->{sha256}, sha256_hex($r->{body}), 'log: response digest matches what was sent';
ok $resp->{complete}, 'log: response complete';

# Usage given by the test.
$r = $c->request(target => '/v1/chat/completions', body => $body,
                 headers => ['x-mock-usage' => 'prompt=1200,cached=1000,completion=300,reasoning=20']);
is_deeply [@{ $r->{json}{usage} }{qw(prompt_tokens completion_tokens)}], [1200, 300], 'x-mock-usage';
is $r->{json}{usage}{completion_tokens_details}{reasoning_tokens}, 20, 'reasoning tokens';

# Streaming with include_usage: chunks, a usage chunk with no choices, [DONE].
my $t0 = time;
$r = $c->stream(target => '/v1/chat/completions', body => LavaTest::chat_body(stream => 1),
                headers => ['x-mock-chunks' => 5, 'x-mock-chunk-delay-ms' => 100]);
is $r->{status}, 200, 'stream answers 200';
like $r->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream';
ok $r->{complete}, 'chunked body ended';
my @ev = map { $_->{text} } @{ $r->{events} };
is scalar @ev, 1 + 5 + 1 + 1 + 1, 'role chunk, 5 content chunks, finish chunk, usage chunk, [DONE]';
is $ev[-1], 'data: [DONE]', 'ends with [DONE]';
my $u = json_decode(substr $ev[-2], 6);
is_deeply $u->{choices}, [], 'usage chunk has no choices';
is $u->{usage}{completion_tokens}, 5, 'usage chunk counts the content chunks';
ok $r->{events}[-1]{t} - $r->{events}[0]{t} >= 0.4, 'events are spread over time';

# Without include_usage there is no usage chunk.
$r = $c->stream(target => '/v1/chat/completions', body => { model => 'gpt-4o-mini', stream => JSON::PP::true },
                headers => ['x-mock-chunks' => 2, 'x-mock-chunk-delay-ms' => 0]);
ok !(grep { /"usage"/ } map { $_->{text} } @{ $r->{events} }), 'no usage without include_usage';

# Provider error.
$r = $c->request(target => '/v1/chat/completions', body => $body, headers => ['x-mock-status' => 429]);
is $r->{status}, 429, 'x-mock-status: 429';
is $r->{json}{error}{type}, 'rate_limit_error', 'OpenAI error JSON';

# A multi-megabyte stream.
$r = $c->stream(target => '/v1/chat/completions', body => LavaTest::chat_body(stream => 1),
                headers => ['x-mock-bytes' => 3_000_000]);
ok length($r->{body}) > 3_000_000, 'x-mock-bytes: 3 MB stream';
ok $r->{complete}, 'big stream complete';

# Cut mid-stream: the chunked body never ends.
$r = $c->stream(target => '/v1/chat/completions', body => LavaTest::chat_body(stream => 1),
                headers => ['x-mock-cut-after' => 2, 'x-mock-chunk-delay-ms' => 0]);
ok !$r->{complete}, 'x-mock-cut-after: body not ended';
is scalar(grep { /"content"/ } map { $_->{text} } @{ $r->{events} }), 3, 'role chunk and 2 content chunks';

# Anthropic messages, streaming: message_delta carries the output usage.
$r = $c->stream(target => '/v1/messages',
                body => { model => 'claude-sonnet-4-5', max_tokens => 10, stream => JSON::PP::true,
                          messages => [{ role => 'user', content => 'hi' }] },
                headers => ['x-mock-chunks' => 3, 'x-mock-chunk-delay-ms' => 0]);
like $r->{headers}{'request-id'}, qr/^req_/, 'Anthropic request-id';
like $r->{events}[0]{text}, qr/^event: message_start\n/, 'message_start first';
like $r->{events}[-1]{text}, qr/^event: message_stop\n/, 'message_stop last';

# Keep-alive: two requests on one connection (what nginx's upstream keepalive does).
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    my $one = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
    print $s $one, $one;
    my $got = '';
    my $deadline = time + 5;
    while (time < $deadline && (() = $got =~ /"object":"list"/g) < 2) {
        IO::Select->new($s)->can_read(1) or next;
        sysread($s, $got, 65536, length $got) or last;
    }
    is scalar(() = $got =~ m{HTTP/1\.1 200}g), 2, 'two responses on one connection';
}

done_testing;
