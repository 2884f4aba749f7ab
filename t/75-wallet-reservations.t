# Wallet reservations (docs/security.md, class 8): each request a customer's
# wallet pays reserves the most it can cost (request bytes as input tokens,
# max_tokens or the family's default as output tokens, at the snapshot's
# bound of the model's rates, meter fee and service charge included) against
# the wallet's published headroom; a request that does not fit is refused 402
# insufficient_balance before the provider sees it.
#
# - 40 concurrent requests on a tiny wallet: at most headroom / reservation
#   are served, the rest get 402 at once, and the wallet ends at or above its
#   minimum (the documented bound for one node: no overdraft while the usage
#   stays within the reservation)
# - a well-funded wallet is unaffected by the same burst
# - BYOK and merchant-paid (disable_billing) requests are never reserved
# - a model without rate rows reserves at the provider's "*" bound, to the
#   nano-dollar: headroom equal to the reservation passes, one less is refused
# - a reservation is released when its request ends: a request refused while
#   another is in flight passes after it
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use Math::BigInt;
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for json_decode json_encode);

my $s = LavaTest->start;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $m = $s->setup_merchant;                 # 20 % meter "chat", $100 wallet

sub usd { my $n = shift; sprintf '%d.%09d', int($n / 1e9), $n % 1e9 }

# A customer of the merchant under the block policy (minimum 0) holding
# exactly $nusd, published with its headroom.
sub customer {
    my ($nusd) = @_;
    my $c = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
    $s->sql_value('SELECT fund_wallet(?, ?)', $c, usd($nusd)) if $nusd;
    # without w records (the gateway before reservations) the test goes on,
    # to show what the burst does there
    ok $s->wait_auth(qr/^w \Q$m->{merchant}\E \Q$c\E $nusd$/m, 6)
        || !$s->wait_auth(qr/ \Q$c\E active/), "headroom $nusd of a new customer published";
    return ($c, $s->token(secret_key => $m->{secret}, customer_id => $c, meter_slug => 'chat'));
}

