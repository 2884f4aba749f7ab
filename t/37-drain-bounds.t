# The bounds on reading an answer on after its client left (t/36 has the
# byte bound, lava_drain_bytes): past lava_drain_timeout, or beyond
# lava_drain_max answers drained at once in a worker, the upstream is closed
# and the request is booked with an estimate, flagged as such; within them
# the provider's own usage is read.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest;

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $body = { model => 'gpt-4o-mini', stream => JSON::PP::true,
             messages => [{ role => 'user', content => 'Tell me a long story' }] };

# A stream the client leaves after its second event; the provider goes on
# for chunks x 100 ms. Returns the response and the provider's answer record.
sub left_stream {
    my ($chunks) = @_;
    my $r = $s->stream(target => $T, body => $body,
                       headers => [Authorization => "Bearer $m->{token}", 'x-mock-chunks' => $chunks,
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

$s->finish;
done_testing;
