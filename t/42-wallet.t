# Prepaid wallets (docs/pricing.md): a customer whose balance falls to its
# minimum is refused with 402 before the provider is reached, within 5 s of
# the balance running out; a request already in flight completes and is
# booked in full, the overdraft it causes is visible and the next deposit
# settles it; the overdraft policy 'allow' keeps a customer going; a
# customer refused for its wallet can still be served when the merchant
# pays (disable_billing).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for json_decode json_encode);

my $s = LavaTest->start;
# This file covers the block list, the second line of defence: a wallet that
# booking took to its minimum is refused within seconds, whatever is in
# flight. Wallet reservations (t/75), the first line, would refuse the
# overdrawing requests here before they start: off for this file.
$s->configure_nginx(http => ['lava_wallet_reserve off;']);
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $USAGE = 'prompt=1000,completion=1000';
# gpt-4o-mini, 1000 in + 1000 out: base 150000 + 600000 = 750000 nusd;
# fee 20 % = 150000; service charge 1.9 % of it = 2850: 902850 a request.
my $COST = 902_850;

# $0.002 = 2000000 nusd: two requests fit, the third overdraws.
my $m = $s->setup_merchant(funds => 0.002);

sub call {
    my ($token, %o) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                        headers => [Authorization => "Bearer $token", 'x-mock-usage' => $USAGE,
                                    'x-test-id' => $id], timeout => 20);
    $r->{test_id} = $id;
    return $r;
}

