package LavaBulk;

# The bulk ledger check of t/43-ledger-bulk.t, shared with
# t/89-scale-out.t: a mixed population of merchants, meters, customers and
# rates; thousands of HTTP requests planned and sent through one or more
# gateways; stream entries for the units the mock cannot report; then the
# ledger checked in SQL against an independent computation done here
# (exact integers, Math::BigInt, this file's own reading of
# docs/pricing.md). See t/43-ledger-bulk.t for what is checked.
#
#   LavaBulk::init($s);                  # a LavaTest stack (Postgres, its gateway)
#   LavaBulk::setup();                   # rates, merchants, meters, customers
#   my @http = LavaBulk::plan_http($n);
#   my @kids = LavaBulk::send_http(\@http, $workers, sub { $client_for_index });
#   my @direct = LavaBulk::make_direct($n);    # the caller XADDs them
#   my %res = LavaBulk::collect(\@kids, $workers);
#   LavaBulk::check(\@http, \%res, \@direct);
#
# One population per process (file-scoped state): a test file uses it once.
use strict;
use warnings;

use List::Util qw(sum0);
use Math::BigInt;
use POSIX ();
use Test::More;
use Time::HiRes qw(time);

use LavaTest qw(wait_for json_decode json_encode);

my $s;
my $t0;
sub init { ($s) = @_; $t0 = time }
sub sql1 { $s->sql_value(@_) }
sub B { Math::BigInt->new($_[0]) }
sub rdiv { my ($n, $d) = (B($_[0]), B($_[1])); (($n * 2 + $d) / ($d * 2))->bstr }   # half up

# --- rates: USD per unit with 7 to 9 decimals, so rounding happens --------
# $r{provider}{model} = [ { over => prompt_tokens_over, prices (nusd) } ... ]
my %RATE;
sub rate {
    my ($p, $m, %u) = @_;
    my $over = delete $u{over} // 0;
    my $id = sql1('SELECT add_rate(?, ?, ?, ' . join(', ', map { "$_ => ?" } sort keys %u)
                  . ', prompt_tokens_over => ?)', $p, $m, '2020-01-01', map({ $u{$_} } sort keys %u), $over);
    my %n = map { $_ => sql1('SELECT usd_to_nusd(?)', $u{$_}) } keys %u;
    push @{ $RATE{$p}{$m} }, { id => $id, over => $over, %n };
    @{ $RATE{$p}{$m} } = sort { $a->{over} <=> $b->{over} } @{ $RATE{$p}{$m} };
}

my (%METER, @CUST, %CUSTOMER_OF, %FUNDS);
sub meter {
    my ($mer, $slug, $kind, $amount, $basis, $unit, @tiers) = @_;
    sql1('SELECT create_meter(?, ?, ?, ?, ?, ?)', $mer, $slug, $kind, $amount, $basis, $unit);
    sql1('SELECT add_meter_tier(?, ?, ?, ?)', $mer, $slug, @$_) for @tiers;
    $METER{$mer}{$slug} = {
        kind => $kind, unit => $unit, basis => $basis,
        tiers => [ map { [ sql1('SELECT meter_start_units(?, ?)', $unit, $_->[0]),
                           sql1('SELECT meter_rate(?, ?)', $kind, $_->[1]) ] } [0, $amount], @tiers ],
    };
}


my (@M, $m1, $m2);

# $n requests planned (plan_http), in order.
sub plan_all { map { plan_http() } 1 .. $_[0] }

# The merchants of the population (LavaTest::setup_merchant's hashes), and
# its customers as [merchant hash, customer id].
sub merchants { @M }
sub customers { @CUST }

