# The sidecar under faults of its own (docs/sidecar.md): poison entries are
# dead-lettered with their reason, acknowledged and replayable after a fix;
# an entry delivered too often is dead-lettered unread; entries of a dead
# consumer are claimed; two sidecars split the work; with Postgres down
# nothing is acknowledged; acknowledged entries are trimmed, never a pending
# one; lava-sidecar reconcile accounts for every request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use LavaTest qw(wait_for);

my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $SIDECAR = $ENV{LAVA_SIDECAR} // "$LavaTest::ROOT/build/lava-sidecar";

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 1000);
my $conf = $s->dir . '/sidecar/sidecar.conf';
my $base_conf = LavaTest::slurp($conf);
my %env = (LAVA_REDIS_URL => $s->env->{LAVA_REDIS_URL}, LAVA_PG_DSN => $s->env->{LAVA_PG_DSN});

# The stack's sidecar again with extra configuration lines.
sub sidecar_with {
    my (%kv) = @_;
    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh $base_conf, map { "$_ = $kv{$_}\n" } sort keys %kv;
    close $fh;
    $s->stop_part('sidecar');
    $s->start_part('sidecar');
}

sub sidecar_log { LavaTest::slurp($s->dir . '/sidecar/sidecar.log') }

sub request {
    my (%o) = @_;
    my @h = (Authorization => "Bearer $m->{token}", 'x-mock-usage' => 'prompt=100,cached=0,completion=10');
    return $o{stream}
        ? $s->stream(target => $T, body => LavaTest::chat_body(stream => 1), headers => \@h)
        : $s->request(target => $T, body => LavaTest::chat_body(), headers => \@h);
}

sub booked_count {
    my (@rids) = @_;
    return $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@rids);
}

sub pending_count { ($s->redis('xpending', 'lava:usage', 'lava-sidecar'))[0] }

my $seq = 0;
sub rid { sprintf 'req_06H1%022d', ++$seq }

sub fields {
    my (%o) = @_;
    my %f = (v => 1, request_id => rid(), ts_ms => int(time * 1000), duration_ms => 5,
             payer => 'merchant', merchant_id => $m->{merchant}, key_source => 'managed',
             provider => 'openai', host => 'api.openai.com', endpoint => '/v1/chat/completions',
             method => 'POST', model => 'gpt-4o-mini', status => 200, outcome => 'complete',
             stream => 0, usage_source => 'reported', input_tokens => 10, output_tokens => 2,
             requests => 1, bytes_out => 100, %o);
    delete $f{$_} for grep { !defined $f{$_} } keys %f;
    return %f;
}

sub xadd { my (%f) = @_; return $s->redis('xadd', 'lava:usage', '*', %f) }

# --- poison entries ---------------------------------------------------------------

