# Pricing through the real stack (docs/pricing.md): rate rows with
# effective dates, aliases and dated names, long-context tiers, cache reads
# and writes, unpriced requests settled by re-pricing, graduated meters
# counted per customer, per-request meters on a provider billed on the meter
# alone, and x-lava-metadata stored as jsonb. Every expected amount is
# computed here by hand, with exact integers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Math::BigInt;
use POSIX ();
use Test::More;
use Time::HiRes ();

use LavaTest qw(wait_for json_encode);

my $s = LavaTest->start;
my $OPENAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $ANTHROPIC = '/v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages';
my $MISTRAL = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.mistral.ai%2Fv1';

sub sql1 { $s->sql_value(@_) }

# round half up of n / d, exact
sub rdiv {
    my ($n, $d) = map { Math::BigInt->new($_) } @_;
    return (($n * 2 + $d) / ($d * 2))->bstr;
}

# -- the seeded list prices -------------------------------------------------
# The stack holds the seed list (sql/seed/rates.sql: prices read on the
# providers' own pages) and, for the models the seed does not price, the
# stack's fixture prices (scripts/lava-stack-rates.sql), noted as such.
{
    is sql1('SELECT count(*) FROM provider_rates WHERE note IS NULL'), 0,
       'every seeded rate row says where its price comes from';
    is sql1(q{SELECT count(*) FROM provider_rates WHERE note NOT LIKE 'stack fixture%'
               AND note !~ '^\[page as stored, (dated|read) [0-9]{4}-[0-9]{2}-[0-9]{2}\] [a-z0-9.-]+[.][a-z]+/'}), 0,
       'every seed row names the provider page it was read on, and when';
    ok sql1(q{SELECT count(DISTINCT provider) FROM provider_rates
               WHERE note NOT LIKE 'stack fixture%'}) >= 5, 'the seed prices five providers';
    is sql1(q{SELECT count(*) FROM provider_rates f JOIN provider_rates r USING (provider, model)
               WHERE f.note LIKE 'stack fixture%' AND r.note NOT LIKE 'stack fixture%'}), 0,
       'a model the seed prices has no fixture rows';
}

# Rates, USD per 1M tokens; test models so the seed prices do not matter.
sql1(q{SELECT add_rate('openai', 'tm-dated', '2020-01-01', input => 1, output => 2)});
my $rate_2021 = sql1(q{SELECT add_rate('openai', 'tm-dated', '2021-01-01', input => 1.5, output => 2.5)});
sql1(q{SELECT add_rate('openai', 'tm-dated', '2099-01-01', input => 100, output => 100)});
sql1(q{SELECT add_model_alias('openai', 'acme-*', 'tm-dated')});
my $long_base = sql1(q{SELECT add_rate('openai', 'tm-long', '2020-01-01', input => 1, output => 2)});
my $long_tier = sql1(q{SELECT add_rate('openai', 'tm-long', '2020-01-01', input => 3, output => 4,
                                       prompt_tokens_over => 1000)});
sql1(q{SELECT add_rate('anthropic', 'claude-tm', '2020-01-01', input => 3, cached_input => 0.30,
                       cache_write => 3.75, cache_write_1h => 6, output => 15)});

# A merchant without a fee (base cost only), one with a graduated fixed
# meter, and per-request meters on a provider billed on the meter alone.
my $plain = $s->setup_merchant(name => 'Plain', meter_kind => 'percentage', meter_amount => 0);
my $tiered = $s->setup_merchant(name => 'Tiered', meter_kind => 'fixed', meter_amount => 5);
sql1('SELECT add_meter_tier(?, ?, 1000, 3)', $tiered->{merchant}, 'chat');   # $3 per 1M after 1000
sql1('SELECT create_meter(?, ?, ?, ?, ?, ?)', $plain->{merchant}, 'per-call', 'fixed', 0.05,
     'input_output', 'requests');
