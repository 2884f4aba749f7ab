/*
 * Metering decisions around the usage parsers (see lava_meter.h).
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lava_meter.h"
#include "lava_json.h"
#include "lava_json_scan.h"
#include "lava_flags.h"
#include "lava_tools.h"
#include "lava_request_scan.h"


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


static void
lava_meter_classify(lava_usage_format_e provider_fmt, const char *method,
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


void
lava_meter_route(lava_usage_format_e provider_fmt, const char *method,
    size_t method_len, const char *path, size_t path_len, lava_route_t *rt)
{
    lava_meter_classify(provider_fmt, method, method_len, path, path_len, rt);

    if (rt->ep != LAVA_EP_OTHER && rt->ep != LAVA_EP_CALL
        && !(method_len == 4 && memcmp(method, "POST", 4) == 0))
    {
        /* GET /v1/chat/completions lists stored completions: only a POST
         * creates the work a generation endpoint bills */
        rt->ep = LAVA_EP_OTHER;
    }

    if (rt->ep != LAVA_EP_OTHER
        || provider_fmt == LAVA_USAGE_CUSTOM
        || provider_fmt == LAVA_USAGE_NONE)
    {
        rt->metered = 1;
        return;
    }

    /* retrievals, batches, files, account paths: usage in their answers
     * repeats (or anticipates) work billed elsewhere, never billed here */
    rt->fmt = LAVA_USAGE_NONE;
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


