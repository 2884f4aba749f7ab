package LavaTest;

# Integration test harness: each test file starts its own private stack
# (scripts/lava-stack with a temporary LAVA_STACK_DIR: Redis, Postgres, the
# mock provider, the sidecar and nginx with the module, all on 127.0.0.1),
# talks to it over raw sockets, reads Redis and Postgres directly, and stops
# it at the end, also when the test dies. The state directory is removed
# when every test passed, else kept and named (LAVA_TEST_KEEP=1 keeps it
# always).
#
#   my $s = LavaTest->start;
#   my $m = $s->setup_merchant;              # merchant, customer, meter, funded wallet
#   my $r = $s->request(target => '/v1/forward/chat/completions?u=...',
#                       headers => [Authorization => "Bearer $m->{token}"],
#                       body => { model => 'gpt-4o-mini', messages => [] });
#   my $ev = $s->wait_event($r->{headers}{'x-lava-request-id'});
#   $s->finish;                              # error.log and secret checks, then down
#
# Secrets: every merchant secret key and forward token the harness makes
# (setup_merchant, token), every X-Provider-API-Key it sends, the stack's
# managed keys, and whatever a test adds with register_secret(value, kind),
# must never be written: finish checks the nginx error and access logs, the
# sidecar log, every Redis key (all stream entries, all fields) and every
# table of the lava schema (check_secrets), and fails naming where and what
# kind, never the secret itself.

use strict;
use warnings;

use Cwd qw(abs_path);
use DBI;
use Digest::SHA qw(sha256_hex);
use Errno qw(EINTR EAGAIN);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Redis;
use Test::More;
use Time::HiRes qw(time sleep);

use Exporter 'import';
our @EXPORT_OK = qw(json_decode json_encode wait_for);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
my $JSON = JSON::PP->new->canonical(1);
my @LIVE;
my %SECRETS;            # value => kind, for the whole test file

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { my $v = eval { JSON::PP->new->decode($_[0]) }; $v }

# wait_for($seconds, sub { ... }): the first true value the sub returns, or
# undef when the time is up.
sub wait_for {
    my ($secs, $cb) = @_;
    my $deadline = time + $secs;
    for (;;) {
        my $v = $cb->();
        return $v if $v;
        return undef if time > $deadline;
        sleep 0.05;
    }
}

# --- the stack ----------------------------------------------------------------

