# Secrets stay where they belong. After a mix of traffic (managed keys, both
# bring-your-own-key forms, every token carrier, streaming, refusals,
# provider errors, an unreachable provider, a client abort), no provider key,
# merchant secret key or forward token appears in any response, in any file
# of the stack (nginx logs, sidecar log, Redis data, Postgres files) or in a
# dump of the ledger; and the merchant's secret key and forward token never
# reach the provider, which sees only its own key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Find qw(find);
use Test::More;
use Time::HiRes qw(sleep);

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());
my $stream = json_encode(LavaTest::chat_body(stream => 1));
my $msgs = json_encode({ model => 'claude-sonnet-4-5', max_tokens => 16,
                         messages => [{ role => 'user', content => 'Hi' }] });
my $OAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $ANT = '/v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages';

my $byok_header = 'sk-byok-header-7f3a9c1e5d2b4a6f';
my $byok_token_key = 'sk-byok-token-2c8e4f6a1b3d5e7f';
my $byok_token = $s->token(secret_key => $m->{secret}, customer_id => $m->{customer},
                           meter_slug => 'chat', provider_key => $byok_token_key);
my $bare = $m->{secret};
(my $qtoken = $m->{token}) =~ s/([+\/=])/sprintf '%%%02X', ord $1/ge;

my %provider_keys = map { $_ => 1 } grep { length }
    map { (split ' ')[1] // '' } LavaTest::slurp_lines($s->dir . '/nginx/provider-keys');
ok $provider_keys{'sk-mock-openai'}, 'managed keys of the stack read';

my (@responses, @rids);
sub send_req {
    my (%a) = @_;
    my $r = $s->stream(timeout => 20, %a);
    push @responses, join("\n", "$r->{status}", (map { "$_->[0]: $_->[1]" } @{ $r->{header_list} // [] }),
                          $r->{body});
    push @rids, $r->{rid} if $r->{rid};
    return $r;
}
my @bearer = (Authorization => "Bearer $m->{token}");

my @ok = (
    send_req(method => 'POST', target => $OAI, body => $chat, headers => [@bearer]),
    send_req(method => 'POST', target => $OAI, body => $stream, headers => [@bearer]),
    send_req(method => 'POST', target => $OAI, body => $chat,
             headers => [@bearer, 'X-Provider-API-Key' => $byok_header]),
    send_req(method => 'POST', target => $OAI, body => $chat,
             headers => [Authorization => "Bearer $byok_token"]),
    send_req(method => 'POST', target => $ANT, body => $msgs, headers => ['x-api-key' => $m->{token}]),
    send_req(method => 'POST', target => "$OAI&key=$qtoken", body => $chat),
    send_req(method => 'POST', target => $OAI, body => $chat, headers => [Authorization => "Bearer $bare"]),
    send_req(method => 'POST', target => $OAI, body => $chat,
             headers => [@bearer, 'x-lava-metadata' => '{"user":"alice"}']),
);
is $_->{status}, 200, 'request answered 200' for @ok;

# refusals, provider errors, an unreachable provider, a client abort; the
# token travels in ?key= where nginx would log the request line
send_req(method => 'POST', target => $OAI, body => $chat,
         headers => [Authorization => 'Bearer ' . $s->token(secret_key => $m->{secret}, customer_id => 'cus_nobody')]);
send_req(method => 'POST', target => '/v1/forward?u=https://evil.example/v1', body => $chat, headers => [@bearer]);
send_req(method => 'POST', target => "/v1/forward?u=http://api.openai.com/v1&key=$qtoken", body => $chat);
send_req(method => 'POST', target => $OAI, body => $chat, headers => [@bearer, 'x-mock-status' => 401]);
send_req(method => 'POST', target => "$OAI&key=$qtoken", body => $chat, headers => ['x-mock-status' => 500]);
send_req(method => 'POST', target => "$OAI&key=$qtoken", body => $chat, headers => ['x-mock-close' => 1]);
send_req(method => 'POST', target => $OAI, body => $stream,
         headers => [@bearer, 'X-Provider-API-Key' => $byok_header, 'x-mock-chunks' => 20,
                     'x-mock-chunk-delay-ms' => 20],
         on_event => sub { $_[1] >= 2 ? 'abort' : '' });

# every request is booked (so the sidecar has handled all of them)
for my $rid (@rids) {
    ok $s->wait_booked($rid, 20), "$rid booked";
}
sleep 1.2;      # Redis appendfsync everysec

my %secret = (
    'merchant secret key' => $m->{secret},
    'forward token' => $m->{token},
    'forward token, URL-encoded' => $qtoken,
    'forward token with a provider key' => $byok_token,
    'provider key in a header' => $byok_header,
    'provider key in a token' => $byok_token_key,
    map { ("managed key $_" => $_) } keys %provider_keys,
);

sub leaks {
    my ($text, @which) = @_;
    return grep { index($text, $secret{$_}) >= 0 } @which ? @which : keys %secret;
}

my @in_responses = map { leaks($_) } @responses;
is_deeply \@in_responses, [], 'no secret in any response (status, headers, body)';

# every file of the stack, except the two that must hold secrets: the
# operator's key file and the mock provider's record of what it received
my (@files, %leak);
my $dir = $s->dir;
find({ no_chdir => 1, wanted => sub {
    return unless -f $_;
    return if m{/mock/requests\.jsonl$} || m{/nginx/provider-keys$};
    push @files, $_;
} }, $dir);
ok scalar(grep { m{/nginx/error\.log$} } @files) && scalar(grep { m{/redis/} } @files)
   && scalar(grep { m{/sidecar/} } @files), 'nginx, Redis and sidecar files are scanned';
for my $f (@files) {
    my $text = LavaTest::slurp($f);
    $leak{$f} = [leaks($text)] if leaks($text);
}
is_deeply \%leak, {}, scalar(@files) . ' files of the stack hold no secret';

my ($pg_port) = $s->env->{LAVA_PG_DSN} =~ /:(\d+)\//;
my $dump = `pg_dump -h 127.0.0.1 -p $pg_port -U postgres -d lava 2>&1`;
ok $? == 0 && $dump =~ /request_id/, 'pg_dump of the ledger';
is_deeply [leaks($dump)], [], 'no secret in the ledger';

my $access = LavaTest::slurp("$dir/nginx/access.log");
like $access, qr/\Q$rids[0]\E/, 'the access log has the requests';

# What the provider saw: its own key, never the merchant's secret or a token.
my $mock = LavaTest::slurp($s->{mock_log});
ok index($mock, 'sk-mock-openai') >= 0, 'the provider received the managed key';
ok index($mock, $byok_header) >= 0 && index($mock, $byok_token_key) >= 0,
   'the provider received the bring-your-own keys';
is_deeply [leaks($mock, 'merchant secret key', 'forward token', 'forward token, URL-encoded',
                 'forward token with a provider key')], [],
    'no merchant secret key or forward token reached the provider';
for my $q ($s->mock_requests) {
    my @auth = grep { $_->[0] =~ /^(authorization|x-api-key|x-goog-api-key|xi-api-key)$/i } @{ $q->{headers} };
    is scalar(@auth), 1, "one credential header to the provider ($q->{target})";
    unlike $q->{target}, qr/[?&]key=/, 'no key argument in the target';
}

$s->finish;
done_testing;
