# Restricted secret keys (issue 11, class 11; docs/security.md): a merchant
# creates an additional secret key restricted to customer billing with
# create_secret_key(). A forward token built from it (the same token format)
# is refused when it sets disable_billing, names no customer or no meter (a
# bare key included), and serves only active customers whose wallet is
# above its minimum, whatever its overdraft policy: 403 restricted_key or
# 402 insufficient_balance, JSON with the request id, booked as refused, the
# provider never reached. A served request is booked to the customer's
# wallet with the merchant's fee. The merchant's own key and an additional
# full key keep working as before; a revoked key stops once published; no
# key is ever written to the logs, Redis or Postgres (the harness's scan).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use JSON::PP ();
use Test::More;

use LavaTest qw(wait_for);

my $s = LavaTest->start;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $USAGE = 'prompt=1000,completion=1000';
# gpt-4o-mini, 1000 in + 1000 out: base 150000 + 600000 = 750000 nusd;
# fee 20 % = 150000; service charge 1.9 % of it = 2850 (t/42-wallet.t).
my $BASE = 750_000;
my $FEE = 150_000;
my $COST = 902_850;

my $m = $s->setup_merchant(funds => 1);

# --- the admin functions ------------------------------------------------------

my $k = $s->sql('SELECT * FROM create_secret_key(?, ?)', $m->{merchant}, 'web backend')->[0];
$s->register_secret($k->{secret_key}, 'restricted secret key');
like $k->{secret_key}, qr/^lava_rk_[0-9a-f]{64}$/, 'a restricted key: lava_rk_ and 64 hex digits';
like $k->{secret_key_id}, qr/^sk_[0-9a-f]{24}$/, 'with an id';
is $k->{secret_key_hint}, substr($k->{secret_key}, 0, 8) . '...' . substr($k->{secret_key}, -4),
   'and a hint: prefix and last 4 characters';
my $rk = $k->{secret_key};
my $hex = sha256_hex($rk);

my $full = $s->sql('SELECT * FROM create_secret_key(?, ?, restricted => false)',
                   $m->{merchant}, 'batch jobs')->[0];
$s->register_secret($full->{secret_key}, 'additional full secret key');
like $full->{secret_key}, qr/^lava_sk_[0-9a-f]{64}$/, 'a full additional key: lava_sk_';

my $list = $s->sql('SELECT * FROM list_secret_keys(?)', $m->{merchant});
is scalar @$list, 2, 'list_secret_keys: both keys';
is_deeply [sort map { $_->{secret_key_id} } @$list],
          [sort $k->{secret_key_id}, $full->{secret_key_id}], 'by id';
ok !(grep { exists $_->{secret_key} } @$list), 'never the keys';
my %restricted = map { $_->{secret_key_id} => $_->{restricted} } @$list;
ok $restricted{$k->{secret_key_id}}, 'restricted by default';
ok !$restricted{$full->{secret_key_id}}, 'restricted => false: a full key';
is $s->sql_value('SELECT count(*) FROM secret_keys WHERE secret_key_hash = sha256(?::bytea)', $rk), 1,
   'only the sha256 of the key is stored';
eval { $s->sql('SELECT * FROM create_secret_key(?, ?)', 'mer_nobody', 'x') };
like $@, qr/no merchant mer_nobody/, 'create_secret_key: an unknown merchant is refused';
eval { $s->sql_value('SELECT revoke_secret_key(?)', 'sk_nobody') };
like $@, qr/no secret key sk_nobody/, 'revoke_secret_key: an unknown key is refused';

# Customers: funded (the setup's), a second funded one, one of another
# merchant, one under 'allow' with an empty wallet, one blocked, one disabled.
my $c2 = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT fund_wallet(?, 1)', $c2);
my $allow = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT set_overdraft(?, ?)', $allow, 'allow');
my $empty = $s->sql_value('SELECT create_customer(?)', $m->{merchant});     # block, $0
my $off = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT fund_wallet(?, 1)', $off);
$s->sql_value('SELECT disable_customer(?)', $off);
my $other = $s->setup_merchant(name => 'Other Merchant', funds => 1);

ok $s->wait_auth(qr/^k $hex \Q$m->{merchant}\E active$/m), 'the restricted key is published as "k"';
my $snap = $s->redis('get', 'lava:auth:snapshot');
like $snap, qr/^m \Q@{[sha256_hex($full->{secret_key})]}\E \Q$m->{merchant}\E active$/m,
     'the full additional key as a second "m"';
