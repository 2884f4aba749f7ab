# The bounds on reading an answer on after its client left (t/36 has the
# byte bound, lava_drain_bytes): past lava_drain_timeout, or beyond
# lava_drain_max answers drained at once in a worker, the upstream is closed
# and the request is booked with an estimate, flagged as such; within them
# the provider's own usage is read. The deadline runs from the moment the
# client leaves, even when the provider says nothing more; one payer's aborts
# take at most lava_drain_per_payer of the slots (issue 11, class 9).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

use LavaTest qw(json_encode wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $body = { model => 'gpt-4o-mini', stream => JSON::PP::true,
             messages => [{ role => 'user', content => 'Tell me a long story' }] };

# A stream the client leaves after its second event; the provider goes on
# for chunks x 100 ms. Returns the response and the provider's answer record.
sub left_stream {
    my ($chunks, $token) = @_;
    my $r = $s->stream(target => $T, body => $body,
                       headers => [Authorization => 'Bearer ' . ($token // $m->{token}),
                                   'x-mock-chunks' => $chunks,
                                   'x-mock-chunk-delay-ms' => 100,
                                   'x-mock-usage' => "prompt=100,completion=$chunks"],
                       on_event => sub { $_[1] >= 1 ? 'abort' : undef });
    ok $r->{aborted}, 'the client left after two events';
    return $r;
}

# --- lava_drain_timeout --------------------------------------------------------------

$s->configure_nginx(http => ['lava_drain_timeout 1s;']);
{
    my $r = left_stream(50);        # 5 s of answer, 1 s of draining allowed
    my $ev = $s->wait_event($r->{rid}, 20);
    is $ev->{outcome}, 'client_abort', 'timeout: outcome client_abort';
    is $ev->{usage_source}, 'estimated', 'timeout: booked with an estimate, and said so';
    my $sent = $s->mock_response($r->{headers}{'x-request-id'}, 15);
    ok $sent && !$sent->{complete}, 'timeout: the provider stream was closed past the bound';
    ok $s->wait_booked($r->{rid}), 'timeout: booked';
}
{
    my $r = left_stream(5);         # 0.5 s: within the bound
    my $ev = $s->wait_event($r->{rid}, 20);
    is $ev->{usage_source}, 'reported', 'within the timeout: the provider\'s own usage';
    is_deeply [@$ev{qw(input_tokens output_tokens)}], [100, 5], 'within the timeout: all tokens';
}

# A provider silent after the client left (20 s after its first content
# event): the deadline runs from the abort, not from the next write.
{
    my $r = $s->stream(target => $T, body => $body,
                       headers => [Authorization => "Bearer $m->{token}", 'x-mock-chunks' => 5,
                                   'x-mock-hold-ms' => 20_000,
                                   'x-mock-usage' => 'prompt=100,completion=5'],
                       on_event => sub { $_[1] >= 1 ? 'abort' : undef });
    ok $r->{aborted}, 'silent: the client left';
    my $left = time;
    my $ev = $s->wait_event($r->{rid}, 8);
    ok $ev, 'silent: booked without waiting for the provider';
    ok $ev && time - $left < 6, sprintf 'silent: within the drain deadline (%.1f s)', time - $left;
    is $ev->{outcome}, 'client_abort', 'silent: outcome client_abort';
    is $ev->{usage_source}, 'estimated', 'silent: an estimate, said so';
    like $ev->{tap_flags} // '', qr/\babort_estimate\b/, 'silent: flagged abort_estimate';
    ok $ev->{input_tokens} > 0, 'silent: the prompt is billed';
    my $sent = $s->mock_response($r->{headers}{'x-request-id'}, 25);
    ok $sent && !$sent->{complete}, 'silent: the provider stream was closed';
}

# Silent before the answer began: the prompt the provider got is billed, the
# request does not wait for the headers (x-mock-delay-ms: 20 s).
{
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}) or die;
    my $id = LavaTest::test_id();
    my $json = json_encode({ %$body, stream => JSON::PP::false });
    print $sock "POST $T HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $m->{token}\r\n"
              . "x-mock-delay-ms: 20000\r\nx-test-id: $id\r\nx-lava-metadata: {\"t\":\"$id\"}\r\n"
              . "Content-Type: application/json\r\n"
              . "Content-Length: " . length($json) . "\r\n\r\n$json";
    my $q = wait_for(5, sub { ($s->mock_requests($id))[0] });
    ok $q, 'silent head: the request reached the provider';
    close $sock;
    my $left = time;
    my $ev = wait_for(8, sub {
        my @e = map { LavaTest::entry_events($_->[1]) } $s->redis('xrange', 'lava:usage', '-', '+');
        (grep { ($_->{metadata} // '') =~ /\Q$id\E/ } @e)[0];
    });
    ok $ev && time - $left < 6, sprintf 'silent head: booked within the drain deadline (%.1f s)', time - $left;
    is $ev && $ev->{outcome}, 'client_abort', 'silent head: outcome client_abort';
    is $ev && $ev->{usage_source}, 'estimated', 'silent head: an estimate';
    ok $ev && $ev->{input_tokens} > 0, 'silent head: the prompt the provider got is billed';
    like $ev && $ev->{tap_flags} // '', qr/\babort_estimate\b/, 'silent head: flagged abort_estimate';
}

# --- lava_drain_max ----------------------------------------------------------------------

# One drain per worker, two workers: of four answers left within the same
# second, at most two are read on; the others are closed and estimated.
$s->configure_nginx(http => ['lava_drain_timeout 30s;', 'lava_drain_max 1;']);
{
    my @r = map { left_stream(30) } 1 .. 4;     # 3 s each, left within ~1 s
    my @ev = map { $s->wait_event($_->{rid}, 20) } @r;
    is scalar(grep { ($_->{outcome} // '') eq 'client_abort' } @ev), 4, 'max: four client_abort events';
    my $reported = grep { $_->{usage_source} eq 'reported' } @ev;
    my $estimated = grep { $_->{usage_source} eq 'estimated' } @ev;
    ok $reported >= 1 && $reported <= 2, "max: one drain per worker read on ($reported of 4)";
    is $estimated, 4 - $reported, 'max: the others booked with an estimate';
    for my $i (grep { $ev[$_]{usage_source} eq 'reported' } 0 .. 3) {
        is $ev[$i]{output_tokens}, 30, 'max: a drained answer booked with all its tokens';
    }
    my $closed = grep { my $a = $s->mock_response($_->{headers}{'x-request-id'}, 15); $a && !$a->{complete} } @r;
    is $closed, $estimated, 'max: the provider streams beyond the bound were closed';
    like LavaTest::slurp($s->error_log), qr/client left \(lava_drain_max\)/, 'max: logged';
}

# --- lava_drain_per_payer -----------------------------------------------------------

# One worker, two slots, one per payer: a customer who leaves two answers
# holds one slot; the other customer's abort is still read to its usage.
$s->configure_nginx(http => ['lava_drain_timeout 30s;', 'lava_drain_max 2;', 'lava_drain_per_payer 1;'],
                    while_stopped => sub {
    my $conf = "$s->{dir}/nginx/nginx.conf";
    my $text = LavaTest::slurp($conf);
    $text =~ s/^worker_processes \d+;/worker_processes 1;/m or die "no worker_processes in $conf\n";
    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh $text;
    close $fh or die "$conf: $!\n";
});
{
    my $other = $s->setup_merchant(name => 'Other Merchant');
    my @mine = map { left_stream(30) } 1 .. 2;              # 3 s each
    my $theirs = left_stream(10, $other->{token});         # 1 s
    my @ev = map { $s->wait_event($_->{rid}, 20) } @mine, $theirs;
    is_deeply [map { $_->{outcome} // '' } @ev], [('client_abort') x 3], 'per payer: three client_abort events';
    is $ev[0]{usage_source}, 'reported', 'per payer: the first answer of a payer is read on';
    is $ev[1]{usage_source}, 'estimated', 'per payer: his second is booked with an estimate';
    like $ev[1]{tap_flags} // '', qr/\babort_estimate\b/, 'per payer: flagged abort_estimate';
    is $ev[2]{usage_source}, 'reported', 'per payer: another payer\'s abort still finds a slot';
    is $ev[2]{output_tokens}, 10, 'per payer: with all its tokens';
    like LavaTest::slurp($s->error_log), qr/\(lava_drain_per_payer\)/, 'per payer: logged';
}

$s->finish;
done_testing;
