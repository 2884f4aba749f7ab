# The leftovers of issue 11 (docs/security.md): a request without a model on
# an endpoint whose answer names none either (priced at the provider's
# documented default or refused with the managed key); a JSON body over
# lava_body_inspect_max (refused with the managed key, read from the
# temporary file below the limit); a provider that echoes the key it was sent
# (masked in the answer and in the event); credentials in api_key=, apikey=,
# access_token=, token= arguments (masked in the logs, never forwarded); an
# endpoint listed per_request without a request price (unpriced and
# re-priceable, never free).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(wait_for json_decode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my @bearer = (Authorization => "Bearer $m->{token}");
my $byok = 'sk-byok-leftover-5c1e9a7d3b';
$s->register_secret($byok, 'BYOK provider key');
my $MANAGED = 'sk-mock-openai';    # scripts/lava-stack's managed key for openai

sub sql1 { $s->sql_value(@_) }
sub enc { (my $u = shift) =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $u }

# One request to the provider URL $u: (answer, provider's view or undef, event).
sub call {
    my (%a) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => $a{method} // 'POST',
                        target => $a{target} // '/v1/forward?u=' . enc($a{u}),
                        body => $a{body},
                        headers => [@{ $a{auth} // \@bearer }, 'x-test-id' => $id, @{ $a{headers} // [] }]);
    my $ev = $s->wait_event($r->{rid} // 'none') // {};
    my @seen = $s->mock_requests($id);
    return ($r, $seen[0], $ev);
}

sub refused_ok {
    my ($status, $code, $r, $q, $ev) = @_;
    is $r->{status}, $status, "status $status";
    is $r->{json} && $r->{json}{error}{code}, $code, $code or diag $r->{body};
    like $r->{rid} // '', qr/^req_[0-9A-HJKMNP-TV-Z]{26}$/, 'with a request id';
    ok !$q, 'the provider saw nothing';
    is $ev->{outcome}, 'refused', 'event: refused';
    is $ev->{error}, $code, "event: error $code";
}

my $OAI = 'https://api.openai.com/v1';

# --- 1. Nothing booked unpriced for want of a model --------------------------
sql1(q{SELECT add_rate('openai', 'dall-e-2', '2020-01-01', per_image => 0.02)});

subtest 'images without a model: OpenAI\'s dall-e-2 default, priced' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/images/generations",
                            body => { prompt => 'a cat', n => 2, size => '512x512' });
    is $r->{status}, 200, 'status 200';
    ok $q, 'the provider got it';
    is $ev->{model}, 'dall-e-2', 'event: model dall-e-2';
    like $ev->{tap_flags} // '', qr/\bmodel_default\b/, 'flagged model_default';
    my $row = $s->wait_booked($r->{rid});
    is $row && $row->{price_state}, 'priced', 'priced, not unpriced';
    is $row && $row->{base_cost_nusd}, 2 * 20_000_000, 'two images at the dall-e-2 rate';
};

subtest 'images without a model, with a GPT image parameter: refused with the managed key' => sub {
    refused_ok(400, 'model_required', call(u => "$OAI/images/generations",
                                            body => { prompt => 'a cat', quality => 'high' }));
};

subtest 'the same with the user\'s own key: served' => sub {
    my ($r, $q) = call(u => "$OAI/images/generations", body => { prompt => 'a cat', quality => 'high' },
                       headers => ['X-Provider-API-Key' => $byok]);
    is $r->{status}, 200, 'status 200';
    ok $q, 'the provider got it';
};

subtest 'images on another OpenAI-compatible host without a model: refused' => sub {
    refused_ok(400, 'model_required', call(u => 'https://api.together.xyz/v1/images/generations',
                                            body => { prompt => 'a cat' }));
};

for my $c (['OpenAI speech', "$OAI/audio/speech", { input => 'Hello', voice => 'alloy' }],
           ['Cohere v1 chat', 'https://api.cohere.com/v1/chat', { message => 'Hello' }],
           ['Cohere v1 generate', 'https://api.cohere.com/v1/generate', { prompt => 'Hello' }],
           ['Cohere v1 embed', 'https://api.cohere.com/v1/embed', { texts => ['Hello'] }],
           ['Cohere rerank', 'https://api.cohere.com/v1/rerank', { query => 'q', documents => ['a'] }]) {
    my ($name, $u, $body) = @$c;
    subtest "$name without a model: refused with the managed key" => sub {
        refused_ok(400, 'model_required', call(u => $u, body => $body));
    };
}

subtest 'chat without a model is still served (its answer names the model)' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/chat/completions",
                            body => { messages => [{ role => 'user', content => 'Hi' }] });
    is $r->{status}, 200, 'status 200';
    is $ev->{model}, 'gpt-4o-mini', 'the model the provider answered with';
};

