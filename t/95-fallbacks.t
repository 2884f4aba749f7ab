# Fallbacks across providers (issue 14, deliverable 3; docs/endpoints.md,
# "Fallbacks"): an ordered list of {url, model} tried in turn when an attempt
# fails with a 5xx, a 429 or a connect/timeout error before any byte of its
# answer reached the client, the client's body translated to each
# provider's shape. The mock fails one attempt by its model
# (x-mock-model-status). Each failed attempt is its own event, under a fresh
# request id, attempt_of the client's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use File::Temp ();
use IO::Socket::INET;
use Test::More;

use LavaTest qw(json_decode json_encode wait_for);

# --- the directives: nginx -t refuses what could not work ---------------------
{
    my $dir = File::Temp::tempdir('lava-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $provider = "    upstream lava_test { server 127.0.0.1:9; }\n"
                 . "    lava_allow_private_upstreams on;\n"
                 . "    lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;\n";
    for my $c (['lava_fallback_attempts 3;', 0], ['lava_fallback_attempts 1;', 0],
               ['lava_fallback_attempts 5;', 0], ['lava_fallback_timeout 30s;', 0],
               ['lava_fallback_attempts 0;', qr/invalid value "0" of "lava_fallback_attempts": 1 to 5/],
               ['lava_fallback_attempts 6;', qr/invalid value "6" of "lava_fallback_attempts": 1 to 5/],
               ['lava_fallback_attempts many;', qr/"lava_fallback_attempts": 1 to 5/],
               ['lava_fallback_timeout 0;', qr/invalid value "0" of "lava_fallback_timeout"/],
               ['lava_fallback_timeout 2d;', qr/invalid value "2d" of "lava_fallback_timeout"/],
               ['lava_fallback_timeout soon;', qr/"lava_fallback_timeout": a time/]) {
        my ($directive, $refused) = @$c;
        my ($rc, $out) = LavaTest::nginx_t(dir => $dir, scheme => 'http', http => "$provider    $directive\n");
        if ($refused) {
            isnt $rc, 0, "nginx -t refuses $directive";
            like $out, $refused, '  naming the bound' or diag $out;
        } else {
            is $rc, 0, "nginx -t accepts $directive" or diag $out;
        }
    }
}

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};
my $usage = 'prompt=1200,completion=340';

my $oa_chat = { model => 'anthropic/claude-sonnet-4-5', max_tokens => 64,
                messages => [{ role => 'system', content => 'Be brief.' },
                             { role => 'user', content => 'Hello there' }] };
my $an_msgs = { model => 'openai/gpt-4o-mini', max_tokens => 64, system => 'Be brief.',
                messages => [{ role => 'user', content => 'Hello there' }] };
my $to_openai = [{ url => 'api.openai.com/v1/chat/completions', model => 'gpt-4o-mini' }];
my $to_anthropic = [{ url => 'api.anthropic.com/v1/messages', model => 'claude-sonnet-4-5' }];

sub code { ref $_[0]{json} eq 'HASH' && ref $_[0]{json}{error} eq 'HASH' ? $_[0]{json}{error}{code} // '' : '' }

# the attempts nginx logged for a request id: [attempt, status, its own id]
sub attempts_of {
    my ($rid) = @_;
    return map { /attempt (\d+) of \Q$rid\E failed \(status (\d+), booked as (req_\w+)\)/ ? [$1, $2, $3] : () }
           LavaTest::slurp_lines($s->error_log);
}

sub chat {
    my ($body, @h) = @_;
    return $s->request(target => '/v1/chat/completions', body => $body,
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => $usage, @h]);
}

# the reference: the same usage through the forward endpoint, each provider
sub reference {
    my ($url, $body, @auth) = @_;
    (my $u = $url) =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    my $r = $s->request(target => "/v1/forward?u=$u", body => $body,
                        headers => [@auth, 'x-mock-usage' => $usage]);
    is $r->{status}, 200, "reference: $url";
    return $s->wait_booked($r->{rid}) // {};
}
my $ref_openai = reference('https://api.openai.com/v1/chat/completions',
                           { %$oa_chat, model => 'gpt-4o-mini' }, Authorization => "Bearer $tok");