# Rates, merchants, meters, customers; known to the gateway on return.
sub setup {
    rate('openai', 'bulk-a', input => 0.370123456, cached_input => 0.092530864, output => 1.490000007);
    rate('openai', 'bulk-b', input => 0.530000011, output => 2.110000003);
    rate('openai', 'bulk-b', input => 1.070000001, output => 3.170000009, over => 3000);
    rate('anthropic', 'bulk-claude', input => 3.300000001, cache_write => 4.125000003,
         cache_write_1h => 6.600000007, cached_input => 0.330000001, output => 16.500000001);
    rate('openai', 'bulk-audio', input => 2.300000001, output => 9.100000001, audio_input => 41.700000003,
         audio_output => 83.300000007, per_image => 0.039100001, per_request => 0.000700003);
    rate('elevenlabs', 'bulk-tts', per_1m_characters => 97.300000001, per_request => 0.000000003);
    rate('groq', 'bulk-stt', per_hour => 0.217000001);
    sql1(q{SELECT set_meter_only_provider('mistral')});

    for my $i (1 .. 2) {
        my $m = $s->setup_merchant(name => "Bulk $i", meter_kind => 'percentage', meter_amount => 17.5,
                                   funds => 1000);
        $METER{$m->{merchant}}{chat} = { kind => 'percentage', unit => 'tokens_1m', basis => 'input_output',
                                         tiers => [[0, 175_000]] };
        push @M, $m;
    }
    ($m1, $m2) = map { $_->{merchant} } @M;
    meter($m1, 'tier', 'fixed', 2.130000007, 'input_output', 'tokens_1m', [5000, 1.070000003], [50000, 0.310000009]);
    meter($m1, 'out', 'fixed', 0.770000001, 'output', 'tokens_1m');
    meter($m1, 'call', 'fixed', 0.003100007, 'input_output', 'requests');
    meter($m1, 'chars', 'fixed', 0.510000003, 'input_output', 'characters_1m');
    meter($m1, 'mins', 'fixed', 0.011300003, 'input_output', 'minutes', [10, 0.005700001]);
    meter($m2, 'ptier', 'percentage', 3.25, 'input_output', 'tokens_1m', [20000, 1.5], [200000, 0.75]);
    meter($m2, 'pcall', 'percentage', 12.5, 'input_output', 'requests', [3, 6.25]);

    for my $m (@M) {
        push @CUST, [$m, $m->{customer}];
        $CUSTOMER_OF{$m->{customer}} = $m->{merchant};
        $FUNDS{$m->{customer}} = 1_000_000_000_000;
        for my $j (1 .. 2) {
            my $c = sql1('SELECT create_customer(?)', $m->{merchant});
            my $funds = $j == 2 && $m == $M[1] ? '0.05' : '1000';
            sql1('SELECT set_overdraft(?, ?)', $c, 'allow') if $funds eq '0.05';   # goes negative, still served
            sql1('SELECT fund_wallet(?, ?)', $c, $funds);
            $FUNDS{$c} = sql1('SELECT usd_to_nusd(?)', $funds);
            push @CUST, [$m, $c];
            $CUSTOMER_OF{$c} = $m->{merchant};
        }
    }
    for my $c (map { $_->[1] } @CUST) {
        $s->wait_auth(qr/ \Q$c\E active/) or BAIL_OUT("customer $c never reached nginx");
    }
    $s->wait_auth(qr/^t \Q$m2\E pcall$/m) or BAIL_OUT('meters never reached nginx');
}

# --- the HTTP mix ------------------------------------------------------------
my $OPENAI = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1';
my $ANTHROPIC = '/v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages';
my $MISTRAL = '/v1/forward/chat/completions?u=https%3A%2F%2Fapi.mistral.ai%2Fv1';

sub pick { $_[int rand @_] }

