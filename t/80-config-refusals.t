# Configurations that cannot serve are refused by `nginx -t`, each with a
# message naming the directive and the fix (issue 15): lava_forward without
# lava_auth_zone or without a provider, a provider name no lava_provider
# defines in a list directive, a lava_redis address that is not
# <ipv4>:<port>, a managed keys file open to group or others, and the shipped
# lava-forward.conf without the @lava_error location of lava-server.conf.
# The shipped files together pass. Host names are matched in lower case
# whatever case the configuration or the client wrote them in.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;

use LavaTest;

my $module = $ENV{LAVA_MODULE} // "$LavaTest::ROOT/build/ngx_http_lava_module.so";
plan skip_all => "no module at $module (run make)" unless -f $module;

my $dir = tempdir('lava-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $conf = "$LavaTest::ROOT/conf";

my $provider = <<'HTTP';
    upstream lava_test { server 127.0.0.1:9; keepalive 4; }
    lava_allow_private_upstreams on;
    lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;
HTTP

# nginx -t with the test provider and these http directives (and options of
# LavaTest::nginx_t)
sub t_conf {
    my ($http, %o) = @_;
    return LavaTest::nginx_t(dir => $dir, scheme => 'http',
                             http => ($o{no_provider} ? '' : $provider) . ($http // ''), %o);
}

sub refused {
    my ($what, $re, @args) = @_;
    my ($rc, $out) = t_conf(@args);
    isnt $rc, 0, "nginx -t refuses $what";
    like $out, $re, '  the message names the directive and the fix' or diag $out;
}

sub accepted {
    my ($what, @args) = @_;
    my ($rc, $out) = t_conf(@args);
    is $rc, 0, "nginx -t accepts $what" or diag $out;
}

accepted('the test configuration itself');

# --- lava_forward needs an auth zone and a provider ---------------------------
refused('lava_forward without lava_auth_zone',
        qr/"lava_forward" in \S+nginx\.conf:\d+ needs "lava_auth_zone" at http level, e\.g\. "lava_auth_zone lava_auth 8m;"/,
        '', auth_zone => '');
refused('lava_forward without any lava_provider',
        qr/"lava_forward" in \S+:\d+ has no provider to forward to: define them with "lava_provider"/,
        '', no_provider => 1);
accepted('no lava_forward, no provider, no auth zone (the module loaded, unused)',
         '', no_provider => 1, auth_zone => '', location => 'location / { return 204; }');

# --- provider names in list directives ----------------------------------------
for my $c (['lava_stream_include_usage_skip test mistrall;', 'lava_stream_include_usage_skip', 'mistrall'],
           ['lava_stream_include_usage_skip Test;', 'lava_stream_include_usage_skip', 'Test'],
           ['lava_provider_header tset OpenAI-Organization org-1;', 'lava_provider_header', 'tset'],
           ['lava_provider_endpoint tset GET /v1/models per_request;', 'lava_provider_endpoint', 'tset']) {
    my ($line, $directive, $name) = @$c;
    refused("$directive naming \"$name\"",
            qr/"\Q$directive\E" names provider "\Q$name\E", which no "lava_provider" defines: correct the name/,
            $line);
}
refused('lava_stream_include_usage_skip with no provider defined at all',
        qr/"lava_stream_include_usage_skip" names provider "mistral", which no "lava_provider" defines/,
        'lava_stream_include_usage_skip mistral;', no_provider => 1, auth_zone => '',
        location => 'location / { return 204; }');
accepted('list directives naming defined providers',
         "lava_stream_include_usage_skip test;\n"
         . "    lava_provider_header test OpenAI-Organization org-1;\n"
         . "    lava_provider_endpoint test GET /v1/models per_request;");

# --- lava_redis ------------------------------------------------------------------
for my $bad (['redis://127.0.0.1:6379', 'a URL (the sidecar\'s redis_url form)'],
             ['127.0.0.1:6379/0', 'a database number as a path'],
             ['127.0.0.1:99999', 'a port out of range'],
             ['127.0.0.1:0', 'port 0'],
             ['127.0.0.1:', 'an empty port'],
             ['127.0.0.1:63a9', 'a port that is not a number'],
             ['localhost:6379', 'a host name'],
             ['[::1]:6379', 'an IPv6 address']) {
    my ($addr, $what) = @$bad;
    refused("lava_redis $addr ($what)",
            qr/lava_redis.*e\.g\. "lava_redis 127\.0\.0\.1:6379;"/, "lava_redis $addr;");
}
accepted('lava_redis 127.0.0.1:6380', 'lava_redis 127.0.0.1:6380;');
accepted('lava_redis 127.0.0.1 (the default port)', 'lava_redis 127.0.0.1;');

# --- the managed keys file ---------------------------------------------------------
my $keys = "$dir/provider-keys";
for my $mode (0640, 0604, 0644, 0660, 0602, 0620) {
    open my $fh, '>', $keys or die "$keys: $!\n";
    print $fh "test sk-conf-test-key-0123456789\n";
    close $fh;
    chmod $mode, $keys;
    my $m = sprintf '%04o', $mode;
    refused("a keys file of mode $m",
            qr/lava_provider_keys "\Q$keys\E" is readable or writable by group or others \(mode $m\): run "chmod 600 \Q$keys\E"/,
            "lava_provider_keys $keys;");
}
for my $mode (0600, 0400) {
    chmod $mode, $keys;
    accepted(sprintf('a keys file of mode %04o', $mode), "lava_provider_keys $keys;");
}
unlike +(t_conf("lava_provider_keys $keys;", with_log => 1))[1], qr/sk-conf-test-key/,
       'the key is in no message';

# --- the shared zones: size, one directive each, one owner per zone -----------------
for my $d (qw(lava_auth_zone lava_wallet_zone lava_spend_key_zone)) {
    my @auth = $d eq 'lava_auth_zone' ? (auth_zone => '') : ();
    refused("$d smaller than 8 pages", qr/invalid $d size "4k"/, "$d z_small 4k;", @auth);
    refused("$d of an unparsable size", qr/invalid $d size "big"/, "$d z_big big;", @auth);
    refused("$d given twice", qr/"$d" directive is duplicate/,
            "$d z_one 1m; $d z_two 1m;", @auth);
    accepted("$d with its own zone", "$d z_own 1m;", @auth);
}
refused('two lava zones of one name',
        qr/lava_spend_key_zone "z_same" is already used/,
        'lava_wallet_zone z_same 1m; lava_spend_key_zone z_same 1m;');
refused('a named zone that takes a default zone\'s name',
        qr/zone "lava_spend_key" is already used: name another with lava_spend_key_zone/,
        'lava_wallet_zone lava_spend_key 1m;');
refused('a named zone of the default name and another size',
        qr/the size \d+ of shared memory zone "lava_wallet" conflicts/,
        'lava_spend_key_zone lava_wallet 2m;');

# --- the shipped forward location needs lava-server.conf -----------------------------
refused('conf/lava-forward.conf in a server without conf/lava-server.conf',
        qr/"error_page \d+ \.\.\. \@lava_error" of the "lava_forward" location in \S+lava-forward\.conf:\d+ names a location its server does not define: include lava-server\.conf in that server/,
        '', location => "location /v1/forward { include $conf/lava-forward.conf; }");
refused('an error_page to a named location the server lacks',
        qr/"error_page 502 \.\.\. \@json_errors" of the "lava_forward" location/,
        '', location => 'location /v1/forward { lava_forward; proxy_pass http://$lava_upstream$lava_uri; '
                        . 'error_page 502 @json_errors; }');
accepted('conf/lava-forward.conf with conf/lava-server.conf (the shipped pair)',
         '', server => "include $conf/lava-server.conf;",
         location => "location /v1/forward { include $conf/lava-forward.conf; }");

# --- plain HTTP upstreams only for a local mock ------------------------------------------
refused('lava_upstream_tls off without lava_allow_private_upstreams',
        qr/"lava_upstream_tls off" is for a local mock provider only and needs "lava_allow_private_upstreams on"/,
        'lava_upstream_tls off;', no_provider => 1,
        location => 'location / { return 204; }');

# --- the shipped mock setup: one include in place of nginx-lava.conf -----------------
{
    my (@real, @mock);
    for (LavaTest::slurp_lines("$conf/providers.conf")) {
        next unless /^(upstream|lava_)/;
        s/server [A-Za-z0-9.-]+:443;/server 127.0.0.1:8089;/;
        push @real, $_;
    }
    @mock = grep { /^(upstream|lava_)/ } LavaTest::slurp_lines("$conf/providers-mock.conf");
    is_deeply \@mock, \@real, 'providers-mock.conf is providers.conf with every upstream at 127.0.0.1:8089';
    my @names = map { /^lava_provider (\S+)/ ? $1 : () } @real;
    my @keys = map { /^(\S+) sk-mock-\1$/ ? $1 : () } LavaTest::slurp_lines("$conf/provider-keys.mock");
    is_deeply \@keys, \@names, 'provider-keys.mock has a fake key for every provider';

    # the installed layout in a directory of its own
    my $etc = "$dir/etc";
    mkdir $etc;
    mkdir "$dir/spool";
    for my $f (qw(nginx-lava-mock.conf providers-mock.conf provider-keys.mock lava-server.conf lava-forward.conf)) {
        (my $text = LavaTest::slurp("$conf/$f")) =~ s{/etc/lava/}{$etc/}g;
        $text =~ s{/var/spool/lava}{$dir/spool}g;
        open my $fh, '>', "$etc/$f" or die "$etc/$f: $!\n";
        print $fh $text;
        close $fh;
    }
    chmod 0600, "$etc/provider-keys.mock";    # as make install does
    accepted('nginx-lava-mock.conf with the shipped server and forward files',
             "include $etc/nginx-lava-mock.conf;", no_provider => 1, auth_zone => '',
             server => "include $etc/lava-server.conf;",
             location => "location /v1/forward { include $etc/lava-forward.conf; }");
}

# --- host case -------------------------------------------------------------------
accepted('a lava_provider host in upper case (read as lower case)',
         'lava_provider upper upstream=lava_test auth=bearer usage=openai API.Upper.Example;');
refused('the same host in two cases for two providers (one host)',
        qr/host "api\.test\.example" of lava_provider "upper" belongs to another provider too/,
        'lava_provider upper upstream=lava_test auth=bearer usage=openai API.TEST.Example;');

# Through a running gateway: a provider declared in mixed case is found for a
# u in any case.
my $s = LavaTest->start;
my $port2 = do {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die "no port: $!\n";
    $l->sockport;
};
# a second server whose forward location has no error_page at all (no
# lava-forward.conf, no lava-server.conf), to an unreachable provider
$s->configure_nginx(http => [
    'lava_provider upper upstream=lava_openai auth=bearer usage=openai API.Upper.Example;',
    'upstream lava_dead { server 127.0.0.1:1; }',
    'lava_provider dead upstream=lava_dead auth=bearer usage=openai api.dead.example;',
    "server { listen 127.0.0.1:$port2; location /v1/forward { lava_forward; "
    . 'proxy_pass $lava_upstream_scheme://$lava_upstream$lava_uri; client_max_body_size 1k; } }',
]);
my $m = $s->setup_merchant;
my $chat = { model => 'gpt-4o-mini', messages => [{ role => 'user', content => 'hi' }] };
for my $host ('api.upper.example', 'API.UPPER.EXAMPLE', 'Api.Upper.Example') {
    my $r = $s->request(method => 'POST', target => "/v1/forward?u=https://$host/v1/chat/completions",
                        headers => [Authorization => "Bearer $m->{token}",
                                    'x-provider-api-key' => 'sk-byok-conf-test-0123456789'],
                        body => $chat);
    is $r->{status}, 200, "u host $host: forwarded to the provider declared as API.Upper.Example"
        or diag $r->{body};
}
my $r = $s->request(method => 'POST', target => '/v1/forward?u=https://API.OPENAI.COM/v1/chat/completions',
                    headers => [Authorization => "Bearer $m->{token}"], body => $chat);
is $r->{status}, 200, 'u host API.OPENAI.COM: the shipped openai provider' or diag $r->{body};


# nginx's own errors of a forward location without any error_page: the JSON
# errors all the same, booked with their code (not nginx's HTML page)
{
    my $c = LavaTest->client($port2);
    my $byok = [Authorization => "Bearer $m->{token}", 'x-provider-api-key' => 'sk-byok-conf-test-0123456789'];
    for my $case (['https://api.dead.example/v1/chat/completions', $chat, 502, 'provider_unreachable'],
                  ['https://api.openai.com/v1/chat/completions',
                   { %$chat, messages => [{ role => 'user', content => 'x' x 2000 }] }, 413, 'body_too_large']) {
        my ($u, $body, $status, $code) = @$case;
        my $r = $c->request(method => 'POST', target => "/v1/forward?u=$u", headers => $byok, body => $body);
        is $r->{status}, $status, "no error_page: $code answered $status";
        like $r->{headers}{'content-type'} // '', qr{^application/json}, '  as JSON';
        is ref $r->{json} eq 'HASH' && $r->{json}{error}{code}, $code, "  code $code" or diag $r->{body};
        is $r->{json}{error}{status}, $status, '  status in the body';
        is length($r->{body}), $r->{headers}{'content-length'}, '  Content-Length of the JSON';
        like $r->{headers}{'x-lava-request-id'} // '', qr/^req_/, '  with x-lava-request-id';
        my $ev = $s->wait_event($r->{headers}{'x-lava-request-id'} // '') // {};
        is $ev->{error}, $code, "  the event says $code";
    }
}

$s->finish;
done_testing;
