# TLS to the provider as in production: `proxy_pass https://` with the
# certificate verified, SNI and Host set to the provider's name, connections
# kept alive per provider and never shared between providers. A TLS front
# (plain nginx with a test CA's certificate) stands in front of the mock.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest;

my $body = LavaTest::chat_body();

sub tls_log {
    my ($s) = @_;
    return map { [split / /] } LavaTest::slurp_lines($s->env->{LAVA_TLS_LOG});
}

{
    local $ENV{LAVA_UPSTREAM_TLS} = 'on';
    my $s = LavaTest->start;
    my $m = $s->setup_merchant;
    my @auth = (Authorization => "Bearer $m->{token}");

    my (@openai, @mistral);
    for my $i (1 .. 6) {
        my $id = LavaTest::test_id();
        my $r = $s->request(target => '/v1/forward?u=https://api.openai.com/v1/chat/completions',
                            body => $body, headers => [@auth, 'x-test-id' => $id]);
        is $r->{status}, 200, "openai request $i over verified TLS";
        push @openai, $id;
    }
    for my $i (1 .. 3) {
        my $r = $s->request(target => '/v1/forward?u=https://api.mistral.ai/v1/chat/completions',
                            body => $body, headers => \@auth);
        is $r->{status}, 200, "mistral request $i over verified TLS";
        push @mistral, $r->{rid};
    }

    my ($rec) = $s->mock_requests($openai[0]);
    ok $rec, 'the mock received the request through the TLS front';
    is_deeply [LavaTest::header_values($rec, 'x-tls-sni')], ['api.openai.com'],
        'SNI is the provider name';
    is_deeply [LavaTest::header_values($rec, 'host')], ['api.openai.com'],
        'Host is the provider name';

    # the TLS front logs: sni host connection connection_requests status (at
    # its log phase, which may come after the client read the answer)
    my @log;
    LavaTest::wait_for(5, sub { @log = tls_log($s); @log >= 9 });
    is scalar @log, 9, 'nine requests reached the TLS front';
    ok !(grep { $_->[0] ne $_->[1] } @log), 'SNI equals Host on every request';
    my %conns_of;
    $conns_of{$_->[0]}{$_->[2]}++ for @log;
    ok((grep { $_->[3] > 1 } @log), 'connections are kept alive and reused');
    my @shared = grep { $conns_of{'api.mistral.ai'}{$_} } keys %{ $conns_of{'api.openai.com'} };
    is_deeply \@shared, [], 'no connection carried two providers';

    my $row = $s->wait_booked($mistral[-1]);
    is $row->{outcome}, 'complete', 'booked as complete';
    $s->finish;
}

# A certificate for another name: verification fails, the client gets the
# gateway's JSON 502 and nothing reaches the provider.
{
    local $ENV{LAVA_UPSTREAM_TLS} = 'wrong.example';
    my $s = LavaTest->start;
    my $m = $s->setup_merchant;
    my $id = LavaTest::test_id();
    my $r = $s->request(target => '/v1/forward?u=https://api.openai.com/v1/chat/completions',
                        body => $body,
                        headers => [Authorization => "Bearer $m->{token}", 'x-test-id' => $id]);
    is $r->{status}, 502, 'certificate for another name: 502';
    is $r->{json}{error}{code}, 'provider_unreachable', 'JSON error provider_unreachable'
        or diag $r->{body};
    like $r->{rid}, qr/^req_/, 'x-lava-request-id';
    is scalar($s->mock_requests($id)), 0, 'nothing reached the provider';
    ok((grep { /upstream SSL certificate (does not match|verify error)/ } LavaTest::slurp_lines($s->error_log)),
       'nginx logged the verification failure');
    my $row = $s->wait_booked($r->{rid});
    is $row->{outcome}, 'upstream_error', 'booked as upstream_error';
    is $row->{total_nusd}, 0, 'at zero cost';
    $s->finish;
}

done_testing;
