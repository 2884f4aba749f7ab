# The booking path (docs/ledger.md, "Booking"): the sidecar COPYs a batch into
# staging tables, so every byte of a text value must arrive as it was sent
# (COPY's own escapes: backslash, tab, newline, carriage return); and the
# referential checks of transfers and events, done once per statement by the
# triggers transfers_apply and events_refs instead of foreign keys, refuse
# what the keys refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 10);
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                    headers => [Authorization => "Bearer $m->{token}",
                                'x-mock-usage' => 'prompt=100,cached=0,completion=10']);
is $r->{status}, 200, 'a request through the gateway';
ok my $row = $s->wait_booked($r->{rid}), 'is booked';
my %ev = %{ $s->event($r->{rid}) };
delete $ev{_id};

# Copies of the real event under new request ids, with text values that hold
# every byte COPY's text format escapes.
my @c = split //, '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
my $n = 0;
sub new_rid { my $t = sprintf '%026d', ++$n; $t =~ s/(\d)/$c[$1 + 10]/g; "req_$t" }

my $raw = qq({"prompt_tokens":100,"completion_tokens":10,"note":"tab\there\\\\back\\nslash"}\t\\N\r\nend\\);
my $meta = qq({"k":"a\\\\b\\tc","path":"C:\\\\x\\\\y"});
my %odd = (%ev, request_id => new_rid(), usage_raw => $raw, metadata => $meta,
           model => "gpt-4o-mini", tap_flags => 'x\\y');
$s->redis('xadd', 'lava:usage', '*', %odd);
ok my $b = wait_for(15, sub {
    $s->sql('SELECT usage_raw, metadata::text AS metadata, metadata->>\'k\' AS k,
                    metadata->>\'path\' AS path, tap_flags, price_state, base_cost_nusd
               FROM events WHERE request_id = ?', $odd{request_id})->[0] }),
    'the copy with escaped bytes is booked';
is $b->{usage_raw}, $raw, 'usage_raw arrives byte for byte (tab, CR, LF, backslashes, \\N)';
is $b->{k}, "a\\b\tc", 'metadata: a JSON string with a backslash and a tab';
is $b->{path}, 'C:\\x\\y', 'metadata: backslashes';
is $b->{tap_flags}, 'x\\y', 'a backslash in a plain text column';
is $b->{price_state}, $row->{price_state}, 'priced like the original';
is $b->{base_cost_nusd}, $row->{base_cost_nusd}, 'at the same base cost';
is $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $odd{request_id}),
   $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $r->{rid}),
   'with as many transfers as the original';

# Many, in full batches of 20 (written while the sidecar is stopped): each
# batch one COPY, and the next batch read and decoded while Postgres books
# the one before; each entry booked once and acknowledged.
my $conf = $s->dir . '/sidecar/sidecar.conf';
(my $small = LavaTest::slurp($conf)) =~ s/^batch_size\s*=.*$/batch_size = 20/m
    or die "no batch_size in $conf\n";
$small =~ s/^log_level\s*=.*$/log_level = debug/m or die "no log_level in $conf\n";
$s->stop_part('sidecar');
open my $fh, '>', $conf or die "$conf: $!\n";
print $fh $small;
close $fh;
my @ids = map { new_rid() } 1 .. 300;
sub copy_of { my %h = (%ev, request_id => $_[0]); %h }
$s->redis('xadd', 'lava:usage', '*', copy_of($_)) for @ids;
$s->start_part('sidecar');
my $in = join ',', map { "'$_'" } @ids;
ok wait_for(30, sub { $s->sql_value("SELECT count(*) FROM events WHERE request_id IN ($in)") == 300 }),
    '300 copies booked';
ok wait_for(10, sub { ($s->redis('xpending', 'lava:usage', 'lava-sidecar'))[0] == 0 }),
    'and acknowledged, none left pending';
like LavaTest::slurp($s->dir . '/sidecar/sidecar.log'), qr/read 20 entries ahead/,
    'batches were read ahead while Postgres booked';
is $s->sql_value("SELECT count(*) FROM transfers WHERE request_id IN ($in)"),
   300 * $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $r->{rid}),
   'with their transfers';
# the same entries again: redelivered, nothing more is booked
$s->redis('xadd', 'lava:usage', '*', copy_of($_)) for @ids[0 .. 9];
my $later = new_rid();
$s->redis('xadd', 'lava:usage', '*', copy_of($later));
ok wait_for(15, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $later) }),
   'a later entry is booked (so the repeats before it were read)';
is $s->sql_value("SELECT count(*) FROM events WHERE request_id IN ($in)"), 300,
   'the repeated request ids are not booked twice';
