# Spend keys (issue 13, docs/spend-keys.md), through nginx, Redis, the
# sidecar and Postgres: a lava_spk_ key made with create_spend_key() is
# accepted on every forward-token carrier and never reaches the provider;
# its usage is booked to its wallet with the key's id on the event and on
# every ledger row; each limit holds at its edge (exactly N pass, N+1 is
# refused): request_limit, rate_limit (64 concurrent requests against rpm
# 10 burst 5 over 2 workers: exactly 15), spend_limit (a $0.001 key refused
# within 5 s of crossing it, the crossing request booked in full);
# refusals answer the documented codes and headers, cost nothing and carry
# the key id; a cycle rolls over with the test clock; pause, resume,
# rotate and revoke take effect within 5 s and survive a reload and a
# restart with Redis down (from lava_auth_file); expiry.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use IO::Select;
use POSIX qw(strftime);
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for json_encode);

my $s = LavaTest->start;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $USAGE = 'prompt=1000,completion=1000';
# gpt-4o-mini, 1000 in + 1000 out: base 150000 + 600000 = 750000 nusd;
# fee 20 % = 150000; service charge 1.9 % of it = 2850 (t/42-wallet.t).
my $COST = 902_850;

my $m = $s->setup_merchant(funds => 100);

# create_spend_key(merchant, name, customer, meter, params): the raw key once
sub spend_key {
    my ($name, %o) = @_;
    my $row = $s->sql('SELECT * FROM create_spend_key(?, ?, ?, ?, ?::jsonb)', $m->{merchant}, $name,
                      exists $o{customer} ? $o{customer} : $m->{customer},
                      exists $o{meter} ? $o{meter} : 'chat', json_encode($o{params} // {}))->[0];
    $s->register_secret($row->{key}, 'spend key');
    my $hex = sha256_hex($row->{key});
    $s->wait_auth(qr/^s $hex \Q$row->{spend_key_id}\E /m)
        or die "spend key $row->{spend_key_id} not published\n";
    return { %$row, hash => $hex };
}

sub call {
    my ($key, %o) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->request(target => $o{target} // $T, body => $o{body} // LavaTest::chat_body(),
                        headers => [($o{carrier} // 'Authorization') => ($o{carrier} ? $key : "Bearer $key"),
                                    'x-mock-usage' => $USAGE, 'x-test-id' => $id], timeout => 20);
    $r->{test_id} = $id;
    return $r;
}

sub code { ref $_[0]{json} eq 'HASH' ? $_[0]{json}{error}{code} // '' : '' }

# ---- the credential -----------------------------------------------------------

my $k = spend_key('basic');
like $k->{key}, qr/^lava_spk_[0-9a-f]{64}$/, 'a raw key: lava_spk_ and 64 hex digits';
like $k->{spend_key_id}, qr/^spk_[0-9A-HJKMNP-TV-Z]{26}$/, 'an id: spk_ and 26 Crockford base32';

my $r = call($k->{key});
is $r->{status}, 200, 'Authorization: Bearer lava_spk_...: served';
my @seen = $s->mock_requests($r->{test_id});
is scalar @seen, 1, 'the provider got it once';
ok !(grep { $_->[1] =~ /lava_spk_/ } @{ $seen[0]{headers} }), 'without the spend key in any header';
is_deeply [LavaTest::header_values($seen[0], 'authorization')], ['Bearer sk-mock-openai'],
          'with the managed key';

my $b = $s->wait_booked($r->{rid});
ok $b, 'booked';
my $ev = $s->event($r->{rid});
is $ev->{spend_key_id}, $k->{spend_key_id}, 'the event carries spend_key_id';
is $ev->{customer_id}, $m->{customer}, 'and the customer whose wallet pays';
is $ev->{payer}, 'customer', 'payer customer';
my $rows = $s->sql('SELECT spend_key_id, amount_nusd FROM transfers WHERE request_id = ?', $r->{rid});
ok @$rows >= 2, 'ledger rows of the request';
is scalar(grep { ($_->{spend_key_id} // '') eq $k->{spend_key_id} } @$rows), scalar @$rows,
   'every ledger row carries the key id';
is $s->sql_value('SELECT sum(amount_nusd) FROM transfers WHERE request_id = ?', $r->{rid}), $COST,
   'the full cost (base, fee, service charge)';
is $s->sql_value(q{SELECT count(*) FROM transfers t JOIN accounts a ON a.id = t.debit_account
                    WHERE t.request_id = ? AND a.key = 'wallet:' || ?}, $r->{rid}, $m->{customer}),
   scalar @$rows, "paid by the customer's wallet";

# the other carriers: x-api-key (Anthropic), x-goog-api-key (Gemini), ?key=
$r = call($k->{key}, carrier => 'x-api-key', target => '/v1/forward/v1/messages?u=https%3A%2F%2Fapi.anthropic.com',
          body => { model => 'claude-sonnet-4-5', max_tokens => 100, messages => [{ role => 'user', content => 'hi' }] });
is $r->{status}, 200, 'x-api-key: lava_spk_... (Anthropic): served';
ok !(grep { $_->[1] =~ /lava_spk_/ } map { @{ $_->{headers} } } $s->mock_requests($r->{test_id})),
   'the key left the request';
$r = call($k->{key}, carrier => 'x-goog-api-key',
          target => '/v1/forward/v1beta/models/gemini-2.5-flash:generateContent?u=https%3A%2F%2Fgenerativelanguage.googleapis.com',
          body => { contents => [{ parts => [{ text => 'hi' }] }] });
is $r->{status}, 200, 'x-goog-api-key: lava_spk_... (Gemini): served';
$r = call($k->{key}, carrier => 'xi-api-key',
          target => '/v1/forward/v1/text-to-speech/voice1?u=https%3A%2F%2Fapi.elevenlabs.io',
          body => { text => 'hello', model_id => 'eleven_multilingual_v2' });
isnt code($r), 'missing_token', 'xi-api-key: lava_spk_... is read';
isnt code($r), 'invalid_key', 'and known';
$r = $s->request(method => 'POST', target => "$T&key=$k->{key}", body => LavaTest::chat_body(),
                 headers => ['x-mock-usage' => $USAGE, 'x-test-id' => (my $qid = LavaTest::test_id())]);
is $r->{status}, 200, '?key=lava_spk_...: served';
ok !(grep { $_->{target} =~ /lava_spk_/ || grep { $_->[1] =~ /lava_spk_/ } @{ $_->{headers} } }
     $s->mock_requests($qid)), 'the key left the URL';

# malformed and unknown keys
$r = call('lava_spk_' . ('0' x 63));
is $r->{status}, 401, 'a malformed lava_spk_ key: 401';
is code($r), 'invalid_key', 'invalid_key';
$r = call('lava_spk_' . ('0' x 64));
is code($r), 'invalid_key', 'an unknown one: invalid_key';
ok $r->{json}{error}{message} !~ /lava_spk/, 'the answer never echoes the key';

# ---- request_limit: exactly N, then 429 ----------------------------------------

my $rl = spend_key('requests', params => { request_limit => { count => 3, cycle => 'daily' } });
my @st = map { call($rl->{key})->{status} } 1 .. 3;
is_deeply \@st, [200, 200, 200], 'request_limit 3: three pass';
$r = call($rl->{key});
is $r->{status}, 429, 'the fourth: 429';
is code($r), 'request_limit_exceeded', 'request_limit_exceeded';
like $r->{rid}, qr/^req_/, 'with a request id';
ok !$s->mock_requests($r->{test_id}), 'the provider never saw it';
my $refused_rid = $r->{rid};

# still exactly three once everything is booked and published
sleep 3;
$r = call($rl->{key});
is code($r), 'request_limit_exceeded', 'after booking and publishing: still refused';
is $s->sql_value('SELECT current_requests FROM spend_keys WHERE spend_key_id = ?', $rl->{spend_key_id}), 3,
   'the view counts 3 requests, the refused ones none';

# counted once: what this nginx let through stops counting locally once the
# snapshot's watermark has passed its event (the ledger's count holds it),
# so a request booked and published is not counted twice
my $rl2 = spend_key('requests booked', params => { request_limit => { count => 3, cycle => 'daily' } });
@st = map { call($rl2->{key})->{status} } 1 .. 2;
is_deeply \@st, [200, 200], 'request_limit 3: two pass';
ok wait_for(10, sub { $s->redis('get', 'lava:auth:snapshot')
                      =~ /^l \Q$rl2->{spend_key_id}\E \d+ \d+ daily 3 2 /m }), 'the ledger counts 2';
sleep 2;
is call($rl2->{key})->{status}, 200, 'after booking and publishing: the third passes (not counted twice)';
is code(call($rl2->{key})), 'request_limit_exceeded', 'the fourth is refused';

# refused requests: booked as refused, with the key id, at no cost
ok $s->wait_event($refused_rid), 'the refusal has an event';
$ev = $s->event($refused_rid);
is $ev->{outcome}, 'refused', 'outcome refused';
is $ev->{error}, 'request_limit_exceeded', 'error request_limit_exceeded';
is $ev->{spend_key_id}, $rl->{spend_key_id}, 'with the key id';
ok wait_for(15, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ?', $refused_rid) }),
   'booked';
is $s->sql_value('SELECT count(*) FROM transfers WHERE request_id = ?', $refused_rid), 0, 'costing nothing';
is $s->sql_value('SELECT spend_key_id FROM events WHERE request_id = ?', $refused_rid), $rl->{spend_key_id},
   'the events row names the key';

# ---- rate_limit: 64 concurrent against rpm 10, burst 5, two workers -------------

my $rk = spend_key('rate', params => { rate_limit => { rpm => 10, burst => 5 } });
my @socks;
for my $i (1 .. 64) {
    my $sock = $s->_connect;
    my $bytes = $s->_request_bytes(method => 'POST', target => $T, body => LavaTest::chat_body(),
                                   headers => [Authorization => "Bearer $rk->{key}", 'x-mock-usage' => $USAGE]);
    syswrite $sock, $bytes;
    push @socks, $sock;
}
my (%codes, %limited);
for my $sock (@socks) {
    my $buf = '';
    my $deadline = time + 30;
    while (time < $deadline) {
        last unless IO::Select->new($sock)->can_read($deadline - time);
        my $n = sysread $sock, $buf, 65536, length $buf;
        last unless $n;
    }
    close $sock;
    my ($status) = $buf =~ m{^HTTP/1\.1 (\d+)};
    $codes{$status // 'none'}++;
    if (($status // 0) == 429 && !%limited) {
        my @kv = $buf =~ /^([\w-]+):[ \t]*(.*?)\r$/mg;
        while (my ($name, $value) = splice @kv, 0, 2) {
            $limited{lc $name} = $value;
        }
        $limited{body} = $buf;
    }
}
is $codes{200}, 15, '64 concurrent requests, rpm 10 + burst 5: exactly 15 served';
is $codes{429}, 49, 'the other 49: 429';
like $limited{body}, qr/"code":"rate_limit_exceeded"/, 'rate_limit_exceeded';
like $limited{'retry-after'} // '', qr/^[1-6]$/, 'Retry-After: whole seconds until a token is back (6 s a token)';
is $limited{'x-ratelimit-limit-requests'}, 10, 'x-ratelimit-limit-requests: the rpm';
is $limited{'x-ratelimit-remaining-requests'}, 0, 'x-ratelimit-remaining-requests: 0';
like $limited{'x-ratelimit-reset-requests'} // '', qr/^\d+(ms|s)$/, 'x-ratelimit-reset-requests: a duration';
like $limited{'x-lava-request-id'} // '', qr/^req_/, 'and the request id';

# ---- spend_limit: $0.001, refused within 5 s of crossing ---------------------------

my $sk = spend_key('spend', params => { spend_limit => { amount => '0.001', cycle => 'monthly' } });
my ($crossing, $t_cross, $refusal);
for my $i (1 .. 20) {
    $r = call($sk->{key});
    if ($r->{status} == 200) {
        $crossing = $r;
        $t_cross = time;
        next;
    }
    $refusal = $r;
    last;
}
ok $refusal, 'a request over the spend limit is refused';
is $refusal->{status}, 402, 'status 402';
is code($refusal), 'spend_limit_exceeded', 'spend_limit_exceeded';
ok time - $t_cross < 5, 'within 5 s of the crossing request';
ok wait_for(15, sub { $s->wait_booked($crossing->{rid}) }), 'the crossing request is booked';
is $s->sql_value('SELECT sum(amount_nusd) FROM transfers WHERE request_id = ?', $crossing->{rid}),
   $COST, 'in full';
ok wait_for(10, sub {
    ($s->sql_value('SELECT current_spend FROM spend_keys WHERE spend_key_id = ?', $sk->{spend_key_id}) // 0)
        >= 0.001 }), 'current_spend is at or over the limit';
$r = call($sk->{key});
is code($r), 'spend_limit_exceeded', 'and it stays refused';

# ---- cycle rollover with the test clock --------------------------------------------

# Tomorrow for nginx (lava_test_clock_offset) and for the ledger (lava.test_now):
# the daily request limit counts from nothing again; a total one never resets.
my $tot = spend_key('total', params => { request_limit => { count => 1, cycle => 'total' } });
is call($tot->{key})->{status}, 200, 'total limit 1: the first passes';
is code(call($tot->{key})), 'request_limit_exceeded', 'the second is refused';
is code(call($rl->{key})), 'request_limit_exceeded', 'the daily key is still at its limit today';
my $tomorrow = strftime('%Y-%m-%d %H:%M:%S+00', gmtime(time + 86400));
$s->dbh->do("ALTER DATABASE lava SET lava.test_now = '$tomorrow'");
$s->stop_part('sidecar');
$s->start_part('sidecar');
$s->configure_nginx(http => ['lava_test_clock_offset 1d;']);
ok wait_for(10, sub { call($rl->{key})->{status} == 200 }), 'a day later: the daily limit counts again';
is code(call($tot->{key})), 'request_limit_exceeded', 'the total limit does not reset';
$s->dbh->do('ALTER DATABASE lava RESET lava.test_now');
$s->stop_part('sidecar');
$s->start_part('sidecar');
$s->configure_nginx(http => []);

# ---- pause, resume, rotate, revoke: within 5 s ------------------------------------

sub within5 {
    my ($key, $want) = @_;
    my $t0 = time;
    my $ok = wait_for(5, sub { my $c = call($key); ($want eq 'ok' ? $c->{status} == 200 : code($c) eq $want) });
    return $ok && time - $t0 <= 5;
}

my $pk = spend_key('lifecycle');
is call($pk->{key})->{status}, 200, 'a fresh key: served';
$s->sql_value('SELECT pause_spend_key(?)', $pk->{spend_key_id});
ok within5($pk->{key}, 'key_paused'), 'pause_spend_key: 401 key_paused within 5 s';
$r = call($pk->{key});
is $r->{status}, 401, 'key_paused is 401';
$ev = $s->wait_event($r->{rid}) && $s->event($r->{rid});
is $ev->{spend_key_id}, $pk->{spend_key_id}, 'its event names the key';

# a paused key stays paused across a reload and a restart with Redis down
system("kill -HUP \$(cat $s->{dir}/nginx/nginx.pid)");
sleep 1.5;
is code(call($pk->{key})), 'key_paused', 'after nginx -s reload: still paused';
$s->stop_part('redis');
$s->stop_part('nginx');
$s->start_part('nginx');
is code(call($pk->{key})), 'key_paused', 'after a restart with Redis down (lava_auth_file): still paused';
$s->start_part('redis');

$s->sql_value('SELECT resume_spend_key(?)', $pk->{spend_key_id});
ok within5($pk->{key}, 'ok'), 'resume_spend_key: served again within 5 s';

my $rot = $s->sql('SELECT * FROM rotate_spend_key(?)', $pk->{spend_key_id})->[0];
$s->register_secret($rot->{key}, 'spend key');
isnt $rot->{key}, $pk->{key}, 'rotate_spend_key: a new raw key';
is $rot->{spend_key_id}, $pk->{spend_key_id}, 'same id';
ok within5($pk->{key}, 'invalid_key'), 'the old key stops within 5 s (invalid_key)';
ok within5($rot->{key}, 'ok'), 'the new key works';

$s->sql_value('SELECT revoke_spend_key(?)', $pk->{spend_key_id});
ok within5($rot->{key}, 'key_revoked'), 'revoke_spend_key: 401 key_revoked within 5 s';
$s->stop_part('redis');
$s->stop_part('nginx');
$s->start_part('nginx');
is code(call($rot->{key})), 'key_revoked', 'revoked across a restart with Redis down';
$s->start_part('redis');

# ---- a request whose worker dies: booked worker_lost, still with the key ----------

my $lk = spend_key('worker lost');
my $master = (split ' ', LavaTest::slurp("$s->{dir}/nginx/nginx.pid"))[0];
my @workers = grep {
    my $st = eval { LavaTest::slurp("/proc/$_/stat") } // '';
    $st =~ /^\d+ \(.*\) (\S) (\d+) / && $2 == $master && $1 ne 'Z';
} map { m{/proc/(\d+)/stat} ? $1 : () } glob '/proc/[0-9]*/stat';
my $child = fork // die "fork: $!";
if ($child == 0) {
    eval { $s->stream(target => $T, body => LavaTest::chat_body(stream => 1), timeout => 20,
                      headers => [Authorization => "Bearer $lk->{key}", 'x-mock-usage' => $USAGE,
                                  'x-mock-chunks' => 10, 'x-mock-chunk-delay-ms' => 500]) };
    POSIX::_exit(0);
}
sleep 1.5;
kill 'KILL', @workers;
waitpid $child, 0;
ok wait_for(30, sub { $s->sql_value(q{SELECT count(*) FROM events WHERE spend_key_id = ? AND outcome = 'worker_lost'},
                                    $lk->{spend_key_id}) }),
   'a stream whose worker was killed is booked worker_lost with the key id';
ok wait_for(10, sub { $s->sql_value('SELECT count(*) FROM transfers WHERE spend_key_id = ?', $lk->{spend_key_id}) }),
   'and its ledger rows carry it';

# ---- expiry -----------------------------------------------------------------------

my $ek = spend_key('expiring', params => { expires_at => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 3600)) });
is call($ek->{key})->{status}, 200, 'a key expiring in an hour: served';
$s->configure_nginx(http => ['lava_test_clock_offset 2h;']);
is code(call($ek->{key})), 'key_expired', 'two hours later (test clock): 401 key_expired';
$s->configure_nginx(http => []);

# finish(), but for the kills of this test
my %killed = map { $_ => 1 } @workers;
my @bad = grep {
    /\[(alert|emerg)\]|exited on signal/
    && !(/worker process (\d+) exited on signal 9/ && $killed{$1})
    && !(/shared memory zone "\S+" was locked by (\d+)/ && $killed{$1})
} LavaTest::slurp_lines($s->error_log);
ok !@bad, 'no [alert], [emerg] or crash in error.log but the kills of this test'
    or diag join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)];
my @found = $s->check_secrets;
ok !@found, 'no secret written to the logs, Redis or Postgres' or diag join "\n", @found;
$s->down;
done_testing;
