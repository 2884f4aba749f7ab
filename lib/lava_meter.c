/*
 * Metering decisions around the usage parsers (see lava_meter.h).
 */

#include <string.h>

#include <jansson.h>

#include "lava_meter.h"
#include "lava_json.h"
#include "lava_flags.h"


#define LAVA_METER_DEPTH_MAX  64      /* request JSON walked this deep */


/* ---- routes ---- */

static int
lava_meter_ends(const char *p, size_t n, const char *suffix)
{
    size_t  sl = strlen(suffix);

    return n >= sl && memcmp(p + n - sl, suffix, sl) == 0;
}


static const char *
lava_meter_find(const char *p, size_t n, const char *needle)
{
    size_t       nl;
    const char  *q, *end;

    nl = strlen(needle);
    if (n < nl) {
        return NULL;
    }

    end = p + n - nl;

    for (q = p; q <= end; q++) {
        if (*q == needle[0] && memcmp(q, needle, nl) == 0) {
            return q;
        }
    }

    return NULL;
}


/* OpenAI-style paths, served by OpenAI-compatible hosts and by the
 * compatibility endpoints of Google, Anthropic and Cohere. 1 matched. */
static int
lava_meter_openai_path(const char *p, size_t n, int post, lava_route_t *rt)
{
    rt->fmt = LAVA_USAGE_OPENAI;

    if (lava_meter_ends(p, n, "/chat/completions")
        || lava_meter_ends(p, n, "/completions"))
    {
        rt->ep = LAVA_EP_CHAT;
        return 1;
    }

    if (lava_meter_ends(p, n, "/responses")) {
        /* a GET lists nothing billable; POST creates a response */
        rt->ep = post ? LAVA_EP_RESPONSES : LAVA_EP_OTHER;
        rt->fmt = post ? LAVA_USAGE_OPENAI : LAVA_USAGE_NONE;
        return 1;
    }

    if (lava_meter_find(p, n, "/responses/")) {
        /* retrieving a stored response repeats its usage: never bill twice */
        rt->ep = LAVA_EP_OTHER;
        rt->fmt = LAVA_USAGE_NONE;
        return 1;
    }

    if (lava_meter_ends(p, n, "/embeddings")) {
        rt->ep = LAVA_EP_EMBEDDINGS;
        return 1;
    }

    if (lava_meter_ends(p, n, "/images/generations")
        || lava_meter_ends(p, n, "/images/edits")
        || lava_meter_ends(p, n, "/images/variations"))
    {
        rt->ep = LAVA_EP_IMAGES;
        return 1;
    }

    if (lava_meter_ends(p, n, "/audio/transcriptions")
        || lava_meter_ends(p, n, "/audio/translations"))
    {
        rt->ep = LAVA_EP_TRANSCRIPTION;
        return 1;
    }

    if (lava_meter_ends(p, n, "/audio/speech")) {
        /* the answer is audio: the input text is the billed unit */
        rt->ep = LAVA_EP_SPEECH;
        rt->fmt = LAVA_USAGE_NONE;
        return 1;
    }

    return 0;
}


/* Gemini: .../models/<model>:<action> */
static void
lava_meter_gemini(const char *p, size_t n, lava_route_t *rt)
{
    const char  *colon, *slash, *action;
    size_t       alen;

    rt->ep = LAVA_EP_OTHER;
    rt->fmt = LAVA_USAGE_NONE;

    for (colon = p + n; colon > p && colon[-1] != '/' && colon[-1] != ':';
         colon--)
    {
        /* void */
    }

    if (colon == p || colon[-1] != ':') {
        return;
    }

    action = colon;
    alen = p + n - colon;
    colon--;

    for (slash = colon; slash > p && slash[-1] != '/'; slash--) {
        /* void */
    }

    if (colon > slash) {
        rt->model = slash;
        rt->model_len = colon - slash;
    }

#define LAVA_ACTION(s)  (alen == sizeof(s) - 1 && memcmp(action, s, alen) == 0)

    if (LAVA_ACTION("generateContent") || LAVA_ACTION("streamGenerateContent"))
    {
        rt->ep = LAVA_EP_GENERATE;
        rt->fmt = LAVA_USAGE_GEMINI;

    } else if (LAVA_ACTION("embedContent")
               || LAVA_ACTION("batchEmbedContents"))
    {
        /* the answer has no usageMetadata: estimated from the input */
        rt->ep = LAVA_EP_EMBED;
        rt->fmt = LAVA_USAGE_GEMINI;
    }

#undef LAVA_ACTION
}