sql1(q{SELECT set_meter_only_provider('mistral')});
sql1('SELECT create_meter(?, ?, ?, ?)', $tiered->{merchant}, 'pct20', 'percentage', 20);
$s->wait_auth(qr/^t \Q$tiered->{merchant}\E pct20$/m) or die "the meters never reached nginx\n";
$s->wait_auth(qr/^t \Q$plain->{merchant}\E per-call$/m) or die "the per-call meter never reached nginx\n";

# A stream entry as the module writes it (docs/events.md), with fields of
# our choosing (a start time, a customer); returns its booked row.
my $direct_seq = 0;
my $direct = sub {
    my (%f) = @_;
    my $rid = sprintf 'req_06H1D1RECT%016d', ++$direct_seq;
    my %e = (v => 1, request_id => $rid, ts_ms => int(Time::HiRes::time() * 1000), duration_ms => 5,
             payer => 'merchant', merchant_id => $plain->{merchant}, key_source => 'managed',
             host => 'api.example.com', endpoint => '/v1/x', method => 'POST', status => 200,
             outcome => 'complete', stream => 0, usage_source => 'reported', requests => 1, %f);
    delete $e{$_} for grep { !defined $e{$_} } keys %e;
    $s->redis('xadd', 'lava:usage', '*', %e);
    return $s->wait_booked($rid) || do { fail("$rid booked"); {} };
};

# The stack's list prices as the sidecar prices them: seed rows (Claude Opus
# 4.1, DeepSeek), fixture rows for what the seed lacks (Gemini, Retell).
{
    my $opus = $direct->(provider => 'anthropic', model => 'claude-opus-4-1', input_tokens => 1000,
                         output_tokens => 100);
    is $opus->{input_nusd_per_1m}, 15_000_000_000, 'Claude Opus 4.1 (seed): $15 per 1M input';
    is $opus->{base_cost_nusd}, 1000 * 15_000 + 100 * 75_000, '... and $75 per 1M output';
    my $in_2027 = sql1(q{SELECT (extract(epoch FROM timestamptz '2027-02-01') * 1000)::bigint});
    my $gemini = sub { $direct->(provider => 'google', model => 'gemini-3.8-flash', input_tokens => 1000, @_) };
    is $gemini->()->{input_nusd_per_1m}, 750_000_000, 'Gemini 3.8 Flash: $0.75 per 1M input now';
    is $gemini->(ts_ms => $in_2027)->{input_nusd_per_1m}, 1_500_000_000,
       '... and $1.50 from 2027-01-01 (a dated price change)';
    my $retell = $direct->(provider => 'retell', model => undef, usage_duration_ms => 60_000);
    is $retell->{duration_nusd_per_hour}, 4_200_000_000,
       'Retell: $0.07 a minute = $4.20 an hour, for requests naming no model';
    is $retell->{base_cost_nusd}, 70_000_000, 'a minute costs $0.07';
    is $direct->(provider => 'deepseek', model => 'deepseek-chat', input_tokens => 10)->{rate_model},
       'deepseek-v4-flash', 'a deprecated alias prices as its model';
}

