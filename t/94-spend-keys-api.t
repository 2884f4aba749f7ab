# Spend keys on the unified and rewrite endpoints (issues 13 and 14,
# docs/endpoints.md "Spend keys", docs/spend-keys.md): a key's request_shape
# is the shape its users speak: an openai key on POST /v1/chat/completions,
# an anthropic key on POST /v1/messages, the other endpoint refused 403
# request_shape_not_allowed (booked as refused with the key id); on the
# rewrite endpoint the format of the path is what the client speaks. The
# allow-lists, the limits and refuse_unpriced hold with the provider and the
# model the request is routed to ("provider/" split off). GET /v1/models
# lists what a key's allow-lists take. refuse_unpriced does not refuse a
# provider billed on the merchant's meter alone (r <provider> * 0 0).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;

use LavaTest qw(json_decode json_encode wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 100);
my $usage = 'prompt=100,completion=20';

sub spend_key {
    my ($name, %o) = @_;
    my $row = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $m->{merchant}, $name,
                      $o{customer}, $o{meter}, json_encode($o{params} // {}))->[0];
    $s->register_secret($row->{key}, 'spend key');
    my $hex = sha256_hex($row->{key});
    $s->wait_auth(qr/^s $hex /m) or die "spend key $name not published\n";
    return $row;
}

sub code { ref $_[0]{json} eq 'HASH' && ref $_[0]{json}{error} eq 'HASH' ? $_[0]{json}{error}{code} // '' : '' }

my $oa_body = sub { { model => $_[0], max_tokens => 32, messages => [{ role => 'user', content => 'Hi' }] } };
my $an_body = sub { { model => $_[0], max_tokens => 32, messages => [{ role => 'user', content => 'Hi' }] } };

# POST /v1/chat/completions (OpenAI SDK: Bearer), /v1/messages (Anthropic SDK: x-api-key)
sub chat {
    my ($key, $model, @h) = @_;
    return $s->request(target => '/v1/chat/completions', body => $oa_body->($model),
                       headers => [Authorization => "Bearer $key", 'x-mock-usage' => $usage, @h]);
}

sub messages {
    my ($key, $model, @h) = @_;
    return $s->request(target => '/v1/messages', body => $an_body->($model),
                       headers => ['x-api-key' => $key, 'anthropic-version' => '2023-06-01',
                                   'x-mock-usage' => $usage, @h]);
}

sub rewrite {
    my ($key, $format, $url, $model, @h) = @_;
    return $s->request(target => "/v1/rewrite/$format/$url", body => $oa_body->($model),
                       headers => [Authorization => "Bearer $key", 'x-mock-usage' => $usage, @h]);
}

sub refused_with_key {
    my ($r, $status, $code, $key, $what) = @_;
    is $r->{status}, $status, "$what: $status";
    is code($r), $code, "$what: $code";
    ok $r->{rid}, "$what: x-lava-request-id";
    my $ev = $s->wait_event($r->{rid} // '') // {};
    is $ev->{outcome}, 'refused', "$what: booked as refused";
    is $ev->{spend_key_id}, $key->{spend_key_id}, "$what: with the key id";
}

my $OA = 'https://api.openai.com/v1/chat/completions';
my $AN = 'https://api.anthropic.com/v1/messages';

# --- request_shape -----------------------------------------------------------------
my $oak = spend_key('openai shape');                                   # the default
my $ank = spend_key('anthropic shape', params => { request_shape => 'anthropic' });

subtest 'request_shape: each key on its own endpoint' => sub {
    my $r = chat($oak->{key}, 'anthropic/claude-sonnet-4-5');
    is $r->{status}, 200, 'an openai key on /v1/chat/completions (an Anthropic model): 200';
    is $r->{json}{object}, 'chat.completion', 'a chat.completion';
    my $ev = $s->wait_event($r->{rid} // '') // {};
    is $ev->{spend_key_id}, $oak->{spend_key_id}, 'booked with the key id';
    is $ev->{provider}, 'anthropic', 'to anthropic';

    $r = messages($ank->{key}, 'anthropic/claude-sonnet-4-5');
    is $r->{status}, 200, 'an anthropic key on /v1/messages: 200';
    is $r->{json}{type}, 'message', 'an Anthropic message';
    $r = messages($ank->{key}, 'openai/gpt-4o-mini');
    is $r->{status}, 200, 'an anthropic key on /v1/messages, an OpenAI model: 200';
    is $r->{json}{type}, 'message', 'translated back into an Anthropic message';
    is $s->wait_event($r->{rid} // '')->{provider}, 'openai', 'booked to openai';
};

subtest 'request_shape: the other endpoint is refused, naming the key\'s' => sub {
    my $id = LavaTest::test_id();
    my $r = chat($ank->{key}, 'openai/gpt-4o-mini', 'x-test-id' => $id);
    refused_with_key($r, 403, 'request_shape_not_allowed', $ank, 'an anthropic key on /v1/chat/completions');
    like $r->{json}{error}{message} // '', qr{request_shape is anthropic.*POST /v1/messages},
         'the message names /v1/messages';
    is scalar($s->mock_requests($id)), 0, 'the provider saw nothing';

    $id = LavaTest::test_id();
    $r = messages($oak->{key}, 'anthropic/claude-sonnet-4-5', 'x-test-id' => $id);
    refused_with_key($r, 403, 'request_shape_not_allowed', $oak, 'an openai key on /v1/messages');
    like $r->{json}{error}{message} // '', qr{request_shape is openai.*POST /v1/chat/completions},
         'the message names /v1/chat/completions';
    is scalar($s->mock_requests($id)), 0, 'the provider saw nothing';
    unlike $r->{body}, qr/\Q$oak->{key}\E/, 'the key is not in the answer';

    # forward tokens and secret keys: the endpoint says the shape
    is chat($m->{token}, 'openai/gpt-4o-mini')->{status}, 200, 'a forward token on /v1/chat/completions';
    is messages($m->{token}, 'anthropic/claude-sonnet-4-5')->{status}, 200, 'and on /v1/messages';
};

subtest 'request_shape on the rewrite endpoint: the path\'s format is spoken' => sub {
    my $r = rewrite($ank->{key}, 'openai', $AN, 'claude-sonnet-4-5');
    is $r->{status}, 200, 'an anthropic key, /v1/rewrite/openai/<Anthropic URL>: 200';
    is $r->{json}{object}, 'chat.completion', 'an OpenAI answer (the path\'s format)';
    my $id = LavaTest::test_id();
    $r = $s->request(target => "/v1/rewrite/anthropic/$AN", body => $an_body->('claude-sonnet-4-5'),
                     headers => ['x-api-key' => $oak->{key}, 'x-mock-usage' => $usage, 'x-test-id' => $id]);
    is $r->{status}, 200, 'an openai key, /v1/rewrite/anthropic/<Anthropic URL>: 200';
    is $r->{json}{type}, 'message', 'an Anthropic answer';
    is $s->wait_event($r->{rid} // '')->{spend_key_id}, $oak->{spend_key_id}, 'booked with the key id';
};

# --- allow-lists and limits with the routed provider and model ------------------
subtest 'allowed_models: the model after "provider/", the Gemini path, the rewrite body' => sub {
    my $k = spend_key('models', params => { allowed_models => ['claude-sonnet-4-5', 'gemini-2.5-flash'] });
    is chat($k->{key}, 'anthropic/claude-sonnet-4-5')->{status}, 200, 'anthropic/claude-sonnet-4-5: listed, 200';
    is chat($k->{key}, 'claude-sonnet-4-5')->{status}, 200, 'the bare name: 200';
    is chat($k->{key}, 'anthropic/claude-sonnet-4-5-20250929')->{status}, 200,
       'its dated name (the listed one is undated): 200';
    refused_with_key(chat($k->{key}, 'openai/gpt-4o-mini'), 403, 'model_not_allowed', $k,
                     'openai/gpt-4o-mini');
    refused_with_key(chat($k->{key}, 'gpt-4o-mini'), 403, 'model_not_allowed', $k, 'gpt-4o-mini (bare)');
    is chat($k->{key}, 'google/gemini-2.5-flash')->{status}, 200, 'google/gemini-2.5-flash (the URL names it): 200';
    is code(chat($k->{key}, 'google/gemini-2.5-pro')), 'model_not_allowed', 'google/gemini-2.5-pro: refused';
    is rewrite($k->{key}, 'openai', $AN, 'claude-sonnet-4-5')->{status}, 200, 'rewrite, a listed model: 200';
    is code(rewrite($k->{key}, 'openai', $AN, 'claude-opus-4-1')), 'model_not_allowed',
       'rewrite, another model: refused';
    is code(rewrite($k->{key}, 'openai',
                    'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent',
                    'gemini-2.5-flash')),
       'model_not_allowed', 'rewrite to Gemini: the model of the URL counts, not the body\'s';
};

subtest 'allowed_providers: the provider the model routes to' => sub {
    my $k = spend_key('providers', params => { allowed_providers => ['anthropic'] });
    is chat($k->{key}, 'anthropic/claude-sonnet-4-5')->{status}, 200, 'anthropic/...: 200';
    refused_with_key(chat($k->{key}, 'openai/gpt-4o-mini'), 403, 'provider_not_allowed', $k, 'openai/gpt-4o-mini');
    is code(chat($k->{key}, 'gpt-4o-mini')), 'provider_not_allowed', 'a bare name priced by openai: refused';
    is code(rewrite($k->{key}, 'anthropic', $OA, 'gpt-4o-mini')), 'provider_not_allowed',
       'rewrite to OpenAI\'s URL: refused';
    is rewrite($k->{key}, 'openai', $AN, 'claude-sonnet-4-5')->{status}, 200, 'rewrite to Anthropic: 200';
};

subtest 'request_limit counts the unified and rewrite endpoints' => sub {
    my $k = spend_key('limited', params => { request_limit => { count => 2, cycle => 'total' } });
    is chat($k->{key}, 'anthropic/claude-sonnet-4-5')->{status}, 200, 'first (unified): 200';
    is rewrite($k->{key}, 'openai', $AN, 'claude-sonnet-4-5')->{status}, 200, 'second (rewrite): 200';
    refused_with_key(chat($k->{key}, 'openai/gpt-4o-mini'), 429, 'request_limit_exceeded', $k, 'third');
};

subtest 'refuse_unpriced with the routed model' => sub {
    my $k = spend_key('strict', params => { refuse_unpriced => JSON::PP::true });
    refused_with_key(chat($k->{key}, 'openai/gpt-lava-unpriced-test'), 403, 'model_not_priced', $k,
                     'openai/<a model without a rate>');
    is chat($k->{key}, 'openai/gpt-4o-mini')->{status}, 200, 'openai/gpt-4o-mini: priced, 200';
    is code(rewrite($k->{key}, 'anthropic', $OA, 'gpt-lava-unpriced-test')), 'model_not_priced',
       'rewrite, a model without a rate: refused';
};

# --- GET /v1/models ----------------------------------------------------------------
sub model_ids {
    my ($key) = @_;
    my $r = $s->request(target => '/v1/models', headers => [Authorization => "Bearer $key"]);
    is $r->{status}, 200, 'GET /v1/models: 200';
    is $r->{json}{object}, 'list', 'a list';
    return { map { $_->{id} => 1 } @{ $r->{json}{data} // [] } };
}

sub undated { my $n = shift; $n =~ s/-(?:\d{4}-\d{2}-\d{2}|\d{8})$//; $n }

subtest 'GET /v1/models: a spend key sees what its allow-lists take' => sub {
    my $all = model_ids($m->{token});
    ok $all->{'openai/gpt-4o-mini'} && $all->{'anthropic/claude-sonnet-4-5'}, 'a forward token: the whole list';
    is_deeply model_ids($m->{secret}), $all, 'a secret key: the same';
    is_deeply model_ids($oak->{key}), $all, 'a spend key without allow-lists: the same';

    my $pk = spend_key('list providers', params => { allowed_providers => ['anthropic'] });
    my $ids = model_ids($pk->{key});
    ok $ids->{'anthropic/claude-sonnet-4-5'}, 'allowed_providers [anthropic]: anthropic/claude-sonnet-4-5';
    is_deeply [grep { !m{^anthropic/} } sort keys %$ids], [], 'and no other provider';
    is scalar(keys %$ids), scalar(grep { m{^anthropic/} } keys %$all), 'every model of anthropic';

    my $mk = spend_key('list models', params => { allowed_models => ['gpt-4o-mini', 'claude-sonnet-4-5'] });
    $ids = model_ids($mk->{key});
    ok $ids->{'openai/gpt-4o-mini'} && $ids->{'anthropic/claude-sonnet-4-5'},
       'allowed_models: both listed models';
    is_deeply [grep { !/^(?:openai\/gpt-4o-mini|anthropic\/claude-sonnet-4-5)$/ } map { undated($_) } sort keys %$ids],
              [], 'nothing else (dated names of them only)';

    my $bk = spend_key('list both', params => { allowed_providers => ['openai'],
                                                allowed_models => ['gpt-4o-mini', 'claude-sonnet-4-5'] });
    $ids = model_ids($bk->{key});
    ok $ids->{'openai/gpt-4o-mini'}, 'both lists: openai/gpt-4o-mini';
    ok !$ids->{'anthropic/claude-sonnet-4-5'}, 'not claude-sonnet-4-5 (its provider is not listed)';

    my $ek = spend_key('list none', params => { allowed_models => [] });
    is_deeply model_ids($ek->{key}), {}, 'an empty allowed_models: an empty list';

    my $r = $s->request(target => '/v1/models', headers => ['x-api-key' => $pk->{key}]);
    is $r->{status}, 200, 'the key as x-api-key: 200';

    my $pause = spend_key('list paused');
    $s->sql_value('SELECT pause_spend_key(?)', $pause->{spend_key_id});
    ok wait_for(10, sub {
        code($s->request(target => '/v1/models', headers => [Authorization => "Bearer $pause->{key}"]))
            eq 'key_paused' }), 'a paused key: refused once published';
    $r = $s->request(target => '/v1/models', headers => [Authorization => "Bearer $pause->{key}"]);
    refused_with_key($r, 401, 'key_paused', $pause, 'a paused key');
    $r = $s->request(target => '/v1/models', headers => [Authorization => 'Bearer lava_spk_' . ('0' x 64)]);
    is $r->{status}, 401, 'an unknown spend key: 401';
    is code($r), 'invalid_key', 'invalid_key';
};

# --- refuse_unpriced and a provider billed on the meter alone -------------------
subtest 'refuse_unpriced: a provider billed on the meter alone is priced by the meter' => sub {
    $s->sql_value(q{SELECT set_meter_only_provider('moonshot')});
    ok $s->wait_auth(qr/^r moonshot \* 0 0$/m), 'published as r moonshot * 0 0';
    $s->sql_value('SELECT create_meter(?, ?, ?, ?)', $m->{merchant}, 'fixed', 'fixed', 5);
    ok $s->wait_auth(qr/^t \Q$m->{merchant}\E fixed$/m), 'a fixed meter "fixed" published';
    $s->sql_value('SELECT set_refuse_unpriced(?, true)', $m->{merchant});
    ok $s->wait_auth(qr/^p \Q$m->{merchant}\E$/m), 'the merchant refuses unpriced models';

    my $moonshot = '/v1/forward?u=' . 'https%3A%2F%2Fapi.moonshot.ai%2Fv1%2Fchat%2Fcompletions';
    my $call = sub {
        my ($auth, $model) = @_;
        return $s->request(target => $moonshot, body => LavaTest::chat_body(model => $model),
                           headers => [Authorization => "Bearer $auth", 'x-mock-usage' => $usage]);
    };
    my $fixed = $s->token(secret_key => $m->{secret}, customer_id => $m->{customer}, meter_slug => 'fixed');
    my $r = $call->($fixed, 'moonshot-v1-8k');
    is $r->{status}, 200, 'a customer with a fixed meter: served';
    my $row = $s->wait_booked($r->{rid} // '') // {};
    is $row->{price_state}, 'priced', 'and booked priced (the meter\'s fee)';
    ok(($row->{fee_nusd} // 0) > 0, 'with a fee');
    $r = $call->($s->token(secret_key => $m->{secret}), 'moonshot-v1-8k');
    is $r->{status}, 200, 'the merchant paying (a bare secret key): served';
    my $mk = spend_key('merchant meter-only');
    is chat($mk->{key}, 'moonshot/kimi-k2-0905-preview')->{status}, 200,
       'a merchant\'s spend key, unified moonshot/<model>: served';
    my $sk = spend_key('strict moonshot', customer => $m->{customer}, meter => 'fixed',
                       params => { refuse_unpriced => JSON::PP::true });
    is chat($sk->{key}, 'moonshot/kimi-k2-0905-preview')->{status}, 200,
       'a customer\'s key with refuse_unpriced and a fixed meter: served';

    # a percentage of no base cost is booked unpriced: still refused
    $r = $call->($m->{token}, 'moonshot-v1-8k');
    is $r->{status}, 403, 'a customer with a percentage meter: 403';
    is code($r), 'model_not_priced', 'model_not_priced';
    is code(chat($mk->{key}, 'openai/gpt-lava-unpriced-test')), 'model_not_priced',
       'an unpriced model of a priced provider: still refused';
    $s->sql_value('SELECT set_refuse_unpriced(?, false)', $m->{merchant});
};

$s->finish;
done_testing;
