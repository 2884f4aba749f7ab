# Hostile cases for "no secret is ever written": where nginx itself writes a
# request's URL (the request line in error lines and $request, the upstream
# URL in every upstream error line, $args and $request_uri), the forward
# token sent as key= in every place and encoding a client can put it, and a
# managed or bring-your-own Gemini key; then the provider key file with a key
# written first, and the auth format that would put a key in the URL. The
# harness's own check (LavaTest::check_secrets, at finish) runs over the
# logs, Redis and Postgres besides the checks here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use LavaTest qw(json_encode);

sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

my $module = $ENV{LAVA_MODULE} // "$LavaTest::ROOT/build/ngx_http_lava_module.so";
plan skip_all => "no module at $module (run make)" unless -f $module;

# --- configuration: nginx -t only ----------------------------------------------

my $dir = tempdir('lava-secrets-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub nginx_t {
    my (%o) = @_;
    my $keys = '';
    if (defined $o{keys}) {
        open my $kf, '>', "$dir/keys" or die "$dir/keys: $!\n";
        print $kf $o{keys};
        close $kf;
        chmod 0600, "$dir/keys";
        $keys = "lava_provider_keys $dir/keys;";
    }
    my $provider = $o{provider} // 'lava_provider test upstream=lava_test auth=bearer usage=openai api.test.example;';
    return LavaTest::nginx_t(dir => $dir, scheme => 'http', with_log => 1, http => <<"HTTP");
    lava_allow_private_upstreams on;
    upstream lava_test { server 127.0.0.1:9; }
    $provider
    $keys
HTTP
}

subtest 'auth=query-key is refused: it would put the key into the upstream URL' => sub {
    my ($rc, $out) = nginx_t(provider => 'lava_provider gq upstream=lava_test auth=query-key usage=gemini gq.example;');
    isnt $rc, 0, 'nginx -t fails';
    like $out, qr/auth=query-key .*upstream URL/, 'the error says why';
};

subtest 'provider names keep to their charset' => sub {
    for my $name ('OpenAI', 'sk-proj-AbCdEf0123456789', 'a' x 25, 'open.ai') {
        my ($rc, $out) = nginx_t(provider => "lava_provider $name upstream=lava_test auth=bearer usage=openai api.test.example;");
        isnt $rc, 0, "\"$name\" refused";
        like $out, qr/invalid lava_provider name/, 'named as an invalid provider name';
    }
    my ($rc) = nginx_t(provider => 'lava_provider azure-openai_eu2 upstream=lava_test auth=bearer usage=openai api.test.example;');
    is $rc, 0, 'a plain lower-case name is accepted';
};

subtest 'key file: a key written first is never logged' => sub {
    my @keys = ('sk-proj-KeyWrittenFirst0123456789abcdefABCDEF', 'sk_0123456789abcdef0123456789abcdef0123',
                '0123456789abcdef0123456789abcdef', 'AIzaSyKeyFirst-0123456789_abcdefghijk');
    my $file = "# managed keys\ntest sk-test-good-key-0123456789\n"
             . join('', map { "$_ test\n" } @keys)
             . "azure sk-azure-0123456789abcdef\n";
    my ($rc, $out) = nginx_t(keys => $file);
    is $rc, 0, 'nginx -t passes (unknown first fields are warnings)';
    for my $i (0 .. $#keys) {
        my $line = $i + 3;
        like $out, qr/line $line: its first field is not a provider name/, "line $line: said without the field";
        my $head = substr $keys[$i], 0, 12;
        unlike $out, qr/\Q$head\E/, "line $line: no part of the key in the log";
    }
    like $out, qr/line 7 names unknown provider "azure"/, 'a provider-looking name is named';
    unlike $out, qr/sk-test-good|sk-azure/, 'no key of a good line in the log';
};

# --- the stack -------------------------------------------------------------------

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};
my $qtok = enc($tok);
my $byok = 'AIzaSyByokGemini-7c1e5d2b4a6f9e3c8d0a';
LavaTest->register_secret($byok, 'BYOK provider key');

# $request, $args and $request_uri as nginx would log them with a stock
# log_format: key= must be masked there as well
my $reqlog = $s->dir . '/nginx/request.log';
$s->configure_nginx(http => ["log_format lava_reqline '\$request|\$args|\$request_uri';",
                             "access_log $reqlog lava_reqline;"]);

my $G = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent';
my $gen = json_encode({ contents => [{ role => 'user', parts => [{ text => 'Hi' }] }] });