sub plan_http {
    my %q;
    my ($m, $c) = @{ pick(@CUST) };
    my $route = pick(('openai') x 5, ('anthropic') x 3, 'mistral');
    $q{provider} = $route;
    $q{stream} = rand() < 0.4 ? 1 : 0;
    my $prompt = 1 + int rand 6000;
    my $completion = 1 + int rand 2500;
    if ($route eq 'openai') {
        $q{model} = pick('bulk-a', 'bulk-a', 'bulk-b', 'bulk-b', 'bulk-unpriced');
        my $cached = rand() < 0.5 ? int rand $prompt : 0;
        my $reasoning = rand() < 0.3 ? int rand $completion : 0;
        $q{usage} = "prompt=$prompt,cached=$cached,completion=$completion,reasoning=$reasoning";
        $q{buckets} = { input_tokens => $prompt - $cached, cached_input_tokens => $cached,
                        output_tokens => $completion - $reasoning, reasoning_tokens => $reasoning };
    } elsif ($route eq 'anthropic') {
        $q{model} = 'bulk-claude';
        my $cached = rand() < 0.5 ? int rand 20000 : 0;
        my $cw = rand() < 0.3 ? int rand 5000 : 0;
        $q{usage} = "prompt=$prompt,cached=$cached,cache_write=$cw,completion=$completion";
        $q{buckets} = { input_tokens => $prompt, cached_input_tokens => $cached,
                        cache_write_tokens => $cw, output_tokens => $completion };
    } else {
        $q{model} = 'mistral-small';
        $q{usage} = "prompt=$prompt,cached=0,completion=$completion";
        $q{buckets} = { input_tokens => $prompt, output_tokens => $completion };
        $q{stream} = 0;
    }
    my $who = rand;
    my $meters = $m->{merchant} eq $m1 ? ['chat', 'tier', 'tier', 'out', 'call'] : ['chat', 'ptier', 'pcall'];
    $q{meter} = pick(@$meters);
    $q{meter} = pick('tier', 'call') if $route eq 'mistral' && $m->{merchant} eq $m1;
    $q{meter} = 'pcall' if $route eq 'mistral' && $m->{merchant} eq $m2;   # (a percentage: unpriced)
    if ($who < 0.75) {
        $q{payer} = 'customer';
        $q{token} = $s->token(secret_key => $m->{secret}, customer_id => $c, meter_slug => $q{meter});
        $q{customer} = $c;
    } elsif ($who < 0.83) {
        $q{payer} = 'merchant';
        $q{token} = $m->{secret};
        delete $q{meter};
    } elsif ($who < 0.89) {
        $q{payer} = 'merchant';
        $q{customer} = $c;
        $q{token} = $s->token(secret_key => $m->{secret}, customer_id => $c, meter_slug => $q{meter},
                              disable_billing => JSON::PP::true);
    } elsif ($who < 0.93) {
        $q{payer} = 'none';
        $q{token} = 'lava_sk_' . ('0' x 64);
        $q{status} = 401;
    } else {
        $q{payer} = 'customer';
        $q{customer} = $c;
        $q{token} = $s->token(secret_key => $m->{secret}, customer_id => $c, meter_slug => $q{meter});
        $q{error} = 1;
        $q{status} = 500;
        $q{stream} = 0;
    }
    $q{merchant} = $m->{merchant};
    $q{byok} = $q{payer} ne 'none' && rand() < 0.1 ? 1 : 0;
    return \%q;
}