my $ref_anthropic = reference('https://api.anthropic.com/v1/messages',
                              { %$an_msgs, model => 'claude-sonnet-4-5' }, 'x-api-key' => $tok);
ok $ref_openai->{total_nusd} > 0 && $ref_anthropic->{total_nusd} > 0, 'both references cost something';

subtest 'no fallbacks: the provider error relayed as today, attempt 1' => sub {
    my $id = LavaTest::test_id();
    my $r = chat($oa_chat, 'x-test-id' => $id, 'x-mock-status' => 503);
    is $r->{status}, 503, 'the provider\'s 503';
    is ref $r->{json}{error}, 'HASH', 'its error, in the OpenAI shape';
    like $r->{json}{error}{message} // '', qr/mock provider error 503/, 'the provider\'s message';
    is $r->{headers}{'x-lava-provider'}, 'anthropic', 'x-lava-provider';
    is $r->{headers}{'x-lava-attempt'}, '1', 'x-lava-attempt 1';
    is scalar(my @q = $s->mock_requests($id)), 1, 'one request reached the provider';
    my $ev = $s->wait_event($r->{rid});
    is $ev->{status}, 503, 'booked with the provider\'s status';
    ok !defined $ev->{attempt}, 'no attempt field without fallbacks';
    $r = chat($oa_chat);
    is $r->{status}, 200, 'a good answer: 200';
    is $r->{headers}{'x-lava-attempt'}, '1', 'x-lava-attempt 1';
};

subtest 'OpenAI client: Anthropic 503, then OpenAI 200 (JSON)' => sub {
    my $id = LavaTest::test_id();
    my $r = chat({ %$oa_chat, fallbacks => $to_openai }, 'x-test-id' => $id,
                 'x-mock-model-status' => 'claude-sonnet-4-5=503');
    is $r->{status}, 200, '200 from the fallback';
    is $r->{json}{object}, 'chat.completion', 'an OpenAI chat completion';
    is $r->{headers}{'x-lava-provider'}, 'openai', 'x-lava-provider openai';
    is $r->{headers}{'x-lava-attempt'}, '2', 'x-lava-attempt 2';
    my @q = $s->mock_requests($id);
    is scalar @q, 2, 'two requests reached the providers';
    is $q[0]{target}, '/v1/messages', 'first Anthropic';
    is $q[1]{target}, '/v1/chat/completions', 'then OpenAI';
    is lc $q[1]{host}, 'api.openai.com', 'on OpenAI\'s host';
    my $sent = json_decode($q[1]{body}) // {};
    is $sent->{model}, 'gpt-4o-mini', 'the fallback\'s model';
    ok !exists $sent->{fallbacks}, 'no "fallbacks" upstream';
    ok !exists json_decode($q[0]{body})->{fallbacks}, 'nor in the first attempt';
    is_deeply [LavaTest::header_values($q[1], 'authorization')], ['Bearer sk-mock-openai'],
        'OpenAI\'s key, once';
    is_deeply [LavaTest::header_values($q[1], 'x-api-key')], [], 'not Anthropic\'s';
    is_deeply [LavaTest::header_values($q[1], 'anthropic-version')], [], 'nor its version header';
    my @a = attempts_of($r->{rid});
    is scalar @a, 1, 'one failed attempt';
    is $a[0][1], 503, 'with the provider\'s 503';
    my $row = $s->wait_booked($r->{rid});
    is $row->{provider}, 'openai', 'the request is booked to openai';
    is $row->{input_tokens}, 1200, 'with its usage';
    my $ev = $s->wait_event($a[0][2]);
    is $ev->{provider}, 'anthropic', 'the failed attempt: its own event, anthropic';
    is $ev->{status}, 503, 'status 503';
    is $ev->{outcome}, 'complete', 'a provider error, as the forward endpoint books one';
    is $ev->{usage_source}, 'none', 'no usage';
    is $ev->{spend_key_id}, undef, 'no spend key';
    is $ev->{customer_id}, $m->{customer}, 'the same customer';
    is $ev->{attempt}, 1, 'attempt 1';
    is $ev->{attempt_of}, $r->{rid}, 'attempt_of: the client\'s request id';
    my $fin = $s->wait_event($r->{rid});
    is $fin->{attempt}, 2, 'the request\'s own event: attempt 2';
    ok !defined $fin->{attempt_of}, 'and no attempt_of';

    # the ledger: both attempts under the client's request id
    my $rows = wait_for(15, sub {
        my $x = $s->sql('SELECT * FROM request_attempts WHERE client_request_id = ? ORDER BY attempt',
                        $r->{rid});
        @$x == 2 ? $x : undef;
    }) // [];
    is scalar @$rows, 2, 'request_attempts: two rows';
    is_deeply [map { [$_->{attempt}, $_->{provider}, $_->{status}, $_->{answered} ? 1 : 0] } @$rows],
              [[1, 'anthropic', 503, 0], [2, 'openai', 200, 1]], 'the failed attempt, then the answer';
    is $rows->[0]{request_id}, $a[0][2], 'the failed attempt under its own id';
    is $rows->[0]{total_nusd} // 0, 0, 'the failed attempt (no usage read) costs nothing';
    is $rows->[1]{total_nusd}, $ref_openai->{total_nusd},
        'the answer costs what the same usage costs on the forward endpoint';
};