sub call {
    my (%a) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->stream(method => 'POST', target => $a{target}, body => $a{body} // $gen,
                       headers => ['x-test-id' => $id, @{ $a{headers} // [] }], timeout => 20);
    my ($q) = $s->mock_requests($id);
    return ($r, $q // {});
}

sub header { my ($q, $n) = @_; [LavaTest::header_values($q, $n)] }

# the error.log lines that name this request id's target, by test id
sub error_lines {
    my ($re) = @_;
    return grep { /$re/ } LavaTest::slurp_lines($s->error_log);
}

subtest 'Gemini, token in ?key=, managed key: x-goog-api-key, nothing in the URL' => sub {
    my ($r, $q) = call(target => "/v1/forward?u=" . enc($G) . "&key=$qtok",
                       headers => ['x-mock-usage' => 'prompt=5,completion=2']);
    is $r->{status}, 200, 'answered';
    is_deeply header($q, 'x-goog-api-key'), ['sk-mock-google'], 'managed key in x-goog-api-key';
    unlike $q->{target} // '', qr/key/i, 'no key argument in the provider URL';
};

subtest 'Gemini, token in ?key=, bring-your-own key: x-goog-api-key, nothing in the URL' => sub {
    my ($r, $q) = call(target => "/v1/forward?u=" . enc($G) . "&key=$qtok",
                       headers => ['X-Provider-API-Key' => $byok, 'x-mock-usage' => 'prompt=5,completion=2']);
    is $r->{status}, 200, 'answered';
    is_deeply header($q, 'x-goog-api-key'), [$byok], 'the user\'s key in x-goog-api-key';
    unlike $q->{target} // '', qr/key/i, 'no key argument in the provider URL';
};

subtest 'Gemini, key= inside u (encoded and raw), provider closes: upstream and request lines clean' => sub {
    my @targets = (
        ['token inside an encoded u', '/v1/forward?u=' . enc("$G?key=$tok")],
        ['token inside an encoded u, escaped name', '/v1/forward?u=' . enc("$G?alt=json&k%65y=$qtok")],
        ['token inside a raw u', "/v1/forward?u=$G?key=$qtok"],
        ['token at the top level', '/v1/forward?u=' . enc($G) . "&key=$qtok"],
    );
    for my $t (@targets) {
        my $id = LavaTest::test_id();
        my $r = $s->stream(method => 'POST', target => $t->[1], body => $gen, timeout => 20,
                           headers => ['x-test-id' => $id, 'x-mock-close' => 1]);
        is $r->{status}, 502, "$t->[0]: 502 when the provider closes";
        my ($q) = $s->mock_requests($id);
        is_deeply header($q // {}, 'x-goog-api-key'), ['sk-mock-google'], "$t->[0]: key in the header";
    }
    my @up = error_lines(qr/upstream: "[^"]*generateContent/);
    ok scalar(@up) >= 4, 'nginx wrote the upstream errors with their URLs';
    my @urls = map { /upstream: "([^"]*)"/ ? $1 : () } @up;
    is_deeply [grep { /sk-mock-google|key/i } @urls], [], 'no key in any upstream URL';
    is_deeply [grep { index($_, $tok) >= 0 || index($_, $qtok) >= 0 } @up], [], 'no token in any request line';
    ok scalar(grep { /request: "POST [^"]*key%3D\*+/ } @up), 'the key inside u is masked';
};

subtest 'key-like arguments (KEY=, key%3D) never reach the provider URL' => sub {
    my ($r, $q) = call(target => '/v1/forward?u=' . enc("$G?KEY=$qtok&alt=json") . "&key%3D$qtok",
                       headers => [Authorization => "Bearer $tok", 'x-mock-usage' => 'prompt=5,completion=2']);
    is $r->{status}, 200, 'answered (the token came in Authorization)';
    like $q->{target} // '', qr/alt=json/, 'other arguments kept';
    unlike $q->{target} // '', qr/key/i, 'no key-like argument in the provider URL';
};

subtest '413 before the gateway runs: the request line is masked' => sub {
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}, Timeout => 5)
        or die "connect: $!\n";
    my $target = '/v1/forward?u=' . enc("$G?key=$tok") . "&key=$qtok";
    print $sock "POST $target HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              . "Content-Length: 40000000\r\nConnection: close\r\n\r\n{}";
    my $head = '';
    while (defined(my $l = <$sock>)) { $head .= $l; last if $l eq "\r\n" }
    close $sock;
    like $head, qr{^HTTP/1\.1 413}, 'answered 413 (body too large)';
    my @big = LavaTest::wait_for(5, sub { my @l = error_lines(qr/too large body/); @l ? \@l : undef });
    my @lines = @{ $big[0] // [] };
    ok scalar(@lines), 'nginx logged the refusal';
    is_deeply [grep { index($_, $tok) >= 0 || index($_, $qtok) >= 0 || /key=[^*&"]/ } @lines], [],
        'no token in its request line';
};

subtest '$request, $args, $request_uri: masked everywhere' => sub {
    my $text = LavaTest::wait_for(5, sub { my $t = LavaTest::slurp($reqlog); length $t ? $t : undef }) // '';
    like $text, qr/key=\*{8}/, 'masked values logged';
    ok index($text, $tok) < 0 && index($text, $qtok) < 0, 'no forward token';
    ok index($text, $byok) < 0, 'no provider key';
    unlike $text, qr/key(?:=|%3D)(?!\*)[^&|%\s]/i, 'every key= value is masked';
};

subtest 'the harness finds a written secret, whole or cut, and does not print it' => sub {
    my $secret = 'lava_sk_selftest_' . join '', map { sprintf '%02x', int rand 256 } 1 .. 24;
    LavaTest->register_secret($secret, 'merchant secret key');
    my $enc = $secret =~ s/_/%5F/gr;
    $s->redis('set', 'lava:selftest:whole', "x $enc y");
    $s->redis('xadd', 'lava:selftest:stream', '*', f => 'v' . substr($secret, 9, 32));
    my @found = $s->check_secrets;
    $s->redis('del', 'lava:selftest:whole', 'lava:selftest:stream');
    ok scalar(grep { /redis key lava:selftest:whole .*merchant secret key/ } @found), 'percent-encoded copy found';
    ok scalar(grep { /redis key lava:selftest:stream .*merchant secret key .*bytes/ } @found), 'a cut copy found';
    is_deeply [grep { index($_, substr($secret, 8)) >= 0 } @found], [], 'the findings do not hold the secret';
    is_deeply [$s->check_secrets], [], 'clean again once removed';
};

$s->finish;
done_testing;
