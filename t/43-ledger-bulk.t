# Thousands of mixed requests through the real stack, then the ledger is
# checked in SQL against an independent computation done here (exact
# integers, Math::BigInt, this file's own reading of docs/pricing.md):
# every request costs what it should, every request's transfers move exactly
# its cost from its payer, every account holds what its transfers say and
# what this file expects, the balances sum to zero, graduated meter counts
# chain from request to request.
#
# The mix: OpenAI and Anthropic, JSON and SSE, cache reads and writes,
# reasoning, a long-context tier, byok, merchant-paid (bare key and
# disable_billing), refused tokens, provider errors, a provider billed on
# the meter alone, models without a rate (booked unpriced; at the end
# reprice_unpriced() marks them and the sidecars settle them); meters:
# percentage, percentage with tiers, fixed graduated tiers, output basis,
# per request, per character, per minute. Units the mock provider cannot
# report (1-hour cache writes, audio, characters, duration, images) come as
# stream entries added to Redis directly, the way the module writes them
# (docs/events.md). Two sidecars book at once.
#
# LAVA_BULK_HTTP / LAVA_BULK_DIRECT change the counts (default 2400 / 800).
# The population, the mix and the checks are t/lib/LavaBulk.pm (shared with
# t/89-scale-out.t).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(time);

use LavaBulk;
use LavaTest;

my $N_HTTP = $ENV{LAVA_BULK_HTTP} // 2400;
my $N_DIRECT = $ENV{LAVA_BULK_DIRECT} // 800;
my $WORKERS = 6;
my $SEED = $ENV{LAVA_BULK_SEED} // 20261123;
srand $SEED;
diag "seed $SEED";

my $s = LavaTest->start;
my $t0 = time;
LavaBulk::init($s);
LavaBulk::setup();

# --- a second sidecar on the same group ----------------------------------
my $conf = LavaTest::slurp("$s->{dir}/sidecar/sidecar.conf");
$conf =~ s/^consumer\s*=.*$//mg;
open my $cf, '>', "$s->{dir}/sidecar2.conf" or die;
print $cf $conf, "consumer = bulk-second\n";
close $cf;
my $sidecar2 = fork // die "fork: $!";
if ($sidecar2 == 0) {
    open STDOUT, '>>', "$s->{dir}/sidecar2.log";
    open STDERR, '>&', \*STDOUT;
    local $ENV{LAVA_REDIS_URL} = $s->env->{LAVA_REDIS_URL};
    local $ENV{LAVA_PG_DSN} = $s->env->{LAVA_PG_DSN};
    exec($ENV{LAVA_SIDECAR} // "$LavaTest::ROOT/build/lava-sidecar", '-c', "$s->{dir}/sidecar2.conf")
        or POSIX::_exit(127);
}
END { kill 'TERM', $sidecar2 if $sidecar2; }

# --- the HTTP mix, and meanwhile the stream entries of other units --------
my @HTTP = LavaBulk::plan_all($N_HTTP);
my @kids = LavaBulk::send_http(\@HTTP, $WORKERS, sub { $s });
my @DIRECT = LavaBulk::make_direct($N_DIRECT);
for my $e (@DIRECT) {
    $s->redis('xadd', 'lava:usage', '*', map { $_ => $e->{$_} } sort keys %$e);
}
my %res = LavaBulk::collect(\@kids, $WORKERS);
LavaBulk::check(\@HTTP, \%res, \@DIRECT);

kill 'TERM', $sidecar2;
waitpid $sidecar2, 0;
$sidecar2 = 0;
my @log2 = LavaTest::slurp_lines("$s->{dir}/sidecar2.log");
ok !grep({ /\berror\b|dead-lettered [1-9]/i } @log2), 'the second sidecar logged no error';
ok grep({ /booked [1-9]/ } @log2), 'the second sidecar booked some of them';
diag sprintf 'done in %.1f s', time - $t0;

$s->finish;
done_testing;