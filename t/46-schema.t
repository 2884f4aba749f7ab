# The SQL layout (sql/README.md): every object is created in one file; a
# fresh install and an install upgraded from the last release have the same
# schema; lava-migrate run twice changes nothing; a changed function file is
# applied again (and the views with it), a changed schema file is not; every
# table, view and function says what it is (COMMENT); clients find the lava
# schema with bare names; the group roles give what they say, and a sidecar
# logged in with lava_sidecar alone books, dead-letters, replays, settles
# re-priced requests and reconciles.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use LavaTest qw(wait_for);

my $ROOT = "$FindBin::Bin/..";
my $SQL = "$ROOT/sql";
my $MIGRATE = "$ROOT/scripts/lava-migrate";

# --- one home per object, read from the files ------------------------------------

sub sql_files {
    my ($dir) = @_;
    return (glob("$dir/schema/*.sql"), glob("$dir/functions/*.sql"), "$dir/views.sql",
            glob("$dir/seed/*.sql"), "$dir/roles.sql");
}

sub slurp { my ($p) = @_; open my $fh, '<', $p or die "$p: $!"; local $/; return <$fh> }

# What each file creates: "kind name" => [file, args] (args: a function's
# parameter list, whitespace folded).
my (%created, @twice);
for my $file (sql_files($SQL)) {
    (my $rel = $file) =~ s{^\Q$SQL\E/}{};
    my $text = slurp($file);
    $text =~ s/--[^\n]*//g;
    while ($text =~ /\bCREATE\s+(?:OR\s+REPLACE\s+)?(UNIQUE\s+INDEX|INDEX|TABLE|VIEW|DOMAIN|
                      CONSTRAINT\s+TRIGGER|TRIGGER|FUNCTION|ROLE|TYPE|SEQUENCE)\s+(\w+)/gx) {
        my ($kind, $name) = (uc $1, $2);
        $kind =~ s/^(UNIQUE\s+INDEX)$/INDEX/;
        $kind =~ s/^CONSTRAINT\s+TRIGGER$/TRIGGER/;
        my $args = '';
        if ($kind eq 'FUNCTION') {
            my $rest = substr($text, pos($text));
            my ($depth, $i) = (0, 0);
            for ($i = 0; $i < length $rest; $i++) {
                my $ch = substr($rest, $i, 1);
                $depth++ if $ch eq '(';
                $depth-- if $ch eq ')';
                last if $depth == 0 && $ch eq ')';
            }
            ($args = substr($rest, 0, $i + 1)) =~ s/\s+/ /g;
        }
        my $key = "$kind $name";
        for my $seen (@{ $created{$key} // [] }) {
            push @twice, "$key: $seen->[0] and $rel"
                if $seen->[0] ne $rel || $seen->[1] eq $args;
        }
        push @{ $created{$key} }, [$rel, $args];
    }
}
ok keys %created > 80, 'the files create ' . scalar(keys %created) . ' named objects';
is_deeply \@twice, [], 'no table, view, trigger, index or function is created in two places'
    or diag join "\n", @twice;
# One pricing engine: the rules live in the sidecar (price.c, rates.c,
# tiers.c); SQL only marks what to re-price and books what the sidecar priced.
is_deeply [grep { $created{"FUNCTION $_"} }
           qw(div_half_up glob_like model_has_rates resolve_model rate_from_ms price_lookup_rate
              price_base_cost priced_part meter_units_of meter_split price_meter_fee price_event)], [],
    'no pricing rule is implemented in SQL';
is $created{'FUNCTION reprice_unpriced'}[0][0], 'functions/repricing.sql',
    'reprice_unpriced() (the marker) is in functions/repricing.sql';

# --- a stack whose sidecar has lava_sidecar and nothing else -----------------------

local $ENV{LAVA_STACK_SIDECAR_ROLE} = 'on';
my $s = LavaTest->start;
my %env = %{ $s->env };
my $pg = "postgresql://postgres\@127.0.0.1:$s->{pg_port}";

sub psql {
    my ($db, $sql) = @_;
    my $out = `psql -X -q -At -v ON_ERROR_STOP=1 -d '$pg/$db' -c "$sql" 2>&1`;
    die "psql $db: $out" if $?;
    chomp $out;
    return $out;
}

sub migrate {
    my ($db, @args) = @_;
    my $out = `LAVA_PG_DSN='$pg/$db' '$MIGRATE' @args 2>&1`;
    return ($? >> 8, $out);
}

# The schema as pg_dump shows it (with comments and grants), without the
# lines that change from run to run.
sub schema_of {
    my ($db) = @_;
    my $out = `pg_dump --schema-only -n lava -d '$pg/$db' 2>&1`;
    die "pg_dump $db: $out" if $?;
    return join "\n", grep { !/^(--|\\(un)?restrict |SET |SELECT pg_catalog\.set_config|$)/ }
                      split /\n/, $out;
}

sub fresh_db {
    my ($db) = @_;
    psql('postgres', "DROP DATABASE IF EXISTS $db");
    psql('postgres', "CREATE DATABASE $db");
}

# --- fresh install, twice -----------------------------------------------------------

fresh_db('fresh');
my ($rc, $out) = migrate('fresh', '--seed');
is $rc, 0, 'lava-migrate --seed installs a fresh database' or diag $out;
like $out, qr{applying schema/01_core\.sql.*applying views\.sql.*applying seed/rates\.sql}s,
     'schema, then views, then seed';
my $schema = schema_of('fresh');
my $rates = psql('fresh', 'SELECT count(*) FROM provider_rates');
my $pricing = psql('fresh', 'SELECT version FROM pricing_state');
ok $rates >= 20, "the seed list prices are there ($rates rows)";
# sql/seed/rates.sql: every price read on the provider's own page, which the
# row's note names, with the day (docs/pricing.md, "Seed prices")
is psql('fresh', q{SELECT count(*) FROM provider_rates WHERE note !~
    '^\[page as stored, (dated|read) [0-9]{4}-[0-9]{2}-[0-9]{2}\] [a-z0-9.-]+[.][a-z]+/'}), 0,
   'every seed row names the page its prices were read on, and when';

($rc, $out) = migrate('fresh', '--seed');
is $rc, 0, 'a second run succeeds';
is $out, '', 'and applies nothing';
is schema_of('fresh'), $schema, 'the schema is unchanged';
is psql('fresh', 'SELECT count(*) FROM provider_rates'), $rates, 'no rate row added';
is psql('fresh', 'SELECT version FROM pricing_state'), $pricing, 'the pricing version did not move';

($rc, $out) = migrate('fresh', '-l');
is $rc, 0, 'lava-migrate -l';
my @listed = grep { /\S/ } split /\n/, $out;
is scalar(grep { / applied 20/ } @listed), scalar(@listed), 'lists every file as applied'
    or diag $out;
ok scalar(@listed) >= 10, scalar(@listed) . ' files listed';

is psql('fresh', 'SHOW search_path'), 'lava, public', 'a new session finds the lava schema';
is psql('fresh', q{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public'}), 0, 'nothing is created in public';

# --- the same schema as the last release upgraded -----------------------------------

my @tags = grep { /^v\d/ } split /\n/, `git -C '$ROOT' tag --list --sort=-v:refname 2>/dev/null`;
SKIP: {
    skip 'no release tag yet: the baseline is the only install path', 2 unless @tags;
    my $old = tempdir('lava-release-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    system("git -C '$ROOT' archive '$tags[0]' sql scripts/lava-migrate | tar -x -C '$old'") == 0
        or die "git archive $tags[0] failed\n";
    fresh_db('upgraded');
    my $o = `LAVA_PG_DSN='$pg/upgraded' '$old/scripts/lava-migrate' --seed 2>&1`;
    is $? >> 8, 0, "$tags[0] installs" or diag $o;
    ($rc, $out) = migrate('upgraded', '--seed');
    is schema_of('upgraded'), $schema, "$tags[0] upgraded by this tree = a fresh install"
        or diag $out;
}

# --- every object is in a file, and says what it is -------------------------------

my %in_db = map { $_ => 1 } split /\n/, psql('fresh', q{
    SELECT 'FUNCTION ' || p.proname FROM pg_proc p WHERE p.pronamespace = 'lava'::regnamespace
    UNION SELECT CASE c.relkind WHEN 'v' THEN 'VIEW ' WHEN 'i' THEN 'INDEX ' ELSE 'TABLE ' END
                 || c.relname
      FROM pg_class c
     WHERE c.relnamespace = 'lava'::regnamespace AND c.relkind IN ('r', 'v', 'i')
       AND c.relname <> 'schema_migrations'
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
    UNION SELECT 'TRIGGER ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'lava'::regnamespace AND NOT t.tgisinternal
    UNION SELECT 'DOMAIN ' || typname FROM pg_type WHERE typnamespace = 'lava'::regnamespace
       AND typtype = 'd'});
my @missing = grep { !$created{$_} } sort keys %in_db;
is_deeply \@missing, [], 'every function, table, view, index, trigger and domain is in a file';
my @extra = grep { /^(FUNCTION|TABLE|VIEW|TRIGGER) / && !$in_db{$_} } sort keys %created;
is_deeply \@extra, [], 'every one the files name is installed';

my $undocumented = psql('fresh', q{
    SELECT string_agg(x, ', ') FROM (
        SELECT c.relname AS x FROM pg_class c
         WHERE c.relnamespace = 'lava'::regnamespace AND c.relkind IN ('r', 'v')
           AND obj_description(c.oid, 'pg_class') IS NULL
        UNION ALL
        SELECT p.proname || '()' FROM pg_proc p
         WHERE p.pronamespace = 'lava'::regnamespace
           AND obj_description(p.oid, 'pg_proc') IS NULL
        UNION ALL
        SELECT t.typname FROM pg_type t
         WHERE t.typnamespace = 'lava'::regnamespace AND t.typtype = 'd'
           AND obj_description(t.oid, 'pg_type') IS NULL) u});
is $undocumented, '', 'every table, view, function and domain has a COMMENT (\d+, \df+, \dD+)';

# --- code is applied again when it changes; history is not ---------------------------

my $copy = tempdir('lava-sql-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('cp', '-R', "$SQL/.", $copy) == 0 or die "cp: $!\n";
{
    open my $fh, '>>', "$copy/functions/admin.sql" or die $!;
    print $fh "\nCOMMENT ON FUNCTION nusd_to_usd IS 'changed by the test';\n";
}
($rc, $out) = migrate('fresh', '-m', $copy);
is $rc, 0, 'a changed function file';
like $out, qr{applying functions/admin\.sql}, 'is applied again';
like $out, qr{creating the views again}, 'and the views are created again';
unlike $out, qr{applying (schema|functions/(?!admin))}, 'nothing else is';
is psql('fresh', q{SELECT obj_description('nusd_to_usd'::regproc, 'pg_proc')}), 'changed by the test',
   'the function is the new one';
is psql('fresh', q{SELECT has_table_privilege('lava_reader', 'request_breakdown', 'SELECT')}), 't',
   'the views created again have their grants';
($rc, $out) = migrate('fresh', '-m', $copy);
is $out, '', 'applied once';

{
    open my $fh, '>>', "$copy/schema/01_core.sql" or die $!;
    print $fh "\nCREATE TABLE should_not_exist (x int);\n";
}
($rc, $out) = migrate('fresh', '-m', $copy);
is $rc, 0, 'a changed schema file';
like $out, qr{schema/01_core\.sql was applied before and has changed since; not applied again},
     'is reported, not applied';
is psql('fresh', q{SELECT to_regclass('should_not_exist') IS NULL}), 't', 'its change is not there';

($rc, $out) = migrate('fresh');
like $out, qr{applying functions/admin\.sql}, 'the tree\'s own file is applied again';

# --- roles ---------------------------------------------------------------------------

sub as_role {
    my ($role, $sql) = @_;
    my $o = `psql -X -q -At -v ON_ERROR_STOP=1 -d '$pg/fresh' 2>&1 <<'END'
BEGIN;
SET ROLE $role;
$sql;
ROLLBACK;
END`;
    return ($? == 0, $o);
}
ok +(as_role('lava_admin', q{SELECT * FROM create_merchant('Role Test')}))[0],
   'lava_admin runs the admin functions';
ok +(as_role('lava_admin', q{SELECT fund_wallet(create_customer((create_merchant('R')).merchant_id), 5)}))[0],
   'lava_admin funds a wallet';
ok +(as_role('lava_reader', 'SELECT count(*) FROM request_breakdown, rate_card'))[0],
   'lava_reader reads the views';
my @views = split /\n/, psql('fresh', q{SELECT viewname FROM pg_views WHERE schemaname = 'lava'
                                        ORDER BY viewname});
my ($read_all, $read_msg) = as_role('lava_reader', join '; ', map { "SELECT count(*) FROM $_" } @views);
ok $read_all, 'lava_reader reads every one of the ' . scalar(@views) . ' views (and the functions '
   . 'they call)' or diag $read_msg;
my ($ok, $msg) = as_role('lava_reader', 'SELECT count(*) FROM events');
ok !$ok && $msg =~ /permission denied/, 'lava_reader does not read the tables';
($ok, $msg) = as_role('lava_sidecar', q{SELECT * FROM create_merchant('x')});
ok !$ok && $msg =~ /permission denied/, 'lava_sidecar does not run admin functions';
($ok, $msg) = as_role('lava_sidecar', q{UPDATE events SET model = 'x'});
ok !$ok && $msg =~ /permission denied/, 'lava_sidecar does not update events';

# --- the stack's sidecar books with lava_sidecar alone ------------------------------

is $s->sql_value(q{SELECT string_agg(b.rolname, ',') FROM pg_auth_members m
                     JOIN pg_roles r ON r.oid = m.member JOIN pg_roles b ON b.oid = m.roleid
                    WHERE r.rolname = 'sidecar'}), 'lava_sidecar',
   'the stack\'s sidecar logs in with lava_sidecar only';
my $m = $s->setup_merchant;        # the sidecar published the auth snapshot
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                    headers => [Authorization => "Bearer $m->{token}",
                                'x-mock-usage' => 'prompt=1000,completion=1000']);
is $r->{status}, 200, 'a request';
my $row = $s->wait_booked($r->{rid});
ok $row, 'is booked by the sidecar (book_batch, meter_usage_lock)';
is $row->{price_state}, 'priced', 'priced' if $row;
ok $row && $row->{moved_nusd} > 0, 'its transfers moved money (balances, trigger)';

my $bad = $s->redis('xadd', 'lava:usage', '*', garbage => 'yes');
my $dl = wait_for(10, sub {
    $s->sql('SELECT * FROM dead_letters WHERE stream_id = ?', $bad)->[0] });
ok $dl, 'a malformed entry is dead-lettered';
my %dup = (v => 1, request_id => $r->{rid}, ts_ms => int(time * 1000), duration_ms => 5,
           payer => 'merchant', merchant_id => $m->{merchant}, key_source => 'managed',
           provider => 'openai', method => 'POST', model => 'gpt-4o-mini', status => 200,
           outcome => 'complete', stream => 0, usage_source => 'reported', input_tokens => 7);
my $dup_id = $s->redis('xadd', 'lava:usage', '*', %dup);
my $conflict = wait_for(10, sub {
    $s->sql('SELECT * FROM dead_letters WHERE stream_id = ?', $dup_id)->[0] });
ok $conflict && $conflict->{booking_doc}, 'a request id booked before with other content is '
   . 'dead-lettered with its booking document (trigger)';
if ($dl) {
    $s->sql_value('SELECT replay_dead_letter(?)', $dl->{id});
    ok wait_for(10, sub {
        $s->sql_value('SELECT replayed_at IS NOT NULL FROM dead_letters WHERE id = ?', $dl->{id}) }),
       'a dead letter marked for replay is replayed by the sidecar';
}

# Re-pricing: the superuser marks (reprice_unpriced()), the sidecar with
# lava_sidecar alone takes and settles (reprice_take(), meter_usage_lock(),
# reprice_book() and what it calls: repricings, transfers, the meter count).
my $unpriced = $s->request(target => $T, body => LavaTest::chat_body(model => 'tm-role-reprice'),
                           headers => [Authorization => "Bearer $m->{token}",
                                       'x-mock-model' => 'tm-role-reprice',
                                       'x-mock-usage' => 'prompt=1000,completion=100']);
is $unpriced->{status}, 200, 'a request of a model with no rate';
my $urow = $s->wait_booked($unpriced->{rid});
is $urow && $urow->{price_state}, 'unpriced', 'is booked unpriced';
my $units_before = $s->sql_value(q{SELECT units FROM meter_usage
                                    WHERE customer_id = ? AND slug = 'chat'}, $m->{customer});
$s->sql_value(q{SELECT add_rate('openai', 'tm-role-reprice', '2020-01-01', input => 1, output => 2)});
is_deeply [map { $_->{request_id} } @{ $s->sql('SELECT * FROM reprice_unpriced()') }],
          [$unpriced->{rid}], 'reprice_unpriced() (superuser) marks it';
my $settled = wait_for(10, sub {
    my $q = $s->sql(q{SELECT * FROM reprice_report WHERE request_id = ? AND result <> 'waiting'},
                    $unpriced->{rid})->[0];
    return $q });
is $settled && $settled->{result}, 'settled', 'the sidecar with lava_sidecar settles it'
    or diag explain $settled;
my $base = 1000 * 1000 + 100 * 2000;
is $settled && $settled->{base_cost_nusd}, $base, "at its new price ($base nusd)";
is $s->sql_value(q{SELECT sum(amount_nusd) FROM transfers WHERE request_id = ? AND note = 'repriced'},
                 $unpriced->{rid}), $settled && $settled->{total_nusd},
   'its transfers (noted repriced) moved what it cost';
is $s->sql_value(q{SELECT units FROM meter_usage WHERE customer_id = ? AND slug = 'chat'},
                 $m->{customer}), ($units_before // 0) + 1100, 'the meter count moved on by its 1100 tokens';

my $conf = "$s->{dir}/sidecar/sidecar.conf";
my $sidecar = $ENV{LAVA_SIDECAR} // "$ROOT/build/lava-sidecar";
my $dsn = "postgresql://sidecar\@127.0.0.1:$s->{pg_port}/lava";
my $rec = `LAVA_REDIS_URL=$env{LAVA_REDIS_URL} LAVA_PG_DSN=$dsn $sidecar -c $conf reconcile 2>&1`;
unlike $rec, qr/permission denied|failed/, 'reconcile runs with lava_sidecar' or diag $rec;
like $rec, qr/ledger_check: every invariant holds/, 'and reads ledger_check' or diag $rec;
unlike LavaTest::slurp("$s->{dir}/sidecar/sidecar.log"), qr/permission denied/,
       'the sidecar was never refused';

psql('postgres', 'DROP DATABASE IF EXISTS fresh');
psql('postgres', 'DROP DATABASE IF EXISTS upgraded');
$s->finish;
done_testing;