sub start {
    my ($class, %opt) = @_;
    my $dir = tempdir('lava-test-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $dir;       # the Postgres cluster in it belongs to postgres
    my $self = bless { dir => $dir, up => 0 }, $class;

    my $out = $self->_stack('up');
    if ($?) {
        diag $out;
        $self->{keep} = 1;
        die "lava-stack up failed (state in $dir)\n";
    }
    $self->{up} = 1;
    push @LIVE, $self;

    for (split /\n/, $self->_stack('env')) {
        $self->{env}{$1} = $2 if /^(\w+)=(.*)$/;
    }
    ($self->{port}) = $self->{env}{LAVA_URL} =~ /:(\d+)$/;
    ($self->{redis_port}) = $self->{env}{LAVA_REDIS_URL} =~ /:(\d+)$/;
    ($self->{pg_port}) = $self->{env}{LAVA_PG_DSN} =~ /:(\d+)\/lava$/;
    $self->{mock_log} = $self->{env}{LAVA_MOCK_LOG};
    return $self;
}

# A bare HTTP client for a loopback port (no stack): request and stream only.
sub client {
    my ($class, $port) = @_;
    return bless { port => $port, up => 0 }, $class;
}

sub _stack {
    my ($self, @args) = @_;
    local $ENV{LAVA_STACK_DIR} = $self->{dir};
    delete local $ENV{LAVA_UPSTREAM_OVERRIDE};
    my $cmd = join ' ', map { quotemeta } "$ROOT/scripts/lava-stack", @args;
    return scalar `$cmd 2>&1`;
}

sub dir { $_[0]{dir} }
sub url { $_[0]{env}{LAVA_URL} }
sub env { $_[0]{env} }
sub error_log { "$_[0]{dir}/nginx/error.log" }

# stop_part('redis'), start_part('redis'): one part of the stack, by pid.
sub stop_part {
    my ($self, $part) = @_;
    my $out = $self->_stack('stop', $part);
    die "lava-stack stop $part: $out" if $?;
}

sub start_part {
    my ($self, $part) = @_;
    my $out = $self->_stack('start', $part);
    die "lava-stack start $part: $out" if $?;
}

# configure_nginx(http => [directives], while_stopped => sub): the stack's
# nginx.conf with these http-level directives (replacing those of an earlier
# call, and any lava_* directive of the stack's own that one of them names),
# nginx restarted, and the auth snapshot loaded again from Redis (which must
# be up). while_stopped runs between the stop and the start.
sub configure_nginx {
    my ($self, %o) = @_;
    my $conf = "$self->{dir}/nginx/nginx.conf";
    my $text = slurp($conf);
    $text =~ s/^    # lava-test-conf\n.*?^    # lava-test-conf end\n//ms;
    for my $name (map { /^(lava_\w+)\s/ ? $1 : () } @{ $o{http} }) {
        $text =~ s/^    \Q$name\E\s.*\n//mg;
    }
    my $add = join '', "    # lava-test-conf\n", map({ "    $_\n" } @{ $o{http} }), "    # lava-test-conf end\n";
    $text =~ s/^(http \{\n)/$1$add/m or die "no http block in $conf\n";
    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh $text;
    close $fh or die "$conf: $!\n";
    my $loaded = sub { scalar grep { /lava auth: snapshot version \d+ loaded/ } slurp_lines($self->error_log) };
    my $n = $loaded->();
    $self->stop_part('nginx');
    $o{while_stopped}->() if $o{while_stopped};
    $self->start_part('nginx');
    wait_for(15, sub { $loaded->() > $n }) or die "nginx did not load the auth snapshot\n";
}

# The end of a test file: nginx must not have logged an alert, an emergency or
# a worker crash, then everything is stopped.
sub finish {
    my ($self) = @_;
    my @bad = grep { /\[(alert|emerg)\]|exited on signal/ } slurp_lines($self->error_log);
    ok(!@bad, 'no [alert], [emerg] or worker crash in error.log')
        or diag join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)];
    my @found = $self->check_secrets;
    ok(!@found, 'no secret written to the logs, Redis or Postgres')
        or diag join "\n", @found;
    $self->down;
}

# --- secrets ------------------------------------------------------------------

# register_secret($value, $kind): a value that must never be written
# anywhere the stack writes (class method or on a stack). Values under 8
# bytes are too short to look for.
sub register_secret {
    my (undef, $value, $kind) = @_;
    return unless defined $value && length $value >= 8;
    $SECRETS{$value} //= $kind // 'secret';
}

sub secrets { %SECRETS }