sub send_one {
    my ($q, $client) = @_;
    my $target = $q->{provider} eq 'openai' ? $OPENAI : $q->{provider} eq 'anthropic' ? $ANTHROPIC : $MISTRAL;
    my $body = $q->{provider} eq 'anthropic'
        ? { model => $q->{model}, max_tokens => 64, messages => [{ role => 'user', content => 'Hi' }],
            ($q->{stream} ? (stream => JSON::PP::true) : ()) }
        : LavaTest::chat_body(model => $q->{model}, stream => $q->{stream});
    my @h = (Authorization => "Bearer $q->{token}", 'x-mock-usage' => $q->{usage},
             'x-mock-chunk-delay-ms' => 0, 'x-mock-chunks' => 3,
             $q->{error} ? ('x-mock-status' => 500) : (),
             $q->{byok} ? ('X-Provider-API-Key' => 'sk-user-own-key') : ());
    my $r = eval { $client->request(target => $target, body => $body, headers => \@h, timeout => 30) };
    return { status => $r ? $r->{status} : 0, rid => $r ? $r->{rid} // '' : '', complete => $r ? $r->{complete} : 0 };
}

# Sends the planned requests from $workers processes; request $i goes to
# the gateway $client_of->($i) (a LavaTest stack or LavaTest->client). The
# results are read by collect().
sub send_http {
    my ($http, $workers, $client_of) = @_;
    my @kids;
    for my $w (0 .. $workers - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$s->{dir}/bulk.$w" or POSIX::_exit(1);
            for (my $i = $w; $i < @$http; $i += $workers) {
                print $out json_encode({ i => $i, %{ send_one($http->[$i], $client_of->($i)) } }), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    return @kids;
}

sub collect {
    my ($kids, $workers) = @_;
    waitpid $_, 0 for @$kids;
    my %res;
    for my $w (0 .. $workers - 1) {
        for (LavaTest::slurp_lines("$s->{dir}/bulk.$w")) {
            my $r = json_decode($_) or next;
            $res{ $r->{i} } = $r;
        }
    }
    return %res;
}

# --- stream entries for the units the mock cannot report, meanwhile -------
my @CROCK = split //, '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
my %seen_rid;
sub new_rid {
    my $ms = int(time * 1000);
    my $t = '';
    for (1 .. 10) { $t = $CROCK[$ms % 32] . $t; $ms = int($ms / 32) }
    my $rid;
    do { $rid = 'req_' . $t . join('', map { $CROCK[int rand 32] } 1 .. 16) } while $seen_rid{$rid}++;
    return $rid;
}


# Events of the units the mock cannot report, as the module writes them
# (docs/events.md), for the caller to XADD.
sub make_direct {
    my ($n) = @_;
    my @DIRECT;
    for (1 .. $n) {
        my ($m, $c) = @{ pick(@CUST) };
        my $kind = pick('tts', 'stt', 'audio', 'claude1h');
        my %e = (v => 1, request_id => new_rid(), ts_ms => int(time * 1000), duration_ms => 1 + int rand 900,
                 merchant_id => $m->{merchant}, customer_id => $c, payer => 'customer', key_source => 'managed',
                 method => 'POST', status => 200, outcome => 'complete', stream => 0,
                 usage_source => 'reported', requests => 1);
        my $meters;
        if ($kind eq 'tts') {
            @e{qw(provider host endpoint model characters)} =
                ('elevenlabs', 'api.elevenlabs.io', '/v1/text-to-speech/x', 'bulk-tts', 1 + int rand 40000);
            $meters = $m->{merchant} eq $m1 ? ['chars', 'call', 'chat'] : ['chat', 'pcall'];
        } elsif ($kind eq 'stt') {
            @e{qw(provider host endpoint model usage_duration_ms)} =
                ('groq', 'api.groq.com', '/openai/v1/audio/transcriptions', 'bulk-stt', 1 + int rand 400000);
            $meters = $m->{merchant} eq $m1 ? ['mins', 'mins', 'call'] : ['pcall', 'chat'];
        } elsif ($kind eq 'audio') {
            @e{qw(provider host endpoint model)} = ('openai', 'api.openai.com', '/v1/chat/completions', 'bulk-audio');
            @e{qw(input_tokens audio_input_tokens output_tokens audio_output_tokens images)} =
                (int rand 3000, int rand 2000, int rand 1000, int rand 1500, rand() < 0.3 ? 1 + int rand 3 : 0);
            $e{input_tokens}++;
            $meters = $m->{merchant} eq $m1 ? ['chat', 'tier', 'out'] : ['ptier', 'chat'];
        } else {
            @e{qw(provider host endpoint model)} = ('anthropic', 'api.anthropic.com', '/v1/messages', 'bulk-claude');
            @e{qw(input_tokens cached_input_tokens cache_write_tokens cache_write_1h_tokens output_tokens)} =
                (1 + int rand 4000, int rand 30000, int rand 3000, int rand 6000, 1 + int rand 2000);
            $meters = $m->{merchant} eq $m1 ? ['chat', 'tier'] : ['ptier'];
        }
        $e{meter} = pick(@$meters);
        $e{stream} = 0;
        push @DIRECT, \%e;
    }
    return @DIRECT;
}

# --- the independent computation ---------------------------------------------
sub prompt_of { my ($e) = @_; sum0 map { $e->{$_} } qw(input_tokens cached_input_tokens cache_write_tokens cache_write_1h_tokens audio_input_tokens) }

sub rate_for {
    my ($e) = @_;
    my $rows = $RATE{ $e->{provider} // '' }{ $e->{model} // '' } or return undef;
    my $best;
    for (@$rows) { $best = $_ if $_->{over} == 0 || prompt_of($e) > $_->{over} }
    return $best;
}

# [base, fee, svc, units] or undef when unpriced; zero gives [0,0,0,undef]
sub expect {
    my ($e, $before) = @_;
    my $requests = $e->{status} >= 400 ? 0 : $e->{requests};
    return [0, 0, 0] if $e->{outcome} eq 'refused' || $e->{payer} eq 'none';
    my $tokens = sum0 map { $e->{$_} } qw(input_tokens cached_input_tokens cache_write_tokens
        cache_write_1h_tokens audio_input_tokens output_tokens reasoning_tokens audio_output_tokens);
    my $measured = $tokens || $e->{characters} || $e->{usage_duration_ms} || $e->{images};
    my $meter_only = ($e->{provider} // '') eq 'mistral';
    my $rate = $meter_only ? undef : rate_for($e);
    my $meter = $e->{meter_slug} ? $METER{ $e->{merchant_id} }{ $e->{meter_slug} } : undef;
    if (!$measured) {
        my $per_req = $requests && ((!$meter_only && $rate && ($rate->{per_request} // 0) > 0)
                                    || ($e->{payer} eq 'customer' && $meter && $meter->{unit} eq 'requests'));
        return [0, 0, 0] unless $per_req;
    }
    my $base = B(0);
    if ($meter_only) {
        return [0, 0, 0] if $e->{payer} ne 'customer' || !$meter;
    } else {
        return undef unless $rate;
        my $r = $rate;
        my %p = (input_tokens => $r->{input}, cached_input_tokens => $r->{cached_input} // $r->{input},
                 cache_write_tokens => $r->{cache_write} // $r->{input},
                 cache_write_1h_tokens => $r->{cache_write_1h} // $r->{cache_write} // $r->{input},
                 output_tokens => $r->{output}, reasoning_tokens => $r->{reasoning} // $r->{output},
                 audio_input_tokens => $r->{audio_input}, audio_output_tokens => $r->{audio_output},
                 characters => $r->{per_1m_characters});
        my $sum = B(0);
        for my $k (keys %p) {
            next unless $e->{$k};
            return undef unless defined $p{$k};
            $sum += B($e->{$k}) * $p{$k} * 18;
        }
        if ($e->{usage_duration_ms}) { return undef unless defined $r->{per_hour}; $sum += B($e->{usage_duration_ms}) * $r->{per_hour} * 5 }
        if ($e->{images}) { return undef unless defined $r->{per_image}; $sum += B($e->{images}) * $r->{per_image} * 18_000_000 }
        $sum += B($requests) * ($r->{per_request} // 0) * 18_000_000;
        $base = B(rdiv($sum, 18_000_000));
    }
    my ($fee, $units) = (B(0), undef);
    if ($e->{payer} eq 'customer' && $e->{meter_slug}) {
        return undef unless $meter;
        return undef if $meter_only && $meter->{kind} eq 'percentage';
        $units = $meter->{unit} eq 'characters_1m' ? $e->{characters}
               : $meter->{unit} eq 'minutes' ? $e->{usage_duration_ms}
               : $meter->{unit} eq 'requests' ? $requests
               : $meter->{basis} eq 'output' ? $e->{output_tokens} + $e->{reasoning_tokens} + $e->{audio_output_tokens}
               : $tokens;
        my @t = @{ $meter->{tiers} };
        my ($acc, $at) = (B(0), $t[0][1]);
        for my $i (0 .. $#t) {
            $at = $t[$i][1] if $t[$i][0] <= $before;
            my $lo = $before > $t[$i][0] ? $before : $t[$i][0];
            my $hi = $before + $units;
            $hi = $t[$i + 1][0] if $i < $#t && $t[$i + 1][0] < $hi;
            $acc += B($hi - $lo) * $t[$i][1] if $hi > $lo;
        }
        if ($meter->{kind} eq 'fixed') {
            my $div = $meter->{unit} eq 'minutes' ? 60_000 : $meter->{unit} eq 'requests' ? 1 : 1_000_000;
            $fee = B(rdiv($acc, $div));
        } elsif ($units == 0) {
            $fee = B(rdiv($base * $at, 1_000_000));
        } else {
            $fee = B(rdiv($base * $acc, B($units) * 1_000_000));
        }
    }
    my $svc = $e->{payer} eq 'customer' ? B(rdiv($fee * 19_000, 1_000_000)) : B(0);
    return [$base->bstr, $fee->bstr, $svc->bstr, $units];
}


# Everything t/43 checks about the ledger once the requests were sent;
# returns the request ids.
sub check {
    my ($HTTP, $resref, $DIRECT) = @_;
    my @HTTP = @$HTTP;
    my @DIRECT = @$DIRECT;
    my %res = %$resref;
    my $N_HTTP = scalar @HTTP;

    is scalar(keys %res), $N_HTTP, "$N_HTTP requests answered";
    my @wrong_status = grep { ($res{$_}{status} // 0) != ($HTTP[$_]{status} // 200) } 0 .. $#HTTP;
    is scalar(@wrong_status), 0, 'every request got the status its kind calls for'
        or diag join "\n", map { "$HTTP[$_]{provider} $HTTP[$_]{model} stream=$HTTP[$_]{stream} payer=$HTTP[$_]{payer}: "
                                 . "$res{$_}{status}" } @wrong_status[0 .. ($#wrong_status < 9 ? $#wrong_status : 9)];
    for my $i (0 .. $#HTTP) { $HTTP[$i]{rid} = $res{$i}{rid} }
    my @rids = ((map { $_->{rid} } @HTTP), (map { $_->{request_id} } @DIRECT));
    is scalar(grep { !$_ } @rids), 0, 'every request has a request id';

    ok wait_for(90, sub { sql1('SELECT count(*) FROM events WHERE request_id = ANY(?)', \@rids) == @rids }),
       'every request booked';
    diag sprintf '%d requests sent and booked in %.1f s', scalar @rids, time - $t0;

    # Unpriced until its rate exists; settled now.
    my $unpriced = sql1(q{SELECT count(*) FROM unpriced_requests WHERE model = 'bulk-unpriced'});
    ok $unpriced > 0, "$unpriced requests of a model without a rate are unpriced";
    rate('openai', 'bulk-unpriced', input => 0.810000001, output => 2.430000003);
    my $marked = $s->sql('SELECT request_id FROM reprice_unpriced()');
    my @marked = map { $_->{request_id} } @$marked;
    ok @marked >= $unpriced, 'reprice_unpriced() marked every unpriced request (' . scalar(@marked) . ')';
    ok wait_for(60, sub { sql1(q{SELECT count(*) FROM reprice_report WHERE result = 'waiting'}) == 0 }),
       'the sidecars priced every marked request';
    my $settled = $s->sql('SELECT result, count(*) AS n FROM reprice_report WHERE request_id = ANY(?) GROUP BY result',
                          \@marked);
    my %by = map { $_->{result} => $_->{n} } @$settled;
    is $by{settled}, $unpriced, 're-pricing settled all of them';
    is sum0(values %by), scalar(@marked), 'each marked request has one result';
    is_deeply [map { $_->{note} } @{ $s->sql(q{SELECT DISTINCT note FROM reprice_report WHERE result = 'unpriced'}) }],
              ['a percentage meter has no base cost to work on for a provider billed on the meter alone'],
              'the ones left unpriced are reported with the reason';
    my $left = $s->sql('SELECT price_note, count(*) AS n FROM unpriced_requests GROUP BY 1');
    is_deeply [map { $_->{price_note} } @$left],
              ['a percentage meter has no base cost to work on for a provider billed on the meter alone'],
              'still unpriced: only percentage meters on the meter-only provider';

    # --- the independent computation ---------------------------------------------
    my $rows = $s->sql(q{
        SELECT e.*, c.cost_state, c.rate_id AS c_rate, c.base_cost_nusd AS c_base, c.fee_nusd AS c_fee,
               c.service_charge_nusd AS c_svc, c.fee_units AS c_units, c.fee_units_before AS c_before,
               coalesce((SELECT sum(amount_nusd) FROM transfers t WHERE t.request_id = e.request_id), 0) AS moved,
               coalesce((SELECT string_agg(DISTINCT d.key, ',') FROM transfers t JOIN accounts d
                          ON d.id = t.debit_account WHERE t.request_id = e.request_id), '') AS debited
          FROM events e JOIN request_costs c USING (request_id)
         WHERE e.request_id = ANY(?)}, \@rids);
    my %row = map { $_->{request_id} => $_ } @$rows;

    # The usage the tap booked is what the mock reported.
    my $bucket_bad = 0;
    for my $q (grep { !$_->{status} } @HTTP) {
        my $r = $row{ $q->{rid} } or next;
        for my $k (keys %{ $q->{buckets} }) {
            next if $r->{$k} == $q->{buckets}{$k};
            diag "$q->{provider} $q->{model} stream=$q->{stream}: $k $r->{$k}, sent $q->{buckets}{$k}"
                if $bucket_bad++ < 10;
        }
    }
    is $bucket_bad, 0, 'the booked usage buckets are the ones the provider reported';

    # Graduated counts: each (merchant, meter, customer) chain starts at 0 and
    # each request starts where the one before it ended, in booking order.
    my %chain;
    for my $r (values %row) {
        next unless defined $r->{c_before};
        push @{ $chain{"$r->{merchant_id}/$r->{meter_slug}/$r->{customer_id}"} }, $r;
    }
    my ($chain_bad, $pairs) = (0, 0);
    for my $list (values %chain) {
        my $n = 0;
        $pairs++;
        for my $r (sort { $a->{c_before} <=> $b->{c_before} || $a->{c_units} <=> $b->{c_units} } @$list) {
            $chain_bad++ if $r->{c_before} != $n;
            $n += $r->{c_units};
        }
        my $k = $list->[0];
        my $stored = sql1('SELECT units FROM meter_usage WHERE merchant_id = ? AND slug = ? AND customer_id = ?',
                          $k->{merchant_id}, $k->{meter_slug}, $k->{customer_id});
        $chain_bad++ if $stored != $n;
    }
    is $chain_bad, 0, "graduated counts chain without gaps in $pairs (meter, customer) pairs and equal meter_usage";

    # Every request: what it cost, what moved, from whom.
    my (%want_acct, %want_wallet, $n_priced, $n_zero, $n_unpriced);
    my @cost_bad;
    my ($move_bad, $debit_bad, $rate_bad) = (0, 0, 0);
    for my $rid (@rids) {
        my $e = $row{$rid} or do { push @cost_bad, "$rid missing"; next };
        my $x = expect($e, $e->{c_before} // 0);
        if (!defined $x) {
            $n_unpriced++;
            push @cost_bad, "$rid: expected unpriced, is $e->{cost_state}" unless $e->{cost_state} eq 'unpriced';
            $move_bad++ if $e->{moved};
            next;
        }
        my ($base, $fee, $svc, $units) = @$x;
        if ("$e->{c_base}/$e->{c_fee}/$e->{c_svc}" ne "$base/$fee/$svc"
            || (defined $units && $units != ($e->{c_units} // -1)))
        {
            push @cost_bad, "$rid (" . join(' ', map { $_ // '-' } @$e{qw(provider model payer meter_slug)})
                 . "): booked " . join('/', map { $_ // 'NULL' } @$e{qw(c_base c_fee c_svc)})
                 . ", expected $base/$fee/$svc";
        }
        my $rate = $e->{provider} && $e->{provider} ne 'mistral' ? rate_for($e) : undef;
        $rate_bad++ if $rate && $e->{cost_state} ne 'zero' && ($e->{c_rate} // 0) != $rate->{id};
        my $pays_base = $e->{key_source} eq 'byok' ? 0 : $base;
        my $moved = B($pays_base) + ($e->{payer} eq 'customer' ? B($fee) + $svc : 0);
        $move_bad++ if $e->{moved} ne $moved->bstr;
        # a refused request may have no merchant (payer none: nothing moves)
        my $from = $e->{payer} eq 'customer' ? 'wallet:' . ($e->{customer_id} // '')
                                             : 'merchant:' . ($e->{merchant_id} // '');
        $debit_bad++ if $moved > 0 && $e->{debited} ne $from;
        $e->{cost_state} eq 'zero' ? $n_zero++ : $n_priced++;
        next if $e->{payer} eq 'none';
        $want_acct{"provider:$e->{provider}"} += 0;
        $want_acct{"provider:$e->{provider}"} = B($want_acct{"provider:$e->{provider}"}) + $pays_base;
        if ($e->{payer} eq 'customer') {
            $want_acct{"merchant:$e->{merchant_id}"} = B($want_acct{"merchant:$e->{merchant_id}"} // 0) + $fee;
            $want_acct{platform} = B($want_acct{platform} // 0) + $svc;
            $want_wallet{ $e->{customer_id} } = B($want_wallet{ $e->{customer_id} } // 0) + $moved;
        } else {
            $want_acct{"merchant:$e->{merchant_id}"} = B($want_acct{"merchant:$e->{merchant_id}"} // 0) - $pays_base;
        }
    }
    is scalar(@cost_bad), 0, "every request costs what the independent computation says"
        or diag join "\n", @cost_bad[0 .. ($#cost_bad < 9 ? $#cost_bad : 9)];
    is $move_bad, 0, 'every request\'s transfers move exactly its cost (unpriced: nothing)';
    is $debit_bad, 0, 'every request\'s transfers come from its payer only';
    is $rate_bad, 0, 'every priced request points at the rate row it used';
    diag "priced or settled $n_priced, zero $n_zero, unpriced $n_unpriced";
    ok $n_priced > $N_HTTP / 2, 'most requests were priced';

    # Account by account.
    my $acct = $s->sql(q{SELECT key, balance_nusd, derived_nusd FROM account_balances});
    my %bal = map { $_->{key} => $_ } @$acct;
    my $acct_bad = 0;
    for my $k (sort keys %want_acct) {
        my $have = $bal{$k} ? $bal{$k}{balance_nusd} : 0;
        $acct_bad++, diag "$k: $have, expected $want_acct{$k}" if $have ne B($want_acct{$k})->bstr;
    }
    for my $c (sort keys %FUNDS) {
        my $want = B($FUNDS{$c}) - ($want_wallet{$c} // 0);
        my $have = $bal{"wallet:$c"}{balance_nusd};
        $acct_bad++, diag "wallet:$c: $have, expected $want" if $have ne $want->bstr;
        $acct_bad++ if $have ne $bal{"wallet:$c"}{derived_nusd};
    }
    is $acct_bad, 0, 'providers, merchants, platform and every wallet hold what the computation says';
    is sql1('SELECT sum(balance_nusd) FROM accounts'), 0, 'the balances sum to zero';
    is sql1('SELECT count(*) FROM account_balances WHERE balance_nusd <> derived_nusd'), 0,
       'every stored balance equals its transfers';
    my $overdrawn = sql1(q{SELECT count(*) FROM wallet_balances WHERE overdraft = 'allow' AND balance_nusd < 0});
    ok $overdrawn >= 1, "the customer allowed to overdraw did ($overdrawn)";

    is sql1('SELECT count(*) FROM dead_letters'), 0, 'no dead letters';
    ok $_->{ok}, "ledger_check: $_->{rule}" for @{ $s->sql('SELECT rule, ok FROM ledger_check') };
    ok sql1(q{SELECT count(*) FROM events WHERE request_id = ANY(?) AND booked_at IS NOT NULL}, \@rids) == @rids,
       'each booked once';
    return @rids;
}

1;
