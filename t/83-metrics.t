# Metrics and health (issue 15, docs/operations.md): nginx's lava_status
# location and the sidecar's metrics_listen answer Prometheus text that
# promtool accepts, a real Prometheus scrapes both, and the series move
# with traffic; /healthz is 200 while the sidecar is connected and keeping
# up, 503 with the reason when Postgres is gone. The sidecar's responder
# answers 404 and 400 to anything else and bounds the request size.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Test::More;
use Test::TCP qw(empty_port);

use LavaTest qw(wait_for);

# not skipped: `make test` installs them (scripts/install-deps)
for my $bin (qw(prometheus promtool)) {
    grep { -x "$_/$bin" } split /:/, $ENV{PATH}
        or die "no $bin: install the Debian package prometheus (scripts/install-deps)\n";
}

my $s = LavaTest->start;
my $dir = $s->dir;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

# --- the two endpoints --------------------------------------------------------

my $nginx_port = empty_port();
$s->configure_nginx(http => [
    "server { listen 127.0.0.1:$nginx_port; location = /metrics { lava_status; } "
    . "location / { return 404; } }",
]);

my $sidecar_port = empty_port();
{
    my $conf = "$dir/sidecar/sidecar.conf";
    open my $fh, '>>', $conf or die "$conf: $!\n";
    print $fh "metrics_listen = 127.0.0.1:$sidecar_port\n";
    close $fh or die "$conf: $!\n";
    $s->stop_part('sidecar');
    $s->start_part('sidecar');
}

my $nginx = LavaTest->client($nginx_port);
my $sidecar = LavaTest->client($sidecar_port);

sub get {
    my ($client, $path) = @_;
    return $client->request(method => 'GET', target => $path, timeout => 10);
}

# series name{labels} => value, of a Prometheus text body
sub series {
    my ($text) = @_;
    my %v;
    for (split /\n/, $text // '') {
        next if /^#/ || !/\S/;
        /^(\S+(?:\{[^}]*\})?) (\S+)$/ or next;
        $v{$1} = $2;
    }
    return \%v;
}

sub sum_of {
    my ($v, $re) = @_;
    my $n = 0;
    $n += $v->{$_} for grep { /$re/ } keys %$v;
    return $n;
}