void
lava_meter_route(lava_usage_format_e provider_fmt, const char *method,
    size_t method_len, const char *path, size_t path_len, lava_route_t *rt)
{
    int  post, get;

    memset(rt, 0, sizeof(lava_route_t));
    rt->ep = LAVA_EP_OTHER;
    rt->fmt = provider_fmt;

    post = method_len == 4 && memcmp(method, "POST", 4) == 0;
    get = method_len == 3 && memcmp(method, "GET", 3) == 0;

    while (path_len > 1 && path[path_len - 1] == '/') {
        path_len--;
    }

    switch (provider_fmt) {

    case LAVA_USAGE_OPENAI:
        (void) lava_meter_openai_path(path, path_len, post, rt);
        return;

    case LAVA_USAGE_ANTHROPIC:
    case LAVA_USAGE_GEMINI:
    case LAVA_USAGE_COHERE:
        if (lava_meter_openai_path(path, path_len, post, rt)) {
            rt->openai_compat = 1;
            return;
        }

        rt->fmt = provider_fmt;
        break;

    case LAVA_USAGE_ELEVENLABS:
        rt->fmt = LAVA_USAGE_NONE;

        if (lava_meter_find(path, path_len, "/text-to-speech")
            || lava_meter_find(path, path_len, "/text-to-dialogue"))
        {
            rt->ep = post ? LAVA_EP_TTS : LAVA_EP_OTHER;

        } else if (post && lava_meter_ends(path, path_len, "/speech-to-text"))
        {
            rt->ep = LAVA_EP_STT;
            rt->fmt = LAVA_USAGE_ELEVENLABS;
        }

        return;

    case LAVA_USAGE_RETELL:
        rt->fmt = LAVA_USAGE_NONE;

        if (get && lava_meter_find(path, path_len, "/get-call/")) {
            rt->ep = LAVA_EP_CALL;
            rt->fmt = LAVA_USAGE_RETELL;
        }

        return;

    default:
        /* custom: the standard fields on any path; none: per request */
        return;
    }

    if (provider_fmt == LAVA_USAGE_ANTHROPIC) {
        if (post && lava_meter_ends(path, path_len, "/messages")) {
            rt->ep = LAVA_EP_MESSAGES;

        } else {
            /* count_tokens, batches, models: nothing metered per call */
            rt->fmt = LAVA_USAGE_NONE;
        }

        return;
    }

    if (provider_fmt == LAVA_USAGE_GEMINI) {
        lava_meter_gemini(path, path_len, rt);
        return;
    }

    /* Cohere */
    if (lava_meter_ends(path, path_len, "/chat")
        || lava_meter_ends(path, path_len, "/generate"))
    {
        rt->ep = LAVA_EP_COHERE_CHAT;

    } else if (lava_meter_ends(path, path_len, "/embed")) {
        rt->ep = LAVA_EP_EMBED;

    } else if (lava_meter_ends(path, path_len, "/rerank")) {
        rt->ep = LAVA_EP_RERANK;
    }
}


int
lava_meter_token_endpoint(lava_endpoint_e ep)
{
    switch (ep) {
    case LAVA_EP_CHAT:
    case LAVA_EP_RESPONSES:
    case LAVA_EP_EMBEDDINGS:
    case LAVA_EP_MESSAGES:
    case LAVA_EP_GENERATE:
    case LAVA_EP_EMBED:
    case LAVA_EP_COHERE_CHAT:
        return 1;
    default:
        return 0;
    }
}


/* ---- request bodies ---- */

/* keys under which strings are prompt text */
static const char  *lava_meter_text_keys[] = {
    "messages", "content", "text", "input", "prompt", "instructions",
    "system", "contents", "parts", "documents", "query", "message",
    "chat_history", "preamble", "system_instruction", "systemInstruction",
    "inputs", "texts", "requests", NULL
};

/* keys whose strings are never prompt text (media, ids, enums) */
static const char  *lava_meter_skip_keys[] = {
    "role", "type", "model", "name", "id", "image_url", "url", "data",
    "b64_json", "mime_type", "mimeType", "media_type", "inline_data",
    "inlineData", "file_data", "fileData", "file_id", "audio", "image",
    "input_audio", "tool_call_id", "cache_control", "detail", "format",
    "voice", "signature", "thought_signature", "thoughtSignature",
    "source", "file", NULL
};


