# What reaches the provider and what comes back (issue 11, classes 2 and 10):
# client x-lava-* headers never reach the provider, whatever their case and
# number; with the managed key the headers that select a provider account or
# project are removed, with the user's own key they pass unchanged; and a
# provider's own x-lava-request-id never replaces the gateway's: the client
# sees exactly one, the gateway's, which is the ledger key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $chat = json_encode(LavaTest::chat_body());
my $OAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $GEM = '/v1/forward?u=https%3A%2F%2Fgenerativelanguage.googleapis.com%2Fv1beta%2Fmodels%2F'
        . 'gemini-2.0-flash%3AgenerateContent';
my $gem_body = json_encode({ contents => [{ role => 'user', parts => [{ text => 'Hi' }] }] });
my @bearer = (Authorization => "Bearer $m->{token}");
my $byok = 'sk-byok-headers-5e1d9c3a7b';

# The provider's view of one request, by its x-test-id.
sub seen {
    my ($id) = @_;
    my @r = $s->mock_requests($id);
    is scalar(@r), 1, 'the provider got the request once';
    return $r[0] // { headers => [] };
}

# --- client x-lava-* headers ---------------------------------------------------

my @lava_headers = (
    'x-lava-metadata' => '{"user":"alice"}',
    'X-Lava-Request-Id' => 'req_00000000000000000000000000',
    'X-LAVA-MERCHANT' => 'm_other',
    'x-Lava-Customer-Id' => 'cus_other',
    'x-lava-custom' => 'one',
    'x-lava-custom' => 'two',
    'X-Lava-' => 'empty-suffix',
);
for my $case (['managed key', []], ['own key', ['X-Provider-API-Key' => $byok]]) {
    my ($name, $extra) = @$case;
    for my $target ([$OAI, $chat], [$GEM, $gem_body]) {
        my $id = LavaTest::test_id();
        my $r = $s->request(method => 'POST', target => $target->[0], body => $target->[1],
                            headers => [@bearer, @$extra, 'x-test-id' => $id, @lava_headers]);
        subtest "x-lava-* headers, $name, $target->[0]" => sub {
            is $r->{status}, 200, 'answered 200' or diag $r->{body};
            my $rec = seen($id);
            my @leaked = grep { $_->[0] =~ /^x[-_]lava[-_]/i } @{ $rec->{headers} };
            is scalar(@leaked), 0, 'no x-lava-* header reached the provider'
                or diag explain \@leaked;
            is_deeply [LavaTest::header_values($rec, 'x-test-id')], [$id],
                'other client headers still pass';
        };
        ok $r->{rid} && $s->wait_booked($r->{rid}), 'booked';
        is $s->sql_value(q{SELECT metadata->>'user' FROM events WHERE request_id = ?}, $r->{rid}),
            'alice', 'x-lava-metadata was read by the gateway and booked';
    }
}

# --- account selection ---------------------------------------------------------

my @account = ('OpenAI-Organization' => 'org-someone-else', 'openai-project' => 'proj_someone_else',
               'X-Goog-User-Project' => 'someone-elses-project');
{
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $OAI, body => $chat,
                        headers => [@bearer, 'x-test-id' => $id, @account]);
    subtest 'managed key: account-selection headers removed' => sub {
        is $r->{status}, 200, 'answered 200';
        my $rec = seen($id);
        for my $name (qw(openai-organization openai-project x-goog-user-project)) {
            is_deeply [LavaTest::header_values($rec, $name)], [], "$name not sent";
        }
        is_deeply [LavaTest::header_values($rec, 'authorization')], ['Bearer sk-mock-openai'],
            'the managed key is sent';
    };
}
{
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $OAI, body => $chat,
                        headers => [@bearer, 'X-Provider-API-Key' => $byok, 'x-test-id' => $id,
                                    @account]);
    subtest 'own key: account-selection headers pass unchanged' => sub {
        is $r->{status}, 200, 'answered 200';
        my $rec = seen($id);
        is_deeply [LavaTest::header_values($rec, 'openai-organization')], ['org-someone-else'],
            'OpenAI-Organization sent';
        is_deeply [LavaTest::header_values($rec, 'openai-project')], ['proj_someone_else'],
            'OpenAI-Project sent';
        is_deeply [LavaTest::header_values($rec, 'x-goog-user-project')], ['someone-elses-project'],
            'X-Goog-User-Project sent';
        is_deeply [LavaTest::header_values($rec, 'authorization')], ["Bearer $byok"],
            'the user\'s key is sent';
    };
}

