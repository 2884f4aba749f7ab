# A client that leaves mid-answer does not stop the provider's bill: the
# gateway reads the answer on (and throws it away) to the provider's final
# usage, within lava_drain_bytes (8 MiB by default), or books an estimate
# flagged as such. Also: the usage-only chunk the gateway asked for is cut
# out of a stream whatever the event sizes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;

use LavaTest qw(json_decode json_encode wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my @auth = (Authorization => "Bearer $m->{token}");
my $plain_stream = { model => 'gpt-4o-mini', stream => JSON::PP::true,
                     messages => [{ role => 'user', content => 'Tell me a long story' }] };

# Left after two events; the provider goes on for 2 s: read to its usage.
{
    my $r = $s->stream(target => $T, body => $plain_stream,
                       headers => [@auth, 'x-mock-chunks' => 20, 'x-mock-chunk-delay-ms' => 100,
                                   'x-mock-usage' => 'prompt=200,completion=20'],
                       on_event => sub { $_[1] >= 1 ? 'abort' : undef });
    ok $r->{aborted}, 'the client left after two events';
    my $ev = $s->wait_event($r->{rid}, 15);
    is $ev->{outcome}, 'client_abort', 'outcome client_abort';
    is $ev->{usage_source}, 'reported', 'the provider\'s own usage, read after the client left';
    is_deeply [@$ev{qw(input_tokens output_tokens)}], [200, 20], 'all 20 generated tokens booked';
    my $sent = $s->mock_response($r->{headers}{'x-request-id'}, 10);
    ok $sent && $sent->{complete}, 'the provider finished its answer';
    ok $ev->{bytes_out} < $sent->{bytes}, 'bytes_out counts only what reached the client';
    my $row = $s->wait_booked($r->{rid});
    is $row->{input_tokens}, 200, 'booked';
}

# Past lava_drain_bytes: the upstream is closed and an estimate is booked.
{
    my $r = $s->stream(target => $T, body => $plain_stream, timeout => 60,
                       headers => [@auth, 'x-mock-bytes' => 12_000_000, 'x-mock-chunk-delay-ms' => 0],
                       on_event => sub { $_[1] >= 1 ? 'abort' : undef });
    ok $r->{aborted}, 'the client left a 12 MB stream';
    my $ev = $s->wait_event($r->{rid}, 30);
    is $ev->{outcome}, 'client_abort', 'outcome client_abort';
    is $ev->{usage_source}, 'estimated', 'estimated, and said so';
    ok $ev->{output_tokens} > 100_000, "output estimated from the text seen ($ev->{output_tokens})";
    like $ev->{usage_raw} // '', qr/"estimate":"cut"/, 'usage_raw: an estimate of a cut answer';
    my $sent = $s->mock_response($r->{headers}{'x-request-id'}, 10);
    ok $sent && !$sent->{complete}, 'the provider stream was closed past the bound';
}

# Left before the answer began (a slow, non-streaming completion).
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}) or die;
    my $id = LavaTest::test_id();
    my $body = json_encode(LavaTest::chat_body());
    print $sock "POST $T HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $m->{token}\r\n"
              . "x-mock-delay-ms: 1000\r\nx-mock-usage: prompt=33,completion=4\r\n"
              . "x-test-id: $id\r\nContent-Type: application/json\r\n"
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my $q = wait_for(5, sub { ($s->mock_requests($id))[0] });
    ok $q, 'the request reached the provider';
    close $sock;
    my $mock_rid = $q->{request_id};
    ok $s->mock_response($mock_rid, 10), 'the provider answered';
    my $ev = wait_for(15, sub {
        my @e = map { LavaTest::entry_events($_->[1]) } $s->redis('xrange', 'lava:usage', '-', '+');
        (grep { ($_->{input_tokens} // 0) == 33 } @e)[0];
    });
    ok $ev, 'an event with the provider\'s usage';
    is $ev->{outcome}, 'client_abort', 'outcome client_abort';
    is $ev->{usage_source}, 'reported', 'usage reported';
}

# The usage chunk the gateway asked for is removed from streams of big events
# (held or passed across buffer boundaries), and nothing else is.
{
    my $r = $s->stream(target => $T, body => $plain_stream, timeout => 60,
                       headers => [@auth, 'x-mock-bytes' => 300_000, 'x-mock-chunk-delay-ms' => 0,
                                   'x-mock-usage' => 'prompt=9,completion=3']);
    ok $r->{complete}, 'a 300 KB stream, complete';
    my @ev = grep { !$_->{partial} } @{ $r->{events} };
    my @data = map { json_decode($_->{text} =~ s/^data: //r) } grep { $_->{text} ne 'data: [DONE]' } @ev;
    is scalar(grep { !defined } @data), 0, 'every event whole JSON';
    is scalar(grep { ref $_ && ref $_->{choices} eq 'ARRAY' && !@{ $_->{choices} } } @data), 0,
       'no usage-only chunk';
    my $text = join '', map { $_->{choices}[0]{delta}{content} // '' } grep { ref $_ } @data;
    is length($text), 300_000, 'all content arrived';
    is $ev[-1]{text}, 'data: [DONE]', '[DONE] last';
    my $e = $s->wait_event($r->{rid});
    is $e->{bytes_out}, length $r->{body}, 'bytes_out is what the client got';
    is_deeply [@$e{qw(input_tokens output_tokens usage_source)}], [9, 3, 'reported'], 'usage read';
}

# Events split across reads (each written in three pieces, 30 ms apart): the
# usage chunk is still recognised and removed, everything else arrives whole
# and in order.
{
    my $r = $s->stream(target => $T, body => $plain_stream,
                       headers => [@auth, 'x-mock-chunks' => 5, 'x-mock-split-ms' => 30,
                                   'x-mock-usage' => 'prompt=11,completion=5']);
    ok $r->{complete}, 'a stream of split events, complete';
    my @ev = grep { !$_->{partial} } @{ $r->{events} };
    is scalar(grep { $_->{text} =~ /"choices":\[\]/ } @ev), 0, 'no usage-only chunk';
    is scalar(grep { $_->{text} =~ /"content":/ } @ev), 6, 'the role chunk and five content chunks';
    is $ev[-1]{text}, 'data: [DONE]', '[DONE] last';
    my $e = $s->wait_event($r->{rid});
    is_deeply [@$e{qw(input_tokens output_tokens)}], [11, 5], 'usage read';
    is $e->{bytes_out}, length $r->{body}, 'bytes_out is what the client got';
}

$s->finish;
done_testing;
