# The Debian packages (debian/, make deb): built from this tree, installed
# with dpkg -i on this machine, the stock nginx loading the module through
# /etc/nginx/modules-enabled (nginx -t of the system configuration and of one
# that uses a lava directive), the unit checked by systemd-analyze verify, an
# edited conffile kept by a reinstall and by a remove, and a purge that
# leaves the machine as it was: no /etc/lava, no modules-enabled link, no
# _lava user, no unit link. The system nginx is never started; nginx -t is
# all that runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use LavaTest;

my $ROOT = $LavaTest::ROOT;
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-lava.conf';
my $AVAILABLE = '/usr/share/nginx/modules-available/mod-http-lava.conf';
my $UNIT = '/lib/systemd/system/lava-sidecar.service';
my $WANTS = '/etc/systemd/system/multi-user.target.wants/lava-sidecar.service';
my @PKGS = qw(libnginx-mod-http-lava lava-sidecar);

plan skip_all => 'dpkg -i needs root' unless $> == 0;
plan skip_all => 'no dpkg (not a Debian system)' unless -x '/usr/bin/dpkg';
plan skip_all => 'no /etc/nginx/modules-enabled (Debian nginx not installed)'
    unless -d '/etc/nginx/modules-enabled';
for my $p (@PKGS) {
    plan skip_all => "$p is installed on this machine: not touched"
        if `dpkg-query -W -f='\${Status}' $p 2>/dev/null` =~ /installed|config-files/;
}
plan skip_all => '/etc/lava exists (make install?): not touched' if -e '/etc/lava';
plan skip_all => 'a user or group _lava exists: not touched'
    if getpwnam('_lava') || getgrnam('_lava');

# what this test must leave as it found it
my %before = (
    enabled  => join(' ', sort glob '/etc/nginx/modules-enabled/*'),
    pidfile  => -e '/run/nginx.pid',
    nginx    => nginx_running(),
);

sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub nginx_running {
    my $pid = LavaTest::slurp('/run/nginx.pid');
    return $pid =~ /^(\d+)/ && kill(0, $1) ? 1 : 0;
}

sub purge {
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    return sh("dpkg --purge @PKGS");
}

# nginx -t creates an empty pid file to see that it can: not ours to leave
sub nginx_t {
    my ($args) = @_;
    my @r = sh("/usr/sbin/nginx -t $args");
    unlink '/run/nginx.pid' if !$before{pidfile} && -z '/run/nginx.pid';
    return @r;
}

my $installed = 0;
END {
    if ($installed) {
        my ($rc, $out) = purge();
        diag "purge at the end: $out" if $rc;
    }
}

# --- build ---------------------------------------------------------------------

my $build = tempdir('lava-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my ($rc, $out) = sh("make -C $ROOT -s deb BUILD=$build");
is $rc, 0, 'make deb builds the packages' or diag $out;
my ($version) = LavaTest::slurp("$ROOT/debian/changelog") =~ /^\S+ \(([^)]+)\)/;
my %deb = map { $_ => "$build/deb/${_}_${version}_" . `dpkg --print-architecture` =~ s/\s+//r . '.deb' }
          @PKGS;
ok -f $deb{$_}, "$_ built" for @PKGS;
BAIL_OUT('no packages to install') if grep { !-f } values %deb;

# the dependency on the nginx ABI the module was built for, as Provided by nginx
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[\w.+~-]+)/;
like `dpkg-deb -f $deb{'libnginx-mod-http-lava'} Depends`, qr/(^|, )\Q$abi\E(,|$)/m,
    "the module depends on $abi";

# --- install -------------------------------------------------------------------

sub install {
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    $installed = 1;
    return sh("dpkg -i $deb{'lava-sidecar'} $deb{'libnginx-mod-http-lava'}");
}

($rc, $out) = install();
is $rc, 0, 'dpkg -i installs both' or diag $out;
for my $p (@PKGS) {
    is `dpkg-query -W -f='\${Status}' $p`, 'install ok installed', "$p installed";
}

ok -f '/usr/lib/nginx/modules/ngx_http_lava_module.so', 'module in /usr/lib/nginx/modules';
is LavaTest::slurp($AVAILABLE), "load_module modules/ngx_http_lava_module.so;\n",
    'modules-available/mod-http-lava.conf loads it';
is readlink($ENABLED), $AVAILABLE, 'enabled through modules-enabled';