# --- 3. A provider that echoes the key it was sent --------------------------
subtest 'a 401 that echoes the managed key: masked for the client' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/chat/completions", body => LavaTest::chat_body(),
                            headers => ['x-mock-echo-key' => 400]);
    is $r->{status}, 401, 'the provider\'s status';
    ok $q, 'the provider got it';
    unlike $r->{body}, qr/\Q$MANAGED\E/, 'the managed key is nowhere in the body';
    like $r->{body}, qr/Incorrect API key provided: \*{14} \*{14}/, 'each copy overwritten';
    my $masked = () = $r->{body} =~ /\*{14}/g;
    is $masked, 400, 'all 400 copies, those across nginx\'s buffers too';
    like $r->{body}, qr/api-keys\.",/, 'the rest of the body intact';
    is $r->{headers}{'x-echo-key'}, '*' x 14, 'the echoing header masked too';
    ok json_decode($r->{body}), 'still JSON';
    like $ev->{tap_flags} // '', qr/\bprovider_key_masked\b/, 'event: flagged provider_key_masked';
};

subtest 'a compressed error body, which cannot be scanned, is not relayed' => sub {
    my ($r, $q) = call(u => "$OAI/chat/completions", body => LavaTest::chat_body(),
                       headers => ['x-mock-echo-key' => 1, 'x-mock-gzip' => 1]);
    is $r->{status}, 401, 'the provider\'s status';
    ok $q, 'the provider got it';
    is $r->{body}, '', 'no body';
    ok !$r->{headers}{'content-encoding'}, 'no Content-Encoding';
};

subtest 'the managed key in a 200 answer\'s model and usage: never stored' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/chat/completions", body => LavaTest::chat_body(),
                            headers => ['x-mock-echo-key' => 1, 'x-mock-echo-key-in' => 'usage']);
    is $r->{status}, 200, 'status 200';
    unlike $ev->{model} // '', qr/\Q$MANAGED\E/, 'event: model masked';
    unlike $ev->{usage_raw} // '', qr/\Q$MANAGED\E/, 'event: usage_raw masked';
    like $ev->{usage_raw} // '', qr/billed to \*{14}/, 'with stars in its place';
    is $ev->{input_tokens}, 3, 'the usage still read';
    like $ev->{tap_flags} // '', qr/\bprovider_key_masked\b/, 'flagged provider_key_masked';
    ok $s->wait_booked($r->{rid}), 'booked';
};

subtest 'the managed key in a header nginx refuses: not in its error line' => sub {
    my ($r) = call(u => "$OAI/chat/completions", body => LavaTest::chat_body(),
                   headers => ['x-mock-echo-key' => 1, 'x-mock-echo-key-in' => 'invalid-header']);
    is $r->{status}, 502, 'nginx answers 502';
    my @lines = grep { /upstream sent invalid header/ } LavaTest::slurp_lines($s->error_log);
    ok @lines, 'nginx wrote its error line';
    unlike $lines[-1] // '', qr/\Q$MANAGED\E/, 'without the key';
    like $lines[-1] // '', qr/x-echo-key: \*{14}/, 'masked';
};

subtest 'the user\'s own key echoed: never stored either' => sub {
    my ($r, $q, $ev) = call(u => "$OAI/chat/completions", body => LavaTest::chat_body(),
                            headers => ['X-Provider-API-Key' => $byok,
                                        'x-mock-echo-key' => 1, 'x-mock-echo-key-in' => 'usage']);
    is $r->{status}, 200, 'status 200';
    unlike $ev->{model} // '', qr/\Q$byok\E/, 'event: model masked';
    unlike $ev->{usage_raw} // '', qr/\Q$byok\E/, 'event: usage_raw masked';
    ok $s->wait_booked($r->{rid}), 'booked';
};

# --- 4. Credentials in other query arguments -------------------------------
{
    my %arg = (api_key => 'qa-apikey-secret-6e2b91', apikey => 'qa-apikey2-secret-0d7c44',
               access_token => 'qa-access-token-secret-93fa10', token => 'qa-token-secret-5b8e27',
               'api-key' => 'qa-api-dash-key-secret-2c61d9');
    $s->register_secret($_, 'query credential') for values %arg;
    my $inner = 'qa-inner-access-token-7f30c2';
    $s->register_secret($inner, 'query credential');

    subtest 'api_key=, apikey=, api-key=, access_token=, token=: never forwarded' => sub {
        my $args = join '&', map { "$_=$arg{$_}" } sort keys %arg;
        my ($r, $q, $ev) = call(target => '/v1/forward?u=' . enc("$OAI/chat/completions?access_token=$inner&x=1")
                                          . "&$args&limit=2",
                                body => LavaTest::chat_body());
        is $r->{status}, 200, 'status 200' or diag $r->{body};
        is $q && $q->{target}, '/v1/chat/completions?x=1&limit=2', 'only the other arguments reach the provider';
    };

    subtest 'a provider that closes the connection: nginx\'s error line names neither' => sub {
        my $args = join '&', map { "$_=$arg{$_}" } sort keys %arg;
        my ($r) = call(target => '/v1/forward?u=' . enc("$OAI/chat/completions?access_token=$inner")
                                 . "&$args", body => LavaTest::chat_body(), headers => ['x-mock-close' => 1]);
        is $r->{status}, 502, 'status 502';
        my @lines = grep { /upstream prematurely closed/ } LavaTest::slurp_lines($s->error_log);
        ok @lines, 'nginx wrote its upstream error line';
        like $lines[-1] // '', qr/request: "POST \/v1\/forward\?u=.*api_key=\*+/, 'with the request line masked';
    };

    # the harness's secret scan at the end checks every log for these values
}

