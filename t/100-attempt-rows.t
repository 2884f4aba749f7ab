# The ledger's side of fallbacks (docs/events.md `attempt`, `attempt_of`;
# docs/endpoints.md "Fallbacks"): every attempt of a request is an event of
# its own, the failed ones under request ids of their own that name the
# client's request id in attempt_of, the one that answered under the
# client's id. Each is priced like any event (a failed attempt the provider
# reported usage for is paid to the nano-USD, one without usage costs
# nothing), the view request_attempts lists them under the client's id, a
# spend key counts the client's request once, and entries that break the
# contract are dead-lettered, not booked. Entries are written to the stream
# here, from a real request's event, so that the sidecar is checked on its
# own whatever the module sends.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(wait_for);

my $OPENAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';

my $s = LavaTest->start;
sub sql1 { $s->sql_value(@_) }

# per token in nusd: input 1250, output 10000
sql1(q{SELECT add_rate('openai', 'tm-att', '2020-01-01', input => 1.25, output => 10)});
my $m = $s->setup_merchant(name => 'Attempts', meter_kind => 'percentage', meter_amount => 20,
                           funds => 100);
my $k = $s->sql(q{SELECT * FROM create_spend_key(?, ?, ?, ?)},
                $m->{merchant}, 'fallback users', $m->{customer}, 'chat')->[0];
$s->register_secret($k->{key}, 'spend key');
wait_for(15, sub {
    my $r = $s->request(target => $OPENAI, body => '{}',
                        headers => [Authorization => "Bearer $k->{key}",
                                    'x-lava-metadata' => '[]']);
    ($r->{json}{error}{code} // '') eq 'invalid_metadata';
}) or BAIL_OUT('the gateway never accepted the spend key');

# A real request with the spend key: its event is the template.
my $r = $s->request(target => $OPENAI,
                    body => LavaTest::chat_body(model => 'tm-att'),
                    headers => [Authorization => "Bearer $k->{key}",
                                'x-mock-usage' => 'prompt=10,completion=1']);
is $r->{status}, 200, 'a request with the spend key is served';
my $tid = $r->{headers}{'x-lava-request-id'};
ok $s->wait_booked($tid), 'and booked';
my %tpl = %{ $s->event($tid) };
delete $tpl{_id};
is $tpl{attempt}, undef, 'a request without fallbacks has no attempt field';
is sql1('SELECT attempt FROM events WHERE request_id = ?', $tid), undef,
   'nor an attempt in the ledger';

my @C = ('0' .. '9', 'A' .. 'H', 'J', 'K', 'M', 'N', 'P' .. 'T', 'V' .. 'Z');
sub new_id { 'req_' . join '', map { $C[int rand 32] } 1 .. 26 }

my @usage = qw(input_tokens cached_input_tokens cache_write_tokens cache_write_1h_tokens
               output_tokens reasoning_tokens usage_raw);

# An entry from the template: %o replaces fields, undef removes one.
sub entry {
    my (%o) = @_;
    my %f = %tpl;
    delete @f{@usage};
    $f{usage_source} = 'none';
    @f{keys %o} = values %o;
    defined $f{$_} or delete $f{$_} for keys %f;
    return $s->redis('xadd', 'lava:usage', '*', %f);
}

sub requests_counted {
    sql1('SELECT coalesce(sum(requests), 0) FROM spend_key_usage WHERE spend_key_id = ?',
         $k->{spend_key_id});
}
sub spent {
    sql1('SELECT coalesce(sum(spend_nusd), 0) FROM spend_key_usage WHERE spend_key_id = ?',
         $k->{spend_key_id});
}
my ($req0, $spent0) = (requests_counted(), spent());

# --- three attempts of one client request, and the same usage without ------
my ($client, $a1, $a2, $plain) = (new_id(), new_id(), new_id(), new_id());
entry(request_id => $a1, attempt => 1, attempt_of => $client, status => 503,
      model => 'tm-att');
entry(request_id => $a2, attempt => 2, attempt_of => $client, status => 500,
      usage_source => 'reported', input_tokens => 1000, output_tokens => 10);
entry(request_id => $client, attempt => 3, status => 200,
      usage_source => 'reported', input_tokens => 2000, output_tokens => 100);
entry(request_id => $plain, status => 500,
      usage_source => 'reported', input_tokens => 1000, output_tokens => 10);

ok $s->wait_booked($_), "$_ booked" for $a1, $a2, $client, $plain;

my $rows = $s->sql(q{SELECT * FROM request_attempts WHERE client_request_id = ?
                     ORDER BY attempt}, $client);
is_deeply [map { [$_->{attempt}, $_->{request_id}, $_->{answered} ? 1 : 0, $_->{status}] } @$rows],
          [[1, $a1, 0, 503], [2, $a2, 0, 500], [3, $client, 1, 200]],
          'request_attempts: the three attempts under the client\'s request id, the last answered';
is $rows->[0]{cost_state}, 'zero', 'a failed attempt without usage costs nothing';
is sql1('SELECT count(*) FROM transfers WHERE request_id = ?', $a1), 0,
   'and moves no money';

# a failed attempt with usage is priced exactly like the same usage without fallbacks
my $tot = sub { sql1('SELECT total_nusd FROM request_costs WHERE request_id = ?', $_[0]) };
ok $tot->($a2) > 0, 'a failed attempt the provider reported usage for is paid';
is $tot->($a2), $tot->($plain), 'to the nano-USD what the same usage costs without fallbacks';
is sql1('SELECT sum(amount_nusd) FROM transfers WHERE request_id = ?', $a2), $tot->($a2),
   'its transfers move its cost';
# base 2000 * 1250 + 100 * 10000 = 3,500,000; the fee and service charge as booked
is sql1('SELECT base_cost_nusd FROM events WHERE request_id = ?', $client), 3_500_000,
   'the answering attempt is priced from its own usage';

ok wait_for(10, sub { requests_counted() == $req0 + 2 }),
   'the spend key counts the client\'s request once (and the plain request once)'
    or diag('counted ' . (requests_counted() - $req0));
is spent() - $spent0, $tot->($a1) + $tot->($a2) + $tot->($client) + $tot->($plain),
   'and every attempt\'s cost as spend';

# --- entries that break the contract: dead letters, nothing booked ----------
my %bad = (
    'attempt 0'                  => [attempt => 0],
    'attempt 101'                => [attempt => 101],
    'attempt_of without attempt' => [attempt_of => $client],
    'attempt_of its own id'      => [attempt => 1, attempt_of => 'SELF'],
    'attempt_of not a request id' => [attempt => 1, attempt_of => 'spk_0123'],
);
my %ids;
for my $name (sort keys %bad) {
    my $id = new_id();
    my @o = @{ $bad{$name} };
    $_ eq 'SELF' and $_ = $id for @o;
    entry(request_id => $id, @o);
    $ids{$name} = $id;
}
my $good = new_id();
entry(request_id => $good, attempt => 1);
ok $s->wait_booked($good), 'an entry after the bad ones is booked';
for my $name (sort keys %ids) {
    ok wait_for(10, sub { sql1('SELECT count(*) FROM dead_letters WHERE request_id = ?',
                               $ids{$name}) }), "$name: dead-lettered";
    is sql1('SELECT count(*) FROM events WHERE request_id = ?', $ids{$name}), 0,
       "$name: not booked";
}

ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };

done_testing;