sub call {
    my (%a) = @_;
    my $who = $a{who} // $plain;
    my $token = $a{token} // $who->{token};
    my @h = (Authorization => "Bearer $token", 'x-mock-usage' => $a{usage} // '',
             $a{model} ? ('x-mock-model' => $a{model}) : (), @{ $a{headers} // [] });
    my $body = LavaTest::chat_body(model => $a{model} // 'gpt-4o-mini', stream => $a{stream});
    $body = { model => $a{model}, max_tokens => 50,
              messages => [{ role => 'user', content => 'Hi' }] } if ($a{target} // '') eq $ANTHROPIC;
    my $r = $s->request(target => $a{target} // $OPENAI, body => $body, headers => \@h);
    is $r->{status}, $a{status} // 200, "$a{name}: status " . ($a{status} // 200);
    return $r;
}

sub booked {
    my ($r) = @_;
    return $s->wait_booked($r->{rid}) || do { fail("$r->{rid} booked"); {} };
}

# -- effective dates, aliases, dated names ---------------------------------
{
    my @rows = map { booked(call(name => $_->[0], model => $_->[0], usage => 'prompt=1000,completion=100')) }
               (['tm-dated'], ['acme-fast'], ['tm-dated-20250101']);
    for my $row (@rows) {
        is $row->{rate_id}, $rate_2021, "$row->{model}: the 2021 row (not 2020, not the future one)";
        # 1000 * 1500 + 100 * 2500 = 1750000
        is $row->{base_cost_nusd}, 1_750_000, "$row->{model}: base cost 1750000 nusd";
        is $row->{rate_model}, 'tm-dated', "$row->{model}: priced as tm-dated";
    }
}

# -- long-context tier -----------------------------------------------------
{
    my $at = booked(call(name => 'prompt at the threshold', model => 'tm-long',
                         usage => 'prompt=1000,completion=10'));
    is $at->{rate_id}, $long_base, 'prompt of 1000 tokens: the base row';
    is $at->{base_cost_nusd}, 1000 * 1000 + 10 * 2000, 'base row prices';
    my $above = booked(call(name => 'prompt above the threshold', model => 'tm-long',
                            usage => 'prompt=1001,completion=10'));
    is $above->{rate_id}, $long_tier, 'prompt of 1001 tokens: the long-context row';
    is $above->{prompt_tokens_over}, 1000, 'the row says its threshold';
    is $above->{base_cost_nusd}, 1001 * 3000 + 10 * 4000, 'long-context prices for the whole request';
}

# -- cache reads and writes (Anthropic buckets) -----------------------------
{
    my $row = booked(call(name => 'anthropic with cache', target => $ANTHROPIC, model => 'claude-tm',
                          usage => 'prompt=100,cached=2000,cache_write=500,completion=50'));
    is_deeply [@$row{qw(input_tokens cached_input_tokens cache_write_tokens output_tokens)}],
              [100, 2000, 500, 50], 'buckets: input, cache read, cache write, output';
    # 100 * 3000 + 2000 * 300 + 500 * 3750 + 50 * 15000
    is $row->{base_cost_nusd}, 300_000 + 600_000 + 1_875_000 + 750_000,
       'each bucket at its own price, nothing charged twice';
}

# -- a seeded model under its dated name, through the stack -----------------
{
    my $row = booked(call(name => 'dated Anthropic id', target => $ANTHROPIC,
                          model => 'claude-sonnet-4-20250514', usage => 'prompt=1000,completion=100'));
    is $row->{rate_model}, 'claude-sonnet-4', 'priced with the claude-sonnet-4 row';
    is $row->{base_cost_nusd}, 1000 * 3000 + 100 * 15000, '$3 / $15 per 1M';
}

# -- unpriced, then settled by re-pricing ----------------------------------
my @mystery;
{
    for my $i (1 .. 3) {
        push @mystery, booked(call(name => "unknown model $i", model => 'tm-mystery',
                                   usage => "prompt=${i}000,completion=${i}00"));
    }
    for my $row (@mystery) {
        is $row->{price_state}, 'unpriced', "$row->{request_id}: unpriced";
        is $row->{price_note}, 'no rate for the provider and model', 'says why';
        ok !defined $row->{base_cost_nusd}, 'its cost is unknown, not zero';
        is $row->{moved_nusd}, 0, 'nothing moved';
    }
    is sql1('SELECT count(*) FROM unpriced_requests WHERE model = ?', 'tm-mystery'), 3,
       'listed in unpriced_requests';
    my $before = sql1('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $plain->{customer});

    # reprice_unpriced() marks; a running sidecar prices what it marked
    # within about a second; reprice_report shows each result.
    my @ids = sort map { $_->{request_id} } @mystery;
    my $reprice = sub {
        my $marked = $s->sql('SELECT * FROM reprice_unpriced()');
        my @mine = grep { my $id = $_; grep { $_ eq $id } @ids } map { $_->{request_id} } @$marked;
        ok wait_for(10, sub { sql1(q{SELECT count(*) FROM reprice_report WHERE request_id = ANY(?)
                                      AND result = 'waiting'}, \@ids) == 0 }),
           'the sidecar priced what was marked';
        return ([sort @mine], { map { $_->{request_id} => $_ }
                                @{ $s->sql('SELECT * FROM reprice_report WHERE request_id = ANY(?)', \@ids) } });
    };

    my ($marked, $report) = $reprice->();
    is_deeply $marked, \@ids, 'reprice_unpriced() marks the three and says so';
    is_deeply [map { $report->{$_}{result} } @ids], [('unpriced') x 3], 're-pricing without a rate settles nothing';
    is_deeply [map { $report->{$_}{note} } @ids], [('no rate for the provider and model') x 3],
       'each is reported with its reason';
    ok !defined $report->{ $ids[0] }{total_nusd}, 'no amounts';
    is sql1('SELECT count(*) FROM transfers WHERE request_id = ANY(?)', \@ids), 0, 'nothing moved';
    is sql1('SELECT count(*) FROM unpriced_requests WHERE model = ?', 'tm-mystery'), 3, 'still unpriced';

    sql1(q{SELECT add_rate('openai', 'tm-mystery', '2020-01-01', input => 0.7, output => 1.3)});
    ($marked, $report) = $reprice->();
    is_deeply $marked, \@ids, 'a request left unpriced can be marked again';
    is scalar(grep { $report->{$_}{result} eq 'settled' } @ids), 3, 'with a rate: all three settled';
    my $sum = 0;
    for my $i (1 .. 3) {
        my $rid = $mystery[$i - 1]{request_id};
        my $row = $s->sql('SELECT * FROM request_breakdown WHERE request_id = ?', $rid)->[0];
        my $base = $i * 1000 * 700 + $i * 100 * 1300;
        is $row->{price_state}, 'settled', "request $i: settled";
        is $row->{base_cost_nusd}, $base, "request $i: base $base";
        is $row->{fee_nusd}, 0, "request $i: no fee (0 % meter)";
        is $row->{moved_nusd}, $base, "request $i: the transfers moved it";
        is $report->{$rid}{total_nusd}, $base, "request $i: reprice_report shows the amount";
        ok !defined $report->{$rid}{note}, "request $i: no note";
        $sum += $base;
    }
    is sql1(q{SELECT count(*) FROM transfers WHERE request_id = ANY(?) AND note = 'repriced'}, \@ids), 3,
       'the transfers say they come from re-pricing';
    is sql1('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $plain->{customer}),
       $before - $sum, 'the wallet paid the settlements';
    is sql1('SELECT count(*) FROM unpriced_requests WHERE model = ?', 'tm-mystery'), 0, 'no longer unpriced';
    is scalar @{ $s->sql('SELECT * FROM reprice_unpriced()') }, 0, 'a second run finds nothing';

    # Settling twice is impossible: a settled request forced back into the
    # queue, and reprice_book() called by hand, book nothing more.
    my $first = $mystery[0]{request_id};
    my $xfers = sql1('SELECT count(*) FROM transfers');
    $s->sql(q{UPDATE reprice_queue SET priced_at = NULL, result = NULL, note = NULL
               WHERE request_id = ? RETURNING request_id}, $first);
    ok wait_for(10, sub { sql1('SELECT priced_at IS NOT NULL FROM reprice_queue WHERE request_id = ?', $first) }),
       'the sidecar took the settled request again';
    my $again = $s->sql('SELECT * FROM reprice_book(?::jsonb, ?::jsonb)',
        json_encode([{ request_id => $first, price_state => 'priced', base_cost_nusd => 5,
                       fee_nusd => 0, service_charge_nusd => 0 }]),
        json_encode([{ request_id => $first, kind => 'base', debit => "wallet:$plain->{customer}",
                       credit => 'provider:openai', amount_nusd => 5 }]));
    is_deeply $again, [], 'reprice_book() by hand: nothing to book';
    is sql1('SELECT result FROM reprice_queue WHERE request_id = ?', $first), 'settled', 'still settled';
    is sql1('SELECT count(*) FROM transfers'), $xfers, 'settling twice books no transfer';
    is sql1('SELECT count(*) FROM repricings WHERE request_id = ?', $first), 1, 'one settlement per request';
    is sql1('SELECT base_cost_nusd FROM request_costs WHERE request_id = ?', $first), 1000 * 700 + 100 * 1300,
       'the first settlement stands';
    is sql1('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $plain->{customer}),
       $before - $sum, 'the wallet paid once';

    # The same usage booked live by the sidecar costs what its re-pricing settled.
    my $live = booked(call(name => 'known now', model => 'tm-mystery', usage => 'prompt=2000,completion=200'));
    is $live->{price_state}, 'priced', 'booked priced by the sidecar';
    is $live->{base_cost_nusd}, 2000 * 700 + 200 * 1300, 'same amount as settled by re-pricing';
    is $live->{base_cost_nusd}, $s->sql('SELECT base_cost_nusd FROM request_costs WHERE request_id = ?',
                                        $mystery[1]{request_id})->[0]{base_cost_nusd},
       're-priced by the sidecar equals priced at booking';
}

# -- a settlement Postgres refuses holds up nothing -----------------------
{
    # Booked unpriced for a customer the ledger does not know (no wallet, no
    # meter count can be kept for it), next to one it knows.
    my %f = (payer => 'customer', merchant_id => $plain->{merchant}, meter => 'chat',
             provider => 'openai', model => 'tm-later', input_tokens => 100);
    my $ghost = $direct->(%f, customer_id => 'ghost-customer');
    my $known = $direct->(%f, customer_id => $plain->{customer});
    is_deeply [map { $_->{price_state} } $ghost, $known], [qw(unpriced unpriced)], 'both booked unpriced';
    sql1(q{SELECT add_rate('openai', 'tm-later', '2020-01-01', input => 2)});
    my @ids = map { $_->{request_id} } $ghost, $known;
    my %marked = map { $_->{request_id} => 1 } @{ $s->sql('SELECT * FROM reprice_unpriced()') };
    ok $marked{ $ids[0] } && $marked{ $ids[1] }, 'both marked';
    ok wait_for(10, sub { sql1(q{SELECT count(*) FROM reprice_report WHERE request_id = ANY(?)
                                  AND result <> 'waiting'}, \@ids) == 2 }), 'both priced';
    my %r = map { $_->{request_id} => $_ }
            @{ $s->sql('SELECT * FROM reprice_report WHERE request_id = ANY(?)', \@ids) };
    is $r{ $ids[1] }{result}, 'settled', 'the known customer\'s request is settled';
    is $r{ $ids[1] }{total_nusd}, 100 * 2000, 'at its price';
    is $r{ $ids[0] }{result}, 'unpriced', 'the refused one is reported still unpriced';
    like $r{ $ids[0] }{note}, qr/^not settled: .*meter_usage/, 'with Postgres\'s reason';
    is sql1('SELECT count(*) FROM repricings WHERE request_id = ?', $ids[0]), 0, 'nothing settled for it';
    is sql1('SELECT count(*) FROM transfers WHERE request_id = ?', $ids[0]), 0, 'nothing moved for it';
}

# -- graduated meter, counted per customer ---------------------------------
{
    # $5 per 1M tokens for a customer's first 1000 tokens, $3 after; 20 %
    # of nothing: the fixed fee alone. Three requests of 600 tokens each.
    my @rows = map { booked(call(name => "tiered $_", who => $tiered, usage => 'prompt=500,completion=100')) } 1 .. 3;
    my @want = ([0, 600 * 5000, [[0, 600]]],
                [600, 400 * 5000 + 200 * 3000, [[0, 400], [1000, 200]]],
                [1200, 600 * 3000, [[1000, 600]]]);
    for my $i (0 .. 2) {
        my ($before, $fee, $split) = @{ $want[$i] };
        is $rows[$i]{fee_units_before}, $before, "tiered request $i: $before tokens counted before it";
        is $rows[$i]{fee_units}, 600, "tiered request $i: 600 tokens";
        is $rows[$i]{fee_nusd}, $fee, "tiered request $i: fee $fee nusd";
        my $detail = LavaTest::json_decode($rows[$i]{fee_detail});
        is_deeply [map { [$_->{start}, $_->{units}] } @$detail], $split, "tiered request $i: split over tiers";
        is $rows[$i]{service_charge_nusd}, rdiv($fee * 19_000, 1_000_000), "tiered request $i: 1.9 % of the fee";
    }
    is sql1('SELECT units FROM meter_usage WHERE customer_id = ?', $tiered->{customer}), 1800,
       'the customer has 1800 tokens on the meter';
}

# -- a provider billed on the meter alone, per request ---------------------
{
    my $tok = $s->token(secret_key => $plain->{secret}, customer_id => $plain->{customer},
                        meter_slug => 'per-call');
    my $row = booked(call(name => 'meter-only provider', target => $MISTRAL, token => $tok,
                          model => 'mistral-small', usage => 'prompt=100,completion=10'));
    is $row->{price_state}, 'priced', 'priced without any rate';
    ok !defined $row->{rate_id}, 'no rate row';
    is $row->{base_cost_nusd}, 0, 'no base cost';
    is $row->{fee_nusd}, 50_000_000, 'the meter: $0.05 per request';
    is $row->{service_charge_nusd}, 950_000, 'service charge 1.9 %';
    is $row->{fee_unit}, 'requests', 'counted in requests';

    my $err = booked(call(name => 'meter-only provider error', target => $MISTRAL, token => $tok,
                          model => 'mistral-small', status => 500, headers => ['x-mock-status' => 500]));
    is $err->{total_nusd}, 0, "a provider's error answer is no billed request";
}

# -- a provider error that reports usage (issue 11, class 10) ----------------
# The provider bills the usage it reports with an error, so the gateway does
# too; an error without usage costs nothing.
{
    my $with = booked(call(name => 'provider 500 with usage', model => 'tm-dated', status => 500,
                           usage => 'prompt=1000,completion=100', headers => ['x-mock-status' => 500]));
    is $with->{status}, 500, 'booked with status 500';
    is_deeply [@$with{qw(input_tokens output_tokens)}], [1000, 100], 'the reported usage';
    is $with->{base_cost_nusd}, 1_750_000, 'billed at the rate, like a success';
    my $without = booked(call(name => 'provider 400 without usage', model => 'tm-dated', status => 400,
                              headers => ['x-mock-status' => 400]));
    is $without->{total_nusd}, 0, 'no usage: at zero';
}

# -- gpt-image: tokens only; dall-e: per image (issue 11, class 13) ----------
{
    sql1(q{SELECT add_rate('openai', 'gpt-image-tm', '2020-01-01', input => 5, output => 40,
                           per_image => 0.04)});
    sql1(q{SELECT add_rate('openai', 'dall-e-tm', '2020-01-01', per_image => 0.02)});
    my $IMAGES = '/v1/forward/images/generations?u=https%3A%2F%2Fapi.openai.com%2Fv1';
    my $img = sub {
        my ($model) = @_;
        my $r = $s->request(target => $IMAGES, body => { model => $model, prompt => 'a cat', n => 2 },
                            headers => [Authorization => "Bearer $plain->{token}"]);
        is $r->{status}, 200, "$model: status 200";
        return booked($r);
    };
    my $g = $img->('gpt-image-tm');
    is $g->{images} // 0, 0, 'gpt-image: no image count booked';
    is_deeply [@$g{qw(input_tokens output_tokens)}], [50, 2000], 'gpt-image: the tokens';
    is $g->{base_cost_nusd}, 50 * 5000 + 2000 * 40000, 'gpt-image: tokens only, not the per-image price too';
    my $d = $img->('dall-e-tm');
    is $d->{images}, 2, 'dall-e: two images';
    is $d->{base_cost_nusd}, 2 * 20_000_000, 'dall-e: per image';
}

# -- metadata --------------------------------------------------------------
{
    my $row = booked(call(name => 'metadata', model => 'tm-dated', usage => 'prompt=1,completion=1',
                          headers => ['x-lava-metadata' => '{"user_id":"u-42","feature.name":"chat","n":3}']));
    is sql1(q{SELECT metadata->>'user_id' FROM events WHERE request_id = ?}, $row->{request_id}), 'u-42',
       'stored as jsonb: metadata->>\'user_id\'';
    is sql1(q{SELECT (metadata->'n')::int FROM events WHERE request_id = ?}, $row->{request_id}), 3,
       'numbers stay numbers';
    for my $bad ('{"bad key":1}', '{"":1}', '{"' . ('k' x 65) . '":1}', '{"caf\u00e9":1}', '[1,2]') {
        my $r = call(name => "metadata $bad", model => 'tm-dated', usage => 'prompt=1,completion=1',
                     status => 400, headers => ['x-lava-metadata' => $bad]);
        is $r->{json}{error}{code}, 'invalid_metadata', "refused: $bad";
    }
}

# -- the service charge: rate and basis from the sidecar's configuration --
{
    $s->stop_part('sidecar');
    my $conf = LavaTest::slurp("$s->{dir}/sidecar/sidecar.conf");
    $conf =~ s/^service_charge_\w+\s*=.*$//mg;
    open my $fh, '>', "$s->{dir}/sidecar-sc.conf" or die;
    print $fh $conf, "service_charge_ppm = 25000\nservice_charge_basis = base_fee\n";
    close $fh;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$s->{dir}/sidecar-sc.log";
        open STDERR, '>&', \*STDOUT;
        local $ENV{LAVA_REDIS_URL} = $s->env->{LAVA_REDIS_URL};
        local $ENV{LAVA_PG_DSN} = $s->env->{LAVA_PG_DSN};
        exec($ENV{LAVA_SIDECAR} // "$LavaTest::ROOT/build/lava-sidecar", '-c', "$s->{dir}/sidecar-sc.conf")
            or POSIX::_exit(127);
    }
    # 2000 * 1500 + 200 * 2500 = 3500000 base, 20 % fee 700000; 2.5 % of
    # base + fee (4200000) = 105000
    my $row = booked(call(name => 'service charge 2.5 % of base + fee', who => $tiered, model => 'tm-dated',
                          token => $s->token(secret_key => $tiered->{secret}, customer_id => $tiered->{customer},
                                             meter_slug => 'pct20'),
                          usage => 'prompt=2000,completion=200'));
    is $row->{service_charge_basis}, 'base_fee', 'the event records the basis';
    is $row->{service_charge_ppm}, 25000, 'and the rate';
    is $row->{base_cost_nusd}, 3_500_000, 'base';
    is $row->{fee_nusd}, 700_000, 'fee';
    is $row->{service_charge_nusd}, 105_000, '2.5 % of base + fee';
    kill 'TERM', $pid;
    waitpid $pid, 0;
    $s->start_part('sidecar');
}

# Every invariant holds, nothing was dead-lettered.
is sql1('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };

$s->finish;
done_testing;
