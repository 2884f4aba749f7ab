# Identity before preaccess and the allow-lists of spend keys (issue 13,
# docs/spend-keys.md): the module authenticates in the rewrite phase, so a
# stock limit_req_zone keyed on $lava_customer_id or $lava_spend_key_id
# limits (it limited nothing when the customer was only known in the access
# phase); allowed_models and allowed_providers hold for the OpenAI,
# Anthropic and Gemini request shapes (the model from the body or from
# Gemini's path, dated names by their undated list entry); models without
# a rate are refused 403 model_not_priced when the merchant
# (set_refuse_unpriced) or the key asks for it, and served otherwise.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for json_encode);

my $s = LavaTest->start;
my $USAGE = 'prompt=10,completion=10';
my $OPENAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $ANTHROPIC = '/v1/forward/v1/messages?u=https%3A%2F%2Fapi.anthropic.com';
sub gemini { "/v1/forward/v1beta/models/$_[0]:generateContent?u=https%3A%2F%2Fgenerativelanguage.googleapis.com" }

my $m = $s->setup_merchant(funds => 100);
my $c2 = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT fund_wallet(?, 100)', $c2);
my $tok2 = $s->token(secret_key => $m->{secret}, customer_id => $c2, meter_slug => 'chat');
$s->wait_accepted($tok2) or die "second customer not accepted\n";