my %poison = (
    'not an event'   => [garbage => 'yes'],
    'version 9'      => [fields(v => 9)],   # no such version (3 is entries of several events)
    'bad integer'    => [fields(input_tokens => '12abc')],
    'unknown outcome'=> [fields(outcome => 'exploded')],
);
my %poison_id;
$poison_id{$_} = xadd(@{ $poison{$_} }) for sort keys %poison;
my $after = request();
ok $s->wait_booked($after->{rid}), 'a request after the poison entries is booked: they do not block the stream';
for my $name (sort keys %poison) {
    my $row = wait_for(10, sub {
        $s->sql('SELECT * FROM dead_letter_report WHERE stream_id = ?', $poison_id{$name})->[0] });
    ok $row, "$name: dead-lettered";
    ok length($row->{reason} // ''), "$name: with a reason ($row->{reason})" if $row;
}
is pending_count(), 0, 'the poison entries are acknowledged';

# --- replay after a fix -----------------------------------------------------------

my %late = fields(payer => 'customer', customer_id => 'late-customer', meter => 'chat');
my $late_id = xadd(%late);
my $dl = wait_for(10, sub {
    $s->sql('SELECT * FROM dead_letter_report WHERE stream_id = ?', $late_id)->[0] });
ok $dl, 'an event for a customer the ledger does not have yet is dead-lettered';
like $dl->{reason}, qr/no account wallet:late-customer/, 'the reason names the account';
my $f = LavaTest::json_decode($dl->{fields}) // {};
is_deeply [@$f{qw(request_id meter payer input_tokens stream)}],
          [$late{request_id}, 'chat', 'customer', '10', '0'],
          'its fields are the stream fields, ready to be sent again';
is $dl->{state}, 'new', 'state new';

# the fix: the customer exists now; then replay
$s->sql_value('SELECT create_customer(?, ?)', $m->{merchant}, 'late-customer');
$s->sql_value('SELECT fund_wallet(?, ?)', 'late-customer', 10);
ok $s->sql_value('SELECT replay_dead_letter(?)', $dl->{id}), 'replay_dead_letter() marks it';
my $booked = $s->wait_booked($late{request_id});
ok $booked, 'after the fix the replayed request is booked';
is $booked->{customer_id}, 'late-customer', 'booked to the customer' if $booked;
my $after_replay = $s->sql('SELECT * FROM dead_letter_report WHERE id = ?', $dl->{id})->[0];
is $after_replay->{state}, 'replayed', 'the dead letter reads replayed';
ok $after_replay->{booked}, 'and its request booked';
like $after_replay->{replay_stream_id} // '', qr/^\d+-\d+$/, 'with the stream id it was sent as';

# replay_dead_letters() by reason: the version-9 entry fails again, as a new row
is $s->sql_value(q{SELECT replay_dead_letters('%version%')}), 1, 'replay_dead_letters() by reason';
ok wait_for(10, sub { $s->sql_value(q{SELECT count(*) FROM dead_letters WHERE reason LIKE '%version%'}) == 2 }),
   'a replayed entry that fails again is a new dead letter';

# --- refused inside book_batch(), in a batch with a good entry ----------------------
# An event charging the wallet of another merchant's customer, and one naming
# a merchant the ledger does not have (paid by nobody: no transfer names a
# missing account), are dead-lettered by book_batch() with their reason; the
# good entry of the same batch is booked with its transfers. Two batches, one
# case each: book_batch() looks up a batch's few accounts and merchants
# first and searches for the requests to dead-letter only when one of them
# is missing or foreign, so each case has to start that search on its own.

my $other = $s->setup_merchant(name => 'Other Merchant', funds => 10);
my $wallet_before = $s->sql_value('SELECT balance_nusd FROM accounts WHERE key = ?',
                                  "wallet:$other->{customer}");
my %mixed = (foreign => { fields(payer => 'customer', customer_id => $other->{customer},
                                 meter => 'chat') },
             nobody  => { fields(payer => 'none', merchant_id => 'mer_nobody') });
for my $name (qw(foreign nobody)) {
    $s->stop_part('sidecar');
    my %good = fields();
    xadd(%good);
    $mixed{$name}{id} = xadd(%{ $mixed{$name} });
    $s->start_part('sidecar');
    ok $s->wait_booked($good{request_id}), "$name: the good entry of its batch is booked";
    ok $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $good{request_id}) > 0,
       "$name: with its transfers";
    $mixed{$name}{dl} = wait_for(10, sub {
        $s->sql('SELECT * FROM dead_letter_report WHERE stream_id = ?', $mixed{$name}{id})->[0] });
    ok $mixed{$name}{dl}, "$name: dead-lettered";
    is booked_count($mixed{$name}{request_id}), 0, "$name: not booked";
    is $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $mixed{$name}{request_id}),
       0, "$name: no money moved";
    ok wait_for(10, sub { pending_count() == 0 }), "$name: its batch is acknowledged";
}
like $mixed{foreign}{dl}{reason} // '',
     qr/^no account wallet:\Q$other->{customer}\E for merchant \Q$m->{merchant}\E$/,
     "another merchant's customer: the reason names the wallet and the merchant";
is $s->sql_value('SELECT balance_nusd FROM accounts WHERE key = ?', "wallet:$other->{customer}"),
   $wallet_before, "the other merchant's customer's wallet did not move";
is $mixed{nobody}{dl}{reason} // '', 'unknown merchant mer_nobody',
   'an unknown merchant: the reason names it';

# --- an entry delivered too often -------------------------------------------------