subtest 'OpenAI client: Anthropic 503, then OpenAI 200 (SSE)' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->stream(target => '/v1/chat/completions',
                       body => { %$oa_chat, stream => JSON::PP::true, fallbacks => $to_openai },
                       headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                   'x-mock-usage' => $usage, 'x-mock-chunks' => 3,
                                   'x-mock-model-status' => 'claude-sonnet-4-5=503']);
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'} // '', qr{^text/event-stream}, 'an event stream';
    is $r->{headers}{'x-lava-attempt'}, '2', 'attempt 2';
    my @data = map { /^data: (.*)$/m ? $1 : () } map { $_->{text} } @{ $r->{events} };
    is $data[-1], '[DONE]', 'OpenAI\'s own stream, ending with [DONE]';
    ok !grep({ ($_->{object} // '') ne 'chat.completion.chunk' } map { json_decode($_) // {} }
             grep { $_ ne '[DONE]' } @data), 'chat.completion.chunk events';
    my $row = $s->wait_booked($r->{rid});
    is $row->{provider}, 'openai', 'booked to openai';
    is $row->{stream}, 1, 'as a stream';
    is $row->{outcome}, 'complete', 'complete';
};

subtest 'Anthropic client: OpenAI 503, then Anthropic 200 (JSON and SSE)' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/messages', body => { %$an_msgs, fallbacks => $to_anthropic },
                        headers => ['x-api-key' => $tok, 'x-test-id' => $id, 'x-mock-usage' => $usage,
                                    'x-mock-model-status' => 'gpt-4o-mini=503']);
    is $r->{status}, 200, 'status 200';
    is $r->{json}{type}, 'message', 'an Anthropic message';
    is $r->{headers}{'x-lava-provider'}, 'anthropic', 'x-lava-provider anthropic';
    is $r->{headers}{'x-lava-attempt'}, '2', 'attempt 2';
    my @q = $s->mock_requests($id);
    is_deeply [map { $_->{target} } @q], ['/v1/chat/completions', '/v1/messages'],
        'OpenAI (translated), then Anthropic (its own shape)';
    my $sent = json_decode($q[1]{body} // '') // {};
    is $sent->{model}, 'claude-sonnet-4-5', 'the fallback\'s model';
    is $sent->{system}, 'Be brief.', 'the client\'s own body';
    is_deeply [LavaTest::header_values($q[1], 'x-api-key')], ['sk-mock-anthropic'], 'Anthropic\'s key';
    is_deeply [LavaTest::header_values($q[1], 'authorization')], [], 'not OpenAI\'s';
    is $s->wait_booked($r->{rid})->{total_nusd}, $ref_anthropic->{total_nusd},
        'billed as the same usage on the forward endpoint';

    $r = $s->stream(target => '/v1/messages',
                    body => { %$an_msgs, stream => JSON::PP::true, fallbacks => $to_anthropic },
                    headers => ['x-api-key' => $tok, 'x-mock-usage' => $usage, 'x-mock-chunks' => 3,
                                'x-mock-model-status' => 'gpt-4o-mini=503']);
    is $r->{status}, 200, 'SSE: 200';
    is $r->{headers}{'x-lava-attempt'}, '2', 'SSE: attempt 2';
    my @types = map { /^event: (\S+)/m ? $1 : () } map { $_->{text} } @{ $r->{events} };
    is $types[0], 'message_start', 'SSE: Anthropic events';
    is $types[-1], 'message_stop', 'SSE: to message_stop';
};