# The operator's own values (lava_provider_header): sent with the managed key
# in place of the client's; with the user's own key the client's pass.
$s->configure_nginx(http => ['lava_provider_header openai OpenAI-Organization org-operator;',
                             'lava_provider_header openai OpenAI-Project proj_operator;']);
for my $case (['managed key', [], ['org-operator'], ['proj_operator']],
              ['own key', ['X-Provider-API-Key' => $byok], ['org-someone-else'], ['proj_someone_else']]) {
    my ($name, $extra, $org, $proj) = @$case;
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $OAI, body => $chat,
                        headers => [@bearer, @$extra, 'x-test-id' => $id, @account,
                                    'OPENAI-ORGANIZATION' => 'org-second']);
    subtest "lava_provider_header, $name" => sub {
        is $r->{status}, 200, 'answered 200';
        my $rec = seen($id);
        is_deeply [LavaTest::header_values($rec, 'openai-organization')],
            $extra->[0] ? [@$org, 'org-second'] : $org, 'OpenAI-Organization';
        is_deeply [LavaTest::header_values($rec, 'openai-project')], $proj, 'OpenAI-Project';
    };
}
{
    my $id = LavaTest::test_id();
    my $r = $s->request(method => 'POST', target => $GEM, body => $gem_body,
                        headers => [@bearer, 'x-test-id' => $id, @account]);
    subtest 'lava_provider_header of another provider is not sent' => sub {
        is $r->{status}, 200, 'answered 200';
        my $rec = seen($id);
        is_deeply [LavaTest::header_values($rec, 'openai-organization')], [], 'no OpenAI-Organization';
        is_deeply [LavaTest::header_values($rec, 'x-goog-user-project')], [], 'no X-Goog-User-Project';
    };
}

# --- the provider's x-lava-request-id -----------------------------------------

my @rids;
for my $case (
    ['lower case', ['x-lava-request-id: req_7ZZZZZZZZZZZZZZZZZZZZZZZZZ']],
    ['mixed case, twice', ['X-Lava-Request-Id: req_7YYYYYYYYYYYYYYYYYYYYYYYYY',
                           'X-LAVA-REQUEST-ID: not-an-id']],
    ['on a provider error', ['x-lava-request-id: req_7XXXXXXXXXXXXXXXXXXXXXXXXX'], ['x-mock-status' => 429]],
    ['on a stream', ['X-Lava-Request-ID: req_7WWWWWWWWWWWWWWWWWWWWWWWWW'], [],
     json_encode(LavaTest::chat_body(stream => 1))],
) {
    my ($name, $hdrs, $extra, $body) = @$case;
    my $r = $s->request(method => 'POST', target => $OAI, body => $body // $chat,
                        headers => [@bearer, @{ $extra // [] },
                                    map { ('x-mock-response-header' => $_) } @$hdrs]);
    subtest "provider's x-lava-request-id, $name" => sub {
        my @ids = map { $_->[1] } grep { lc $_->[0] eq 'x-lava-request-id' } @{ $r->{header_list} };
        is scalar(@ids), 1, 'exactly one x-lava-request-id' or diag explain \@ids;
        like $ids[0] // '', qr/^req_[0-9A-HJKMNP-TV-Z]{26}$/, 'a request id';
        unlike $ids[0] // '', qr/^req_7[WXYZ]{3}/, 'the gateway\'s, not the provider\'s';
        ok $s->wait_event($ids[0] // 'none'), 'it is the id of the usage event';
    };
    push @rids, $r->{rid} if $r->{rid};
}
ok $s->wait_booked($_), "$_ booked" for @rids;

$s->finish;
done_testing;