is $s->sql_value("SELECT count(*) FROM transfers WHERE request_id IN ($in)"),
   300 * $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $r->{rid}),
   'nor their transfers';

# The referential checks of transfers (no foreign keys: transfers_apply).
my $funding = $s->sql_value(q(SELECT id FROM accounts WHERE key = 'funding'));
my $wallet = $s->sql_value('SELECT id FROM accounts WHERE key = ?', "wallet:$m->{customer}");
my $missing = $s->sql_value('SELECT max(id) + 1000 FROM accounts');
sub refused {
    my ($sql, @bind) = @_;
    my $ok = eval { $s->dbh->do($sql, undef, @bind); 1 };
    return $ok ? 'accepted' : ($s->dbh->state // 'error');
}
is refused('INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd)
            VALUES (\'deposit\', ?, ?, 1)', $missing, $wallet), '23503',
   'a transfer from an account that does not exist is refused (foreign_key_violation)';
is refused('INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd)
            VALUES (\'deposit\', ?, ?, 1)', $funding, $missing), '23503',
   'a transfer to an account that does not exist is refused';
is refused('INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd, request_id)
            VALUES (\'fee\', ?, ?, 1, ?)', $wallet, $funding, new_rid()), '23503',
   'a transfer for a request that is not booked is refused';
isnt refused('DELETE FROM accounts WHERE id = ?', $wallet), 'accepted', 'an account cannot be deleted';
isnt refused('UPDATE accounts SET id = DEFAULT WHERE id = ?', $wallet), 'accepted',
   'nor get another id';
is refused('INSERT INTO transfers (kind, debit_account, credit_account, amount_nusd)
            VALUES (\'deposit\', ?, ?, 7)', $funding, $wallet), 'accepted',
   'a transfer between existing accounts is booked';

# The referential checks of events (no foreign keys either: events_refs,
# once per statement), each tried in a transaction rolled back after it.
is $s->sql_value(q(SELECT count(*) FROM pg_constraint
                    WHERE conrelid = 'events'::regclass AND contype = 'f')), 0,
   'events have no per-row foreign key checks';
my @cols = map { $_->{c} } @{ $s->sql(q(SELECT column_name AS c FROM information_schema.columns
    WHERE table_schema = 'lava' AND table_name = 'events' AND is_generated = 'NEVER'
    ORDER BY ordinal_position)) };
sub event_copy {      # SQL inserting a copy of the booked event, some columns replaced
    my (%set) = @_;
    my $sel = join ', ', map { exists $set{$_} ? "? AS $_" : $_ } @cols;
    return ('INSERT INTO events (' . join(', ', @cols) . ") SELECT $sel FROM events WHERE request_id = ?",
            map({ $set{$_} } grep { exists $set{$_} } @cols), $r->{rid});
}
sub refused_then_rollback {
    $s->dbh->begin_work;
    my $res = refused(@_);
    $s->dbh->rollback;
    return $res;
}
my $rate = $s->sql_value('SELECT rate_id FROM events WHERE request_id = ?', $r->{rid});
ok defined $rate, 'the booked request names its rate';
is refused_then_rollback(event_copy(request_id => new_rid())), 'accepted',
   'an event naming an existing merchant and rate is accepted';
is refused_then_rollback(event_copy(request_id => new_rid(), merchant_id => 'mer_nobody')), '23503',
   'an event naming a merchant that does not exist is refused (foreign_key_violation)';
is refused_then_rollback(event_copy(request_id => new_rid(),
                                    rate_id => $s->sql_value('SELECT max(id) + 1000 FROM provider_rates'))),
   '23503', 'an event naming a provider rate that does not exist is refused';
is refused_then_rollback('DELETE FROM provider_rates WHERE id = ?', $rate), '23503',
   'a provider rate that booked events name cannot be deleted';
is refused_then_rollback(q(DELETE FROM provider_rates WHERE id = (SELECT max(id) FROM provider_rates p
                             WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.rate_id = p.id)))),
   'accepted', 'one that no event names can';
$s->dbh->begin_work;
$s->dbh->do('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
is refused(q(DELETE FROM provider_rates WHERE id = (SELECT max(id) FROM provider_rates p
               WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.rate_id = p.id)))),
   '40001', 'but not in a REPEATABLE READ transaction (its snapshot could miss a booking)';
$s->dbh->rollback;

ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };
ok grep({ $_->{rule} =~ /transfers name existing accounts/ } @{ $s->sql('SELECT rule FROM ledger_check') }),
   'ledger_check checks what transfers name';
is $s->sql_value('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';

$s->finish;
done_testing;
