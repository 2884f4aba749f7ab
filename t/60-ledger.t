# Every request's event reaches the Redis Stream once and is booked in
# Postgres exactly once, with the usage the provider reported and the exact
# cost (docs/ledger.md): provider rate + meter fee + 1.9 % service charge.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 25);                            # 20 % meter
my $f = $s->setup_merchant(name => 'Fixed', meter_kind => 'fixed', meter_amount => 1.5);
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

# gpt-4o-mini: 0.15 / 0.075 / 0.60 USD per 1M tokens = 150 / 75 / 600 nusd a token.
# gpt-4o:      2.50 / 1.25  / 10.00                  = 2500 / 1250 / 10000.
my @cases = (
    { name => 'JSON, cached prompt', who => $m, usage => 'prompt=1200,cached=1000,completion=300',
      buckets => [200, 1000, 300, 0], base => 200*150 + 1000*75 + 300*600 },
    { name => 'SSE with include_usage', who => $m, stream => 1, usage => 'prompt=2000,cached=0,completion=500',
      buckets => [2000, 0, 500, 0], base => 2000*150 + 500*600 },
    { name => 'reasoning tokens cost the output price', who => $m,
      usage => 'prompt=100,cached=0,completion=50,reasoning=20',
      buckets => [100, 0, 30, 20], base => 100*150 + 50*600 },
    { name => 'the model the provider answers with is priced', who => $m, model => 'gpt-4o',
      usage => 'prompt=1000,cached=200,completion=100',
      buckets => [800, 200, 100, 0], base => 800*2500 + 200*1250 + 100*10000 },
    { name => 'a dated model name uses the undated rates', who => $m, model => 'gpt-4o-mini-2024-07-18',
      usage => 'prompt=1000,cached=0,completion=1000', buckets => [1000, 0, 1000, 0], base => 1000*150 + 1000*600 },
    { name => 'fixed meter, 1.50 USD per 1M tokens', who => $f, usage => 'prompt=3000,cached=0,completion=1000',
      buckets => [3000, 0, 1000, 0], base => 3000*150 + 1000*600, fee => 4000 * 1_500_000_000 },
    { name => 'a half nano-USD rounds up (service charge 28.5)', who => $m,
      usage => 'prompt=50,cached=0,completion=0', buckets => [50, 0, 0, 0], base => 50*150 },
);

sub round_div { my ($n, $d) = @_; int(($n * 2 + $d) / (2 * $d)) }   # half up, n >= 0

my %want;
for my $c (@cases) {
    my $h = [Authorization => "Bearer $c->{who}{token}", 'x-mock-usage' => $c->{usage},
             $c->{model} ? ('x-mock-model' => $c->{model}) : ()];
    my $r = $c->{stream}
        ? $s->stream(target => $T, body => LavaTest::chat_body(stream => 1), headers => $h)
        : $s->request(target => $T, body => LavaTest::chat_body(), headers => $h);
    is $r->{status}, 200, "$c->{name}: 200";
    $c->{rid} = $r->{rid};
}
my $merchant_paid = $s->request(target => $T, body => LavaTest::chat_body(),
                                headers => [Authorization => "Bearer $m->{secret}",
                                            'x-mock-usage' => 'prompt=1000,cached=0,completion=100']);
my $refused = $s->request(target => $T, body => LavaTest::chat_body(),
                          headers => [Authorization => 'Bearer lava_sk_unknown']);
my $failed = $s->request(target => $T, body => LavaTest::chat_body(),
                         headers => [Authorization => "Bearer $m->{token}", 'x-mock-status' => 500]);