like $snap, qr/^u \Q$m->{merchant}\E \Q$allow\E$/m, "an empty wallet under 'allow' is \"u\"";
like $snap, qr/^u \Q$m->{merchant}\E \Q$empty\E$/m, "an empty wallet under 'block' too";
unlike $snap, qr/^u \Q$m->{merchant}\E \Q$m->{customer}\E$/m, 'a funded wallet is not';
unlike $snap, qr/^u \Q$other->{merchant}\E /m, 'nor a merchant without a restricted key';
like $snap, qr/^c \Q$m->{merchant}\E \Q$allow\E active$/m, "the 'allow' customer is still active";

# --- requests -----------------------------------------------------------------

sub call {
    my ($token) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                        headers => [Authorization => "Bearer $token", 'x-mock-usage' => $USAGE,
                                    'x-test-id' => $id], timeout => 20);
    $r->{test_id} = $id;
    return $r;
}

sub tok { $s->token(secret_key => $rk, @_) }

sub refused_ok {
    my ($r, $status, $code, $name, $customer) = @_;
    is $r->{status}, $status, "$name: $status";
    is $r->{json}{error}{code}, $code, "$name: code $code";
    is $r->{json}{error}{status}, $status, "$name: status in the JSON body";
    like $r->{rid} // '', qr/^req_[0-9A-Z]{26}$/, "$name: x-lava-request-id";
    is scalar(LavaTest::mock_requests($s, $r->{test_id})), 0, "$name: the provider never saw it";
    my $row = $r->{rid} ? $s->wait_booked($r->{rid}) : undef;
    ok $row, "$name: booked";
    return unless $row;
    is $row->{outcome}, 'refused', "$name: booked as refused";
    is $row->{error}, $code, "$name: with its code";
    is $row->{merchant_id}, $m->{merchant}, "$name: for the merchant";
    is $row->{customer_id}, $customer, "$name: customer " . ($customer // 'none');
    is $row->{payer}, 'none', "$name: nobody pays";
    is $row->{moved_nusd}, 0, "$name: nothing moved";
}

sub balance { $s->sql_value('SELECT balance_nusd FROM wallet_balances WHERE customer_id = ?', $_[0]) }

# Served: an active, funded customer through a meter, booked to its wallet
# with the merchant's fee.
my $before = balance($m->{customer});
my $ok = call(tok(customer_id => $m->{customer}, meter_slug => 'chat'));
is $ok->{status}, 200, 'restricted key, funded customer, meter: 200';
my $row = $s->wait_booked($ok->{rid});
ok $row, 'booked';
is $row->{outcome}, 'complete', 'complete';
is $row->{payer}, 'customer', 'the customer pays';
is $row->{customer_id}, $m->{customer}, 'that customer';
is $row->{meter_slug}, 'chat', 'through the meter';
is $row->{base_cost_nusd}, $BASE, 'base cost';
is $row->{fee_nusd}, $FEE, 'the merchant fee is charged';
is $row->{moved_nusd}, $COST, 'everything moved';
is balance($m->{customer}), $before - $COST, "from the customer's wallet";

# Another customer of the merchant, funded: served too (the key is the
# merchant's; spend keys, issue 13, are what binds one customer).
is call(tok(customer_id => $c2, meter_slug => 'chat'))->{status}, 200,
   'another funded customer of the merchant: 200';

# What a restricted key cannot ask.
refused_ok(call(tok(customer_id => $m->{customer}, meter_slug => 'chat',
                    disable_billing => JSON::PP::true)),
           403, 'restricted_key', 'disable_billing');
refused_ok(call(tok(meter_slug => 'chat')), 403, 'restricted_key', 'no customer (the merchant would pay)');
refused_ok(call(tok(customer_id => $m->{customer})), 403, 'restricted_key', 'no meter (no fee)');
refused_ok(call(tok()), 403, 'restricted_key', 'secret key only');
refused_ok(call($rk), 403, 'restricted_key', 'the bare restricted key');

# Whom it cannot serve.
refused_ok(call(tok(customer_id => $allow, meter_slug => 'chat')), 402, 'insufficient_balance',
           "an empty wallet under 'allow'", $allow);
refused_ok(call(tok(customer_id => $empty, meter_slug => 'chat')), 402, 'insufficient_balance',
           "an empty wallet under 'block'", $empty);
my $r = call(tok(customer_id => $off, meter_slug => 'chat'));
is $r->{status}, 403, 'a disabled customer: 403';
is $r->{json}{error}{code}, 'customer_disabled', '... customer_disabled';
$r = call(tok(customer_id => $other->{customer}, meter_slug => 'chat'));
is $r->{status}, 401, "another merchant's customer: 401";
is $r->{json}{error}{code}, 'unknown_customer', '... unknown_customer';

# The merchant's own key is unchanged: it serves the 'allow' customer, and
# disable_billing makes the merchant pay.
my $own = call($s->token(secret_key => $m->{secret}, customer_id => $allow, meter_slug => 'chat'));
is $own->{status}, 200, "the merchant's own key serves the 'allow' customer";
my $free = call($s->token(secret_key => $m->{secret}, customer_id => $m->{customer}, meter_slug => 'chat',
                          disable_billing => JSON::PP::true));
is $free->{status}, 200, "the merchant's own key with disable_billing: 200";
is $s->wait_booked($free->{rid})->{payer}, 'merchant', '... the merchant pays';
my $bare = call($m->{secret});
is $bare->{status}, 200, "the merchant's own bare key: 200";
# An additional full key is a full key.
my $ffree = call($s->token(secret_key => $full->{secret_key}, customer_id => $m->{customer},
                           meter_slug => 'chat', disable_billing => JSON::PP::true));
is $ffree->{status}, 200, 'an additional full key with disable_billing: 200';
is $s->wait_booked($ffree->{rid})->{payer}, 'merchant', '... the merchant pays';

# Funded again: served once published.
$s->sql_value('SELECT fund_wallet(?, 1)', $allow);
ok $s->wait_auth(qr/^k $hex /m) && wait_for(10, sub {
       $s->redis('get', 'lava:auth:snapshot') !~ /^u \Q$m->{merchant}\E \Q$allow\E$/m }),
   "funded: the 'allow' customer is no longer \"u\"";
ok wait_for(8, sub { call(tok(customer_id => $allow, meter_slug => 'chat'))->{status} == 200 }),
   'and the restricted key serves it';

# A wallet that falls to its minimum under 'allow' by a booking becomes
# unfunded (the booking moves the auth version, whatever the policy).
# c2 holds 1e9 - 902850 = 999097150 nusd: above a 0.999 USD minimum, and
# below it after one more request.
$s->sql_value('SELECT set_overdraft(?, ?, ?)', $c2, 'allow', 0.999);
my $v = $s->sql_value('SELECT version FROM auth_state');
ok wait_for(10, sub { ($s->redis('get', 'lava:auth:version') // 0) >= $v }),
   'the new minimum is published before the request';
is call(tok(customer_id => $c2, meter_slug => 'chat'))->{status}, 200,
   'above a 0.999 USD minimum: 200';
ok wait_for(10, sub { $s->redis('get', 'lava:auth:snapshot') =~ /^u \Q$m->{merchant}\E \Q$c2\E$/m }),
   'booked below its minimum: published "u"';
ok wait_for(8, sub { call(tok(customer_id => $c2, meter_slug => 'chat'))->{status} == 402 }),
   '... 402 with the restricted key';
is call($s->token(secret_key => $m->{secret}, customer_id => $c2, meter_slug => 'chat'))->{status}, 200,
   "... while the merchant's own key still serves it ('allow')";

# Revoked: unknown once published.
$s->sql_value('SELECT revoke_secret_key(?)', $k->{secret_key_id});
ok wait_for(10, sub { $s->redis('get', 'lava:auth:snapshot') !~ /^k $hex /m }),
   'revoked: no longer published';
ok $s->sql_value('SELECT revoked_at IS NOT NULL FROM secret_keys WHERE id = ?', $k->{secret_key_id}),
   'revoked_at set';
ok wait_for(8, sub { call(tok(customer_id => $m->{customer}, meter_slug => 'chat'))->{status} == 401 }),
   'a token of the revoked key: 401';
is call(tok(customer_id => $m->{customer}, meter_slug => 'chat'))->{json}{error}{code}, 'invalid_key',
   '... invalid_key';
is call($m->{token})->{status}, 200, "the merchant's own key still works";
unlike $s->redis('get', 'lava:auth:snapshot'), qr/^u /m,
       'no restricted key left: no "u" records';

# A disabled merchant's restricted key is refused as the merchant is.
my $k2 = $s->sql('SELECT * FROM create_secret_key(?, ?)', $m->{merchant}, 'second')->[0];
$s->register_secret($k2->{secret_key}, 'restricted secret key');
$s->sql_value('SELECT disable_merchant(?)', $m->{merchant});
my $hex2 = sha256_hex($k2->{secret_key});
ok $s->wait_auth(qr/^k $hex2 \Q$m->{merchant}\E disabled$/m), 'a disabled merchant: "k ... disabled"';
$r = call($s->token(secret_key => $k2->{secret_key}, customer_id => $m->{customer}, meter_slug => 'chat'));
is $r->{status}, 401, "a disabled merchant's restricted key: 401";
is $r->{json}{error}{code}, 'merchant_disabled', '... merchant_disabled';

# No key in the snapshot, the ledger or the logs: only their hashes.
for my $key ($rk, $k2->{secret_key}, $full->{secret_key}) {
    unlike $s->redis('get', 'lava:auth:snapshot'), qr/\Q$key\E/, 'no key in the published snapshot';
}
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };

$s->finish;
done_testing;