static int
lava_meter_key_in(const char *key, const char **set)
{
    for ( /* void */ ; *set; set++) {
        if (strcmp(key, *set) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
lava_meter_text_walk(json_t *v, int counting, int depth, int64_t *bytes)
{
    size_t       i;
    json_t      *el;
    const char  *key;

    if (depth > LAVA_METER_DEPTH_MAX) {
        return;
    }

    if (json_is_string(v)) {
        if (counting) {
            *bytes += (int64_t) json_string_length(v);
        }

        return;
    }

    if (json_is_array(v)) {
        json_array_foreach(v, i, el) {
            lava_meter_text_walk(el, counting, depth + 1, bytes);
        }

        return;
    }

    if (json_is_object(v)) {
        json_object_foreach(v, key, el) {
            if (lava_meter_key_in(key, lava_meter_skip_keys)) {
                continue;
            }

            lava_meter_text_walk(el,
                                 counting
                                 || lava_meter_key_in(key,
                                                      lava_meter_text_keys),
                                 depth + 1, bytes);
        }
    }
}


/* Unicode characters of UTF-8 text: bytes that do not continue a sequence */
static int64_t
lava_meter_chars(json_t *s)
{
    size_t          i, n;
    int64_t         c;
    const uint8_t  *p;

    if (!json_is_string(s)) {
        return 0;
    }

    p = (const uint8_t *) json_string_value(s);
    n = json_string_length(s);
    c = 0;

    for (i = 0; i < n; i++) {
        c += (p[i] & 0xc0) != 0x80;
    }

    return c;
}


static void
lava_meter_model(lava_request_t *rq, json_t *v)
{
    if (!json_is_string(v)) {
        return;
    }

    /* longer than the event takes: refused before forwarding, never
     * forwarded and booked without a model */
    if (json_string_length(v) >= LAVA_USAGE_MODEL_MAX) {
        rq->model_too_long = 1;
        return;
    }

    (void) lava_usage_model_set(rq->model, json_string_value(v),
                                json_string_length(v));
}


int
lava_request_inspect(lava_request_t *rq, lava_endpoint_e ep,
    const char *body, size_t len)
{
    size_t   i;
    json_t  *root, *so, *n, *el;

    memset(rq, 0, sizeof(lava_request_t));
    rq->characters = -1;

    root = json_loadb(body, len, 0, NULL);
    if (root == NULL) {
        return -1;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }

    rq->parsed = 1;
    rq->stream = json_is_true(json_object_get(root, "stream"));

    so = json_object_get(root, "stream_options");
    rq->include_usage = json_is_object(so)
                        && json_is_true(json_object_get(so, "include_usage"));

    n = json_object_get(root, "n");
    if (json_is_integer(n) && json_integer_value(n) > 0
        && json_integer_value(n) <= 10000)
    {
        rq->n = (int64_t) json_integer_value(n);
    }

    lava_meter_model(rq, json_object_get(root, "model"));
    if (rq->model[0] == '\0') {
        lava_meter_model(rq, json_object_get(root, "model_id"));
    }

    switch (ep) {

    case LAVA_EP_TTS:
        /* text-to-speech "text"; text-to-dialogue "inputs": [{"text"}] */
        rq->characters = lava_meter_chars(json_object_get(root, "text"));

        json_array_foreach(json_object_get(root, "inputs"), i, el) {
            rq->characters += lava_meter_chars(json_object_get(el, "text"));
        }

        break;

    case LAVA_EP_SPEECH:
        rq->characters = lava_meter_chars(json_object_get(root, "input"));
        break;

    default:
        break;
    }

    lava_meter_text_walk(root, 0, 0, &rq->text_bytes);

    json_decref(root);

    return 0;
}


/* ---- include_usage ---- */

/* out = body[0..at) + ins + body[at+skip..len) */
static int
lava_meter_splice(const char *body, size_t len, size_t at, size_t skip,
    const char *ins, char *out, size_t size, size_t *out_len)
{
    size_t  il = strlen(ins);

    if (at + skip > len || len - skip + il > size) {
        return -1;
    }

    memcpy(out, body, at);
    memcpy(out + at, ins, il);
    memcpy(out + at + il, body + at + skip, len - at - skip);
    *out_len = len - skip + il;

    return 1;
}


/* inserts `member` as the first member of the object starting at obj */
static int
lava_meter_insert_first(const char *body, size_t len, const char *obj,
    const char *member, char *out, size_t size, size_t *out_len)
{
    char         buf[LAVA_INCLUDE_USAGE_EXTRA];
    const char  *q, *end;

    end = body + len;
    q = lava_json_ws(obj + 1, end);

    if (q == end) {
        return -1;
    }

    if ((size_t) snprintf(buf, sizeof(buf), "%s%s", member,
                          *q == '}' ? "" : ",")
        >= sizeof(buf))
    {
        return -1;
    }

    return lava_meter_splice(body, len, obj + 1 - body, 0, buf, out, size,
                             out_len);
}


int
lava_request_add_include_usage(const char *body, size_t len, char *out,
    size_t size, size_t *out_len)
{
    size_t       vlen, ilen;
    const char  *p, *end, *v, *iv;

    end = body + len;
    p = lava_json_ws(body, end);

    if (p == end || *p != '{') {
        return -1;
    }

    if (!lava_json_member(p, end - p, "stream_options", &v, &vlen)) {
        return lava_meter_insert_first(body, len, p,
                                       "\"stream_options\":"
                                       "{\"include_usage\":true}",
                                       out, size, out_len);
    }

    if (vlen == 4 && memcmp(v, "null", 4) == 0) {
        return lava_meter_splice(body, len, v - body, 4,
                                 "{\"include_usage\":true}", out, size,
                                 out_len);
    }

    if (*v != '{') {
        return -1;
    }

    if (!lava_json_member(v, vlen, "include_usage", &iv, &ilen)) {
        return lava_meter_insert_first(body, len, v,
                                       "\"include_usage\":true", out, size,
                                       out_len);
    }

    if (ilen == 4 && memcmp(iv, "true", 4) == 0) {
        return 0;
    }

    /* false, null, or anything else the provider would not take */
    return lava_meter_splice(body, len, iv - body, ilen, "true", out, size,
                             out_len);
}


/* ---- the final usage of a request ---- */

static int64_t
lava_meter_tokens(int64_t bytes)
{
    return bytes > 0 ? (bytes + LAVA_METER_BYTES_PER_TOKEN - 1)
                       / LAVA_METER_BYTES_PER_TOKEN
                     : 0;
}


static void
lava_meter_raw_estimate(lava_usage_t *u, const char *why)
{
    json_t  *o;
    size_t   n;

    /* the audit copy says what the numbers are when none came from the
     * provider */
    o = json_pack("{ss,sI,sI,si}", "estimate", why,
                  "input_tokens", (json_int_t) u->input_tokens,
                  "output_tokens", (json_int_t) u->output_tokens,
                  "bytes_per_token", LAVA_METER_BYTES_PER_TOKEN);
    if (o == NULL) {
        return;
    }

    n = json_dumpb(o, u->raw, LAVA_USAGE_RAW_MAX, JSON_COMPACT);
    u->raw_len = (n > 0 && n <= LAVA_USAGE_RAW_MAX) ? n : 0;
    json_decref(o);
}


static lava_source_e
lava_meter_by_request(lava_usage_t *u, const lava_meter_in_t *in,
    unsigned *flags)
{
    json_t  *o;
    size_t   n;
    int64_t  chars;

    if (in->ep == LAVA_EP_IMAGES) {
        if (u->images > 0) {
            /* counted in the response */
            return LAVA_SOURCE_REPORTED;
        }

        /* per image, as asked for (the response was too big to count) */
        u->images = (in->rq && in->rq->n > 0) ? in->rq->n : 1;
        *flags |= LAVA_METER_F_FROM_REQUEST;
        return LAVA_SOURCE_REPORTED;
    }

    /* text to speech: the characters of the text */
    if (in->rq && in->rq->parsed && in->rq->characters >= 0) {
        chars = in->rq->characters;
        *flags |= LAVA_METER_F_FROM_REQUEST;

    } else if (in->character_cost >= 0) {
        chars = in->character_cost;

    } else {
        /* the body was not read (too big): its size bounds the text */
        u->characters = (int64_t) in->request_bytes;
        *flags |= LAVA_METER_F_FROM_REQUEST;
        return in->request_bytes ? LAVA_SOURCE_ESTIMATED : LAVA_SOURCE_NONE;
    }

    u->characters = chars;

    o = (in->character_cost >= 0)
        ? json_pack("{sI,sI}", "characters", (json_int_t) chars,
                    "character_cost", (json_int_t) in->character_cost)
        : json_pack("{sI}", "characters", (json_int_t) chars);

    if (o) {
        n = json_dumpb(o, u->raw, LAVA_USAGE_RAW_MAX, JSON_COMPACT);
        u->raw_len = (n > 0 && n <= LAVA_USAGE_RAW_MAX) ? n : 0;
        json_decref(o);
    }

    return LAVA_SOURCE_REPORTED;
}


lava_source_e
lava_meter_finish(lava_usage_t *u, const lava_meter_in_t *in,
    unsigned *flags)
{
    int64_t  in_est, out_est, out_seen;

    if (u->error_event) {
        *flags |= LAVA_METER_F_ERROR_EVENT;
    }

    if (in->status == 0 || in->status >= 400) {
        /* no answer, or the provider's own error: nothing is billed */
        return u->seen ? LAVA_SOURCE_REPORTED : LAVA_SOURCE_NONE;
    }

    if (in->ep == LAVA_EP_IMAGES && u->seen
        && (u->input_tokens > 0 || u->output_tokens > 0))
    {
        /* gpt-image models: OpenAI bills the tokens it reports and nothing
         * per image; the image count is not booked beside them (a rate
         * pricing both would charge twice) */
        u->images = 0;
        return LAVA_SOURCE_REPORTED;
    }

    if (in->ep == LAVA_EP_TTS || in->ep == LAVA_EP_SPEECH
        || in->ep == LAVA_EP_IMAGES)
    {
        if (in->ep != LAVA_EP_IMAGES || !u->seen || u->images == 0) {
            return lava_meter_by_request(u, in, flags);
        }
    }

    if (u->seen && (u->final || !lava_meter_token_endpoint(in->ep))) {
        return LAVA_SOURCE_REPORTED;
    }

    if (!lava_meter_token_endpoint(in->ep)) {
        if (in->ep != LAVA_EP_OTHER && in->ep != LAVA_EP_CALL) {
            /* a metered unit (duration) that nothing reported */
            *flags |= LAVA_METER_F_MISSING;
        }

        return LAVA_SOURCE_NONE;
    }

    in_est = lava_meter_tokens(in->rq && in->rq->parsed
                               ? in->rq->text_bytes
                               : (int64_t) in->request_bytes);
    out_est = (in->ep == LAVA_EP_EMBEDDINGS || in->ep == LAVA_EP_EMBED)
              ? 0 : lava_meter_tokens((int64_t) in->content_bytes);

    if (u->seen) {
        /* cut short after partial usage (Anthropic message_start, Gemini
         * running totals): what was reported is a floor */
        *flags |= LAVA_METER_F_PARTIAL;

        out_seen = u->output_tokens + u->reasoning_tokens
                   + u->audio_output_tokens;

        if (out_est > out_seen) {
            u->output_tokens += out_est - out_seen;
        }

        return LAVA_SOURCE_ESTIMATED;
    }

    u->input_tokens = in_est;
    u->output_tokens = out_est;

    lava_meter_raw_estimate(u, in->complete ? "no_usage" : "cut");

    return LAVA_SOURCE_ESTIMATED;
}


const char *
lava_meter_source_name(lava_source_e s)
{
    switch (s) {
    case LAVA_SOURCE_REPORTED:
        return "reported";
    case LAVA_SOURCE_ESTIMATED:
        return "estimated";
    default:
        return "none";
    }
}


size_t
lava_meter_flags_str(unsigned flags, char *buf, size_t len, size_t size)
{
    static const lava_flag_name_t  names[] = {
        { LAVA_METER_F_FROM_REQUEST, "usage_from_request" },
        { LAVA_METER_F_PARTIAL,      "usage_partial" },
        { LAVA_METER_F_MISSING,      "usage_missing" },
        { LAVA_METER_F_ERROR_EVENT,  "error_event" },
    };

    return lava_flags_names(names, sizeof(names) / sizeof(names[0]), flags,
                            buf, len, size);
}