subtest 'a 429 with Retry-After, then the next' => sub {
    my $r = chat({ %$oa_chat, fallbacks => $to_openai },
                 'x-mock-model-status' => 'claude-sonnet-4-5=429');
    is $r->{status}, 200, 'status 200';
    is $r->{headers}{'x-lava-attempt'}, '2', 'attempt 2';
    ok !defined $r->{headers}{'retry-after'}, 'the 429\'s Retry-After is not the answer\'s';
    my @a = attempts_of($r->{rid});
    is $a[0][1], 429, 'the failed attempt: 429';
    is $s->wait_event($a[0][2])->{status}, 429, 'booked with 429';
};

subtest 'all attempts fail: the last error, in the client\'s shape' => sub {
    my $id = LavaTest::test_id();
    my $r = chat({ %$oa_chat, fallbacks => [@$to_openai,
                   { url => 'https://api.mistral.ai/v1/chat/completions', model => 'mistral-small-latest' }] },
                 'x-test-id' => $id,
                 'x-mock-model-status' => 'claude-sonnet-4-5=503,gpt-4o-mini=500,mistral-small-latest=529');
    is $r->{status}, 529, 'the last attempt\'s status';
    is ref $r->{json}{error}, 'HASH', 'an OpenAI error body';
    like $r->{json}{error}{message} // '', qr/mock provider error 529/, 'the last provider\'s message';
    is $r->{headers}{'x-lava-provider'}, 'mistral', 'x-lava-provider of the last';
    is $r->{headers}{'x-lava-attempt'}, '3', 'attempt 3';
    is scalar(my @q = $s->mock_requests($id)), 3, 'three attempts';
    is_deeply [map { $_->[1] } attempts_of($r->{rid})], [503, 500], 'two failed attempts booked';
    is $s->wait_event($r->{rid})->{status}, 529, 'the request booked with the last status';
};

subtest 'a stream that fails after its first byte is not retried' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->stream(target => '/v1/chat/completions',
                       body => { %$oa_chat, stream => JSON::PP::true, fallbacks => $to_openai },
                       headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                   'x-mock-cut-after' => 1, 'x-mock-chunk-delay-ms' => 20]);
    is $r->{status}, 200, 'the first attempt\'s 200';
    is $r->{headers}{'x-lava-attempt'}, '1', 'attempt 1';
    ok !$r->{complete} || !grep({ /\[DONE\]/ } map { $_->{text} } @{ $r->{events} }), 'cut short';
    is scalar(my @q = $s->mock_requests($id)), 1, 'no second attempt';
    is scalar(my @a = attempts_of($r->{rid})), 0, 'no failed attempt';
};