/* the same for a name of klen bytes, not NUL-terminated */
static int
lava_meter_key_in_n(const char *key, size_t klen, const char **set)
{
    for ( /* void */ ; *set; set++) {
        if (strlen(*set) == klen && memcmp(*set, key, klen) == 0) {
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


/* the members the meter reads: at the top level, and in stream_options */
static const char  *const lava_meter_read_keys[] = {
    "model", "model_id", "stream", "stream_options", "n", "text", "input",
    "inputs", "tools", "web_search_options", "search_parameters", "prompt",
    "mcp_servers", "connectors", NULL
};

static const char  *const lava_meter_so_keys[] = { "include_usage", NULL };


/*
 * 1 when obj has a key that differs from a member the meter reads only in
 * letter case: Go's encoding/json matches keys case-insensitively, so such
 * a body may be read differently by the provider.
 */
static int
lava_meter_case_twin(json_t *obj, const char *const *set)
{
    json_t       *v;
    const char   *key;
    const char   *const *k;

    if (!json_is_object(obj)) {
        return 0;
    }

    json_object_foreach(obj, key, v) {
        for (k = set; *k; k++) {
            if (strcasecmp(key, *k) == 0 && strcmp(key, *k) != 0) {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * The request's own bound on the answer, in tokens: whichever of the output
 * bounds the families name is stated (OpenAI max_tokens and
 * max_completion_tokens, Responses max_output_tokens, Anthropic max_tokens,
 * Gemini generationConfig.maxOutputTokens), the largest when several are.
 * It caps estimates only (lava_meter_finish); reported usage is billed as
 * reported.
 */
static void
lava_request_max_output(lava_request_t *rq, json_t *root)
{
    size_t       i;
    json_t      *v;
    json_int_t   n;

    static const char  *keys[] = {
        "max_tokens", "max_completion_tokens", "max_output_tokens"
    };

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]) + 1; i++) {
        v = (i < sizeof(keys) / sizeof(keys[0]))
            ? json_object_get(root, keys[i])
            : json_object_get(json_object_get(root, "generationConfig"),
                              "maxOutputTokens");

        if (!json_is_integer(v)) {
            continue;
        }

        n = json_integer_value(v);

        if (n > 0 && n <= LAVA_METER_OUTPUT_MAX_STATED && n > rq->max_output) {
            rq->max_output = (int64_t) n;
        }
    }
}


/*
 * 1: every member of an images body is one dall-e-2 takes, so OpenAI's
 * documented default (dall-e-2 "unless a parameter specific to the GPT
 * image models is used") applies to a body without "model".
 */
static int
lava_meter_dalle2_body(json_t *root)
{
    const char  *key, *size;
    json_t      *v;

    json_object_foreach(root, key, v) {
        if (strcmp(key, "prompt") == 0 || strcmp(key, "n") == 0
            || strcmp(key, "response_format") == 0
            || strcmp(key, "user") == 0)
        {
            continue;
        }

        if (strcmp(key, "size") == 0 && json_is_string(v)) {
            size = json_string_value(v);

            if (strcmp(size, "256x256") == 0 || strcmp(size, "512x512") == 0
                || strcmp(size, "1024x1024") == 0)
            {
                continue;
            }
        }

        return 0;
    }

    return 1;
}


int
lava_meter_model_needed(const lava_route_t *rt)
{
    if (rt->model_len) {
        return 0;
    }

    switch (rt->ep) {
    case LAVA_EP_IMAGES:
    case LAVA_EP_TRANSCRIPTION:
    case LAVA_EP_SPEECH:
    case LAVA_EP_TTS:
    case LAVA_EP_STT:
    case LAVA_EP_COHERE_CHAT:
    case LAVA_EP_RERANK:
        return 1;
    case LAVA_EP_EMBED:
        /* Gemini names it in the path; Cohere's answer does not */
        return !rt->openai_compat && rt->fmt == LAVA_USAGE_COHERE;
    default:
        return 0;
    }
}


const char *
lava_meter_model_default(const char *host, size_t host_len,
    const lava_route_t *rt, const char *path, size_t path_len,
    const lava_request_t *rq)
{
    if (rt->ep != LAVA_EP_IMAGES
        || host_len != sizeof("api.openai.com") - 1
        || memcmp(host, "api.openai.com", host_len) != 0)
    {
        /* Cohere's legacy v1 defaults changed over time without notice and
         * v2 requires a model; the other endpoints require one too */
        return NULL;
    }

    while (path_len > 1 && path[path_len - 1] == '/') {
        path_len--;
    }

    if (lava_meter_ends(path, path_len, "/images/variations")) {
        /* "Only dall-e-2 is supported at this time" */
        return LAVA_METER_OPENAI_IMAGES_MODEL;
    }

    if (lava_meter_ends(path, path_len, "/images/generations")
        && rq && rq->parsed && rq->images_dalle2)
    {
        return LAVA_METER_OPENAI_IMAGES_MODEL;
    }

    return NULL;
}


/*
 * What the meter reads from a parsed body: root is the document, or the
 * document without the prompt members lava_request_slim() counted
 * (text_bytes: their text). Takes root over.
 */
static int
lava_request_read(lava_request_t *rq, lava_endpoint_e ep, json_t *root,
    int64_t text_bytes)
{
    size_t   i;
    json_t  *so, *n, *el;

    if (!json_is_object(root)
        || lava_meter_case_twin(root, lava_meter_read_keys)
        || lava_meter_case_twin(json_object_get(root, "stream_options"),
                                lava_meter_so_keys))
    {
        json_decref(root);
        return -1;
    }

    rq->parsed = 1;
    rq->stream = json_is_true(json_object_get(root, "stream"));
    rq->background = json_is_true(json_object_get(root, "background"));

    so = json_object_get(root, "stream_options");
    rq->include_usage = json_is_object(so)
                        && json_is_true(json_object_get(so, "include_usage"));

    n = json_object_get(root, "n");
    if (json_is_integer(n) && json_integer_value(n) > 0
        && json_integer_value(n) <= 10000)
    {
        rq->n = (int64_t) json_integer_value(n);
    }

    /* the member the provider bills by: ElevenLabs ignores "model" */
    switch (ep) {

    case LAVA_EP_TTS:
    case LAVA_EP_STT:
        lava_meter_model(rq, json_object_get(root, "model_id"));
        break;

    case LAVA_EP_OTHER:
        lava_meter_model(rq, json_object_get(root, "model"));
        if (rq->model[0] == '\0') {
            lava_meter_model(rq, json_object_get(root, "model_id"));
        }
        break;

    default:
        lava_meter_model(rq, json_object_get(root, "model"));
    }

    if (rq->model[0] == '\0' && !rq->model_too_long && ep == LAVA_EP_TTS) {
        /* the documented defaults (not for a model_id that was given but
         * is refused as too long): text-to-dialogue takes "inputs" */
        (void) strcpy(rq->model,
                      json_is_array(json_object_get(root, "inputs"))
                      ? LAVA_METER_ELEVENLABS_DIALOGUE_MODEL
                      : LAVA_METER_ELEVENLABS_TTS_MODEL);
        rq->model_default = 1;
    }

    if (ep == LAVA_EP_IMAGES) {
        rq->images_dalle2 = lava_meter_dalle2_body(root);
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

    rq->text_bytes = text_bytes;
    lava_meter_text_walk(root, 0, 0, &rq->text_bytes);

    lava_request_max_output(rq, root);

    rq->tools = (int) lava_tools_check(root, ep, rq->model);

    json_decref(root);

    return 0;
}


/*
 * Top-level members read only for their text: the prompt, most of a body's
 * bytes. lava_request_slim() counts their text with the non-allocating
 * scanner and leaves them out of what jansson parses. Every one is a text
 * key (lava_meter_text_keys) that nothing else reads; "input" is read on
 * the speech endpoint (the characters billed), and on the images endpoint
 * every member counts (lava_meter_dalle2_body), so nothing is left out
 * there.
 */
static const char  *lava_meter_prompt_keys[] = {
    "messages", "contents", "system", "instructions", "system_instruction",
    "systemInstruction", "chat_history", "documents", "preamble", "input",
    NULL
};

#define LAVA_METER_SLIM_STACK  2048      /* bytes of a slim body on the stack */


/*
 * The body without its prompt members, parsed by jansson; their text
 * counted by lava_json_scan_text(). 0 read (rq filled), -1 jansson refused
 * the rest, 1 not done (the caller parses the whole body): not an object,
 * something the scanner leaves to jansson, or anything it finds invalid
 * (jansson then says how).
 */
static int
lava_request_slim(lava_request_t *rq, lava_endpoint_e ep, const char *body,
    size_t len)
{
    int                     rc, drop, skip, count;
    char                    stack[LAVA_METER_SLIM_STACK], *slim;
    size_t                  i, k, used, klen, nslim;
    int64_t                 prompt[sizeof(lava_meter_prompt_keys)
                                   / sizeof(lava_meter_prompt_keys[0])];
    int64_t                 text;
    json_t                 *root;
    const char             *p, *end, *key, *member, *value;
    lava_json_scan_e        sc;
    lava_request_scan_t     direct;
    lava_json_text_rules_t  rules, none;

    if (ep == LAVA_EP_IMAGES) {
        return 1;
    }

    rules.text_keys = lava_meter_text_keys;
    rules.skip_keys = lava_meter_skip_keys;
    rules.max_depth = LAVA_METER_DEPTH_MAX;
    rules.allow_nul = 1;

    /* below a skip key nothing counts, whatever the keys further down */
    none = rules;
    none.text_keys = NULL;

    /* the members read without jansson where the scanner can
     * (lib/lava_request_scan.c); the slim body is kept for jansson in
     * case it cannot */
    (void) lava_request_scan_init(&direct, ep, &rules, lava_meter_read_keys,
                                  lava_meter_so_keys);

    end = body + len;
    p = lava_json_ws(body, end);

    if (p == end || *p != '{') {
        return 1;
    }

    slim = len + 2 <= sizeof(stack) ? stack : malloc(len + 2);
    if (slim == NULL) {
        return 1;
    }

    memset(prompt, 0, sizeof(prompt));
    slim[0] = '{';
    nslim = 1;
    rc = 1;

    p = lava_json_ws(p + 1, end);

    if (p < end && *p == '}') {
        p++;
        goto done;
    }

    for ( ;; ) {
        member = p;

        if (lava_json_scan_key(p, (size_t) (end - p), &key, &klen, &used)
            != LAVA_JSON_SCAN_OK)
        {
            goto fail;
        }

        p = lava_json_ws(p + used, end);

        if (p == end || *p != ':') {
            goto fail;
        }

        p++;

        for (k = 0; lava_meter_prompt_keys[k]; k++) {
            if (strlen(lava_meter_prompt_keys[k]) == klen
                && memcmp(lava_meter_prompt_keys[k], key, klen) == 0)
            {
                break;
            }
        }

        /* the speech endpoint bills the characters of "input" */
        drop = lava_meter_prompt_keys[k] != NULL
               && !(ep == LAVA_EP_SPEECH && klen == 5
                    && memcmp(key, "input", 5) == 0);

        /* every prompt key is a text key, no skip key */
        skip = !drop && lava_meter_key_in_n(key, klen, lava_meter_skip_keys);
        count = drop
                || (!skip && lava_meter_key_in_n(key, klen,
                                                 lava_meter_text_keys));

        text = 0;
        value = lava_json_ws(p, end);
        sc = lava_json_scan_text(p, (size_t) (end - p), skip ? &none : &rules,
                                 1, count, &used, &text);
        if (sc != LAVA_JSON_SCAN_OK) {
            goto fail;
        }

        p += used;

        if (drop) {
            /* jansson keeps the last of duplicate members */
            prompt[k] = text;

        } else {
            lava_request_scan_member(&direct, key, klen, value,
                                     (size_t) (p - value), text);

            if (nslim > 1) {
                slim[nslim++] = ',';
            }

            memcpy(slim + nslim, member, (size_t) (p - member));
            nslim += (size_t) (p - member);
        }

        p = lava_json_ws(p, end);

        if (p < end && *p == ',') {
            p = lava_json_ws(p + 1, end);
            continue;
        }

        if (p < end && *p == '}') {
            p++;
            break;
        }

        goto fail;
    }

done:

    if (lava_json_ws(p, end) != end) {
        goto fail;
    }

    text = 0;

    for (i = 0; i < sizeof(prompt) / sizeof(prompt[0]); i++) {
        text += prompt[i];
    }

    if (!direct.unsure) {
        rc = lava_request_scan_finish(&direct, rq, text);
        goto fail;
    }

    slim[nslim++] = '}';

    root = json_loadb(slim, nslim, JSON_ALLOW_NUL, NULL);
    if (root == NULL) {
        goto fail;
    }

    rc = lava_request_read(rq, ep, root, text);

fail:

    if (slim != stack) {
        free(slim);
    }

    return rc;
}


int
lava_request_inspect(lava_request_t *rq, lava_endpoint_e ep,
    const char *body, size_t len)
{
    int  rc;

    memset(rq, 0, sizeof(lava_request_t));
    rq->characters = -1;

    rc = lava_request_slim(rq, ep, body, len);
    if (rc != 1) {
        return rc;
    }

    return lava_request_inspect_full(rq, ep, body, len);
}


int
lava_request_inspect_full(lava_request_t *rq, lava_endpoint_e ep,
    const char *body, size_t len)
{
    json_t  *root;

    memset(rq, 0, sizeof(lava_request_t));
    rq->characters = -1;

    /* jansson keeps the last of duplicate members and decodes escaped
     * keys, as the providers' parsers do; it refuses lone surrogates and
     * integers beyond 64 bits, which the caller then refuses too */
    root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
    if (root == NULL) {
        return -1;
    }

    return lava_request_read(rq, ep, root, 0);
}


/* ---- include_usage ---- */

/*
 * The rewrite reads keys the way a JSON parser does (escapes decoded, the
 * last of duplicate members wins) so that it changes the member the
 * provider will read, and it leaves exactly one of each member it rewrites:
 * a client cannot hide a stream_options behind an escaped key or a
 * duplicate.
 */

typedef struct {
    char    *p;
    size_t   left;
} lava_meter_out_t;


static int
lava_meter_put(lava_meter_out_t *w, const char *s, size_t n)
{
    if (n > w->left) {
        return -1;
    }

    memcpy(w->p, s, n);
    w->p += n;
    w->left -= n;

    return 0;
}


static int
lava_meter_hex4(const char *p, const char *end, unsigned *cp)
{
    int       i;
    unsigned  c, v;

    if (end - p < 4) {
        return -1;
    }

    v = 0;

    for (i = 0; i < 4; i++) {
        c = (unsigned char) p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;
        } else {
            return -1;
        }

        v = v << 4 | c;
    }

    *cp = v;

    return 0;
}


/* 1 when the JSON string at p (span bytes, quotes included) decodes to the
 * ASCII text key */
static int
lava_meter_key_is(const char *p, size_t span, const char *key)
{
    unsigned     cp;
    const char  *end;

    if (span < 2) {
        return 0;
    }

    /* most keys have no escape: compared as written */
    if (memchr(p + 1, '\\', span - 2) == NULL) {
        return span - 2 == strlen(key) && memcmp(p + 1, key, span - 2) == 0;
    }

    end = p + span - 1;

    for (p++; p < end; key++) {
        if (*p != '\\') {
            cp = (unsigned char) *p++;

        } else if (end - p < 2) {
            return 0;

        } else {
            switch (p[1]) {
            case '"':  cp = '"';  break;
            case '\\': cp = '\\'; break;
            case '/':  cp = '/';  break;
            case 'b':  cp = '\b'; break;
            case 'f':  cp = '\f'; break;
            case 'n':  cp = '\n'; break;
            case 'r':  cp = '\r'; break;
            case 't':  cp = '\t'; break;
            case 'u':
                if (lava_meter_hex4(p + 2, end, &cp) != 0) {
                    return 0;
                }

                p += 4;
                break;
            default:
                return 0;
            }

            p += 2;
        }

        /* a key here is ASCII: anything else decodes to something else */
        if (*key == '\0' || cp != (unsigned char) *key) {
            return 0;
        }
    }

    return *key == '\0';
}


typedef struct {
    const char  *k;              /* the key's opening quote */
    size_t       klen;           /* the key, quotes included */
    const char  *v;
    size_t       vlen;
} lava_meter_member_t;


/* The member after *pp in an object (*pp just past '{' when first, else
 * past the previous value). 1 a member, 0 the closing brace (*pp on it),
 * -1 unreadable. */
static int
lava_meter_next(const char **pp, const char *end, int first,
    lava_meter_member_t *m)
{
    const char  *p;

    p = lava_json_ws(*pp, end);

    if (p == end) {
        return -1;
    }

    if (*p == '}') {
        *pp = p;
        return 0;
    }

    if (!first) {
        if (*p != ',') {
            return -1;
        }

        p = lava_json_ws(p + 1, end);
    }

    if (p == end || *p != '"') {
        return -1;
    }

    m->k = p;
    m->klen = lava_json_span(p, end - p);
    if (m->klen < 2) {
        return -1;
    }

    p = lava_json_ws(p + m->klen, end);
    if (p == end || *p != ':') {
        return -1;
    }

    p = lava_json_ws(p + 1, end);

    m->v = p;
    m->vlen = lava_json_span(p, end - p);
    if (m->vlen == 0) {
        return -1;
    }

    *pp = p + m->vlen;

    return 1;
}


static int lava_meter_set_usage(const char *v, size_t vlen,
    lava_meter_out_t *w, int *changed);
static int lava_meter_set_true(const char *v, size_t vlen,
    lava_meter_out_t *w, int *changed);

typedef int (*lava_meter_value_pt)(const char *v, size_t vlen,
    lava_meter_out_t *w, int *changed);


/*
 * Writes the object at obj (obj[0] == '{', within *olenp bytes, set to
 * its length) with member `key` set:
 * every member named key but the last is left out, the last's value is
 * written by set; without one, `ins` is inserted as the first member.
 * *changed is set when the result differs from the object.
 */
static int
lava_meter_object_set(const char *obj, size_t *olenp, const char *key,
    const char *ins, lava_meter_value_pt set, lava_meter_out_t *w,
    int *changed)
{
    int                  rc, first_kept;
    size_t               i, last, count, olen;
    const char          *p, *end, *prev_end, *q;
    lava_meter_member_t  m;

    end = obj + *olenp;

    /* which member the provider reads: the last of that name */
    count = 0;
    last = 0;
    p = obj + 1;

    for (i = 0; (rc = lava_meter_next(&p, end, i == 0, &m)) == 1; i++) {
        if (lava_meter_key_is(m.k, m.klen, key)) {
            last = i;
            count++;
        }
    }

    if (rc != 0) {
        return -1;
    }

    /* the closing brace: what follows is the caller's */
    end = p + 1;
    olen = end - obj;
    *olenp = olen;

    if (count == 0) {
        q = lava_json_ws(obj + 1, end);
        *changed = 1;

        return (lava_meter_put(w, obj, 1) == 0
                && lava_meter_put(w, ins, strlen(ins)) == 0
                && (*q == '}' || lava_meter_put(w, ",", 1) == 0)
                && lava_meter_put(w, obj + 1, olen - 1) == 0)
               ? 0 : -1;
    }

    if (count > 1) {
        *changed = 1;
    }

    if (lava_meter_put(w, obj, 1) != 0) {
        return -1;
    }

    first_kept = 1;
    prev_end = obj + 1;
    p = obj + 1;

    for (i = 0; lava_meter_next(&p, end, i == 0, &m) == 1; i++) {

        if (i != last && lava_meter_key_is(m.k, m.klen, key)) {
            prev_end = p;
            continue;
        }

        /* the text before the member: whitespace for the first one kept,
         * the separator with its comma for the others */
        if (first_kept) {
            q = lava_json_ws(obj + 1, end);
            rc = lava_meter_put(w, obj + 1, q - obj - 1);
            first_kept = 0;

        } else {
            rc = lava_meter_put(w, prev_end, m.k - prev_end);
        }

        if (rc != 0) {
            return -1;
        }

        if (i == last) {
            if (lava_meter_put(w, m.k, m.v - m.k) != 0
                || set(m.v, m.vlen, w, changed) != 0)
            {
                return -1;
            }

        } else if (lava_meter_put(w, m.k, p - m.k) != 0) {
            return -1;
        }

        prev_end = p;
    }

    /* whitespace and the closing brace */
    return lava_meter_put(w, prev_end, end - prev_end);
}


static int
lava_meter_set_true(const char *v, size_t vlen, lava_meter_out_t *w,
    int *changed)
{
    if (vlen == 4 && memcmp(v, "true", 4) == 0) {
        return lava_meter_put(w, v, vlen);
    }

    /* false, null, or anything else the provider would not take */
    *changed = 1;

    return lava_meter_put(w, "true", 4);
}


/* the value of stream_options: null or an object */
static int
lava_meter_set_usage(const char *v, size_t vlen, lava_meter_out_t *w,
    int *changed)
{
    if (vlen == 4 && memcmp(v, "null", 4) == 0) {
        *changed = 1;
        return lava_meter_put(w, "{\"include_usage\":true}", 22);
    }

    if (*v != '{') {
        return -1;
    }

    return lava_meter_object_set(v, &vlen, "include_usage",
                                 "\"include_usage\":true",
                                 lava_meter_set_true, w, changed);
}


int
lava_request_add_include_usage(const char *body, size_t len, char *out,
    size_t size, size_t *out_len)
{
    int               changed;
    size_t            olen;
    const char       *p, *end;
    lava_meter_out_t  w;

    end = body + len;
    p = lava_json_ws(body, end);

    if (p == end || *p != '{') {
        return -1;
    }

    /* the object's end is found on the way: the body is walked once */
    olen = end - p;

    w.p = out;
    w.left = size;
    changed = 0;

    if (lava_meter_put(&w, body, p - body) != 0
        || lava_meter_object_set(p, &olen, "stream_options",
                                 "\"stream_options\":"
                                 "{\"include_usage\":true}",
                                 lava_meter_set_usage, &w, &changed)
           != 0
        || lava_meter_put(&w, p + olen, end - p - olen) != 0)
    {
        return -1;
    }

    if (!changed) {
        return 0;
    }

    *out_len = w.p - out;

    return 1;
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


int64_t
lava_meter_output_max(const lava_request_t *rq, lava_usage_format_e fmt)
{
    int64_t  cap, n;

    if (rq && rq->parsed && rq->max_output > 0) {
        cap = rq->max_output;

    } else {
        switch (fmt) {
        case LAVA_USAGE_OPENAI:
            cap = LAVA_METER_OUTPUT_MAX_OPENAI;
            break;
        case LAVA_USAGE_ANTHROPIC:
            cap = LAVA_METER_OUTPUT_MAX_ANTHROPIC;
            break;
        case LAVA_USAGE_GEMINI:
            cap = LAVA_METER_OUTPUT_MAX_GEMINI;
            break;
        default:
            cap = LAVA_METER_OUTPUT_MAX_OTHER;
            break;
        }
    }

    n = (rq && rq->parsed && rq->n > 0) ? rq->n : 1;

    /* both are bounded when read (LAVA_METER_OUTPUT_MAX_STATED, n <= 10000);
     * saturate anyway rather than wrap */
    if (n > INT64_MAX / cap) {
        return INT64_MAX;
    }

    return cap * n;
}


lava_source_e
lava_meter_finish(lava_usage_t *u, const lava_meter_in_t *in,
    unsigned *flags)
{
    int64_t  in_est, out_est, out_seen, cap;

    if (u->error_event) {
        *flags |= LAVA_METER_F_ERROR_EVENT;
    }

    if (in->rq && in->rq->model_default) {
        *flags |= LAVA_METER_F_MODEL_DEFAULT;
    }

    if (in->status >= 400
        || (in->status == 0
            && !(in->abandoned && in->request_sent && !u->seen
                 && lava_meter_token_endpoint(in->ep))))
    {
        /* no answer, or the provider's own error: nothing is billed; but a
         * prompt the provider got, whose answer the gateway stopped waiting
         * for because the client left, is billed below (abort rule) */
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

    if (in->abandoned) {
        /* the client left and the answer was not read to its end: billed
         * by the abort rule (docs/providers.md), the prompt in full and
         * every output token seen, relayed or read on, reasoning text
         * included */
        *flags |= LAVA_METER_F_ABORT;
    }

    in_est = lava_meter_tokens(in->rq && in->rq->parsed
                               ? in->rq->text_bytes
                               : (int64_t) in->request_bytes);
    out_est = (in->ep == LAVA_EP_EMBEDDINGS || in->ep == LAVA_EP_EMBED)
              ? 0 : lava_meter_tokens((int64_t) in->content_bytes);

    /* never more than the request could cost: a provider's gzip bomb or a
     * runaway text does not bill millions of tokens */
    cap = lava_meter_output_max(in->rq, in->fmt);

    if (out_est > cap) {
        out_est = cap;
        *flags |= LAVA_METER_F_CAPPED;
    }

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
        { LAVA_METER_F_MODEL_DEFAULT, "model_default" },
        { LAVA_METER_F_ABORT,        "abort_estimate" },
        { LAVA_METER_F_CAPPED,       "estimate_capped" },
        { LAVA_METER_F_PER_REQUEST,  "per_request" },
        { LAVA_METER_F_KEY_MASKED,   "provider_key_masked" },
        { LAVA_METER_F_WORKER_LOST,  "worker_lost" },
    };

    return lava_flags_names(names, sizeof(names) / sizeof(names[0]), flags,
                            buf, len, size);
}