sidecar_with(claim_idle_ms => 1000, max_deliveries => 3);
$s->stop_part('sidecar');
my %heavy = fields();
my $heavy_id = xadd(%heavy);
# a consumer that "crashed" on it four times
$s->redis('xreadgroup', 'GROUP', 'lava-sidecar', 'ghost', 'COUNT', 1, 'STREAMS', 'lava:usage', '>');
$s->redis('xreadgroup', 'GROUP', 'lava-sidecar', 'ghost', 'COUNT', 1, 'STREAMS', 'lava:usage', '0') for 1 .. 3;
$s->start_part('sidecar');
my $over = wait_for(15, sub {
    $s->sql('SELECT * FROM dead_letters WHERE stream_id = ?', $heavy_id)->[0] });
ok $over, 'an entry delivered more than max_deliveries times is dead-lettered';
like $over->{reason} // '', qr/delivered 5 times without being acknowledged \(max_deliveries 3\)/,
     'the reason gives the count' if $over;
is booked_count($heavy{request_id}), 0, 'it was not booked';
ok wait_for(5, sub { pending_count() == 0 }), 'and it is acknowledged';

# --- claim from a dead consumer ---------------------------------------------------

$s->stop_part('sidecar');
my %orphan = fields();
xadd(%orphan);
$s->redis('xreadgroup', 'GROUP', 'lava-sidecar', 'ghost', 'COUNT', 1, 'STREAMS', 'lava:usage', '>');
is pending_count(), 1, 'an entry pending in a consumer that is gone';
$s->start_part('sidecar');
ok $s->wait_booked($orphan{request_id}), 'claimed after claim_idle_ms and booked';
ok wait_for(5, sub { pending_count() == 0 }), 'and acknowledged';
like sidecar_log(), qr/claimed 1 entries idle for 1000 ms/, 'the claim is logged';

# --- Postgres away: nothing acknowledged --------------------------------------------

$s->stop_part('postgres');
my @pg = map { request(stream => $_ % 2) } 1 .. 10;
is scalar(grep { $_->{status} == 200 } @pg), 10, 'Postgres away: requests served';
ok wait_for(10, sub { pending_count() > 0 }), 'entries read by the sidecar stay pending';
sleep 1;
ok pending_count() > 0, 'nothing is acknowledged while Postgres is away';
$s->start_part('postgres');
my @pg_rids = map { $_->{rid} } @pg;
ok wait_for(30, sub { booked_count(@pg_rids) == 10 }), 'Postgres back: all booked';
ok wait_for(5, sub { pending_count() == 0 }), 'then acknowledged';

# --- two sidecars split the work ----------------------------------------------------

sidecar_with(claim_idle_ms => 1000, batch_size => 5, block_ms => 100);
my $conf2 = $s->dir . '/sidecar/second.conf';
{
    open my $fh, '>', $conf2 or die "$conf2: $!\n";
    print $fh $base_conf, "consumer = second\nbatch_size = 5\nblock_ms = 100\nclaim_idle_ms = 1000\n";
    close $fh;
}
my $log2 = $s->dir . '/sidecar/second.log';
my $pid2 = fork // die "fork: $!\n";
my $parent = $$;
END { kill 'KILL', $pid2 if $pid2 && $$ == $parent }
if ($pid2 == 0) {
    # never the parent's END blocks (they stop the stack): exec or _exit
    @ENV{keys %env} = values %env;
    open STDOUT, '>>', $log2 or POSIX::_exit(127);
    open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
    exec($SIDECAR, '-c', $conf2) or POSIX::_exit(127);
}
ok wait_for(10, sub { LavaTest::slurp($log2) =~ /starting/ }), 'a second sidecar runs';
my @two;
for my $i (1 .. 60) {
    my $rid = rid();
    push @two, $rid;
    xadd(fields(request_id => $rid));
}
ok wait_for(30, sub { booked_count(@two) == 60 }), 'two sidecars: all 60 booked';
my $first_booked = () = sidecar_log() =~ /batch of \d+: booked [1-9]/g;
my $second_booked = () = LavaTest::slurp($log2) =~ /batch of \d+: booked [1-9]/g;
ok $first_booked > 0 && $second_booked > 0, "both booked batches ($first_booked and $second_booked)";

