# One reading of the request body (docs/security.md, class 4): the gateway
# reads a body the way the provider's parser does, rewrites the member the
# provider will read, refuses what it cannot read on a metered endpoint, and
# takes the model from the field the provider bills by, JSON or multipart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest qw(json_decode);

my $s = LavaTest->start;
my $m = $s->setup_merchant;
my $tok = $m->{token};

sub enc { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge; $v }

# One request: the response, what the provider got (or undef), the event.
sub call {
    my (%a) = @_;
    my $id = LavaTest::test_id();
    my $r = $s->stream(target => '/v1/forward?u=' . enc($a{u}), body => $a{body}, timeout => 60,
                       headers => [@{ $a{auth} // [Authorization => "Bearer $tok"] },
                                   'x-test-id' => $id, @{ $a{headers} // [] }]);
    my @seen = $s->mock_requests($id);
    my $ev = $s->wait_event($r->{rid} // '') // {};
    return ($r, $seen[0], $ev);
}

# the members a JSON text has under the given (decoded) key, at its top level
# or in the object of stream_options, counted as a parser reads keys
sub raw_keys {
    my ($text, $key) = @_;
    my $n = 0;
    while ($text =~ /"((?:[^"\\]|\\.)*)"\s*:/g) {
        my $k = $1;
        $k =~ s/\\u([0-9a-fA-F]{4})/chr hex $1/ge;
        $n++ if $k eq $key;
    }
    return $n;
}

my $CHAT = 'https://api.openai.com/v1/chat/completions';
my $msgs = '"messages":[{"role":"user","content":"Hello there"}]';

sub refused_ok {
    my ($r, $q, $code, $what) = @_;
    subtest "$what: refused, $code" => sub {
        is $r->{status}, 400, 'status 400';
        is $r->{json}{error}{code}, $code, $code or diag $r->{body};
        like $r->{rid} // '', qr/^req_[0-9A-Z]{26}$/, 'x-lava-request-id';
        ok !defined $q, 'nothing reached the provider';
        my $row = $s->wait_booked($r->{rid});
        ok $row && $row->{outcome} eq 'refused' && $row->{total_nusd} == 0,
           'booked as refused, at zero cost' or diag explain $row;
    };
}

# --- the include_usage rewrite reads keys as the provider does ---------------
subtest 'an escaped stream_options key: the provider sees one, with include_usage true' => sub {
    my $body = qq({"model":"gpt-4o-mini","stream":true,"stream_option\\u0073":{"include_usage":false},$msgs});
    my ($r, $q, $ev) = call(u => $CHAT, body => $body,
                            headers => ['x-mock-usage' => 'prompt=50,cached=0,completion=4']);
    is $r->{status}, 200, 'status 200';
    is raw_keys($q->{body}, 'stream_options'), 1, 'one stream_options member at the provider';
    my $b = json_decode($q->{body});
    ok $b->{stream_options}{include_usage}, 'include_usage true where the provider reads it';
    is $ev->{usage_source}, 'reported', 'usage reported by the provider, not a tiny estimate';
    is_deeply [@$ev{qw(input_tokens output_tokens)}], [50, 4], 'usage 50 in, 4 out';
    unlike $r->{body}, qr/"usage":\{/, 'the usage chunk the gateway asked for is not shown';
};

subtest 'duplicate stream_options: the last one wins and only one is forwarded' => sub {
    my $body = qq({"stream_options":{"include_usage":true},"model":"gpt-4o-mini","stream":true,)
             . qq($msgs,"stream_options":{"include\\u005fusage":false,"include_usage":false}});
    my ($r, $q, $ev) = call(u => $CHAT, body => $body,
                            headers => ['x-mock-usage' => 'prompt=60,cached=0,completion=5']);
    is $r->{status}, 200, 'status 200';
    is raw_keys($q->{body}, 'stream_options'), 1, 'one stream_options member';
    is raw_keys($q->{body}, 'include_usage'), 1, 'one include_usage member';
    ok json_decode($q->{body})->{stream_options}{include_usage}, 'include_usage true';
    is_deeply [@$ev{qw(usage_source input_tokens output_tokens)}], ['reported', 60, 5], 'usage reported';
};

# --- what the gateway cannot read is not forwarded --------------------------
{
    my $body = qq({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"\\ud800"}]});
    my ($r, $q) = call(u => $CHAT, body => $body);
    refused_ok($r, $q, 'invalid_json_body', 'a lone surrogate escape');

    ($r, $q) = call(u => $CHAT, body => qq({"model":"gpt-4o-mini","MODEL":"gpt-4o",$msgs}));
    refused_ok($r, $q, 'invalid_json_body', 'a key that is "model" but for its case');

    ($r, $q) = call(u => $CHAT, body => 'model=gpt-4o-mini&stream=true');
    refused_ok($r, $q, 'invalid_json_body', 'not JSON');

    ($r, $q) = call(u => $CHAT, body => qq({"model":"gpt-4o-mini","seed":123456789012345678901234,$msgs}));
    refused_ok($r, $q, 'invalid_json_body', 'an integer beyond 64 bits');

    ($r, $q) = call(u => $CHAT, body => "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--b--",
                    headers => ['Content-Type' => 'multipart/form-data; boundary=b']);
    refused_ok($r, $q, 'invalid_json_body', 'multipart where only JSON is taken');

    # an endpoint that is not metered is not the meter's business
    ($r, $q) = call(u => 'https://api.pearch.ai/v2/search', body => 'not json');
    is $r->{status}, 200, 'an endpoint billed per request still takes any body';
}

# --- multipart: the model of the audio endpoints ------------------------------
sub form {
    my ($boundary, @parts) = @_;
    my $b = '';
    while (my ($name, $value, $file) = splice @parts, 0, 3) {
        $b .= "--$boundary\r\nContent-Disposition: form-data; name=\"$name\""
            . ($file ? "; filename=\"$file\"\r\nContent-Type: audio/mpeg" : '') . "\r\n\r\n$value\r\n";
    }
    return "$b--$boundary--\r\n";
}

subtest 'OpenAI transcription: the model form field, after a file big enough for a temp file' => sub {
    my $audio = join '', map { chr(($_ * 7) % 256) } 1 .. 1_500_000;
    $audio =~ s/\r\n--/\r\n-x/g;
    my $body = form('----mockB0undary', file => $audio, 'a.mp3', model => 'whisper-1', undef,
                    response_format => 'json', undef);
    my ($r, $q, $ev) = call(u => 'https://api.openai.com/v1/audio/transcriptions', body => $body,
                            headers => ['Content-Type' => 'multipart/form-data; boundary=----mockB0undary',
                                        'x-mock-seconds' => '4']);
    is $r->{status}, 200, 'status 200';
    is $q->{body_len}, length $body, 'the body reached the provider whole';
    is $ev->{model}, 'whisper-1', 'model whisper-1 from the form';
    ok scalar(grep { /buffered to a temporary file/ } LavaTest::slurp_lines($s->error_log)),
       'the body went through a temporary file';
    is $ev->{usage_duration_ms}, 4000, 'the duration' or diag explain $ev;
};

subtest 'ElevenLabs speech to text: model_id, not model' => sub {
    my $body = form('xx', model => 'cheap', undef, model_id => 'scribe_v1', undef, file => 'RIFF', 'a.wav');
    my ($r, $q, $ev) = call(u => 'https://api.elevenlabs.io/v1/speech-to-text', body => $body,
                            auth => ['xi-api-key' => $tok],
                            headers => ['Content-Type' => 'multipart/form-data; boundary=xx']);
    is $r->{status}, 200, 'status 200';
    is $ev->{model}, 'scribe_v1', 'model scribe_v1';
};

{
    my $body = form('xx', model => 'whisper-1', undef, file => 'RIFF', 'a.wav', model => 'gpt-4o-transcribe', undef);
    my ($r, $q) = call(u => 'https://api.openai.com/v1/audio/transcriptions', body => $body,
                       headers => ['Content-Type' => 'multipart/form-data; boundary=xx']);
    refused_ok($r, $q, 'invalid_multipart_body', 'two different model fields');

    ($r, $q) = call(u => 'https://api.openai.com/v1/audio/transcriptions', body => substr($body, 0, 60),
                    headers => ['Content-Type' => 'multipart/form-data; boundary=xx']);
    refused_ok($r, $q, 'invalid_multipart_body', 'a truncated form');
}

# --- priced from the field the provider bills by ------------------------------
subtest 'ElevenLabs text to speech: model_id, never model' => sub {
    my $tts = 'https://api.elevenlabs.io/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM';
    my ($r, $q, $ev) = call(u => $tts, auth => ['xi-api-key' => $tok],
                            body => '{"text":"Hello","model":"eleven_flash_v2_5","model_id":"eleven_v3"}');
    is $r->{status}, 200, 'status 200';
    is $ev->{model}, 'eleven_v3', 'model_id eleven_v3, not the ignored "model"';

    ($r, $q, $ev) = call(u => $tts, auth => ['xi-api-key' => $tok],
                         body => '{"text":"Hello","model":"eleven_flash_v2_5"}');
    is $ev->{model}, 'eleven_multilingual_v2', 'no model_id: ElevenLabs\' documented default';
    like $ev->{tap_flags} // '', qr/model_default/, 'flagged model_default';
    is $ev->{characters}, 5, 'five characters';
};

subtest 'Gemini: the model of the path, not a body "model"' => sub {
    # a provider answer without modelVersion: the request's model is booked
    my ($r, $q, $ev) = call(u => 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent',
                            auth => ['x-goog-api-key' => $tok], headers => ['x-mock-model' => ''],
                            body => '{"model":"gemini-2.0-flash-lite","contents":[{"parts":[{"text":"Hi"}]}]}');
    is $r->{status}, 200, 'status 200';
    is $ev->{model}, 'gemini-2.5-pro', 'the path\'s model';
};

$s->finish;
done_testing;