# --- 2. Bodies over lava_body_inspect_max ----------------------------------
$s->configure_nginx(http => ['lava_body_inspect_max 2m;',
                             'lava_provider_endpoint openai GET /v1/models per_request;',
                             'lava_provider_endpoint openai POST /v1/moderations per_request;']);

subtest 'a body nginx wrote to a temporary file is read (stream: include_usage added)' => sub {
    # no stream_options of its own: the gateway must read the body to add it
    my $body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"'
             . ('x' x 1_500_000) . '"}]}';
    my $files = grep { /buffered to a temporary file/ } LavaTest::slurp_lines($s->error_log);
    my $id = LavaTest::test_id();
    my $r = $s->stream(target => '/v1/forward?u=' . enc("$OAI/chat/completions"), body => $body,
                       timeout => 60, headers => [@bearer, 'x-test-id' => $id]);
    my ($q) = $s->mock_requests($id);
    my $ev = $s->wait_event($r->{rid} // '') // {};
    is $r->{status}, 200, 'status 200';
    ok scalar(grep { /buffered to a temporary file/ } LavaTest::slurp_lines($s->error_log)),
       'the body went through a temporary file';
    ok $q && $q->{body_len} > length $body, 'the provider got the body with include_usage added';
    is $ev->{model}, 'gpt-4o-mini', 'the model';
    is $ev->{usage_source}, 'reported', 'usage reported, not estimated';
};

subtest 'a metered body over lava_body_inspect_max: refused 413 with the managed key' => sub {
    my $body = '{"model":"gpt-4o-mini","stream":true,"stream_option\u0073":{"include_usage":false},'
             . '"messages":[{"role":"user","content":"' . ('x' x (2 * 1024 * 1024)) . '"}]}';
    refused_ok(413, 'body_too_large_to_meter', call(u => "$OAI/chat/completions", body => $body));
};

subtest 'the same with the user\'s own key: served' => sub {
    my $body = LavaTest::chat_body(content => 'x' x (2 * 1024 * 1024 + 10));
    my ($r, $q) = call(u => "$OAI/chat/completions", body => $body,
                       headers => ['X-Provider-API-Key' => $byok]);
    is $r->{status}, 200, 'status 200';
    ok $q, 'the provider got it';
};

# --- 5. Endpoints listed per_request without a request price ----------------
subtest 'per_request endpoints: unpriced without request_nusd, re-priced once it exists' => sub {
    # a rate for any model, without a request price: tokens only
    sql1(q{SELECT add_rate('openai', '*', '2020-01-01', input => 1, output => 2)});
    my ($r, $q, $ev) = call(method => 'GET', u => "$OAI/models");
    is $r->{status}, 200, 'served';
    like $ev->{tap_flags} // '', qr/\bper_request\b/, 'flagged per_request';
    my $row = $s->wait_booked($r->{rid});
    is $row && $row->{price_state}, 'unpriced', 'unpriced, not free';
    is $row && $row->{price_note}, 'no per-request price (request_nusd) for the provider', 'says why';

    # a model in the body would let the client pick the row: not used
    my ($r2, $q2, $ev2) = call(u => "$OAI/moderations", body => { model => 'gpt-4o-mini', input => 'x' });
    is $r2->{status}, 200, 'served';
    is $ev2->{model} // '', '', 'no model booked';
    my $row2 = $s->wait_booked($r2->{rid});
    is $row2 && $row2->{price_state}, 'unpriced', 'unpriced too, whatever model it names';

    sql1(q{SELECT add_rate('openai', '*', '2020-01-02', input => 1, output => 2, per_request => 0.001)});
    my @ids = sort map { $_->{rid} } $r, $r2;
    $s->sql('SELECT * FROM reprice_unpriced()');
    ok wait_for(15, sub { sql1(q{SELECT count(*) FROM reprice_report WHERE request_id = ANY(?)
                                 AND result = 'settled'}, \@ids) == 2 }),
       'both settled by re-pricing' or diag explain $s->sql('SELECT * FROM reprice_report WHERE request_id = ANY(?)', \@ids);
    my ($r3) = call(method => 'GET', u => "$OAI/models");
    my $row3 = $s->wait_booked($r3->{rid});
    is $row3 && $row3->{base_cost_nusd}, 1_000_000, 'a later one priced at request_nusd';
};

$s->finish;
done_testing;