for my $c (@cases) {
    subtest $c->{name} => sub {
        my @ev = $s->event($c->{rid});
        @ev = $s->wait_event($c->{rid}) ? $s->event($c->{rid}) : () unless @ev;
        is scalar @ev, 1, 'one event in the stream';
        my $row = $s->wait_booked($c->{rid}) or return fail('booked');
        is $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $c->{rid}), 1, 'booked once';
        is_deeply [@$row{qw(input_tokens cached_input_tokens output_tokens reasoning_tokens)}],
                  $c->{buckets}, 'usage buckets';
        is $row->{usage_source}, 'reported', 'usage reported';
        is $row->{price_state}, 'priced', 'priced';
        is $row->{payer}, 'customer', 'the customer pays';
        my $base = round_div($c->{base}, 1);
        my $fee = $c->{fee} ? round_div($c->{fee}, 1_000_000) : round_div($base * 200_000, 1_000_000);
        my $svc = round_div($fee * 19_000, 1_000_000);
        is $row->{base_cost_nusd}, $base, "base cost $base nusd";
        is $row->{fee_nusd}, $fee, "fee $fee nusd";
        is $row->{service_charge_nusd}, $svc, "service charge $svc nusd";
        is $row->{moved_nusd}, $base + $fee + $svc, 'all of it moved';
        my $t = $s->sql('SELECT t.kind, d.key AS debit, c.key AS credit, t.amount_nusd AS amount
                           FROM transfers t JOIN accounts d ON d.id = t.debit_account
                           JOIN accounts c ON c.id = t.credit_account
                          WHERE t.request_id = ? ORDER BY t.kind', $c->{rid});
        my %by = map { $_->{kind} => $_ } @$t;
        my $wallet = "wallet:$c->{who}{customer}";
        is "$by{base}{debit} -> $by{base}{credit}", "$wallet -> provider:openai", 'base: wallet -> provider';
        is "$by{fee}{debit} -> $by{fee}{credit}", "$wallet -> merchant:$c->{who}{merchant}", 'fee: wallet -> merchant';
        is "$by{service_charge}{debit} -> $by{service_charge}{credit}", "$wallet -> platform",
           'service charge: wallet -> platform' if $svc;
        $want{$c->{who}{customer}} += $base + $fee + $svc;
    };
}

subtest 'bare secret key: the merchant pays the provider' => sub {
    my $row = $s->wait_booked($merchant_paid->{rid}) or return fail('booked');
    is $row->{payer}, 'merchant', 'payer merchant';
    is $row->{base_cost_nusd}, 1000*150 + 100*600, 'base cost';
    my $debits = $s->sql('SELECT DISTINCT d.key FROM transfers t JOIN accounts d ON d.id = t.debit_account
                           WHERE t.request_id = ?', $merchant_paid->{rid});
    is_deeply [map { $_->{key} } @$debits], ["merchant:$m->{merchant}"], "the merchant's account is debited";
};

for ([refused => $refused, 401], ['provider error' => $failed, 500]) {
    my ($name, $r, $status) = @$_;
    my $row = $s->wait_booked($r->{rid});
    ok $row && $row->{status} == $status && $row->{total_nusd} == 0
       && !$s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $r->{rid}),
       "$name: booked with status $status, nothing moved";
}

# Wallets: the deposit less what their requests cost.
for my $who ($m, $f) {
    my $deposit = $who == $m ? 25_000_000_000 : 100_000_000_000;
    is $s->sql_value('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $who->{customer}),
       $deposit - $want{$who->{customer}}, "wallet of $who->{customer}: deposit less the charges";
}

# A redelivered event books nothing: the same entry added to the stream again.
{
    my $rid = $cases[0]{rid};
    my ($ev) = $s->event($rid);
    my @fields = map { $_ => $ev->{$_} } grep { !/^_/ } sort keys %$ev;
    my $before = $s->sql_value('SELECT count(*) FROM transfers');
    my $id = $s->redis('xadd', 'lava:usage', '*', @fields);
    my $done = wait_for(15, sub {
        my @groups = $s->redis('xinfo', 'groups', 'lava:usage');
        for my $g (@groups) {
            my %g = @$g;
            return 1 if $g{name} eq 'lava-sidecar' && $g{'last-delivered-id'} eq $id && $g{pending} == 0;
        }
        return 0;
    });
    ok $done, 'the duplicate was read and acknowledged';
    is $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $rid), 1, 'still booked once';
    is $s->sql_value('SELECT count(*) FROM transfers'), $before, 'no new transfers';
}

# Nothing was dead-lettered, every invariant holds.
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
my $checks = $s->sql('SELECT rule, ok FROM ledger_check');
ok $_->{ok}, "ledger_check: $_->{rule}" for @$checks;
ok scalar @$checks, 'ledger_check has rules';

$s->finish;
done_testing;
