# lava-sidecar explains itself: --help and --version, exit status 2 for bad
# arguments, and at start a ledger of the wrong version stops it at once with
# one line saying what to do (3: not migrated or older, run lava-migrate;
# 4: newer than the sidecar) instead of a failing statement every second.
# lava-migrate -h prints its usage and nothing else.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time);

use LavaTest;

my $ROOT = $LavaTest::ROOT;
my $sidecar = $ENV{LAVA_SIDECAR} // "$ROOT/build/lava-sidecar";
plan skip_all => "no sidecar at $sidecar (run make)" unless -x $sidecar;

my $dir = tempdir('lava-cli-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# (exit status, stdout, stderr, seconds) of a command with a time limit
sub run {
    my ($secs, @cmd) = @_;
    my $t0 = time;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/out";
        open STDERR, '>', "$dir/err";
        exec @cmd or exit 127;
    }
    my $rc;
    while (time - $t0 < $secs) {
        if (waitpid($pid, 1) == $pid) {     # WNOHANG
            $rc = $? >> 8;
            last;
        }
        select undef, undef, undef, 0.05;
    }
    unless (defined $rc) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
        $rc = 'still running';
    }
    return ($rc, LavaTest::slurp("$dir/out"), LavaTest::slurp("$dir/err"), time - $t0);
}

# --- arguments -------------------------------------------------------------------

my ($version) = LavaTest::slurp("$ROOT/debian/changelog") =~ /^\S+ \(([^)]+)\)/;
$version =~ s/-[^-]*$//;                    # upstream part

my ($rc, $out, $err) = run(5, $sidecar, '--version');
is $rc, 0, '--version exits 0';
is $out, "lava-sidecar $version\n", '--version prints the version of debian/changelog';

for my $opt ('--help', '-h') {
    ($rc, $out, $err) = run(5, $sidecar, $opt);
    is $rc, 0, "$opt exits 0";
    like $out, qr/^usage: lava-sidecar /, "$opt prints the usage on stdout";
    like $out, qr/exit status: .*3 database not migrated/s, "$opt lists the exit statuses";
    is $err, '', "$opt writes nothing on stderr";
}

for my $args (['--no-such-option'], ['-x'], ['extra-argument']) {
    ($rc, $out, $err) = run(5, $sidecar, @$args);
    is $rc, 2, "@$args: exit 2";
    like $err, qr/usage: lava-sidecar /, "@$args: usage on stderr";
}

($rc, $out, $err) = run(5, $sidecar, '-c', "$dir/none.conf", '-t');
is $rc, 1, 'a configuration file that does not exist: exit 1';

# lava-migrate -h: the usage, nothing of the script's own source
($rc, $out, $err) = run(5, "$ROOT/scripts/lava-migrate", '-h');
is $rc, 0, 'lava-migrate -h exits 0';
like $out, qr/\Ausage: lava-migrate \[-d CONNINFO\]/, 'lava-migrate -h: the usage on stdout';
unlike $out, qr/^\s*(#|set |usage\(\)|\w+=)/m, 'lava-migrate -h: no line of its source';
($rc, $out, $err) = run(5, "$ROOT/scripts/lava-migrate", '--bogus');
is $rc, 2, 'lava-migrate --bogus exits 2';
like $err, qr/^usage: lava-migrate/, 'with the usage on stderr';

# --- the ledger's version at start -------------------------------------------------

my $s = LavaTest->start;
my $dsn = $s->env->{LAVA_PG_DSN};
my $redis = $s->env->{LAVA_REDIS_URL};

# its own stream and group: the stack's sidecar is not disturbed
open my $fh, '>', "$dir/sidecar.conf" or die $!;
print $fh "stream = lava:cli-test\ngroup = cli-test\n";
close $fh;

# the files lava-migrate records for this tree
my @files = map { s{^\Q$ROOT\E/sql/}{}r }
            sort(glob("$ROOT/sql/schema/*.sql"), glob("$ROOT/sql/functions/*.sql"),
                 "$ROOT/sql/views.sql");

# a database with lava.schema_migrations holding these files (undef: no table)
sub ledger_db {
    my ($name, @applied) = @_;
    $s->dbh->do("CREATE DATABASE $name");
    my $db = DBI->connect("dbi:Pg:dbname=$name;host=127.0.0.1;port=$s->{pg_port}", 'postgres',
                          '', { RaiseError => 1, AutoCommit => 1, PrintError => 0 });
    if (@applied && defined $applied[0]) {
        $db->do('CREATE SCHEMA lava');
        $db->do('CREATE TABLE lava.schema_migrations (file text PRIMARY KEY,'
                . ' sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
        $db->do('INSERT INTO lava.schema_migrations (file, sha256) VALUES (?, ?)', undef, $_, 'x')
            for @applied;
    }
    $db->disconnect;
    return $dsn =~ s{/lava$}{/$name}r;
}

sub start_against {
    my ($db_dsn) = @_;
    local $ENV{LAVA_PG_DSN} = $db_dsn;
    local $ENV{LAVA_REDIS_URL} = $redis;
    return run(15, $sidecar, '-c', "$dir/sidecar.conf");
}

my @cases = (
    ['lava_empty', [undef], 3,
     qr/database not migrated \(no lava\.schema_migrations\): run lava-migrate/,
     'a database never migrated'],
    ['lava_older', ['functions/triggers.sql', 'schema/01_core.sql'], 3,
     qr/database not migrated to this version \(\S+ not applied\): run lava-migrate/,
     'a ledger of an older version'],
    ['lava_newer', [@files, 'schema/99_future.sql'], 4,
     qr/database schema is newer than this sidecar understands \(schema\/99_future\.sql applied\): upgrade lava-sidecar/,
     'a ledger of a newer version'],
);
for my $c (@cases) {
    my ($name, $applied, $want, $msg, $what) = @$c;
    my ($rc, $out, $err, $secs) = start_against(ledger_db($name, @$applied));
    is $rc, $want, "$what: exit $want";
    like $err, $msg, "$what: says what to do";
    ok $secs < 10, sprintf("%s: at once (%.1f s)", $what, $secs);
    unlike $err, qr/does not exist|relation/, "$what: no failing statement logged";
    is scalar(() = $err =~ /\berror:/g), 1, "$what: one error line" or diag $err;
}

# the ledger lava-migrate made (the stack's): the sidecar starts and runs
{
    local $ENV{LAVA_PG_DSN} = $dsn;
    local $ENV{LAVA_REDIS_URL} = $redis;
    my ($rc, $out, $err) = run(3, $sidecar, '-c', "$dir/sidecar.conf");
    is $rc, 'still running', 'the migrated ledger: the sidecar runs';
    like $err, qr/starting lava-sidecar \Q$version\E: .*connected to postgres/s,
        'and logs its version and the connection';
    unlike $err, qr/\berror:/, 'without an error' or diag $err;
}

# the stack's own sidecar (restricted role when LAVA_STACK_SIDECAR_ROLE=on)
# passed the same check
like LavaTest::slurp($s->dir . '/sidecar/sidecar.log'), qr/connected to postgres/,
    "the stack's sidecar passed the check";

$s->finish;
done_testing;
