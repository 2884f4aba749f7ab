# Streams pass through undelayed and byte-identical, whatever their size, and
# the usage in the final SSE chunk is still read.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use File::Find;
use POSIX ();
use Test::More;
use Time::HiRes qw(time);

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my @auth = (Authorization => "Bearer $m->{token}", Accept => 'application/json',
            'Accept-Encoding' => 'gzip, deflate');

# The first event reaches the client while the provider is still streaming:
# the mock holds the stream for 2 s after its first content event.
{
    my ($first_at, $mock_done_at_first);
    my $r = $s->stream(target => $T, body => LavaTest::chat_body(stream => 1),
                       headers => [@auth, 'x-mock-chunks' => 4, 'x-mock-hold-ms' => 2000,
                                   'x-mock-usage' => 'prompt=50,cached=0,completion=4'],
                       on_event => sub {
                           my ($ev, $i, $r) = @_;
                           return unless $ev->{text} =~ /"content":"This"/;
                           $first_at = $ev->{t} - $r->{t_start};
                           # has the mock finished this response yet?
                           $mock_done_at_first = $s->mock_response($r->{headers}{'x-request-id'}, 0) ? 1 : 0;
                           return;
                       });
    is $r->{status}, 200, 'stream: 200';
    like $r->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream';
    ok defined $first_at && $first_at < 1.0, sprintf 'first content event after %.3fs, before the hold ends', $first_at // -1;
    is $mock_done_at_first, 0, 'the provider had not finished when the first event arrived';
    ok $r->{t_end} - $r->{t_start} >= 2.0, 'the stream ended after the hold';
    ok $r->{complete}, 'the stream ended properly';
    is $r->{events}[-1]{text}, 'data: [DONE]', 'ends with [DONE]';
    my $row = $s->wait_booked($r->{rid});
    is $row->{stream}, 1, 'booked as a stream';
    is $row->{usage_source}, 'reported', 'usage read from the final chunk';
    is_deeply [@$row{qw(input_tokens output_tokens)}], [50, 4], 'usage 50 in, 4 out';
}

# Every event is passed on as it comes: the client sees them spread over time
# like the provider sent them.
{
    my $r = $s->stream(target => $T, body => LavaTest::chat_body(stream => 1),
                       headers => [@auth, 'x-mock-chunks' => 6, 'x-mock-chunk-delay-ms' => 250]);
    my @content = grep { $_->{text} =~ /"content":"[^"]/ } @{ $r->{events} };
    is scalar @content, 6, 'six content events';
    my @gaps = map { $content[$_]{t} - $content[$_ - 1]{t} } 1 .. $#content;
    my $smallest = (sort { $a <=> $b } @gaps)[0];
    ok $smallest > 0.15, sprintf 'each event arrives on its own (smallest gap %.3fs)', $smallest;
}

# A multi-megabyte stream passes byte for byte, and its usage is still read.
{
    my $size = 6_000_000;
    my $r = $s->stream(target => $T, body => LavaTest::chat_body(stream => 1), timeout => 60,
                       headers => [@auth, 'x-mock-bytes' => $size,
                                   'x-mock-usage' => 'prompt=4000,cached=1000,completion=200000']);
    is $r->{status}, 200, 'big stream: 200';
    ok $r->{complete}, 'big stream complete';
    ok length($r->{body}) > $size, sprintf 'received %d bytes', length $r->{body};
    my $sent = $s->mock_response($r->{headers}{'x-request-id'});
    is $sent->{bytes}, length($r->{body}), 'as many bytes as the provider sent';
    is $sent->{sha256}, sha256_hex($r->{body}), 'byte-identical (sha256)';
    my $row = $s->wait_booked($r->{rid});
    is_deeply [@$row{qw(input_tokens cached_input_tokens output_tokens)}], [3000, 1000, 200000],
        'usage of the last chunk booked';
    my $ev = $s->event($r->{rid});
    is $ev->{bytes_out}, length($r->{body}), 'event: bytes_out' if defined $ev->{bytes_out};
    # with proxy_buffering off nothing of it was written to disk
    my @files;
    find(sub { push @files, $File::Find::name if -f }, "$s->{dir}/nginx/tmp");
    is_deeply \@files, [], 'no temp files under the nginx temp paths';
}

# Several streams at once interleave without mixing.
{
    my @pids;
    my $dir = $s->dir;
    for my $n (1 .. 4) {
        my $pid = fork // die;
        if (!$pid) {
            my $r = $s->stream(target => $T, body => LavaTest::chat_body(stream => 1),
                               headers => [@auth, 'x-mock-bytes' => 500_000 * $n, 'x-mock-chunk-delay-ms' => 1]);
            my $sent = $s->mock_response($r->{headers}{'x-request-id'});
            # _exit: the END blocks (stack shutdown) belong to the parent
            POSIX::_exit(($sent && $sent->{sha256} eq sha256_hex($r->{body}) && $r->{complete}) ? 0 : 1);
        }
        push @pids, $pid;
    }
    my $ok = 0;
    for (@pids) { waitpid $_, 0; $ok++ if $? == 0 }
    is $ok, 4, 'four concurrent streams, each byte-identical';
}

# A stream known only from the provider's Content-Type (no "stream" in the body).
{
    my $r = $s->stream(target => $T, body => LavaTest::chat_body(),
                       headers => [@auth, 'x-mock-stream' => 1, 'x-mock-chunks' => 3]);
    like $r->{headers}{'content-type'}, qr{^text/event-stream}, 'SSE without "stream": true';
    my $ev = $s->wait_event($r->{rid});
    is $ev->{stream}, '1', 'event: stream 1 from the Content-Type';
}

# Non-streaming JSON: usage from the usage object, with the OpenAI details
# split into buckets (prompt includes cached, completion includes reasoning).
{
    my $r = $s->request(target => $T, body => LavaTest::chat_body(), headers => [@auth,
                        'x-mock-usage' => 'prompt=1200,cached=1000,completion=300,reasoning=100']);
    is $r->{status}, 200, 'JSON: 200';
    my $ev = $s->wait_event($r->{rid});
    is $ev->{stream}, '0', 'event: stream 0';
    is $ev->{usage_source}, 'reported', 'event: usage reported';
    is_deeply [@$ev{qw(input_tokens cached_input_tokens output_tokens reasoning_tokens)}],
              [200, 1000, 200, 100], 'event: buckets never overlap';
    like $ev->{usage_raw} // '', qr/"prompt_tokens":\s*1200/, 'event: the raw usage object';
    is $ev->{model}, 'gpt-4o-mini', 'event: model';
}

$s->finish;
done_testing;