# the second one killed with entries pending: the first one claims them
kill 'STOP', $pid2;
my @stuck;
for my $i (1 .. 20) {
    my $rid = rid();
    push @stuck, $rid;
    xadd(fields(request_id => $rid));
}
kill 'KILL', $pid2;
kill 'CONT', $pid2;
waitpid $pid2, 0;
undef $pid2;
ok wait_for(30, sub { booked_count(@stuck) == 20 }), 'after kill -9 of one sidecar: all booked';
ok wait_for(10, sub { pending_count() == 0 }), 'nothing left pending';

# --- trimming ---------------------------------------------------------------------

sidecar_with(claim_idle_ms => 600000, trim_interval_ms => 500, trim_retain_ms => 0);
my @before = map { my %e = fields(); xadd(%e); $e{request_id} } 1 .. 5;
ok wait_for(10, sub { booked_count(@before) == 5 }), 'trim: entries booked';
$s->stop_part('sidecar');
my %held = fields();
my $held_id = xadd(%held);
$s->redis('xreadgroup', 'GROUP', 'lava-sidecar', 'ghost', 'COUNT', 1, 'STREAMS', 'lava:usage', '>');
$s->start_part('sidecar');
my @later = map { my %e = fields(); xadd(%e); $e{request_id} } 1 .. 5;
ok wait_for(10, sub { booked_count(@later) == 5 }), 'trim: later entries booked';
ok wait_for(10, sub {
    my @all = $s->redis('xrange', 'lava:usage', '-', '+');
    @all && $all[0][0] eq $held_id }), 'acknowledged entries before the pending one are trimmed';
sleep 1.5;
my @left = $s->redis('xrange', 'lava:usage', '-', '+');
is $left[0][0], $held_id, 'the pending entry is never trimmed';
is scalar(@left), 6, 'it and the entries after it stay';

# --- reconcile --------------------------------------------------------------------

# the sidecar stopped, so that its trim job (trim_retain_ms 0) cannot remove
# the acknowledged entry before reconcile reads the stream
$s->stop_part('sidecar');
$s->redis('xack', 'lava:usage', 'lava-sidecar', $held_id);    # the ghost's entry, acked unbooked
my ($fh, $ids) = tempfile(UNLINK => 1);
print $fh "$_\n" for @later, @two;
print $fh "127.0.0.1 [x] \"POST /v1/forward\" 200 rid=req_06H1ZZZZZZZZZZZZZZZZZZZZZZ x\n";
close $fh;
my $out = `LAVA_REDIS_URL=$env{LAVA_REDIS_URL} LAVA_PG_DSN=$env{LAVA_PG_DSN} $SIDECAR -c $conf reconcile --ids $ids 2>&1`;
my $rc = $? >> 8;
is $rc, 1, 'reconcile: exit status 1 when something is missing' or diag $out;
like $out, qr/missing\s+1\s/, 'the acknowledged but unbooked stream entry is missing';
like $out, qr/missing \(stream\):\n  \Q$held{request_id}\E/, 'and listed';
like $out, qr/id list .*\n(?:.*\n)*?  missing\s+1\s/, 'the unknown id of the list is missing';
like $out, qr/req_06H1ZZZZZZZZZZZZZZZZZZZZZZ/, 'and listed';
like $out, qr/0 requests charged twice; ledger_check: every invariant holds/, 'the ledger holds';

# the missing one is put right by sending it again
$s->start_part('sidecar');
xadd(%held);
ok $s->wait_booked($held{request_id}), 'sent again and booked';
open $fh, '>', $ids or die;
print $fh "$_\n" for @later, @two, $held{request_id}, $heavy{request_id};
close $fh;
$out = `LAVA_REDIS_URL=$env{LAVA_REDIS_URL} LAVA_PG_DSN=$env{LAVA_PG_DSN} $SIDECAR -c $conf reconcile --ids $ids 2>&1`;
is $? >> 8, 0, 'reconcile: exit status 0' or diag $out;
like $out, qr/result: reconciled/, 'reconciled';
like $out, qr/id list .*\n(?:.*\n)*?  dead-lettered\s+1\s/, 'dead-lettered requests are reported';

$s->finish;
done_testing;