subtest 'the rewrite endpoint: x-lava-fallbacks' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                        body => { %$oa_chat, model => 'claude-sonnet-4-5' },
                        headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                    'x-mock-usage' => $usage,
                                    'x-lava-fallbacks' => json_encode($to_openai),
                                    'x-mock-model-status' => 'claude-sonnet-4-5=502']);
    is $r->{status}, 200, 'status 200';
    is $r->{json}{object}, 'chat.completion', 'OpenAI\'s answer';
    is $r->{headers}{'x-lava-attempt'}, '2', 'attempt 2';
    my @q = $s->mock_requests($id);
    is scalar @q, 2, 'two attempts';
    ok !grep({ lc $_->[0] eq 'x-lava-fallbacks' } map { @{ $_->{headers} } } @q),
        'the header reached no provider';
    is json_decode($q[1]{body} // '')->{model}, 'gpt-4o-mini', 'the fallback\'s model';
};

subtest 'hostile fallbacks: refused before anything is forwarded' => sub {
    my @cases = (
        ['not a list', { url => 'api.openai.com/v1/chat/completions', model => 'gpt-4o-mini' },
         400, 'invalid_fallbacks'],
        ['100 entries', [($to_openai->[0]) x 100], 400, 'invalid_fallbacks'],
        ['http://', [{ url => 'http://api.openai.com/v1/chat/completions', model => 'gpt-4o-mini' }],
         400, 'invalid_fallbacks'],
        ['a host not in the table', [{ url => 'evil.example.com/v1/chat/completions', model => 'x' }],
         403, 'host_not_allowed'],
        ['userinfo', [{ url => 'user:pw@api.openai.com/v1/chat/completions', model => 'gpt-4o-mini' }],
         400, 'invalid_fallbacks'],
        ['another port', [{ url => 'api.openai.com:8443/v1/chat/completions', model => 'gpt-4o-mini' }],
         400, 'invalid_fallbacks'],
        ['not a chat endpoint', [{ url => 'api.openai.com/v1/embeddings', model => 'text-embedding-3-small' }],
         400, 'translation_unsupported'],
        ['no model', [{ url => 'api.openai.com/v1/chat/completions' }], 400, 'invalid_fallbacks'],
        ['an unknown member', [{ %{ $to_openai->[0] }, headers => {} }], 400, 'invalid_fallbacks'],
        ['a string', [ 'api.openai.com/v1/chat/completions' ], 400, 'invalid_fallbacks'],
    );
    for my $c (@cases) {
        my ($what, $fb, $status, $code) = @$c;
        my $id = LavaTest::test_id();
        my $r = chat({ %$oa_chat, fallbacks => $fb }, 'x-test-id' => $id);
        is $r->{status}, $status, "$what: $status";
        is code($r), $code, "$what: $code";
        like $r->{json}{error}{message} // '', qr/fallbacks/, "$what: the message names the fallbacks";
        ok $r->{rid}, "$what: x-lava-request-id";
        is scalar(my @q = $s->mock_requests($id)), 0, "$what: nothing forwarded";
        is $s->wait_event($r->{rid} // '')->{outcome}, 'refused', "$what: booked as refused";
    }
    my $r = $s->request(target => '/v1/rewrite/openai/https://api.anthropic.com/v1/messages',
                        body => { %$oa_chat, model => 'claude-sonnet-4-5' },
                        headers => [Authorization => "Bearer $tok", 'x-lava-fallbacks' => '{nope']);
    is code($r), 'invalid_fallbacks', 'x-lava-fallbacks not JSON: invalid_fallbacks';
    $r = chat({ %$oa_chat, fallbacks => $to_openai }, 'x-provider-api-key' => 'sk-user-own-key-123456');
    is code($r), 'invalid_fallbacks', 'with the client\'s own provider key: refused';

    # a spend key that may use Anthropic's model only
    my $row = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $m->{merchant}, 'fb',
                      undef, undef, json_encode({ allowed_models => ['claude-sonnet-4-5'] }))->[0];
    $s->register_secret($row->{key}, 'spend key');
    my $hex = sha256_hex($row->{key});
    $s->wait_auth(qr/^s $hex /m) or die "spend key not published\n";
    my $id = LavaTest::test_id();
    $r = $s->request(target => '/v1/chat/completions', body => { %$oa_chat, fallbacks => $to_openai },
                     headers => [Authorization => "Bearer $row->{key}", 'x-test-id' => $id]);
    is $r->{status}, 403, 'a model the spend key may not use: 403';
    is code($r), 'model_not_allowed', 'model_not_allowed';
    is scalar(my @q = $s->mock_requests($id)), 0, 'nothing forwarded';
    $r = $s->request(target => '/v1/chat/completions',
                     body => { %$oa_chat, fallbacks => $to_anthropic },
                     headers => [Authorization => "Bearer $row->{key}", 'x-mock-usage' => $usage,
                                 'x-mock-model-status' => 'claude-sonnet-4-5=503']);
    is $r->{status}, 503, 'allowed fallbacks: the spend key is served (the last error)';
    is $r->{headers}{'x-lava-attempt'}, '2', 'attempt 2';
    my @a = attempts_of($r->{rid});
    is $s->wait_event($a[0][2] // '')->{spend_key_id}, $row->{spend_key_id}, 'the failed attempt has the key id';
    is $s->wait_event($r->{rid})->{spend_key_id}, $row->{spend_key_id}, 'and the request';

    # a spend key that refuses unpriced models: a fallback to one is refused
    my $strict = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $m->{merchant}, 'fb strict',
                         undef, undef, json_encode({ refuse_unpriced => JSON::PP::true }))->[0];
    $s->register_secret($strict->{key}, 'spend key');
    $hex = sha256_hex($strict->{key});
    $s->wait_auth(qr/^s $hex /m) or die "spend key not published\n";
    $id = LavaTest::test_id();
    $r = $s->request(target => '/v1/chat/completions',
                     body => { %$oa_chat, fallbacks => [{ url => 'api.openai.com/v1/chat/completions',
                                                          model => 'gpt-lava-unpriced-test' }] },
                     headers => [Authorization => "Bearer $strict->{key}", 'x-test-id' => $id]);
    is $r->{status}, 403, 'refuse_unpriced, an unpriced fallback: 403';
    is code($r), 'model_not_priced', 'model_not_priced';
    like $r->{json}{error}{message} // '', qr/^fallbacks\[1\]/, 'naming the fallback';
    is scalar(my @q2 = $s->mock_requests($id)), 0, 'nothing forwarded';
};

