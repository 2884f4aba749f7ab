# Key data travels Postgres -> sidecar -> Redis -> nginx shared memory:
# disabling a merchant or customer takes effect within 5 s without a reload,
# and known keys keep working while Redis or Postgres is away (and across a
# reload); what was metered meanwhile is booked when they are back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);

use LavaTest qw(wait_for);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $T = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $c2 = $s->sql_value('SELECT create_customer(?)', $m->{merchant});
$s->sql_value('SELECT fund_wallet(?, 10)', $c2);     # an empty wallet is blocked (402)
my $tok2 = $s->token(secret_key => $m->{secret}, customer_id => $c2, meter_slug => 'chat');
$s->wait_auth(qr/ \Q$c2\E active/) or die "customer $c2 never reached nginx\n";

sub call {
    my ($token) = @_;
    return $s->request(target => $T, body => LavaTest::chat_body(),
                       headers => [Authorization => "Bearer $token"], timeout => 10);
}

sub nginx_pid { (split ' ', LavaTest::slurp("$s->{dir}/pids/nginx"))[0] }

# Seconds until $pred holds for a fresh request, or undef after $secs.
sub time_until {
    my ($token, $pred, $secs) = @_;
    my $t0 = time;
    my $r = wait_for($secs, sub { my $r = call($token); $pred->($r) ? $r : undef });
    return $r ? (time - $t0, $r) : (undef, undef);
}

is call($m->{token})->{status}, 200, 'the customer works';
my $master = nginx_pid();

# Disable the merchant in psql: 401 within 5 s, no reload.
$s->sql_value('SELECT disable_merchant(?)', $m->{merchant});
my ($secs, $r) = time_until($m->{token}, sub { $_[0]{status} == 401 }, 8);
ok defined $secs && $secs <= 5, sprintf 'merchant disabled: 401 after %.2fs', $secs // -1;
is $r->{json}{error}{code}, 'merchant_disabled', 'code merchant_disabled' if $r;
is call($m->{secret})->{status}, 401, 'the bare secret key is refused too';

$s->sql_value('SELECT enable_merchant(?)', $m->{merchant});
($secs) = time_until($m->{token}, sub { $_[0]{status} == 200 }, 8);
ok defined $secs && $secs <= 5, sprintf 'merchant enabled again: 200 after %.2fs', $secs // -1;

# Disable one customer: only that customer is refused.
$s->sql_value('SELECT disable_customer(?)', $m->{customer});
($secs, $r) = time_until($m->{token}, sub { $_[0]{status} == 403 }, 8);
ok defined $secs && $secs <= 5, sprintf 'customer disabled: 403 after %.2fs', $secs // -1;
is $r->{json}{error}{code}, 'customer_disabled', 'code customer_disabled' if $r;
is call($tok2)->{status}, 200, 'another customer of the merchant still works';
$s->sql_value('SELECT enable_customer(?)', $m->{customer});
($secs) = time_until($m->{token}, sub { $_[0]{status} == 200 }, 8);
ok defined $secs && $secs <= 5, sprintf 'customer enabled again: 200 after %.2fs', $secs // -1;

# A rotated key: the old one stops, the new one works, within 5 s.
my $new_secret = $s->sql_value('SELECT rotate_merchant_key(?)', $m->{merchant});
($secs) = time_until($m->{secret}, sub { $_[0]{status} == 401 }, 8);
ok defined $secs && $secs <= 5, sprintf 'rotated key: the old one refused after %.2fs', $secs // -1;
is call($new_secret)->{status}, 200, 'rotated key: the new one works';
$m->{token} = $s->token(secret_key => $new_secret, customer_id => $m->{customer}, meter_slug => 'chat');
$tok2 = $s->token(secret_key => $new_secret, customer_id => $c2, meter_slug => 'chat');

is nginx_pid(), $master, 'nginx was not restarted';
ok !(grep { /signal 1 \(SIGHUP\)|reconfiguring/ } LavaTest::slurp_lines($s->error_log)), 'nginx was not reloaded';

# Redis away: known keys keep working, unknown ones are still refused, the
# events wait in nginx and are booked once Redis is back.
$s->stop_part('redis');
my @during;
for (1 .. 6) {
    my $r = call($_ % 2 ? $m->{token} : $tok2);
    is $r->{status}, 200, "Redis stopped: a known key works (request $_)";
    push @during, $r->{rid};
}
is call('lava_sk_' . ('1' x 64))->{status}, 401, 'Redis stopped: an unknown key is still refused';
$s->start_part('redis');
ok wait_for(30, sub {
    $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@during) == @during;
}), 'Redis back: every request made while it was away is booked';
is $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@during), scalar @during,
   'each exactly once';

# A reload while Redis is away keeps the loaded snapshot. (Events still
# queued in the old workers at that moment are lost until the disk spool
# exists, so none are queued here: the reload comes first.)
$s->stop_part('redis');
kill 'HUP', nginx_pid();
ok wait_for(10, sub { grep { /reconfiguring/ } LavaTest::slurp_lines($s->error_log) }), 'nginx reloaded';
sleep 1.5;     # the old workers finish; the new ones serve
my @after;
for (1 .. 4) {
    my $r = call($_ % 2 ? $m->{token} : $tok2);
    is $r->{status}, 200, "after a reload with Redis away: a known key works (request $_)";
    push @after, $r->{rid};
}
$s->start_part('redis');
ok wait_for(30, sub {
    $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@after) == @after;
}), 'Redis back: the requests made after the reload are booked';

# A restart (not a reload) while Redis is away: the new nginx's shared memory
# is empty, and the snapshot kept on disk (lava_auth_file) is what it knows.
{
    my $file = "$s->{dir}/nginx/auth.snapshot";
    ok -s $file, 'the snapshot is kept on disk';
    is((stat $file)[2] & 0777, 0600, 'mode 0600');
    my $text = LavaTest::slurp($file);
    like $text, qr/^c \S+ \Q$c2\E (?:active|blocked)$/m, 'with the current customers';
    unlike $text, qr/\Q$m->{secret}\E/, 'and no secret key';
    $s->stop_part('redis');
    $s->stop_part('nginx');
    $s->start_part('nginx');
    ok wait_for(10, sub { grep { /snapshot taken from/ } LavaTest::slurp_lines($s->error_log) }),
       'the restarted nginx loaded the snapshot from disk';
    my @restart;
    for (1 .. 4) {
        my $r = call($_ % 2 ? $m->{token} : $tok2);
        is $r->{status}, 200, "after a restart with Redis away: a known key works (request $_)";
        push @restart, $r->{rid};
    }
    is call('lava_sk_' . ('1' x 64))->{status}, 401, 'after a restart with Redis away: an unknown key is refused';
    $s->start_part('redis');
    ok wait_for(30, sub {
        $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@restart) == @restart;
    }), 'Redis back: the requests made after the restart are booked';
}

# Postgres away: keys still work (nothing on the request path needs it).
$s->stop_part('postgres');
my @pg;
for (1 .. 3) {
    my $r = call($m->{token});
    is $r->{status}, 200, "Postgres stopped: a known key works (request $_)";
    push @pg, $r->{rid};
}
ok $s->wait_event($_), 'Postgres stopped: the event is in Redis' for @pg;
$s->start_part('postgres');
ok wait_for(30, sub { $s->sql_value('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@pg) == @pg }),
   'Postgres back: the requests are booked';

$s->finish;
done_testing;