sub balance { $s->sql_value('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $_[0]) }

# A body whose bytes are known exactly: they are its input token bound.
sub body {
    my (%o) = @_;
    return sprintf '{"model":"%s","max_tokens":%d,"messages":[{"role":"user","content":"Hi"}]}',
        $o{model} // 'gpt-4o-mini', $o{max_tokens} // 10;
}

# The snapshot's bounds, as nginx reads them.
sub snap_line {
    my ($re) = @_;
    my $snap = $s->redis('get', 'lava:auth:snapshot') // '';
    return $snap =~ $re ? [$1, $2, $3] : undef;
}

# lib/lava_reserve.c, independently: exact integers, rounding up.
sub ceil_div { my ($a, $b) = @_; my $q = $a->copy->badd($b - 1); $q->bdiv($b); $q }
sub reservation {
    my ($bytes, $out_tokens, $in_rate, $out_rate, $ppm) = @_;
    my $base = Math::BigInt->new($bytes)->bmul($in_rate)
        ->badd(Math::BigInt->new($out_tokens)->bmul($out_rate));
    my $q = ceil_div($base, 1_000_000);
    my $total = ceil_div($q->bmul(1_000_000 + $ppm), 1_000_000);
    return $total->badd(2)->numify;            # LAVA_RESERVE_ROUNDING
}

# Sends every request at once on its own connection, then reads the answers.
sub burst {
    my ($n, %o) = @_;
    my @socks;
    for (1 .. $n) {
        my $sock = $s->_connect;
        my $bytes = $s->_request_bytes(method => 'POST', target => $T, body => $o{body},
                                       headers => $o{headers});
        print $sock $bytes;
        push @socks, { sock => $sock, t0 => time };
    }
    my @out;
    for my $c (@socks) {
        my $buf = '';
        my $sel = IO::Select->new($c->{sock});
        while ($sel->can_read(30)) {
            my $r = sysread $c->{sock}, $buf, 65536, length $buf;
            last unless $r;
        }
        my ($status) = $buf =~ m{^HTTP/1\.1 (\d{3})};
        my ($rid) = $buf =~ /^x-lava-request-id:\s*(\S+)/mi;
        my ($json) = $buf =~ /\r\n\r\n(.*)\z/s;
        push @out, { status => $status // 0, rid => $rid, json => json_decode($json // '') };
        close $c->{sock};
    }
    return @out;
}

my ($r_in, $r_out) = @{ snap_line(qr/^r openai gpt-4o-mini (\d+) (\d+)$/m) // [] };
ok $r_in && $r_out, "the snapshot bounds gpt-4o-mini: " . ($r_in // '-') . ' / ' . ($r_out // '-')
                    . ' nusd per 1M';
# list price with the 1.9 % service charge folded in, rounded up
is $r_in, 152_850_000, 'input bound: $0.15 per 1M plus 1.9 %';
is $r_out, 611_400_000, 'output bound: $0.60 per 1M plus 1.9 %';
my ($fee_ppm) = @{ snap_line(qr/^f \Q$m->{merchant}\E chat (\d+) (\d+) (\d+)$/m) // [] };
is $fee_ppm, 200_000, 'the meter "chat" is bounded at 20 %';
ok snap_line(qr/^r openai \* (\d+) (\d+)$/m), "the provider's \"*\" bound is published";
# the list prices, where the snapshot has no bounds (the gateway before them)
$r_in //= 152_850_000;
$r_out //= 611_400_000;
$fee_ppm //= 200_000;

my $BODY = body(max_tokens => 10);
my $RES = reservation(length $BODY, 10, $r_in, $r_out, $fee_ppm);
note "one request reserves $RES nusd";

# --- 40 concurrent requests on a tiny wallet ------------------------------------

my $FUNDS = 100_000;                        # about four reservations
my ($tiny, $tiny_tok) = customer($FUNDS);
my $fits = int($FUNDS / $RES);
ok $fits >= 1 && $fits < 10, "$fits requests fit in $FUNDS nusd";

my $t0 = time;
my @r = burst(40, body => $BODY, headers => [Authorization => "Bearer $tiny_tok",
                                            'x-mock-delay-ms' => 1500]);
my @ok = grep { $_->{status} == 200 } @r;
my @refused = grep { $_->{status} == 402 } @r;
note sprintf '%d served, %d refused in %.2f s', scalar @ok, scalar @refused, time - $t0;
ok @ok >= 1, 'the wallet pays for some';
ok @ok <= $fits, "no more served than fit: " . scalar(@ok) . " <= $fits";
is @ok + @refused, 40, 'every other request is refused 402';
SKIP: {
    skip 'nothing was refused', 7 unless @refused;
    is $refused[0]{json}{error}{code}, 'insufficient_balance', 'code insufficient_balance';
    like $refused[0]{json}{error}{message} // '', qr/maximum cost/, 'the message names the maximum cost';
    is scalar(grep { ($_->{json}{error}{code} // '') ne 'insufficient_balance' } @refused), 0,
       'all with that code';

    my $row = $s->wait_booked($refused[0]{rid});
    is $row->{outcome}, 'refused', 'a refused one is booked as refused';
    is $row->{error}, 'insufficient_balance', 'with its reason';
    is $row->{customer_id}, $tiny, 'for the customer';
    is $row->{total_nusd}, 0, 'at zero';
}

$s->wait_booked($_->{rid}) or fail("served $_->{rid} booked") for @ok;
my $after = balance($tiny);
# One node: each served request costs at most its reservation, and all of
# them fit in the headroom together, so the wallet stays at or above its
# minimum (docs/security.md: the bound for one node is 0 below the minimum).
my $bound = 0;
ok $after >= 0 - $bound, "balance $after nusd: overdrawn by at most $bound nusd (was $FUNDS)";
ok $after < $FUNDS, 'and the served requests were charged';

# --- a well-funded wallet is unaffected -------------------------------------------

@r = burst(40, body => $BODY, headers => [Authorization => "Bearer $m->{token}",
                                         'x-mock-delay-ms' => 500]);
is scalar(grep { $_->{status} == 200 } @r), 40, 'a $100 wallet: all 40 served';

# --- BYOK and merchant-paid requests are never reserved -------------------------

my ($poor, $poor_tok) = customer(10_000);   # less than one reservation
is $s->request(target => $T, body => $BODY,
               headers => [Authorization => "Bearer $poor_tok"])->{status},
   402, 'a wallet of 10000 nusd: a managed-key request does not fit';
my $byok_tok = $s->token(secret_key => $m->{secret}, customer_id => $poor, meter_slug => 'chat',
                         provider_key => 'sk-byok-wallet-test-0001');
@r = burst(5, body => $BODY, headers => [Authorization => "Bearer $byok_tok"]);
is scalar(grep { $_->{status} == 200 } @r), 5, 'BYOK (token provider_key): served, not reserved';
@r = burst(5, body => $BODY, headers => [Authorization => "Bearer $poor_tok",
                                        'X-Provider-API-Key' => 'sk-byok-wallet-test-0002']);
is scalar(grep { $_->{status} == 200 } @r), 5, 'BYOK (X-Provider-API-Key): served, not reserved';
my $free_tok = $s->token(secret_key => $m->{secret}, customer_id => $poor, meter_slug => 'chat',
                         disable_billing => JSON::PP::true);
@r = burst(5, body => $BODY, headers => [Authorization => "Bearer $free_tok"]);
is scalar(grep { $_->{status} == 200 } @r), 5, 'disable_billing (the merchant pays): served';
my $bare = $s->token(secret_key => $m->{secret});
is $s->request(target => $T, body => $BODY, headers => [Authorization => "Bearer $bare"])->{status},
   200, 'a bare secret key (the merchant pays): served';

# --- a model without rows: the provider's "*" bound ----------------------------------

my ($s_in, $s_out) = @{ snap_line(qr/^r openai \* (\d+) (\d+)$/m) // [30_570_000_000, 30_570_000_000] };
ok $s_out > $r_out, "the provider's bound ($s_out per 1M out) is above gpt-4o-mini's";
my $NOROWS = body(model => 'gpt-no-such-model', max_tokens => 10);
my $RES_STAR = reservation(length $NOROWS, 10, $s_in, $s_out, $fee_ppm);
my ($exact, $exact_tok) = customer($RES_STAR);
my ($short, $short_tok) = customer($RES_STAR - 1);
is $s->request(target => $T, body => $NOROWS, headers => [Authorization => "Bearer $short_tok"])->{status},
   402, "a model without rows: $RES_STAR - 1 nusd of headroom is refused";
is $s->request(target => $T, body => $NOROWS, headers => [Authorization => "Bearer $exact_tok"])->{status},
   200, "... and exactly $RES_STAR passes";
is $s->request(target => $T, body => body(model => 'gpt-4o-mini-2099-01-01'),
               headers => [Authorization => "Bearer $short_tok"])->{status},
   200, 'a dated name of a model with rows is bounded by that model, not by "*"';

# No max_tokens: the family's default bound (128000 output tokens for OpenAI).
my $NOMAX = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}';
my $RES_NOMAX = reservation(length $NOMAX, 128_000, $r_in, $r_out, $fee_ppm);
my ($nomax, $nomax_tok) = customer($RES_NOMAX - 1);
is $s->request(target => $T, body => $NOMAX, headers => [Authorization => "Bearer $nomax_tok"])->{status},
   402, "no max_tokens: 128000 output tokens are reserved ($RES_NOMAX nusd)";

# --- released when the request ends ---------------------------------------------------

# Room for a large reservation and a small one, less one nano-dollar: the
# small request is refused while the large one is in flight and served once
# it ended (what the large one used, far less than its reservation, stays
# held until a snapshot shows it booked).
my $BIG = body(max_tokens => 1000);
my $RES_BIG = reservation(length $BIG, 1000, $r_in, $r_out, $fee_ppm);
my ($one, $one_tok) = customer($RES_BIG + $RES - 1);
require POSIX;
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    $s->request(target => $T, body => $BIG, timeout => 20,
                headers => [Authorization => "Bearer $one_tok", 'x-mock-delay-ms' => 2500]);
    POSIX::_exit(0);
}
sleep 1;
my $during = $s->request(target => $T, body => $BODY, headers => [Authorization => "Bearer $one_tok"]);
is $during->{status}, 402, "a request is refused while another holds its reservation ($RES_BIG nusd)";
waitpid $pid, 0;
my $next = $s->request(target => $T, body => $BODY, headers => [Authorization => "Bearer $one_tok"]);
is $next->{status}, 200, 'that one ended: its reservation is released, the next is served';

# --- a reload keeps the reservations; a crashed worker's are released -------------

sub master_pid { (split ' ', LavaTest::slurp("$s->{dir}/nginx/nginx.pid"))[0] }
sub workers {
    my $master = master_pid();
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $t = LavaTest::slurp($stat) // next;
        my ($pid, $comm, $state, $ppid) = $t =~ /^(\d+) \((.*?)\) (\S) (\d+)/ or next;
        push @w, $pid if $ppid == $master && $state ne 'Z';
    }
    return sort { $a <=> $b } @w;
}

# One request in flight on a wallet with room for it and a small one less a
# nano-dollar, in a child; returns the child's pid.
sub hold_one {
    my ($tok, $delay_ms) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval {
            $s->request(target => $T, body => $BIG, timeout => 20,
                        headers => [Authorization => "Bearer $tok", 'x-mock-delay-ms' => $delay_ms]);
        };
        POSIX::_exit(0);
    }
    sleep 1;
    return $pid;
}
sub small { $s->request(target => $T, body => $BODY, headers => [Authorization => "Bearer $_[0]"])->{status} }

my ($rl, $rl_tok) = customer($RES_BIG + $RES - 1);
my @before = workers();
$pid = hold_one($rl_tok, 3500);
is small($rl_tok), 402, 'reload: the request in flight holds its reservation';
kill 'HUP', master_pid();
ok wait_for(10, sub { my %old = map { $_ => 1 } @before;
                      scalar(grep { !$old{$_} } workers()) >= 2 }), 'reload: new workers started';
is small($rl_tok), 402, 'reload: the new workers see the old worker\'s reservation (the zone is kept)';
waitpid $pid, 0;
ok wait_for(5, sub { small($rl_tok) == 200 }),
   'reload: the old worker released it when its request ended';

my ($cr, $cr_tok) = customer($RES_BIG + $RES - 1);
@before = workers();
$pid = hold_one($cr_tok, 6000);
is small($cr_tok), 402, 'crash: the request in flight holds its reservation';
my $t_kill = time;
kill 'KILL', @before;
waitpid $pid, 0;
ok wait_for(10, sub { my %old = map { $_ => 1 } @before;
                      scalar(grep { !$old{$_} } workers()) >= 2 }), 'crash: workers replaced';
ok wait_for(20, sub { small($cr_tok) == 200 }),
   sprintf 'crash: the dead worker\'s reservation is released (after %.1f s: held for lava_wallet_hold)',
   time - $t_kill;
# whichever comes first releases them: the new worker's start, or the
# in-flight records' owner check (which books the lost request too)
ok scalar(grep { /lava wallet: released \d+ reservations of workers that exited|lava inflight: worker \d+ is gone/ }
          LavaTest::slurp_lines($s->error_log)), 'the new worker logged the release';

# the crash was deliberate: its lines are not the finish check's business
{
    my $log = $s->error_log;
    my @keep = grep { !/exited on signal 9/ } LavaTest::slurp_lines($log);
    open my $fh, '+<', $log or die "$log: $!";
    truncate $fh, 0;
    print $fh @keep;
    close $fh;
}

is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
$s->finish;
done_testing;