# --- configuration: max attempts, the deadline, a provider that refuses connections ---
my $closed = do {
    my $sock = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die $!;
    my $port = $sock->sockport;
    close $sock;
    $port;
};
$s->configure_nginx(http => ['lava_fallback_attempts 5;', 'lava_fallback_timeout 1500ms;'],
                    while_stopped => sub {
    my $f = $s->dir . '/nginx/providers.conf';
    my $text = LavaTest::slurp($f);
    $text =~ s/^(upstream lava_xai \{ server )[^;]+;/${1}127.0.0.1:$closed;/m or die "no lava_xai upstream\n";
    open my $fh, '>', $f or die "$f: $!\n";
    print $fh $text;
    close $fh;
});

subtest 'a provider that refuses the connection, then the next' => sub {
    my $id = LavaTest::test_id();
    my $r = chat({ %$oa_chat, model => 'xai/grok-3', fallbacks => $to_openai }, 'x-test-id' => $id);
    is $r->{status}, 200, '200 from the fallback';
    is $r->{headers}{'x-lava-provider'}, 'openai', 'openai';
    is $r->{headers}{'x-lava-attempt'}, '2', 'attempt 2';
    is scalar(my @q = $s->mock_requests($id)), 1, 'only the fallback reached the mock';
    my @a = attempts_of($r->{rid});
    is $a[0][1], 502, 'the failed attempt: nginx\'s 502';
    my $ev = $s->wait_event($a[0][2] // '');
    is $ev->{outcome}, 'upstream_error', 'booked upstream_error';
    is $ev->{error}, 'provider_unreachable', 'provider_unreachable';
    is $ev->{provider}, 'xai', 'xai';
    is $ev->{requests} // 0, 0, 'no request billed';
};

my @four = ({ url => 'api.openai.com/v1/chat/completions', model => 'gpt-4o-mini' },
            { url => 'api.mistral.ai/v1/chat/completions', model => 'mistral-small-latest' },
            { url => 'api.deepseek.com/chat/completions', model => 'deepseek-chat' },
            { url => 'api.x.ai/v1/chat/completions', model => 'grok-3' });

subtest 'lava_fallback_attempts 5: four fallbacks at most, all of them tried' => sub {
    my $id = LavaTest::test_id();
    my $r = chat({ %$oa_chat, fallbacks => [@four, @$to_openai] }, 'x-test-id' => $id);
    is $r->{status}, 400, 'five fallbacks: 400';
    like $r->{json}{error}{message} // '', qr/at most 4 fallbacks/, 'the message names the bound';
    is scalar(my @q = $s->mock_requests($id)), 0, 'nothing forwarded';

    # five attempts, the last one refused by nginx: within nginx's ten
    # internal redirects, its own error answered as JSON
    $id = LavaTest::test_id();
    $r = chat({ %$oa_chat, fallbacks => \@four }, 'x-test-id' => $id,
              'x-mock-model-status' => 'claude-sonnet-4-5=503,gpt-4o-mini=503,'
                                       . 'mistral-small-latest=500,deepseek-chat=529');
    is $r->{status}, 502, 'the last attempt\'s error: nginx\'s 502';
    is code($r), 'provider_unreachable', 'provider_unreachable';
    is $r->{headers}{'x-lava-attempt'}, '5', 'attempt 5';
    is $r->{headers}{'x-lava-provider'}, 'xai', 'xai';
    is scalar(my @q2 = $s->mock_requests($id)), 4, 'four attempts reached the mock';
    is_deeply [map { $_->[1] } attempts_of($r->{rid})], [503, 503, 500, 529], 'four failed attempts';
    unlike LavaTest::slurp($s->error_log), qr/internal redirection cycle/, 'no redirect cycle';
    my $ev = $s->wait_event($r->{rid});
    is $ev->{outcome}, 'upstream_error', 'the request: upstream_error';
    is $ev->{provider}, 'xai', 'booked to its last provider';
    is $ev->{attempt}, 5, 'attempt 5';
    my $rows = wait_for(15, sub {
        my $x = $s->sql('SELECT * FROM request_attempts WHERE client_request_id = ? ORDER BY attempt',
                        $r->{rid});
        @$x == 5 ? $x : undef;
    }) // [];
    is_deeply [map { $_->{attempt} } @$rows], [1 .. 5], 'request_attempts: five rows';
    is_deeply [map { $_->{provider} } @$rows], [qw(anthropic openai mistral deepseek xai)],
        'in the order tried';
};

subtest 'lava_fallback_timeout: no attempt after the deadline' => sub {
    my $id = LavaTest::test_id();
    my $t0 = time;
    my $r = chat({ %$oa_chat, fallbacks => $to_openai }, 'x-test-id' => $id,
                 'x-mock-model-delay-ms' => 'claude-sonnet-4-5=4000');
    my $took = time - $t0;
    is $r->{status}, 504, 'the first attempt waited up to the deadline: 504';
    is code($r), 'provider_timeout', 'provider_timeout';
    ok $took < 3.5, "answered at the deadline, not the provider's delay (${took}s)";
    is scalar(my @q = $s->mock_requests($id)), 1, 'no second attempt';

    $r = chat({ %$oa_chat, fallbacks => $to_openai }, 'x-mock-model-delay-ms' => 'claude-sonnet-4-5=2000',
              'x-mock-model-status' => 'claude-sonnet-4-5=503');
    # the 503 came after the deadline: relayed, not retried
    is $r->{status}, 504, 'an error after the deadline is not retried';
};

# every invariant of the ledger holds with the attempts booked
ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };
is $s->sql_value(q{SELECT count(*) FROM dead_letters}), 0, 'nothing dead-lettered';

$s->finish;
done_testing;