sub spend_key {
    my ($name, %o) = @_;
    my $row = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $o{merchant} // $m->{merchant},
                      $name, $o{customer}, $o{meter}, json_encode($o{params} // {}))->[0];
    $s->register_secret($row->{key}, 'spend key');
    my $hex = sha256_hex($row->{key});
    $s->wait_auth(qr/^s $hex /m) or die "spend key $name not published\n";
    return $row;
}

sub code { ref $_[0]{json} eq 'HASH' ? $_[0]{json}{error}{code} // '' : '' }

sub openai {
    my ($auth, $model) = @_;
    return $s->request(target => $OPENAI, body => LavaTest::chat_body(model => $model // 'gpt-4o-mini'),
                       headers => [Authorization => "Bearer $auth", 'x-mock-usage' => $USAGE]);
}

sub anthropic {
    my ($key, $model) = @_;
    return $s->request(target => $ANTHROPIC,
                       body => { model => $model, max_tokens => 50,
                                 messages => [{ role => 'user', content => 'hi' }] },
                       headers => ['x-api-key' => $key, 'x-mock-usage' => $USAGE]);
}

sub google {
    my ($key, $model) = @_;
    return $s->request(target => gemini($model), body => { contents => [{ parts => [{ text => 'hi' }] }] },
                       headers => ['x-goog-api-key' => $key, 'x-mock-usage' => $USAGE]);
}

# ---- stock limit_req keyed on our identities ------------------------------------

$s->configure_nginx(http => [
    'limit_req_zone $lava_customer_id zone=per_customer:1m rate=1r/m;',
    'limit_req_zone $lava_spend_key_id zone=per_spend_key:1m rate=1r/m;',
    'limit_req zone=per_customer burst=2 nodelay;',
    'limit_req zone=per_spend_key burst=1 nodelay;',
]);

my @st = map { openai($m->{token})->{status} } 1 .. 3;
is_deeply \@st, [200, 200, 200], 'limit_req keyed on $lava_customer_id, burst 2: three pass';
my $r = openai($m->{token});
is $r->{status}, 503, 'the fourth: limited by the stock limit_req (503)';
is code($r), 'unavailable', 'answered as JSON by lava_error';
ok $s->wait_event($r->{rid}), 'with an event';
is $s->event($r->{rid})->{customer_id}, $m->{customer},
   'that names the customer: known before preaccess';
is openai($tok2)->{status}, 200, 'another customer of the same merchant is not limited';
my $bare = $s->token(secret_key => $m->{secret});
is openai($bare)->{status}, 200, 'a token without a customer: empty key, not limited';
is openai($bare)->{status}, 200, 'nor the next';

# merchant-paid spend keys: no customer, limited by the key id zone
my $mk1 = spend_key('merchant key 1');
my $mk2 = spend_key('merchant key 2');
@st = map { openai($mk1->{key})->{status} } 1 .. 2;
is_deeply \@st, [200, 200], 'limit_req keyed on $lava_spend_key_id, burst 1: two pass';
$r = openai($mk1->{key});
is $r->{status}, 503, 'the third is limited';
ok $s->wait_event($r->{rid}), 'with an event';
is $s->event($r->{rid})->{spend_key_id}, $mk1->{spend_key_id}, 'naming the spend key';
is openai($mk2->{key})->{status}, 200, 'another spend key is not limited';

$s->configure_nginx(http => []);
is openai($m->{token})->{status}, 200, 'without the zones: the customer is served again';

# ---- allow-lists by model, three shapes -----------------------------------------

my $models = spend_key('models', customer => $m->{customer}, meter => 'chat',
                       params => { allowed_models => ['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'] });
is openai($models->{key}, 'gpt-4o-mini')->{status}, 200, 'allowed_models: OpenAI gpt-4o-mini served';
$r = openai($models->{key}, 'gpt-4o');
is $r->{status}, 403, 'OpenAI gpt-4o: 403';
is code($r), 'model_not_allowed', 'model_not_allowed';
ok $s->wait_event($r->{rid}), 'booked as refused';
is $s->event($r->{rid})->{spend_key_id}, $models->{spend_key_id}, 'with the key id';
is anthropic($models->{key}, 'claude-sonnet-4-5')->{status}, 200, 'Anthropic claude-sonnet-4-5 served';
is anthropic($models->{key}, 'claude-sonnet-4-5-20250929')->{status}, 200,
   'its dated name too (the listed name is undated)';
is code(anthropic($models->{key}, 'claude-opus-4-1')), 'model_not_allowed', 'Anthropic claude-opus-4-1: refused';
is google($models->{key}, 'gemini-2.5-flash')->{status}, 200, 'Gemini: the model of the path, served';
is code(google($models->{key}, 'gemini-2.5-pro')), 'model_not_allowed', 'Gemini gemini-2.5-pro: refused';
$r = $s->request(target => $OPENAI, body => { messages => [{ role => 'user', content => 'x' }] },
                 headers => [Authorization => "Bearer $models->{key}"]);
is $r->{status}, 403, 'a request naming no model is not in the list';

# ---- allow-lists by provider ------------------------------------------------------

my $prov = spend_key('providers', params => { allowed_providers => ['anthropic'] });
$r = openai($prov->{key});
is $r->{status}, 403, 'allowed_providers [anthropic]: OpenAI 403';
is code($r), 'provider_not_allowed', 'provider_not_allowed';
is anthropic($prov->{key}, 'claude-sonnet-4-5')->{status}, 200, 'Anthropic served';
is code(google($prov->{key}, 'gemini-2.5-flash')), 'provider_not_allowed', 'Gemini refused';

my $both = spend_key('both', params => { allowed_providers => ['google'],
                                          allowed_models => ['gemini-2.5-flash'] });
is google($both->{key}, 'gemini-2.5-flash')->{status}, 200, 'provider and model listed: served';
is code(google($both->{key}, 'gemini-2.5-pro')), 'model_not_allowed', 'provider listed, model not: refused';
is code(openai($both->{key}, 'gemini-2.5-flash')), 'provider_not_allowed',
   'the provider is checked first (before the body is read)';

# ---- models without a rate ------------------------------------------------------

my $UNPRICED = 'gpt-lava-unpriced-test';
is openai($m->{token}, $UNPRICED)->{status}, 200, 'by default an unpriced model is served';

my $strict = spend_key('strict', params => { refuse_unpriced => JSON::PP::true });
$r = openai($strict->{key}, $UNPRICED);
is $r->{status}, 403, 'a key with refuse_unpriced: 403';
is code($r), 'model_not_priced', 'model_not_priced';
is openai($strict->{key}, 'gpt-4o-mini')->{status}, 200, 'a priced model is served';
is openai($strict->{key}, 'gpt-4o-mini-2024-07-18')->{status}, 200, 'and its dated name';
is openai($mk2->{key}, $UNPRICED)->{status}, 200, 'a key without it: served';

$s->sql_value('SELECT set_refuse_unpriced(?, true)', $m->{merchant});
ok $s->wait_auth(qr/^p \Q$m->{merchant}\E$/m), 'the merchant setting is published';
$r = openai($m->{token}, $UNPRICED);
is code($r), 'model_not_priced', 'set_refuse_unpriced: a forward token is refused too';
is $r->{status}, 403, 'with status 403';
is code(openai($mk2->{key}, $UNPRICED)), 'model_not_priced', 'and every spend key of the merchant';
is openai($m->{token}, 'gpt-4o-mini')->{status}, 200, 'priced models are served';
my $other = $s->setup_merchant(name => 'Other Merchant', funds => 10);
is openai($other->{token}, $UNPRICED)->{status}, 200, 'another merchant is not affected';
$s->sql_value('SELECT set_refuse_unpriced(?, false)', $m->{merchant});
ok wait_for(5, sub { openai($m->{token}, $UNPRICED)->{status} == 200 }), 'switched off: served again';

$s->finish;
done_testing;