sub promtool_ok {
    my ($text, $name) = @_;
    my $f = "$dir/promtool-$name.txt";
    open my $fh, '>', $f or die "$f: $!\n";
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < \Q$f\E 2>&1`;
    is $?, 0, "promtool check metrics passes on the $name output" or diag $out;
}

# --- traffic ------------------------------------------------------------------

my $m = $s->setup_merchant;

sub call {
    my (%o) = @_;
    my @h = (Authorization => "Bearer $m->{token}", 'x-mock-usage' => 'prompt=100,cached=0,completion=10');
    return $s->request(target => $T, body => LavaTest::chat_body(), headers => \@h);
}

my @rids;
for (1 .. 3) {
    my $r = call();
    is $r->{status}, 200, 'a forward request is served';
    push @rids, $r->{rid};
}
my $bad = $s->request(target => $T, body => LavaTest::chat_body(),
                      headers => [Authorization => 'Bearer not-a-token']);
is $bad->{status}, 401, 'a request with a broken token is refused';
ok $s->wait_booked($_), "$_ booked" for grep { defined } @rids;

# --- nginx: lava_status -------------------------------------------------------

my $nm;
my $nv = wait_for(10, sub {
    $nm = get($nginx, '/metrics');
    my $v = series($nm->{body});
    sum_of($v, qr/^lava_requests_total\{provider="openai",status="2xx",outcome="complete"\}/) >= 3
        && ($v->{lava_events_sent_total} // 0) >= 4 ? $v : undef;
});
is $nm->{status}, 200, 'lava_status answers 200';
like $nm->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in Prometheus text format 0.0.4';
ok $nv, 'requests by provider, status class and outcome, and events sent, counted'
    or diag $nm->{body};
$nv //= series($nm->{body});
ok $nv->{'lava_refusals_total{code="invalid_token",status="401"}'} >= 1,
   'the refusal is counted by its code';
ok exists $nv->{'lava_refusals_total{code="auth_unavailable",status="503"}'},
   'every refusal code has a series, 0 included';
ok $nv->{'lava_requests_total{provider="none",status="4xx",outcome="refused"}'}
   || $nv->{'lava_requests_total{provider="openai",status="4xx",outcome="refused"}'},
   'the refused request is counted as refused';
is $nv->{lava_redis_up}, 1, 'every worker is connected to Redis';
ok $nv->{lava_workers} >= 1, 'the workers are counted';
ok $nv->{lava_auth_snapshot_loaded} == 1 && $nv->{lava_auth_snapshot_version} > 0,
   'the auth snapshot is loaded, with its version';
ok defined $nv->{lava_auth_snapshot_age_seconds}, 'and its age';
ok $nv->{lava_token_cache_hits_total} + $nv->{lava_token_cache_misses_total} >= 4,
   'forward tokens are counted (cache hits and misses)';
ok $nv->{lava_token_cache_hits_total} >= 1, 'the same token again is a cache hit';
ok defined $nv->{$_}, "$_ is shown"
    for qw(lava_events_queued_total lava_events_spooled_total lava_events_replayed_total
           lava_events_dropped_total lava_event_queue_length lava_event_spool_bytes
           lava_drains_in_progress);
promtool_ok($nm->{body}, 'nginx');

my $post = $nginx->request(method => 'POST', target => '/metrics', body => 'x', timeout => 10);
is $post->{status}, 405, 'lava_status: POST is not allowed';

# --- the sidecar: /metrics and /healthz ---------------------------------------

my $sm;
my $sv = wait_for(10, sub {
    $sm = get($sidecar, '/metrics');
    my $v = series($sm->{body});
    ($v->{lava_sidecar_events_booked_total} // 0) >= 3 ? $v : undef;
});
is $sm->{status}, 200, 'the sidecar answers /metrics';
like $sm->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in Prometheus text format 0.0.4';
ok $sv, 'events booked are counted' or diag $sm->{body};
$sv //= series($sm->{body});
ok $sv->{lava_sidecar_events_read_total} >= 3, 'events read are counted';
ok $sv->{lava_sidecar_batch_size_count} >= 1, 'batch sizes are a histogram';
ok $sv->{'lava_sidecar_booking_duration_seconds_bucket{le="+Inf"}'} >= 1, 'booking time too';
is $sv->{lava_sidecar_postgres_up}, 1, 'connected to Postgres';
is $sv->{lava_sidecar_redis_up}, 1, 'connected to Redis';
ok $sv->{lava_sidecar_rate_table_version} >= 0, 'the rate table version is shown';
ok defined $sv->{$_}, "$_ is shown"
    for qw(lava_sidecar_stream_backlog lava_sidecar_ledger_lag_seconds
           lava_sidecar_events_duplicate_total lava_sidecar_events_dead_lettered_total);
promtool_ok($sm->{body}, 'sidecar');

# every series shown is documented, with its type
{
    my $ops = LavaTest::slurp("$FindBin::Bin/../docs/operations.md");
    for my $text ($nm->{body}, $sm->{body}) {
        for ($text =~ /^# TYPE (\S+ \S+)$/mg) {
            my ($name, $type) = split / /;
            like $ops, qr/^\| `\Q$name\E` \| $type \|/m, "docs/operations.md lists $name ($type)";
        }
    }
    my ($rules) = $ops =~ /^### Alert rules\n.*?^```yaml\n(.*?)^```/ms;
    ok $rules, 'docs/operations.md has alert rules';
    my $f = "$dir/rules.yml";
    open my $fh, '>', $f or die "$f: $!\n";
    print $fh $rules // '';
    close $fh;
    my $out = `promtool check rules \Q$f\E 2>&1`;
    is $?, 0, 'promtool check rules passes on them' or diag $out;
    for my $name ($rules =~ /\b(lava_\w+)/g) {
        like $ops, qr/^\| `\Q$name\E` \|/m, "the rules use a documented series ($name)";
    }
}

my $h = wait_for(10, sub { my $r = get($sidecar, '/healthz'); $r->{status} == 200 ? $r : undef });
ok $h, '/healthz is 200 while connected and keeping up';
like $h->{body} // '', qr/^ok/, 'and says ok';

is get($sidecar, '/nope')->{status}, 404, 'another path: 404';
is $sidecar->request(method => 'POST', target => '/metrics', body => 'x', timeout => 10)->{status},
   400, 'another method: 400';

sub raw {
    my ($bytes) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sidecar_port,
                                     Proto => 'tcp', Timeout => 5) or die "connect: $!\n";
    print $sock $bytes;
    my $got = '';
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 10;
    eval { while (sysread($sock, my $buf, 4096)) { $got .= $buf } };
    alarm 0;
    return $got;
}
like raw("garbage\r\n\r\n"), qr{^HTTP/1\.0 400 }, 'a malformed request line: 400';
like raw('GET /metrics HTTP/1.0' . ("\r\nX-Pad: " . 'a' x 1000) x 3 . "\r\n\r\n"),
     qr{^HTTP/1\.0 400 }, 'a request over 2048 bytes: 400';
like raw("GET /healthz HTTP/1.0\r\n\r\n"), qr{^HTTP/1\.0 200 }, 'a plain HTTP/1.0 request: 200';

# --- a real Prometheus scrapes both --------------------------------------------

my $prom_port = empty_port();
my $prom_dir = "$dir/prometheus";
mkdir $prom_dir;
{
    open my $fh, '>', "$prom_dir/prometheus.yml" or die "$prom_dir: $!\n";
    print $fh <<"YML";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: lava_nginx
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$nginx_port']
  - job_name: lava_sidecar
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$sidecar_port']
YML
    close $fh;
}
my $prom_pid = fork // die "fork: $!\n";
if ($prom_pid == 0) {
    POSIX::setsid();
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$prom_dir/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    { exec 'prometheus', "--config.file=$prom_dir/prometheus.yml",
          "--storage.tsdb.path=$prom_dir/data", "--web.listen-address=127.0.0.1:$prom_port",
          '--log.level=warn' };
    POSIX::_exit(127);
}
END { kill 'TERM', $prom_pid if $prom_pid; }

my $prom = LavaTest->client($prom_port);

# the value of a PromQL expression (one series), or undef
sub query {
    my ($expr) = @_;
    (my $q = $expr) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;
    my $r = eval { $prom->request(method => 'GET', target => "/api/v1/query?query=$q", timeout => 5) };
    return undef unless $r && $r->{status} == 200 && $r->{json};
    my $res = $r->{json}{data}{result} // [];
    return @$res ? $res->[0]{value}[1] : undef;
}

ok wait_for(30, sub { my $r = eval { $prom->request(method => 'GET', target => '/-/ready', timeout => 2) };
                      $r && $r->{status} == 200 }), 'Prometheus is up';

ok wait_for(30, sub { (query('up{job="lava_nginx"}') // 0) == 1 }), 'Prometheus scrapes lava_status'
    or diag LavaTest::slurp("$prom_dir/prometheus.log");
ok wait_for(30, sub { (query('up{job="lava_sidecar"}') // 0) == 1 }), 'Prometheus scrapes the sidecar';

my $req0 = wait_for(20, sub { query('sum(lava_requests_total{job="lava_nginx"})') });
my $booked0 = wait_for(20, sub { query('lava_sidecar_events_booked_total') });
my $sent0 = wait_for(20, sub { query('lava_events_sent_total') });
ok defined $req0 && $req0 >= 4, "Prometheus has lava_requests_total ($req0)";
ok defined $booked0 && $booked0 >= 3, "and lava_sidecar_events_booked_total ($booked0)";
ok defined $sent0, "and lava_events_sent_total ($sent0)";
ok defined query('lava_sidecar_batch_size_bucket{le="+Inf"}'), 'and the histograms';
ok defined query('lava_refusals_total{code="invalid_token"}'), 'and the refusals';

my @more;
for (1 .. 5) {
    my $r = call();
    push @more, $r->{rid};
}
ok $s->wait_booked($_), "$_ booked" for grep { defined } @more;

ok wait_for(30, sub { (query('sum(lava_requests_total{job="lava_nginx"})') // 0) >= $req0 + 5 }),
   'lava_requests_total moves with traffic';
ok wait_for(30, sub { (query('lava_events_sent_total') // 0) >= $sent0 + 5 }),
   'lava_events_sent_total moves';
ok wait_for(30, sub { (query('lava_sidecar_events_booked_total') // 0) >= $booked0 + 5 }),
   'lava_sidecar_events_booked_total moves';
ok wait_for(30, sub { (query('lava_sidecar_events_read_total') // 0) >= $booked0 + 5 }),
   'lava_sidecar_events_read_total moves';

# --- /healthz without Postgres ------------------------------------------------

$s->stop_part('postgres');
call();                                 # an event that cannot be booked now
my $down = wait_for(30, sub { my $r = get($sidecar, '/healthz'); $r->{status} == 503 ? $r : undef });
ok $down, '/healthz is 503 when Postgres is stopped';
like $down->{body} // '', qr/postgres not connected/, 'and says why';
my $dm = get($sidecar, '/metrics');
is $dm->{status}, 200, '/metrics still answers while booking waits for Postgres';
is series($dm->{body})->{lava_sidecar_postgres_up}, 0, 'lava_sidecar_postgres_up is 0';

$s->start_part('postgres');
ok wait_for(30, sub { get($sidecar, '/healthz')->{status} == 200 }), '/healthz is 200 again with Postgres back';

kill 'TERM', $prom_pid;
waitpid $prom_pid, 0;
$prom_pid = 0;

$s->finish;
done_testing;
