# A Gemini-format client on the rewrite endpoint asks for a stream the way
# Gemini's own clients do, in its URL: alt=sse in the query
# (/v1/rewrite/google/<provider URL>?alt=sse, as @lavapayments/nodejs
# gateway(url + '?alt=sse', {format: 'google'}) sends it). The provider gets
# its own stream request (OpenAI "stream": true with usage, Anthropic
# "stream": true, Gemini's streamGenerateContent?alt=sse), never the
# client's alt; the client gets Gemini's SSE chunks, billed from the
# provider's own usage. Without alt=sse nothing changes (a JSON answer).
# And GET /v1/models gives each model's "created": when the ledger first
# priced it (the earliest effective_from of its rate rows, the sidecar's
# "d" record of the auth snapshot).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_decode json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};

my $usage = 'prompt=1200,completion=340';
my $gm_body = { model => 'gpt-4o-mini',
                systemInstruction => { parts => [{ text => 'Be brief.' }] },
                contents => [{ role => 'user', parts => [{ text => 'Hello there' }] }] };

sub rewrite {
    my ($url, %a) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->stream(target => "/v1/rewrite/google/$url", body => $a{body} // $gm_body,
                       headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                   'x-mock-usage' => $usage]);
    my ($q) = $s->mock_requests($id);
    return ($r, $q, $q && json_decode($q->{body} // '') // {});
}

# the Gemini chunks of a streamed answer
sub gemini_chunks {
    my ($r) = @_;
    return map { json_decode($_) // { bad => $_ } }
           map { /^data: (.*)$/m ? $1 : () } map { $_->{text} } @{ $r->{events} };
}

sub booked { $s->wait_booked($_[0] // '') || do { fail("booked $_[0]"); {} } }

subtest 'google client, OpenAI provider, alt=sse: an OpenAI stream, Gemini chunks back' => sub {
    my ($r, $q, $sent) = rewrite('https://api.openai.com/v1/chat/completions?alt=sse');
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'} // '', qr{^text/event-stream}, 'an event stream';
    is $q && $q->{target}, '/v1/chat/completions', 'the client\'s alt=sse did not reach OpenAI';
    ok $sent->{stream}, 'OpenAI was asked for a stream';
    ok $sent->{stream_options} && $sent->{stream_options}{include_usage},
        'with its usage (billing reads it)';
    my @c = gemini_chunks($r);
    ok @c >= 2, 'several chunks';
    ok !grep({ $_->{bad} || $_->{object} } @c), 'every chunk is Gemini\'s, none OpenAI\'s';
    my $text = join '', map { $_->{text} // '' }
               map { @{ $_->{candidates}[0]{content}{parts} // [] } } grep { $_->{candidates} } @c;
    ok length $text, 'the text arrives in candidates[0].content.parts';
    my ($last) = grep { $_->{usageMetadata} } reverse @c;
    is $last && $last->{usageMetadata}{promptTokenCount}, 1200, 'usageMetadata: the provider\'s prompt tokens';
    is $last && $last->{usageMetadata}{candidatesTokenCount}, 340, 'and its output tokens';
    ok !grep({ $_->{text} =~ /\[DONE\]/ } @{ $r->{events} }), 'no OpenAI [DONE] for a Gemini client';
    my $row = booked($r->{rid});
    is $row->{provider}, 'openai', 'booked to openai';
    is $row->{input_tokens}, 1200, 'input tokens booked';
    is $row->{output_tokens}, 340, 'output tokens booked';
    is $row->{outcome} // $s->wait_event($r->{rid})->{outcome}, 'complete', 'complete';
};

subtest 'google client, Anthropic provider, alt=sse with other arguments' => sub {
    my ($r, $q, $sent) = rewrite('https://api.anthropic.com/v1/messages?alt=sse',
                                 body => { %$gm_body, model => 'claude-sonnet-4-5' });
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'} // '', qr{^text/event-stream}, 'an event stream';
    is $q && $q->{target}, '/v1/messages', 'no alt for Anthropic';
    ok $sent->{stream}, 'Anthropic was asked for a stream';
    my @c = gemini_chunks($r);
    ok @c && !grep({ $_->{bad} || $_->{type} } @c), 'Gemini chunks, no Anthropic events';
    my ($last) = grep { $_->{usageMetadata} } reverse @c;
    is $last && $last->{usageMetadata}{candidatesTokenCount}, 340, 'the provider\'s usage';
    is booked($r->{rid})->{provider}, 'anthropic', 'booked to anthropic';
};

subtest 'google client without alt=sse: a JSON answer as before' => sub {
    my ($r, $q, $sent) = rewrite('https://api.openai.com/v1/chat/completions');
    is $r->{status}, 200, 'status 200';
    like $r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON';
    ok !$sent->{stream}, 'OpenAI was not asked for a stream';
    is $r->{json}{candidates}[0]{content}{role}, 'model', 'a Gemini response';
    is $r->{json}{usageMetadata}{promptTokenCount}, 1200, 'with the provider\'s usage';
};

subtest 'google client, Gemini provider: alt=sse picks the streaming method once' => sub {
    my $base = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash';
    my $gbody = { contents => $gm_body->{contents} };

    my ($r, $q) = rewrite("$base:generateContent?alt=sse", body => $gbody);
    is $r->{status}, 200, ':generateContent?alt=sse: 200';
    is $q && $q->{target}, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
        ':generateContent?alt=sse: Gemini\'s streaming method, alt=sse once';
    like $r->{headers}{'content-type'} // '', qr{^text/event-stream}, 'an event stream';
    my $row = booked($r->{rid});
    is $row->{provider}, 'google', 'booked to google';
    is $row->{input_tokens}, 1200, 'Gemini\'s usage';

    ($r, $q) = rewrite("$base:streamGenerateContent?alt=sse", body => $gbody);
    is $r->{status}, 200, ':streamGenerateContent?alt=sse: 200';
    is $q && $q->{target}, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
        ':streamGenerateContent?alt=sse: as sent';

    ($r, $q) = rewrite("$base:generateContent", body => $gbody);
    is $r->{status}, 200, ':generateContent: 200';
    is $q && $q->{target}, '/v1beta/models/gemini-2.5-flash:generateContent',
        ':generateContent without alt=sse: not streamed';
};

subtest 'other formats: alt is not theirs, nothing changes' => sub {
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/rewrite/anthropic/https://api.openai.com/v1/chat/completions?alt=sse',
                        body => { model => 'gpt-4o-mini', max_tokens => 64,
                                  messages => [{ role => 'user', content => 'Hello there' }] },
                        headers => [Authorization => "Bearer $tok", 'x-test-id' => $id,
                                    'x-mock-usage' => $usage]);
    is $r->{status}, 200, 'an Anthropic client: 200';
    is $r->{json}{type}, 'message', 'a JSON Anthropic message (its stream flag is in its body)';
    my ($q) = $s->mock_requests($id);
    is $q && $q->{target}, '/v1/chat/completions?alt=sse', 'its arguments passed on as before';
};

subtest 'GET /v1/models: created is when the ledger first priced the model' => sub {
    $s->sql(q{SELECT add_rate('openai', 'tm-created', '2024-03-05 06:07:08+00', input => 1, output => 2)});
    $s->sql(q{SELECT add_rate('openai', 'tm-created', '2025-06-01 00:00:00+00', input => 2, output => 3)});
    ok $s->wait_auth(qr/^d openai tm-created 1709618828$/m), 'the sidecar published its "d" record';
    my $r = $s->request(target => '/v1/models', headers => [Authorization => "Bearer $tok"]);
    is $r->{status}, 200, 'status 200';
    my %ids = map { $_->{id} => $_ } @{ $r->{json}{data} // [] };
    is $ids{'openai/tm-created'} && $ids{'openai/tm-created'}{created}, 1709618828,
        'created: its first row\'s effective_from, unix seconds';
    my ($first) = @{ $s->sql(q{SELECT floor(extract(epoch FROM min(effective_from)))::bigint AS t
                                 FROM provider_rates WHERE provider = 'openai' AND model = 'gpt-4o-mini'}) };
    is $ids{'openai/gpt-4o-mini'} && $ids{'openai/gpt-4o-mini'}{created}, $first->{t},
        'a seeded model: the effective_from of its seed row';
    ok !grep({ !defined $_->{created} || $_->{created} !~ /^\d+$/ } values %ids), 'every created is a number';
};

$s->finish;
done_testing;