# the stock nginx with the system configuration loads it ...
($rc, $out) = nginx_t('');
is $rc, 0, 'nginx -t of the system configuration passes' or diag $out;
($rc, $out) = nginx_t('-T');
like $out, qr{^# configuration file \Q$ENABLED\E:\nload_module modules/ngx_http_lava_module.so;$}m,
    'nginx -T shows the load_module line read from modules-enabled';

# ... and knows its directives: a configuration that includes modules-enabled
# and uses one passes, the same without the include fails
my $dir = tempdir('lava-deb-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub conf_t {
    my ($include) = @_;
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh <<"CONF";
@{[ $include ? 'include /etc/nginx/modules-enabled/*.conf;' : '' ]}
pid $dir/nginx.pid;
error_log $dir/error.log;
events { }
http {
    access_log off;
    client_body_temp_path $dir/cb; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
    uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
    lava_auth_zone lava_auth 1m;
    server { listen 127.0.0.1:9; include /etc/lava/lava-server.conf; }
}
CONF
    close $fh;
    # nginx's own prefix: modules-enabled names the module relative to it
    # (a private -p prefix needs load_module with the absolute path, README)
    return sh("/usr/sbin/nginx -t -c $dir/nginx.conf -e $dir/error.log");
}
($rc, $out) = conf_t(1);
is $rc, 0, 'lava directives and /etc/lava/lava-server.conf accepted through modules-enabled'
    or diag $out;
($rc, $out) = conf_t(0);
isnt $rc, 0, 'without modules-enabled they are unknown (the check can fail)';
like $out, qr/unknown directive "lava_auth_zone"/, 'nginx names the directive';

# conffiles, modes, owners
my %conffiles = map { (split ' ')[0] => 1 } split /\n/,
    `dpkg-query -W -f='\${Conffiles}\\n' @PKGS`;
for my $f (qw(nginx-lava.conf lava-forward.conf lava-server.conf providers.conf
              provider-keys sidecar.conf)) {
    ok $conffiles{"/etc/lava/$f"}, "/etc/lava/$f is a conffile";
}
my @st = stat '/etc/lava/provider-keys';
is sprintf('%04o %s', $st[2] & 07777, scalar getpwuid($st[4])), '0600 root',
    'provider-keys: 0600 root';
@st = stat '/etc/lava/sidecar.conf';
is sprintf('%04o %s', $st[2] & 07777, scalar getgrgid($st[5])), '0640 _lava',
    'sidecar.conf: 0640, group _lava';

my @pw = getpwnam('_lava');
ok @pw, 'system user _lava created';
ok @pw && $pw[2] < 1000, '_lava is a system user' if @pw;
like $pw[8] // '', qr/nologin|false/, '_lava has no login shell';

# the sidecar package
($rc, $out) = sh('/usr/bin/lava-sidecar --version');
is $out, "lava-sidecar " . ($version =~ s/-[^-]*$//r) . "\n", 'lava-sidecar --version';
($rc, $out) = sh('/usr/bin/lava-migrate -h');
is $rc, 0, 'lava-migrate -h';
ok -f '/usr/share/lava/sql/schema/01_core.sql', 'SQL in /usr/share/lava/sql';
for my $page (qw(lava-sidecar lava-migrate)) {
    ok -f "/usr/share/man/man8/$page.8.gz", "man page $page(8)";
}
ok -f $UNIT, 'unit lava-sidecar.service installed';
is readlink($WANTS), $UNIT, 'unit enabled (multi-user.target)';
my $unit = LavaTest::slurp($UNIT);
for my $line ('Restart=always', 'ExecReload=/bin/kill -HUP $MAINPID', 'User=_lava',
              'ProtectSystem=strict', 'NoNewPrivileges=yes', 'ProtectHome=yes',
              'PrivateTmp=yes', 'RestartPreventExitStatus=1 2 3 4') {
    like $unit, qr/^\Q$line\E$/m, "unit: $line";
}

SKIP: {
    my $sa = '/usr/bin/systemd-analyze';
    skip 'no systemd-analyze on this machine', 1 unless -x $sa;
    # the warnings it prints for the machine's other units are not ours
    ($rc, $out) = sh("$sa verify $UNIT");
    is $rc, 0, 'systemd-analyze verify lava-sidecar.service' or diag $out;
}

# The README's order with the installed programs, run as _lava (the unit's
# user, reading the packaged sidecar.conf) against a database of a private
# stack: the sidecar refuses the empty database (3), lava-migrate installs the
# ledger from /usr/share/lava/sql, then the sidecar runs.
($rc, $out) = sh('runuser -u _lava -- /usr/bin/lava-sidecar -c /etc/lava/sidecar.conf -t');
is "$rc $out", "0 lava-sidecar: configuration ok\n", '_lava reads /etc/lava/sidecar.conf';
{
    my $s = LavaTest->start;
    $s->dbh->do('CREATE DATABASE lava_pkg');
    my $dsn = $s->env->{LAVA_PG_DSN} =~ s{/lava$}{/lava_pkg}r;
    # Redis database 1: the stack's own sidecar and stream are not touched
    my $redis = "redis://127.0.0.1:$s->{redis_port}/1";
    my $run = "runuser -u _lava -- env LAVA_PG_DSN='$dsn' LAVA_REDIS_URL='$redis'"
              . ' timeout 3 /usr/bin/lava-sidecar -c /etc/lava/sidecar.conf';
    ($rc, $out) = sh($run);
    is $rc, 3, 'installed sidecar, database not migrated: exit 3' or diag $out;
    like $out, qr/database not migrated .*: run lava-migrate/, 'saying to run lava-migrate';
    ($rc, $out) = sh("runuser -u _lava -- /usr/bin/lava-migrate -d '$dsn' --seed");
    is $rc, 0, 'installed lava-migrate installs the ledger (as a user without rights on /etc)'
        or diag $out;
    ($rc, $out) = sh($run);
    is $rc, 124, 'then the installed sidecar runs (until timeout stops it)' or diag $out;
    like $out, qr/connected to postgres/, 'connected to the migrated ledger';
    $s->finish;
}

# nginx-reload trigger or not: the system nginx is not started by any of this
is nginx_running(), $before{nginx}, 'the system nginx was not started';

# --- reinstall keeps edited conffiles -------------------------------------------

my $edit = "# edited by the operator\n";
for my $f ('/etc/lava/sidecar.conf', '/etc/lava/provider-keys') {
    open my $fh, '>>', $f or die "$f: $!";
    print $fh $edit;
    close $fh;
}
($rc, $out) = install();
is $rc, 0, 'dpkg -i again (reinstall)' or diag $out;
for my $f ('/etc/lava/sidecar.conf', '/etc/lava/provider-keys') {
    like LavaTest::slurp($f), qr/\Q$edit\E\z/, "reinstall kept the edited $f";
}
@st = stat '/etc/lava/provider-keys';
is sprintf('%04o', $st[2] & 07777), '0600', 'provider-keys still 0600';
is readlink($ENABLED), $AVAILABLE, 'still enabled';

# --- remove keeps conffiles, purge removes everything ----------------------------

{
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    ($rc, $out) = sh("dpkg --remove @PKGS");
}
is $rc, 0, 'dpkg --remove' or diag $out;
ok !-e '/usr/lib/nginx/modules/ngx_http_lava_module.so', 'remove: module gone';
ok !-e $ENABLED, 'remove: not enabled any more';
like LavaTest::slurp('/etc/lava/sidecar.conf'), qr/\Q$edit\E\z/, 'remove: edited sidecar.conf kept';
ok -e '/etc/lava/provider-keys', 'remove: provider-keys kept';
($rc, $out) = nginx_t('');
is $rc, 0, 'nginx -t of the system configuration passes after remove' or diag $out;

($rc, $out) = purge();
is $rc, 0, 'dpkg --purge' or diag $out;
$installed = 0 unless $rc;
for my $p (@PKGS) {
    is `dpkg-query -W -f='\${Status}' $p 2>/dev/null`, '', "$p purged"
        or diag `dpkg-query -W -f='\${Status}' $p 2>&1`;
}
ok !-e '/etc/lava', 'purge: /etc/lava gone';
is join(' ', sort glob '/etc/nginx/modules-enabled/*'), $before{enabled},
    'purge: modules-enabled as before (no link, no .removed)';
ok !-e $AVAILABLE, 'purge: modules-available file gone';
ok !-e $WANTS && !-l $WANTS, 'purge: unit link gone';
ok !getpwnam('_lava'), 'purge: user _lava removed';
ok !getgrnam('_lava'), 'purge: group _lava removed';
($rc, $out) = nginx_t('');
is $rc, 0, 'nginx -t of the system configuration passes after purge' or diag $out;
is nginx_running(), $before{nginx}, 'the system nginx is as it was';
is -e '/run/nginx.pid' ? 1 : 0, $before{pidfile} ? 1 : 0, '/run/nginx.pid as it was';

done_testing;