# Every form a secret could be written in: as is, percent-encoded (upper
# and lower case escapes), JSON-escaped; and, for long ones, every 24-byte
# piece at a step of 8, so a cut or partly masked copy is found too.
sub _secret_patterns {
    my ($self) = @_;
    my %kind = %SECRETS;
    for (LavaTest::slurp_lines("$self->{dir}/nginx/provider-keys")) {
        my (undef, $key) = split ' ';
        $kind{$key} //= 'managed provider key' if defined $key && length $key >= 8;
    }
    my %pat;
    for my $v (keys %kind) {
        (my $enc = $v) =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
        (my $json = $v) =~ s{([\\"/])}{\\$1}g;
        for my $form ($v, $enc, lc $enc eq $enc ? () : _lc_escapes($enc), $json) {
            $pat{$form} //= [$kind{$v}, $v, 'whole'];
        }
        next if length $v < 40;
        for (my $i = 0; $i + 24 <= length $v; $i += 8) {
            $pat{substr $v, $i, 24} //= [$kind{$v}, $v, "bytes $i-" . ($i + 23)];
        }
    }
    return \%pat;
}

sub _lc_escapes { (my $s = $_[0]) =~ s/%([0-9A-F]{2})/'%' . lc $1/ge; $s }

# A secret, named without giving it away: kind, length, first 6 bytes.
sub _secret_name {
    my ($kind, $v, $part) = @_;
    return sprintf '%s (%d bytes, "%s...")%s', $kind, length $v, substr($v, 0, 6),
        $part eq 'whole' ? '' : ", $part";
}

# What was written where: a list of findings (empty when clean). Each
# source that cannot be read (a part the test left stopped) is a finding
# too, so nothing is skipped silently.
sub check_secrets {
    my ($self) = @_;
    my $pat = $self->_secret_patterns;
    return () unless %$pat;
    my $re = join '|', map { quotemeta } sort { length $b <=> length $a } keys %$pat;
    $re = qr/($re)/;
    my @found;
    my $scan = sub {
        my ($where, $text) = @_;
        my %seen;
        while ($text =~ /$re/g) {
            my ($kind, $v, $part) = @{ $pat->{$1} };
            next if $seen{$v}++;
            my $line = 1 + (substr($text, 0, $-[0]) =~ tr/\n//);
            push @found, "secret in $where (line $line): " . _secret_name($kind, $v, $part);
        }
    };

    for my $f ('nginx/error.log', 'nginx/access.log', 'sidecar/sidecar.log', @{ $self->{extra_logs} // [] }) {
        $scan->($f, LavaTest::slurp("$self->{dir}/$f"));
    }

    my $scan_redis = sub {
        my ($port, $name) = @_;
        my $r = Redis->new(server => "127.0.0.1:$port", reconnect => 0,
                           cnx_timeout => 2, read_timeout => 10);
        for my $k (sort $r->keys('*')) {
            my $type = $r->type($k);
            my @v = $type eq 'string' ? ($r->get($k))
                  : $type eq 'stream' ? (map { ($_->[0], @{ $_->[1] }) } $r->xrange($k, '-', '+'))
                  : $type eq 'hash' ? ($r->hgetall($k))
                  : $type eq 'list' ? ($r->lrange($k, 0, -1))
                  : $type eq 'set' ? ($r->smembers($k))
                  : $type eq 'zset' ? ($r->zrange($k, 0, -1))
                  : ();
            $scan->("${name}key $k", join "\n", $k, map { $_ // '' } @v);
        }
        $r->quit;
        1;
    };
    my $redis = eval { $scan_redis->($self->{redis_port}, 'redis ') };
    # Redis servers a test started besides the stack's (add_redis)
    for my $port (@{ $self->{extra_redis} // [] }) {
        eval { $scan_redis->($port, "redis 127.0.0.1:$port ") }
            or push @found, "redis 127.0.0.1:$port could not be read";
    }
    unless ($redis) {
        # stopped by the test: its append-only files hold every write
        my @aof = glob "$self->{dir}/redis/appendonly*/* $self->{dir}/redis/appendonly*.aof";
        $scan->("redis file $_", LavaTest::slurp($_)) for @aof;
        push @found, "redis could not be read, nor its append-only files" unless @aof;
    }

    my $pg = eval {
        my $dbh = $self->dbh;
        my $tables = $dbh->selectcol_arrayref(
            q{SELECT quote_ident(table_name) FROM information_schema.tables
              WHERE table_schema = 'lava' AND table_type = 'BASE TABLE' ORDER BY 1});
        for my $t (@$tables) {
            my $rows = $dbh->selectcol_arrayref("SELECT t::text FROM lava.$t AS t");
            $scan->("postgres table lava.$t", join "\n", @$rows);
        }
        scalar @$tables;
    };
    push @found, "postgres could not be read: " . ($@ =~ s/\s+$//r) unless $pg;

    return @found;
}

# add_redis($port): a Redis server the test started (a cluster node, say)
# whose keys check_secrets reads too.
sub add_redis {
    my ($self, $port) = @_;
    push @{ $self->{extra_redis} }, $port;
}

# add_log($file): a log (relative to the stack's directory) of a part the
# test started itself, which check_secrets reads too.
sub add_log {
    my ($self, $file) = @_;
    push @{ $self->{extra_logs} }, $file;
}

sub down {
    my ($self) = @_;
    return unless $self->{up};
    $self->{up} = 0;
    delete $self->{dbh};
    my $out = $self->_stack('down');
    diag $out if $?;
    @LIVE = grep { $_ != $self } @LIVE;
    my $builder = Test::More->builder;
    if ($self->{keep} || $ENV{LAVA_TEST_KEEP} || !$builder->is_passing) {
        diag "stack state kept in $self->{dir}";
    } else {
        remove_tree($self->{dir});
    }
}

END {
    my $rc = $?;
    for my $s (@LIVE) {
        # a test that died before finish: the check still runs, as a note
        my @found = eval { $s->check_secrets };
        diag join "\n", 'secrets written by this test:', @found if @found;
        $rc ||= 1 if @found;
        $s->{keep} = 1;
        $s->down;
    }
    $? = $rc;
}

$SIG{INT} = $SIG{TERM} = sub { exit 1 };

# nginx -t of a minimal configuration in $o{dir}: the module loaded, temp paths
# in the directory, an auth zone (unless $o{auth_zone} is '': then none), and
# $o{http} (directives) inside http {} before one server whose forward
# location proxies to $o{scheme} (https); $o{server}: directives of that
# server, $o{location}: its locations instead of the forward location. Returns
# (exit code, output); with $o{with_log} the error log's lines are added to
# the output.
sub nginx_t {
    my (%o) = @_;
    my $dir = $o{dir};
    my $module = $ENV{LAVA_MODULE} // "$ROOT/build/ngx_http_lava_module.so";
    my $nginx = $ENV{LAVA_NGINX} // '/usr/sbin/nginx';
    my $scheme = $o{scheme} // 'https';
    my $zone = $o{auth_zone} // 'lava_auth_zone lava_t 1m;';
    my $server = $o{server} // '';
    my $location = $o{location}
        // "location /v1/forward { lava_forward; proxy_pass $scheme://\$lava_upstream\$lava_uri; }";
    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!\n";
    print $fh <<"CONF";
load_module $module;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { }
http {
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    access_log off;
    $zone
$o{http}
    server {
        listen 127.0.0.1:9;
        $server
        $location
    }
}
CONF
    close $fh;
    unlink "$dir/error.log" if $o{with_log};
    my $out = `$nginx -t -p $dir/ -c $dir/nginx.conf -e $dir/error.log 2>&1`;
    my $rc = $? >> 8;
    $out .= slurp("$dir/error.log") if $o{with_log};
    return ($rc, $out);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

sub slurp_lines {
    my ($file) = @_;
    open my $fh, '<', $file or return ();
    return <$fh>;
}

# --- Postgres and Redis -------------------------------------------------------

sub dbh {
    my ($self) = @_;
    # the tests stop and start Postgres: reconnect when the old session is gone
    delete $self->{dbh} if $self->{dbh} && !$self->{dbh}->ping;
    $self->{dbh} ||= DBI->connect(
        "dbi:Pg:dbname=lava;host=127.0.0.1;port=$self->{pg_port}", 'postgres', '',
        { RaiseError => 1, AutoCommit => 1, PrintError => 0, pg_enable_utf8 => 1 });
    return $self->{dbh};
}

# Rows as hashes.
sub sql {
    my ($self, $q, @bind) = @_;
    return $self->dbh->selectall_arrayref($q, { Slice => {} }, @bind);
}

sub sql_value {
    my ($self, $q, @bind) = @_;
    my $row = $self->dbh->selectrow_arrayref($q, undef, @bind);
    return $row ? $row->[0] : undef;
}

# A new connection per call: the tests stop and start Redis.
sub redis {
    my ($self, $cmd, @args) = @_;
    my $r = Redis->new(server => "127.0.0.1:$self->{redis_port}", reconnect => 0,
                       cnx_timeout => 2, read_timeout => 5);
    my @res = $r->$cmd(@args);
    $r->quit;
    return wantarray ? @res : $res[0];
}

# The fields of a stream entry ([field, value, ...]) as a hash: a version 2
# entry (docs/events.md) unpacked into the version 1 entry it stands for (v
# 1: it can be written back as one; the raw entry says which it was).
sub entry_fields {
    my ($kv) = @_;
    my %f = @$kv;
    return \%f unless ($f{v} // '') eq '2' && defined $f{e};
    $f{v} = '1';
    my $p = delete $f{e};
    utf8::encode($p) if utf8::is_utf8($p);      # lengths count bytes
    while (length $p) {
        $p =~ s/\A([a-z0-9_]{1,32}):(0|[1-9][0-9]{0,4}):// or die "bad version 2 payload";
        my ($name, $len) = ($1, $2);
        substr($p, $len, 1) eq "\n" or die "bad version 2 payload";
        $f{$name} = substr($p, 0, $len);
        substr($p, 0, $len + 1) = '';
    }
    return \%f;
}

# The events of a stream entry, each as entry_fields() gives it: one, or one
# per event of a version 3 entry (docs/events.md: its e is, per event, a
# request_id pair then the event's version 2 payload).
sub entry_events {
    my ($kv) = @_;
    my @kv = @$kv;
    return entry_fields($kv) unless @kv == 4 && $kv[0] eq 'v' && $kv[1] eq '3' && $kv[2] eq 'e';
    my $p = $kv[3];
    utf8::encode($p) if utf8::is_utf8($p);      # lengths count bytes
    my @ev;
    while (length $p) {
        $p =~ s/\A([a-z0-9_]{1,32}):(0|[1-9][0-9]{0,4}):// or die "bad version 3 payload";
        my ($name, $len) = ($1, $2);
        substr($p, $len, 1) eq "\n" or die "bad version 3 payload";
        my $value = substr($p, 0, $len);
        if ($name eq 'request_id') {
            push @ev, [request_id => $value, e => ''];
        } else {
            @ev or die "bad version 3 payload";
            $ev[-1][3] .= "$name:$len:$value\n";
        }
        substr($p, 0, $len + 1) = '';
    }
    return map { entry_fields([v => 2, @$_]) } @ev;
}

# The usage event of a request in the Redis Stream, as a hash, or undef.
sub event {
    my ($self, $rid) = @_;
    my @entries = $self->redis('xrange', 'lava:usage', '-', '+');
    my @found;
    for my $e (@entries) {
        for my $f (entry_events($e->[1])) {
            push @found, { %$f, _id => $e->[0] } if ($f->{request_id} // '') eq $rid;
        }
    }
    return wantarray ? @found : $found[0];
}

sub wait_event {
    my ($self, $rid, $secs) = @_;
    return wait_for($secs // 10, sub { scalar $self->event($rid) });
}

# The booked row of a request (view request_breakdown), once booked.
sub wait_booked {
    my ($self, $rid, $secs) = @_;
    return wait_for($secs // 15, sub {
        $self->sql('SELECT * FROM request_breakdown WHERE request_id = ?', $rid)->[0];
    });
}

# --- merchants and tokens -----------------------------------------------------

sub token {
    my ($self, %f) = @_;
    my $t = encode_base64($JSON->encode(\%f), '');
    $self->register_secret($t, 'forward token');
    $self->register_secret($f{provider_key}, 'BYOK provider key');
    return $t;
}

# A merchant with a customer, a meter and a funded wallet, known to nginx when
# this returns. Options: meter kind/amount (default percentage 20), funds (USD).
sub setup_merchant {
    my ($self, %o) = @_;
    my $row = $self->sql('SELECT * FROM create_merchant(?)', $o{name} // 'Test Merchant')->[0];
    my $m = { merchant => $row->{merchant_id}, secret => $row->{secret_key}, meter => 'chat' };
    $self->register_secret($m->{secret}, 'merchant secret key');
    $m->{customer} = $self->sql_value('SELECT create_customer(?)', $m->{merchant});
    $self->sql_value('SELECT create_meter(?, ?, ?, ?)', $m->{merchant}, 'chat',
                     $o{meter_kind} // 'percentage', $o{meter_amount} // 20);
    $self->sql_value('SELECT fund_wallet(?, ?)', $m->{customer}, $o{funds} // 100);
    $m->{token} = $self->token(secret_key => $m->{secret}, customer_id => $m->{customer},
                               meter_slug => 'chat');
    # a snapshot published between create_customer and fund_wallet blocks
    # the empty wallet: funded, a 402 is "not yet" too
    $self->wait_accepted($m->{token}, undef, ($o{funds} // 100) > 0 ? (funded => 1) : ())
        or die "the gateway did not accept the token of $m->{merchant}\n";
    return $m;
}

# Waits until the gateway accepts a forward token: a request with it is
# answered with something else than "not known (yet)" (503
# auth_unavailable, 401 invalid_key or unknown_customer, 400 unknown_meter).
# The request carries a malformed x-lava-metadata, which is checked only
# after the key, the customer and the meter: it is refused 400
# invalid_metadata, never forwarded, and costs nothing. Returns its status.
# funded => 1: the customer's wallet was funded, so 402 insufficient_balance
# is a snapshot from before the funding, "not yet" too.
sub wait_accepted {
    my ($self, $token, $secs, %o) = @_;
    my %not_yet = map { $_ => 1 } qw(auth_unavailable invalid_key unknown_customer unknown_meter);
    $not_yet{insufficient_balance} = 1 if $o{funded};
    return wait_for($secs // 15, sub {
        my $r = eval {
            $self->request(method => 'POST', body => '{}',
                           target => '/v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%2Fchat%2Fcompletions',
                           headers => [Authorization => "Bearer $token", 'x-lava-metadata' => '[]'])
        } or return undef;
        my $code = ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH'
                 ? $r->{json}{error}{code} // '' : '';
        return !$r->{status} || $not_yet{$code} ? undef : $r->{status};
    });
}

# Waits until the snapshot in Redis matches $re and nginx has loaded a
# version at least as new. Returns the loaded version.
sub wait_auth {
    my ($self, $re, $secs) = @_;
    $secs //= 10;
    my $t0 = time;
    my $v = wait_for($secs, sub {
        my $snap = eval { $self->redis('get', 'lava:auth:snapshot') } // '';
        return $snap =~ $re ? $self->redis('get', 'lava:auth:version') : undef;
    }) or return undef;
    return wait_for($secs - (time - $t0), sub {
        my $max = 0;
        for (slurp_lines($self->error_log)) {
            $max = $1 if /lava auth: snapshot version (\d+) loaded/ && $1 > $max;
        }
        return $max >= $v ? $max : undef;
    });
}

# --- the mock provider's view -------------------------------------------------

# Requests the mock received (decoded JSON lines), optionally only those
# carrying header x-test-id: $id.
sub mock_requests {
    my ($self, $test_id) = @_;
    my @r;
    for (slurp_lines($self->{mock_log})) {
        my $e = json_decode($_) or next;
        next unless exists $e->{method};
        if (defined $test_id) {
            next unless grep { lc $_->[0] eq 'x-test-id' && $_->[1] eq $test_id }
                        @{ $e->{headers} };
        }
        push @r, $e;
    }
    return @r;
}

# The mock's record of its response to one of its requests; it is written
# once the response is sent, so this waits up to $secs (default 5) for it.
sub mock_response {
    my ($self, $mock_rid, $secs) = @_;
    return wait_for($secs // 5, sub {
        for (slurp_lines($self->{mock_log})) {
            my $e = json_decode($_) or next;
            return $e if ($e->{response_to} // '') eq $mock_rid;
        }
        return undef;
    });
}

# All values of a header in a mock request record, case-insensitively.
sub header_values {
    my ($rec, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $rec->{headers} };
}

my $test_seq = 0;
sub test_id { sprintf 't%d-%d-%d', $$, time * 1000, ++$test_seq }

# --- HTTP client --------------------------------------------------------------
# Raw sockets, so a test can send any request target and see every byte.

sub _request_bytes {
    my ($self, %a) = @_;
    my $method = $a{method} // (defined $a{body} ? 'POST' : 'GET');
    my $body = $a{body};
    $body = $JSON->encode($body) if ref $body;
    my @h = ref $a{headers} eq 'HASH' ? %{ $a{headers} } : @{ $a{headers} // [] };
    my %have;
    my $req = "$method $a{target} HTTP/1.1\r\n";
    $req .= "Host: 127.0.0.1:$self->{port}\r\n" unless grep { lc $_ eq 'host' } @h[grep { !($_ % 2) } 0 .. $#h];
    while (my ($k, $v) = splice @h, 0, 2) {
        $have{lc $k} = 1;
        $self->register_secret($v, 'BYOK provider key') if lc $k eq 'x-provider-api-key';
        $req .= "$k: $v\r\n";
    }
    if (defined $body) {
        $req .= "Content-Type: application/json\r\n" unless $have{'content-type'};
        $req .= "Content-Length: " . length($body) . "\r\n" unless $have{'content-length'};
    }
    $req .= "Connection: close\r\n" unless $have{connection};
    return "$req\r\n" . ($body // '');
}

sub _connect {
    my ($self) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                     Proto => 'tcp', Timeout => 5)
        or die "connect to nginx: $!\n";
    binmode $sock;
    return $sock;
}

sub _read_more {
    my ($sock, $buf, $deadline) = @_;
    my $s = IO::Select->new($sock);
    for (;;) {
        my $left = $deadline - time;
        return undef if $left <= 0;
        next unless $s->can_read($left);
        my $n = sysread $sock, $$buf, 65536, length $$buf;
        return $n if defined $n;
        next if $! == EINTR || $! == EAGAIN;
        return 0;
    }
}

# request(method, target, headers => [k => v, ...] | {}, body => str|ref,
#         timeout => s): {status, headers (lower-case names, repeated values
# joined by ", "), header_list, body, json (when the body parses)}.
sub request {
    my ($self, %a) = @_;
    my $r = $self->stream(%a);
    return $r;
}

# Like request, but reads the body as it arrives, splitting SSE events and
# timing each: {..., events => [{text, t}], t_start, t_headers, t_end,
# complete (the body ended properly), aborted}. on_event => sub { ($ev, $i,
# $r) } may return 'abort' to close the connection there.
sub stream {
    my ($self, %a) = @_;
    my $deadline = time + ($a{timeout} // 30);
    my $sock = $self->_connect;
    my $r = { t_start => time, events => [], body => '', complete => 0, aborted => 0 };
    my $bytes = $self->_request_bytes(%a);
    while (length $bytes) {
        my $n = syswrite $sock, $bytes;
        die "write to nginx: $!\n" unless defined $n;
        substr $bytes, 0, $n, '';
    }

    my $buf = '';
    my $end;
    until (($end = index $buf, "\r\n\r\n") >= 0) {
        _read_more($sock, \$buf, $deadline) or die "no response head from nginx\n";
    }
    my @lines = split /\r\n/, substr($buf, 0, $end + 4, '');
    ($r->{status}) = (shift @lines) =~ m{^HTTP/1\.[01] (\d{3})} or die "bad status line\n";
    $r->{t_headers} = time;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{ $r->{header_list} }, [$k, $v];
        $r->{headers}{lc $k} = exists $r->{headers}{lc $k} ? "$r->{headers}{lc $k}, $v" : $v;
    }

    my $h = $r->{headers};
    my $chunked = ($h->{'transfer-encoding'} // '') =~ /chunked/i;
    my $left = $h->{'content-length'};
    my $sse = '';
    my $take = sub {
        my ($data) = @_;
        $r->{body} .= $data;
        $sse .= $data;
        while ($sse =~ s/^(.*?)(\r?\n\r?\n)//s) {
            my $ev = { text => $1, t => time };
            push @{ $r->{events} }, $ev;
            if ($a{on_event} && ($a{on_event}->($ev, $#{ $r->{events} }, $r) // '') eq 'abort') {
                $r->{aborted} = 1;
                return 0;
            }
        }
        return 1;
    };

    if ($a{method} && $a{method} eq 'HEAD' || $r->{status} == 204 || $r->{status} == 304) {
        $r->{complete} = 1;
    } elsif ($chunked) {
        CHUNK: for (;;) {
            my $i;
            until (($i = index $buf, "\r\n") >= 0) {
                _read_more($sock, \$buf, $deadline) or last CHUNK;
            }
            my ($size) = substr($buf, 0, $i + 2, '') =~ /^([0-9a-fA-F]+)/ or last;
            $size = hex $size;
            if ($size == 0) {
                $r->{complete} = 1;
                last;
            }
            while (length $buf < $size + 2) {
                _read_more($sock, \$buf, $deadline) or last CHUNK;
            }
            my $data = substr $buf, 0, $size + 2, '';
            substr($data, -2) = '';
            $take->($data) or last;
        }
    } elsif (defined $left) {
        for (;;) {
            if (length $buf) {
                my $data = substr $buf, 0, $left, '';
                $left -= length $data;
                $take->($data) or last;
            }
            if ($left == 0) { $r->{complete} = 1; last }
            _read_more($sock, \$buf, $deadline) or last;
        }
    } else {
        for (;;) {
            if (length $buf) { $take->($buf) or last; $buf = '' }
            my $n = _read_more($sock, \$buf, $deadline);
            if (defined $n && $n == 0) { $r->{complete} = 1; last }
            last unless $n;
        }
    }
    close $sock;
    $r->{t_end} = time;
    push @{ $r->{events} }, { text => $sse, t => $r->{t_end}, partial => 1 } if length $sse && !$r->{aborted};
    $r->{json} = json_decode($r->{body}) if ($h->{'content-type'} // '') =~ m{json};
    $r->{rid} = $h->{'x-lava-request-id'};
    return $r;
}

# An SDK-shaped chat completion body.
sub chat_body {
    my (%o) = @_;
    return {
        model => $o{model} // 'gpt-4o-mini',
        messages => [{ role => 'user', content => $o{content} // 'Hello there' }],
        ($o{stream} ? (stream => JSON::PP::true,
                       stream_options => { include_usage => JSON::PP::true }) : ()),
    };
}

1;
