# Refusals nginx makes itself (issue 11, class 10): a header or a request
# line too large, a bad Transfer-Encoding or chunked body, a body over
# client_max_body_size. Each is answered as the gateway's JSON with
# x-lava-request-id (conf/lava-server.conf, conf/lava-forward.conf and
# lava_error), and booked once, as refused, at zero.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_encode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my @auth = (Authorization => "Bearer $m->{token}");
my $chat = json_encode(LavaTest::chat_body());

# [what, request arguments, status, code]
my @cases = (
    ['a header over large_client_header_buffers (494)',
     { target => $T, body => $chat, headers => [@auth, 'X-Big' => 'a' x 9000] },
     400, 'request_header_too_large'],
    ['a request line over large_client_header_buffers',
     { target => $T . '&pad=' . ('b' x 9000), body => $chat, headers => \@auth },
     414, 'uri_too_large'],
    ['a Content-Length over client_max_body_size',
     { target => $T, headers => [@auth, 'Content-Type' => 'application/json',
                                 'Content-Length' => 40 * 1024 * 1024] },
     413, 'body_too_large'],
    ['a Transfer-Encoding nginx does not know',
     { target => $T, method => 'POST', headers => [@auth, 'Transfer-Encoding' => 'gzip'] },
     501, 'not_implemented'],
    ['Content-Length and Transfer-Encoding together',
     { raw => "POST $T HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $m->{token}\r\n"
              . "Transfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
              . "0\r\n\r\n" },
     400, 'bad_request'],
    ['a bad chunked body in the forward location',
     { raw => "POST $T HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $m->{token}\r\n"
              . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
              . "Connection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n" },
     400, 'bad_request'],
    ['a header too large outside the forward location',
     { target => '/elsewhere', headers => ['X-Big' => 'c' x 9000] },
     400, 'request_header_too_large'],
);

# Sends bytes as they are (no framing added) on one connection and reads the
# answer to the end: {status, headers, body, json, rid}.
sub raw {
    my ($bytes) = @_;
    my $sock = $s->_connect;
    syswrite $sock, $bytes;
    my $buf = '';
    my $deadline = time + 5;
    while (LavaTest::_read_more($sock, \$buf, $deadline)) { }
    close $sock;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my %r = (body => $body // '');
    my @lines = split /\r\n/, $head // '';
    ($r{status}) = (shift(@lines) // '') =~ m{^HTTP/1\.[01] (\d{3})};
    $r{status} //= 0;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $r{headers}{lc $k} = $v;
    }
    $r{rid} = $r{headers}{'x-lava-request-id'};
    $r{json} = LavaTest::json_decode($r{body});
    return \%r;
}

my @rids;
for my $c (@cases) {
    my ($what, $args, $status, $code) = @$c;
    my $r = $args->{raw} ? raw($args->{raw}) : $s->request(%$args);
    subtest $what => sub {
        is $r->{status}, $status, "status $status";
        like $r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON, not nginx HTML'
            or diag $r->{body};
        is $r->{json}{error}{code}, $code, "code $code";
        is $r->{json}{error}{status}, $status, 'error.status';
        like $r->{rid} // '', qr/^req_/, 'x-lava-request-id';
        return unless $r->{rid};
        push @rids, $r->{rid};
        my $ev = $s->wait_event($r->{rid});
        ok $ev, 'a usage event';
        is $ev->{outcome}, 'refused', 'booked as refused';
        is $ev->{error}, $code, "event error $code";
        is $ev->{status}, $status, "event status $status";
        my $row = $s->wait_booked($r->{rid});
        ok $row, 'booked';
        is $row->{total_nusd} // 0, 0, 'at zero cost';
    };
}

# each request is one event
sleep 1;
for my $rid (@rids) {
    my @ev = $s->event($rid);
    is scalar @ev, 1, "exactly one event for $rid";
}

# A request line nginx cannot read at all: JSON with a request id, and
# nothing to book (the event needs the method).
{
    my $r = raw("\x01\x02 garbage\r\n\r\n");
    is $r->{status}, 400, 'garbage request line: 400';
    like $r->{headers}{'content-type'} // '', qr{^application/json}, 'garbage request line: JSON';
    like $r->{rid} // '', qr/^req_/, 'garbage request line: x-lava-request-id';
    sleep 1;
    ok !$s->event($r->{rid} // 'none'), 'garbage request line: no event';
}

# A body that does not arrive within client_body_timeout: nginx closes the
# connection without an answer (its 408 never runs error_page); the request
# was routed and nothing was forwarded: booked once, refused.
$s->configure_nginx(http => ['client_body_timeout 1s;']);
{
    my $sock = $s->_connect;
    syswrite $sock, "POST $T HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $m->{token}\r\n"
        . "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":";
    my $buf = '';
    my $deadline = time + 5;
    while (LavaTest::_read_more($sock, \$buf, $deadline)) { }
    close $sock;
    is $buf, '', 'body timeout: connection closed without an answer';
    my ($rid) = map { /rid=(req_\w+)/ ? $1 : () }
                grep { / 408 / } LavaTest::slurp_lines("$s->{dir}/nginx/access.log");
    ok $rid, 'body timeout: logged with a request id';
    my $ev = $rid && $s->wait_event($rid);
    is $ev && $ev->{outcome}, 'refused', 'body timeout: booked as refused';
    is $ev && $ev->{error}, 'request_timeout', 'body timeout: error request_timeout';
    is $ev && $ev->{status}, 408, 'body timeout: status 408';
    is scalar(my @all = $s->event($rid // 'none')), 1, 'body timeout: exactly one event';
}

$s->finish;
done_testing;