sub balance { $s->sql_value('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $_[0]) }

is call($m->{token})->{status}, 200, 'first request: 200';
my $second = call($m->{token});
is $second->{status}, 200, 'second request: 200';
$s->wait_booked($second->{rid}) or fail('second booked');
is balance($m->{customer}), 2_000_000 - 2 * $COST, 'balance 194300 nusd: still above the minimum';

# A slow stream starts now, while the wallet still pays: it must complete.
my $inflight_file = "$s->{dir}/inflight.json";
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    my $r = eval {
        $s->stream(target => $T, body => LavaTest::chat_body(stream => 1), timeout => 30,
                   headers => [Authorization => "Bearer $m->{token}", 'x-mock-usage' => $USAGE,
                               'x-mock-chunks' => 8, 'x-mock-chunk-delay-ms' => 700]);
    };
    if (open my $fh, '>', $inflight_file) {
        print $fh json_encode({ status => $r ? $r->{status} : 0, rid => $r ? $r->{rid} : '',
                                complete => $r ? $r->{complete} : 0,
                                events => $r ? scalar @{ $r->{events} } : 0 });
        close $fh;
    }
    POSIX::_exit(0);          # not the test's END: the stack belongs to the parent
}
sleep 0.5;                    # its headers are through: it is in flight

# The third request overdraws the wallet.
my $third = call($m->{token});
is $third->{status}, 200, 'third request: 200 (the balance was still above the minimum)';
my $t_out = time;
$s->wait_booked($third->{rid}) or fail('third booked');
ok balance($m->{customer}) < 0, 'the wallet is overdrawn';

# Within 5 s: 402 before the provider is reached.
my ($refused, $secs);
while (time - $t_out < 8) {
    my $r = call($m->{token});
    if ($r->{status} == 402) { $refused = $r; $secs = time - $t_out; last }
    sleep 0.2;
}
ok $refused, 'refused once the balance ran out';
ok defined $secs && $secs <= 5, sprintf '402 came %.2f s after the balance ran out', $secs // -1;
if ($refused) {
    is $refused->{json}{error}{code}, 'insufficient_balance', 'code insufficient_balance';
    is $refused->{json}{error}{status}, 402, 'status in the JSON body';
    like $refused->{rid} // '', qr/^req_[0-9A-Z]{26}$/, 'x-lava-request-id on the refusal';
    is scalar(LavaTest::mock_requests($s, $refused->{test_id})), 0, 'the provider never saw it';
    my $row = $s->wait_booked($refused->{rid});
    is $row->{outcome}, 'refused', 'booked as refused';
    is $row->{error}, 'insufficient_balance', 'with its reason';
    is $row->{customer_id}, $m->{customer}, 'and the customer it was refused for';
    is $row->{payer}, 'none', 'nobody pays for it';
    is $row->{total_nusd}, 0, 'at zero cost';
    is $row->{moved_nusd}, 0, 'nothing moved';
}
is $s->sql_value('SELECT blocked FROM wallet_balances WHERE customer_id = ?', $m->{customer}), 1,
   'wallet_balances says blocked';

# The merchant can still serve the customer at its own expense.
my $free = $s->token(secret_key => $m->{secret}, customer_id => $m->{customer}, meter_slug => 'chat',
                     disable_billing => JSON::PP::true);
my $free_r = call($free);
is $free_r->{status}, 200, 'disable_billing: 200 (the merchant pays, not the wallet)';

# The stream that was in flight completed and is booked in full.
waitpid $pid, 0;
my $inflight = json_decode(LavaTest::slurp($inflight_file)) // {};
is $inflight->{status}, 200, 'in-flight stream: 200';
ok $inflight->{complete}, 'in-flight stream: complete';
ok $inflight->{events} >= 8, 'in-flight stream: every event';
my $row = $inflight->{rid} ? $s->wait_booked($inflight->{rid}) : undef;
ok $row && $row->{price_state} eq 'priced', 'in-flight stream: booked priced';
is $row && $row->{moved_nusd}, $COST, 'in-flight stream: booked in full, overdraft or not';

# The overdraft is visible and the next deposit settles it.
my $free_row = $s->wait_booked($free_r->{rid});
is $free_row && $free_row->{payer}, 'merchant', 'disable_billing: booked to the merchant';
my $before = balance($m->{customer});
ok $before < 0, "overdrawn by " . -$before . " nusd";
is $s->sql_value('SELECT overdrawn_nusd FROM wallet_balances WHERE customer_id = ?', $m->{customer}), -$before,
   'wallet_balances shows the overdraft';
$s->sql_value('SELECT fund_wallet(?, 0.01)', $m->{customer});
is balance($m->{customer}), $before + 10_000_000, 'the deposit first pays off the overdraft';
my $t_dep = time;
ok wait_for(8, sub { call($m->{token})->{status} == 200 }), 'served again after the deposit';
ok time - $t_dep <= 5, sprintf 'within %.2f s', time - $t_dep;

# Overdraft policy 'allow': the customer goes on below its minimum.
my $c2 = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT set_overdraft(?, ?)', $c2, 'allow');
$s->wait_auth(qr/ \Q$c2\E active/) or fail('c2 published');
my $tok2 = $s->token(secret_key => $m->{secret}, customer_id => $c2, meter_slug => 'chat');
my @allowed = map { call($tok2)->{status} } 1 .. 2;
is_deeply \@allowed, [200, 200], "overdraft 'allow': an empty wallet is served";
ok wait_for(10, sub { balance($c2) == -2 * $COST }), 'and charged: the balance goes negative';
sleep 2.5;                    # a publish and a poll later
is call($tok2)->{status}, 200, "overdraft 'allow': still served below the minimum";
like $s->redis('get', 'lava:auth:snapshot'), qr/^c \Q$m->{merchant}\E \Q$c2\E active$/m,
     'published active';

# A minimum above zero: blocked while the balance is at or below it.
my $c3 = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT fund_wallet(?, 4)', $c3);
$s->sql_value('SELECT set_overdraft(?, ?, ?)', $c3, 'block', 5);
my $tok3 = $s->token(secret_key => $m->{secret}, customer_id => $c3, meter_slug => 'chat');
ok $s->wait_auth(qr/ \Q$c3\E blocked/), 'balance $4 with a $5 minimum: published blocked';
ok wait_for(5, sub { call($tok3)->{status} == 402 }), '... and refused';
$s->sql_value('SELECT set_overdraft(?, ?, ?)', $c3, 'block', 1);
ok wait_for(8, sub { call($tok3)->{status} == 200 }), 'minimum lowered to $1: served';

is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };

$s->finish;
done_testing;
