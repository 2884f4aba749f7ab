# Spend keys in the ledger (issue 13; docs/spend-keys.md, "Managing spend
# keys in psql"; docs/auth-sync.md): the psql functions and their errors, the
# spend_keys view with the SDK's read fields, the records the sidecar
# publishes for nginx (s, x, a, l, p and the stream watermark b), and the
# booking of events that carry a spend_key_id: the key on the event and on
# every transfer of the request, its counts and spend (refused requests
# count for nothing), last_used_at, the auth version moved by a booking,
# usage_daily_spend_key, and the cycles under the injectable clock
# lava.test_now. Events are fed to the stream directly (copies of a real
# request's event), so this needs nothing of the module's spend key code.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(sleep);

use LavaTest qw(wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant(funds => 10);
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
# gpt-4o-mini, 1000 in + 1000 out: base 150000 + 600000 = 750000 nusd; fee
# 20 % = 150000; service charge 1.9 % of it = 2850 (t/42-wallet.t). A
# merchant that pays pays the base cost alone.
my $BASE = 750_000;
my $COST = 902_850;

sub err_of {
    my ($q, @bind) = @_;
    eval { $s->sql($q, @bind) };
    return $@ // '';
}
sub version { $s->sql_value('SELECT version FROM auth_state') }
sub key_row { $s->sql('SELECT * FROM spend_keys WHERE spend_key_id = ?', $_[0])->[0] }
sub snapshot { scalar($s->redis('get', 'lava:auth:snapshot')) // '' }
sub published {
    my ($re, $secs) = @_;
    return wait_for($secs // 10, sub { snapshot() =~ $re });
}

# --- create_spend_key --------------------------------------------------------

my $v0 = version();
my $k = $s->sql(q{SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)},
                $m->{merchant}, 'batch jobs', $m->{customer}, 'chat',
                '{"spend_limit": {"amount": "0.0025", "cycle": "daily"},
                  "request_limit": {"count": 3, "cycle": "monthly"},
                  "rate_limit": {"rpm": 10, "burst": 5},
                  "allowed_models": ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini"],
                  "allowed_providers": ["openai"],
                  "request_shape": "anthropic",
                  "expires_at": "2031-02-03T04:05:06Z"}')->[0];
$s->register_secret($k->{key}, 'spend key');
like $k->{spend_key_id}, qr/^spk_[0-9A-HJKMNP-TV-Z]{26}$/, 'id: spk_ and 26 Crockford base32';
like $k->{key}, qr/^lava_spk_[0-9a-f]{64}$/, 'raw key: lava_spk_ and 64 hex digits';
is $k->{key_preview}, 'lava_spk_' . substr($k->{key}, 9, 4) . "\x{2026}" . substr($k->{key}, -4),
   'preview: lava_spk_, first 4 and last 4 hex digits';
my $id = $k->{spend_key_id};
my $hash = sha256_hex($k->{key});
is $s->sql_value('SELECT count(*) FROM spend_key_defs WHERE key_hash = decode(?, \'hex\')', $hash), 1,
   'only the sha256 of the key is stored';
is $s->sql_value(q{SELECT count(*) FROM spend_key_defs WHERE position(? IN key_preview || name || id) > 0},
                 substr($k->{key}, 9)), 0, 'and the key itself nowhere';
cmp_ok version(), '>', $v0, 'creating a key moves the auth version';

my $row = key_row($id);
is_deeply { map { $_ => $row->{$_} } qw(spend_key_id key_preview name status request_shape wallet_id
                                        current_spend total_spend current_requests total_requests) },
          { spend_key_id => $id, key_preview => $k->{key_preview}, name => 'batch jobs',
            status => 'active', request_shape => 'anthropic', wallet_id => "wallet:$m->{customer}",
            current_spend => '0.00', total_spend => '0.00', current_requests => 0,
            total_requests => 0 },
          'the view: the SDK\'s read fields';
is_deeply $row->{allowed_models}, ['gpt-4o', 'gpt-4o-mini'], 'allowed_models: sorted, once each';
is_deeply $row->{allowed_providers}, ['openai'], 'allowed_providers';
is_deeply LavaTest::json_decode($row->{spend_limit}), { amount => '0.0025', cycle => 'daily' },
   'spend_limit: {amount: decimal USD string, cycle}';
is_deeply LavaTest::json_decode($row->{request_limit}), { count => 3, cycle => 'monthly' },
   'request_limit: {count, cycle}';
is_deeply LavaTest::json_decode($row->{rate_limit}), { rpm => 10, burst => 5 }, 'rate_limit: {rpm, burst}';
is $s->sql_value('SELECT extract(epoch FROM expires_at)::bigint FROM spend_keys WHERE spend_key_id = ?', $id),
   1927857906, 'expires_at';
ok !defined $row->{last_used_at}, 'last_used_at: not used yet';
ok defined $row->{created_at}, 'created_at';

# A key the merchant pays for, without limits.
my $mk = $s->sql('SELECT * FROM create_spend_key(?, ?)', $m->{merchant}, 'merchant paid')->[0];
$s->register_secret($mk->{key}, 'spend key');
is key_row($mk->{spend_key_id})->{wallet_id}, "merchant:$m->{merchant}",
   'no customer: the merchant\'s own wallet (merchant:<id>)';
is_deeply [ map { key_row($mk->{spend_key_id})->{$_} } qw(spend_limit request_limit rate_limit
                                                          allowed_models expires_at status) ],
          [ undef, undef, undef, undef, undef, 'active' ], 'no limits, no lists, no expiry: null';

# --- clear errors ----------------------------------------------------------------

my @bad = (
    [ 'unknown merchant', ['mer_nobody', 'x', undef, undef, '{}'], qr/no merchant mer_nobody/ ],
    [ 'unknown customer (wallet)', [$m->{merchant}, 'x', 'cus_nobody', undef, '{}'],
      qr/no customer cus_nobody/ ],
    [ 'a meter without a customer', [$m->{merchant}, 'x', undef, 'chat', '{}'], qr/a meter needs a customer/ ],
    [ 'unknown meter', [$m->{merchant}, 'x', $m->{customer}, 'nometer', '{}'], qr/no meter nometer/ ],
    [ 'negative amount', [$m->{merchant}, 'x', undef, undef,
      '{"spend_limit": {"amount": "-1", "cycle": "daily"}}'], qr/must not be negative/ ],
    [ 'amount that is no number', [$m->{merchant}, 'x', undef, undef,
      '{"spend_limit": {"amount": "ten", "cycle": "daily"}}'], qr/not a decimal USD amount/ ],
    [ 'amount below a nano-USD', [$m->{merchant}, 'x', undef, undef,
      '{"spend_limit": {"amount": "0.0000000001", "cycle": "daily"}}'], qr/whole number of nano-USD/ ],
    [ 'unknown spend cycle', [$m->{merchant}, 'x', undef, undef,
      '{"spend_limit": {"amount": "1", "cycle": "yearly"}}'], qr/unknown cycle "yearly"/ ],
    [ 'unknown request cycle', [$m->{merchant}, 'x', undef, undef,
      '{"request_limit": {"count": 1, "cycle": "hourly"}}'], qr/unknown cycle "hourly"/ ],
    [ 'negative count', [$m->{merchant}, 'x', undef, undef,
      '{"request_limit": {"count": -1, "cycle": "daily"}}'], qr/at least 0/ ],
    [ 'rpm 0', [$m->{merchant}, 'x', undef, undef, '{"rate_limit": {"rpm": 0}}'], qr/rpm must be at least 1/ ],
    [ 'unknown model', [$m->{merchant}, 'x', undef, undef, '{"allowed_models": ["gpt-nope"]}'],
      qr/unknown model "gpt-nope"/ ],
    [ 'unknown provider', [$m->{merchant}, 'x', undef, undef, '{"allowed_providers": ["nopeai"]}'],
      qr/unknown provider "nopeai"/ ],
    [ 'unknown parameter', [$m->{merchant}, 'x', undef, undef, '{"spend_cap": 1}'],
      qr/unknown spend key parameter "spend_cap"/ ],
    [ 'bad status', [$m->{merchant}, 'x', undef, undef, '{"status": "revoked"}'], qr/status must be active or paused/ ],
    [ 'bad request_shape', [$m->{merchant}, 'x', undef, undef, '{"request_shape": "google"}'],
      qr/request_shape must be openai or anthropic/ ],
    [ 'bad expiry', [$m->{merchant}, 'x', undef, undef, '{"expires_at": "soon"}'], qr/is not a timestamp/ ],
    [ 'empty name', [$m->{merchant}, '', undef, undef, '{}'], qr/name must be a string of 1 to 200/ ],
);
my $other = $s->sql('SELECT * FROM create_merchant(?)', 'Other')->[0];
$s->register_secret($other->{secret_key}, 'merchant secret key');
my $ocus = $s->sql_value('SELECT create_customer(?)', $other->{merchant_id});
push @bad, [ 'another merchant\'s customer', [$m->{merchant}, 'x', $ocus, undef, '{}'],
             qr/is not a customer of merchant/ ];
my $nkeys = $s->sql_value('SELECT count(*) FROM spend_key_defs');
for my $b (@bad) {
    like err_of('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', @{ $b->[1] }), $b->[2],
         "create refuses: $b->[0]";
}
is $s->sql_value('SELECT count(*) FROM spend_key_defs'), $nkeys, 'and creates nothing';
like err_of('SELECT update_spend_key(?, ?::jsonb)', 'spk_NOBODY', '{}'), qr/no spend key spk_NOBODY/,
     'update: unknown key';
like err_of('SELECT pause_spend_key(?)', 'spk_NOBODY'), qr/no spend key/, 'pause: unknown key';
like err_of('SELECT set_refuse_unpriced(?, true)', 'mer_nobody'), qr/no merchant mer_nobody/,
     'set_refuse_unpriced: unknown merchant';

# --- update, pause, resume ---------------------------------------------------------

my $v1 = version();
$s->sql(q{SELECT update_spend_key(?, '{"name": "renamed", "allowed_providers": null}')}, $mk->{spend_key_id});
$row = key_row($mk->{spend_key_id});
is $row->{name}, 'renamed', 'update: a member given is set';
$s->sql(q{SELECT update_spend_key(?, '{"rate_limit": {"rpm": 60}, "expires_at": "2030-01-01T00:00:00Z"}')},
        $mk->{spend_key_id});
$row = key_row($mk->{spend_key_id});
is $row->{name}, 'renamed', 'members not given are kept';
is_deeply LavaTest::json_decode($row->{rate_limit}), { rpm => 60, burst => undef }, 'burst not given: null';
$s->sql(q{SELECT update_spend_key(?, '{"rate_limit": null, "expires_at": null}')}, $mk->{spend_key_id});
$row = key_row($mk->{spend_key_id});
ok !defined $row->{rate_limit} && !defined $row->{expires_at}, 'null clears a limit and the expiry';
cmp_ok version(), '>', $v1, 'updates move the auth version';
like err_of(q{SELECT update_spend_key(?, '{"spend_limit": {"amount": "-0.5", "cycle": "total"}}')},
            $mk->{spend_key_id}), qr/must not be negative/, 'update checks like create';

$s->sql('SELECT pause_spend_key(?)', $mk->{spend_key_id});
is key_row($mk->{spend_key_id})->{status}, 'paused', 'pause_spend_key';
my $mhash = sha256_hex($mk->{key});
ok published(qr/^s $mhash $mk->{spend_key_id} $m->{merchant} - - paused 0 openai 0$/m),
   'published: s record of a paused key the merchant pays for';
$s->sql('SELECT resume_spend_key(?)', $mk->{spend_key_id});
is key_row($mk->{spend_key_id})->{status}, 'active', 'resume_spend_key';
ok published(qr/^s $mhash $mk->{spend_key_id} $m->{merchant} - - active 0 openai 0$/m),
   'published: active again';

# --- the records nginx reads -----------------------------------------------------------

ok published(qr/^s $hash $id $m->{merchant} $m->{customer} chat active 1927857906 anthropic 6$/m),
   's: hash, id, merchant, customer, meter, status, expiry, shape, flags (2 models + 4 providers)';
my $snap = snapshot();
my @a = $snap =~ /^(a \Q$id\E .*)$/mg;
is_deeply \@a, ["a $id m gpt-4o", "a $id m gpt-4o-mini", "a $id p openai"], 'a: one per allowed model and provider';
my ($today, $month) = @{ $s->dbh->selectrow_arrayref(
    q{SELECT extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC'))::bigint,
             extract(epoch FROM date_trunc('month', now() AT TIME ZONE 'UTC'))::bigint}) };
like $snap, qr/^l $id 10 5 monthly 3 0 daily 2500000 0 $month $today$/m,
     'l: rpm, burst, request cycle, limit, used, spend cycle, limit nusd, used, cycle starts';
unlike $snap, qr/^l \Q$mk->{spend_key_id}\E /m, 'no l record for a key without limits';
like $snap, qr/^b lava:usage \d+-\d+$/m, 'b: the stream\'s booked-through watermark';
unlike $snap, qr/^p /m, 'no p record while no merchant refuses unpriced models';
my @order = map { substr $_, 0, 1 } grep { /^[sxalbp] / } split /\n/, $snap;
is join('', @order), join('', sort { index('saxlpb', $a) <=> index('saxlpb', $b) } @order),
   'records in a stable order (s, a, l, then b before end)';
like $snap, qr/\nend\n\z/, 'the snapshot still ends with end';

$s->sql('SELECT set_refuse_unpriced(?, true)', $m->{merchant});
ok published(qr/^p $m->{merchant}$/m), 'set_refuse_unpriced: a p record';
$s->sql(q{SELECT update_spend_key(?, '{"refuse_unpriced": true}')}, $mk->{spend_key_id});
ok published(qr/^s $mhash $mk->{spend_key_id} $m->{merchant} - - active 0 openai 1$/m),
   'the key\'s own refuse_unpriced: flag 1';
$s->sql('SELECT set_refuse_unpriced(?, false)', $m->{merchant});
ok wait_for(10, sub { snapshot() !~ /^p /m }), 'set back: no p record';

# --- booking --------------------------------------------------------------------------

my $r = $s->request(target => $T, body => LavaTest::chat_body(),
                    headers => [Authorization => "Bearer $m->{token}",
                                'x-mock-usage' => 'prompt=1000,completion=1000']);
is $r->{status}, 200, 'a request through the gateway';
ok $s->wait_booked($r->{rid}), 'booked';
my %ev = %{ $s->event($r->{rid}) };
delete $ev{_id};
is $ev{model}, 'gpt-4o-mini', 'its event: gpt-4o-mini';

my @c = split //, '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
my $n = 0;
my $t0 = time * 1000;
sub new_rid {
    # a time prefix of its own: 10 base32 digits of ms, then a counter
    my ($ms, $t) = ($t0, '');
    for (1 .. 10) { $t = $c[$ms % 32] . $t; $ms = int($ms / 32); }
    my $x = sprintf '%016d', ++$n;
    $x =~ s/(\d)/$c[$1 + 20]/g;
    return "req_$t$x";
}
my @usage = qw(input_tokens cached_input_tokens cache_write_tokens output_tokens reasoning_tokens
               usage_raw requests);
sub served { my ($rid, %o) = @_; my %e = (%ev, request_id => $rid, spend_key_id => $id, %o); %e }
sub refused_ev {
    my ($rid, %o) = @_;
    my %e = (%ev, request_id => $rid, spend_key_id => $id, outcome => 'refused', status => 402,
             error => 'spend_limit_exceeded', usage_source => 'none', key_source => 'none', %o);
    delete @e{@usage, 'ttfb_ms', 'host', 'bytes_out'};
    return %e;
}

my $v2 = version();
my @ok = map { new_rid() } 1 .. 2;
my $no = new_rid();
my @xid = map { scalar $s->redis('xadd', 'lava:usage', '*', served($_)) } @ok;
push @xid, scalar $s->redis('xadd', 'lava:usage', '*', refused_ev($no));
ok wait_for(15, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id IN (?, ?, ?)', @ok, $no) == 3 }),
   'two served and one refused event of the key are booked';
is $s->sql_value('SELECT count(*) FROM events WHERE spend_key_id = ? AND request_id IN (?, ?, ?)', $id, @ok, $no),
   3, 'events.spend_key_id on all three, the refused one too';
my $xs = $s->sql('SELECT request_id, kind, spend_key_id, amount_nusd FROM transfers WHERE request_id IN (?, ?)', @ok);
is scalar @$xs, 6, 'base, fee and service charge of each served request';
is scalar(grep { ($_->{spend_key_id} // '') eq $id } @$xs), 6, 'transfers.spend_key_id on every one';
is $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $no), 0, 'the refused one moved nothing';
is $s->sql_value('SELECT coalesce(sum(amount_nusd), 0) FROM transfers WHERE spend_key_id = ?', $id), 2 * $COST,
   'spend per key is a psql query on transfers';

$row = key_row($id);
is $row->{current_requests}, 2, 'current_requests: the refused request counts for nothing';
is $row->{total_requests}, 2, 'total_requests';
is $row->{current_spend}, '0.0018057', 'current_spend: what the wallet paid (decimal USD string)';
is $row->{total_spend}, '0.0018057', 'total_spend';
ok defined $row->{last_used_at}, 'last_used_at set';
cmp_ok version(), '>', $v2, 'a booking that moves a limited key\'s counts moves the auth version';
my $wm = max_id(@xid);
ok published(qr/^l $id 10 5 monthly 3 2 daily 2500000 1805700 $month $today$/m),
   'published: l with the booked count and spend';
my ($b) = snapshot() =~ /^b lava:usage (\d+-\d+)$/m;
ok id_le($wm, $b), "b covers the booked entries ($b >= $wm)";

my $daily = $s->sql('SELECT * FROM usage_daily_spend_key WHERE spend_key_id = ?', $id);
is scalar @$daily, 1, 'usage_daily_spend_key: one day';
is_deeply [ @{ $daily->[0] }{qw(requests refused_requests paid_nusd total_nusd)} ], [2, 1, 2 * $COST, 2 * $COST],
   'requests, refused requests, paid and cost';

# A key the merchant pays for: its spend is the base cost (what its wallet paid).
my $mrid = new_rid();
my %mev = (served($mrid), payer => 'merchant', spend_key_id => $mk->{spend_key_id});
delete @mev{qw(customer_id meter)};
my $vm = version();
$s->redis('xadd', 'lava:usage', '*', %mev);
ok wait_for(15, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $mrid) }),
   'an event of the merchant-paid key is booked';
is $s->sql_value('SELECT string_agg(DISTINCT spend_key_id, \',\') FROM transfers WHERE request_id = ?', $mrid),
   $mk->{spend_key_id}, 'its transfers carry its key';
is key_row($mk->{spend_key_id})->{total_spend}, '0.00075', 'merchant-paid: spend = the base cost';
is key_row($mk->{spend_key_id})->{total_requests}, 1, 'and one request';
is version(), $vm, 'a key without request or spend limit: the booking does not move the version for it';

# A request over the limit that was let through is booked in full.
my $over = new_rid();
$s->redis('xadd', 'lava:usage', '*', served($over));
ok wait_for(15, sub { key_row($id)->{total_requests} == 3 }), 'a third request is booked';
is $s->sql_value('SELECT coalesce(sum(amount_nusd), 0) FROM transfers WHERE request_id = ?', $over), $COST,
   'in full, although the spend limit is crossed';
ok published(qr/^l $id 10 5 monthly 3 3 daily 2500000 2708550 $month $today$/m),
   'published: 3 requests, spend over the limit';

# --- cycles under lava.test_now ------------------------------------------------------------

my $dbh = $s->dbh;
$dbh->do(q{SET lava.test_now = '2099-01-01 00:00:00Z'});
$row = key_row($id);
is $row->{current_spend}, '0.00', 'another day: current_spend of the daily cycle is 0';
is $row->{current_requests}, 0, 'another month: current_requests of the monthly cycle is 0';
is $row->{total_requests}, 3, 'totals never reset';
is $s->sql_value(q{SELECT line FROM auth_snapshot WHERE line LIKE 'l ' || ? || ' %'}, $id),
   "l $id 10 5 monthly 3 0 daily 2500000 0 4070908800 4070908800",
   'the l record counts from the cycle lava_now() is in';
is $s->sql_value(q{SELECT extract(epoch FROM spend_key_cycle_start('weekly', '2026-12-10 13:00Z'))::bigint}),
   1796601600, 'weekly: from Monday 00:00 UTC (ISO week)';
is $s->sql_value(q{SELECT extract(epoch FROM spend_key_cycle_start('total', now()))::bigint}), 0,
   'total: from the epoch';
$dbh->do(q{RESET lava.test_now});
is key_row($id)->{current_requests}, 3, 'the clock back: counted again';

# --- rotate and revoke ----------------------------------------------------------------------

my $rot = $s->sql('SELECT * FROM rotate_spend_key(?)', $id)->[0];
$s->register_secret($rot->{key}, 'spend key');
is $rot->{spend_key_id}, $id, 'rotate: the same id';
like $rot->{key}, qr/^lava_spk_[0-9a-f]{64}$/, 'a new raw key';
isnt $rot->{key}, $k->{key}, 'not the old one';
is key_row($id)->{key_preview}, $rot->{key_preview}, 'the preview follows';
is key_row($id)->{total_requests}, 3, 'counts kept';
my $nhash = sha256_hex($rot->{key});
ok published(qr/^s $nhash $id /m), 'published: the new hash';
unlike snapshot(), qr/$hash/, 'the old hash is gone (invalid_key)';

$s->sql('SELECT revoke_spend_key(?)', $id);
ok !key_row($id), 'revoke: gone from the spend_keys view';
ok published(qr/^x $nhash $id$/m), 'published: an x record (key_revoked)';
$snap = snapshot();
unlike $snap, qr/^(s|a|l) \S*\s?\Q$id\E/m, 'and no s, a or l record';
unlike $snap, qr/^s $nhash /m, 'no s record of its hash';
like err_of('SELECT update_spend_key(?, ?::jsonb)', $id, '{"name": "again"}'), qr/is revoked/,
     'a revoked key cannot be changed';
like err_of('SELECT * FROM rotate_spend_key(?)', $id), qr/is revoked/, 'nor rotated';
$dbh->do(q{SET lava.test_now = '2099-01-01 00:00:00Z'});
is $s->sql_value(q{SELECT count(*) FROM auth_snapshot WHERE line LIKE 'x %' || ?}, $id), 0,
   'x records: for 30 days only';
$dbh->do(q{RESET lava.test_now});

# --- the watermark held back by a pending entry --------------------------------------------------

# An entry read by another consumer of the sidecar's group and not
# acknowledged yet (the sidecar claims such entries only after
# claim_idle_ms, 30 s): the b record stays below it. Once it is acknowledged
# the watermark moves, and the sidecar publishes again by itself, though
# nothing in the database changed.
$s->stop_part('sidecar');
my $held = $s->redis('xadd', 'lava:usage', '*', refused_ev(new_rid(), spend_key_id => $mk->{spend_key_id}));
my @got = $s->redis('xreadgroup', 'GROUP', 'lava-sidecar', 'thief', 'COUNT', 1, 'STREAMS', 'lava:usage', '>');
is $got[0][1][0][0], $held, 'an entry pending under another consumer';
$s->start_part('sidecar');
$s->sql(q{SELECT update_spend_key(?, '{"name": "held"}')}, $mk->{spend_key_id});
my ($hms, $hseq) = split /-/, $held;
my $below = $hseq > 0 ? "$hms-" . ($hseq - 1) : ($hms - 1) . '-18446744073709551615';
ok published(qr/^b lava:usage \Q$below\E$/m),
   "published with b just below the pending entry ($below)";
my $vh = version();
$s->redis('xack', 'lava:usage', 'lava-sidecar', $held);
ok published(qr/^b lava:usage \Q$held\E$/m), 'acknowledged: published again with b at it';
cmp_ok version(), '>', $vh, 'the sidecar moved the version for it';
my $vs = version();
sleep 2.5;
is version(), $vs, 'nothing pending: no more versions';

# --- the ledger stays balanced ----------------------------------------------------------------

is_deeply [ map { $_->{rule} } grep { !$_->{ok} } @{ $s->sql('SELECT * FROM ledger_check') } ], [],
   'ledger_check: every invariant holds';

$s->finish;
done_testing;

# stream ids "<ms>-<seq>" compared as numbers
sub id_le {
    my ($x, $y) = @_;
    my ($xm, $xs) = split /-/, $x;
    my ($ym, $ys) = split /-/, $y;
    return $xm < $ym || ($xm == $ym && $xs <= $ys);
}
sub max_id {
    my @ids = @_;
    my $max = shift @ids;
    for (@ids) { $max = $_ unless id_le($_, $max) }
    return $max;
}
