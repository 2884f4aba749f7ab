# A provider upstream whose address is not public (loopback, private,
# link-local, CGNAT, unspecified, IPv6 local ranges, IPv4-mapped and -compat
# forms, names and numeric spellings that resolve to them) makes `nginx -t`
# fail, unless lava_allow_private_upstreams is on. Only `nginx -t` runs here:
# nothing listens and nothing is connected to.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use LavaTest;

my $module = $ENV{LAVA_MODULE} // "$LavaTest::ROOT/build/ngx_http_lava_module.so";
plan skip_all => "no module at $module (run make)" unless -f $module;

my $dir = tempdir('lava-startup-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# nginx -t of a minimal configuration with one provider whose upstream has
# the given server lines; returns (exit code, output).
sub nginx_t {
    my ($servers, $allow) = @_;
    return LavaTest::nginx_t(dir => $dir, http => <<"HTTP");
    upstream lava_test { @{[ join ' ', map { "server $_;" } @$servers ]} keepalive 4; }
    lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;
    @{[ $allow ? 'lava_allow_private_upstreams on;' : '' ]}
HTTP
}

# server address => what the resolver answers
my @private = (
    ['127.0.0.1:443', 'loopback'],
    ['127.1.2.3:443', 'loopback, not .1'],
    ['localhost:443', 'a name that resolves to loopback'],
    ['2130706433:443', 'loopback in decimal'],
    # nginx reads dotted quads itself, each part in decimal: "010.0.0.1" is
    # 10.0.0.1 to nginx (8.0.0.1 to inet_aton), and "0177.0.0.1" is the public
    # 177.0.0.1, which is then also where it connects. The check sees the
    # address nginx will use, whatever the spelling.
    ['010.0.0.1:443', 'leading zeros, read as decimal by nginx'],
    ['0x7f.0.0.1:443', 'loopback in hex'],
    ['127.1:443', 'loopback, short form'],
    ['0.0.0.0:443', 'unspecified'],
    ['10.1.2.3:443', 'private 10/8'],
    ['172.16.5.4:443', 'private 172.16/12'],
    ['192.168.1.1:443', 'private 192.168/16'],
    ['169.254.169.254:443', 'link-local (cloud metadata)'],
    ['100.64.0.1:443', 'CGNAT'],
    ['224.0.0.1:443', 'multicast'],
    ['[::1]:443', 'IPv6 loopback'],
    ['[::]:443', 'IPv6 unspecified'],
    ['[fe80::1]:443', 'IPv6 link-local'],
    ['[fd00::1]:443', 'IPv6 unique local'],
    ['[::ffff:127.0.0.1]:443', 'IPv4-mapped loopback'],
    ['[::ffff:169.254.169.254]:443', 'IPv4-mapped link-local'],
    ['[::ffff:a00:1]:443', 'IPv4-mapped private, hex'],
    ['[::127.0.0.1]:443', 'IPv4-compatible loopback'],
);

for my $c (@private) {
    my ($addr, $what) = @$c;
    my ($rc, $out) = nginx_t([$addr]);
    ok $rc != 0 && $out =~ /resolves to the non-public address/,
       "$what ($addr): nginx -t refuses it" or diag $out;
}

# one private peer among others is enough, backup peers included
{
    my ($rc, $out) = nginx_t(['127.0.0.1:443 backup', '10.0.0.1:443']);
    ok $rc != 0 && $out =~ /non-public address/, 'a private peer among several is refused'
        or diag $out;
}

# the explicit switch for local testing
for my $c (@private[0, 2, 3, 14, 18]) {
    my ($addr, $what) = @$c;
    my ($rc, $out) = nginx_t([$addr], 1);
    is $rc, 0, "$what ($addr) with lava_allow_private_upstreams on: accepted" or diag $out;
}

done_testing;
