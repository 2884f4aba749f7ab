/*
 * Usage extraction per provider format (see lava_usage.h).
 *
 * Every parser first reads all the counters it needs into locals and checks
 * their types; only a fully valid usage object updates u, so a malformed
 * document never leaves half-updated buckets behind.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lava_usage.h"
#include "lava_json.h"
#include "lava_json_scan.h"
#include "lava_usage_scan.h"




typedef struct {
    const char           *name;
    lava_usage_format_e   fmt;
} lava_usage_name_t;


static const lava_usage_name_t  lava_usage_names[] = {
    { "openai",    LAVA_USAGE_OPENAI },
    { "anthropic", LAVA_USAGE_ANTHROPIC },
    { "gemini",    LAVA_USAGE_GEMINI },
    { "cohere",    LAVA_USAGE_COHERE },
    { "custom",    LAVA_USAGE_CUSTOM },
    { "elevenlabs", LAVA_USAGE_ELEVENLABS },
    { "retell",    LAVA_USAGE_RETELL },
    { "none",      LAVA_USAGE_NONE },
    { NULL,        LAVA_USAGE_NONE }
};


int
lava_usage_format_from_name(const char *name, size_t len)
{
    const lava_usage_name_t  *n;

    for (n = lava_usage_names; n->name; n++) {
        if (strlen(n->name) == len && memcmp(n->name, name, len) == 0) {
            return (int) n->fmt;
        }
    }

    return -1;
}


/* 1: a counter, 0: absent or null, -1: anything else (wrong type, negative,
 * fractional, absurdly large) */
static int
lava_usage_count(json_t *obj, const char *key, int64_t *v)
{
    json_t     *j;
    double      d;
    json_int_t  i;

    if (obj == NULL) {
        return 0;
    }

    j = json_object_get(obj, key);
    if (j == NULL || json_is_null(j)) {
        return 0;
    }

    if (json_is_integer(j)) {
        i = json_integer_value(j);
        if (i < 0 || i > LAVA_USAGE_COUNT_MAX) {
            return -1;
        }

        *v = (int64_t) i;
        return 1;
    }

    if (json_is_real(j)) {
        /* some providers print counters as 12.0 */
        d = json_real_value(j);
        if (!(d >= 0 && d <= (double) LAVA_USAGE_COUNT_MAX)
            || (double) (int64_t) d != d)
        {
            return -1;
        }

        *v = (int64_t) d;
        return 1;
    }

    return -1;
}


/* 1: an object, 0: absent or null, -1: another type */
static int
lava_usage_object(json_t *obj, const char *key, json_t **out)
{
    json_t  *j;

    *out = NULL;

    if (obj == NULL || !json_is_object(obj)) {
        return 0;
    }

    j = json_object_get(obj, key);
    if (j == NULL || json_is_null(j)) {
        return 0;
    }

    if (!json_is_object(j)) {
        return -1;
    }

    *out = j;
    return 1;
}


int
lava_usage_model_ok(const char *s, size_t n)
{
    size_t  i;

    if (n == 0 || n >= LAVA_USAGE_MODEL_MAX) {
        return 0;
    }

    /* the model goes into the event and the ledger: printable ASCII only */
    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] <= 0x20 || (unsigned char) s[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


int
lava_usage_model_set(char *model, const char *s, size_t n)
{
    if (!lava_usage_model_ok(s, n)) {
        return 0;
    }

    memcpy(model, s, n);
    model[n] = '\0';

    return 1;
}


static void
lava_usage_model(lava_usage_t *u, json_t *obj, const char *key)
{
    json_t  *j;

    j = obj ? json_object_get(obj, key) : NULL;
    if (j == NULL || !json_is_string(j)) {
        return;
    }

    (void) lava_usage_model_set(u->model, json_string_value(j),
                                json_string_length(j));
}


static void
lava_usage_raw(lava_usage_t *u, json_t *usage)
{
    size_t  n;

    /* 15 digits: reals read back as written (4.35, not 4.3499999999999996) */
    n = json_dumpb(usage, u->raw, LAVA_USAGE_RAW_MAX,
                   JSON_COMPACT | JSON_REAL_PRECISION(15));

    /* json_dumpb returns the size it needs; a cut object is useless */
    u->raw_len = (n > 0 && n <= LAVA_USAGE_RAW_MAX) ? n : 0;
}


static void
lava_usage_raw_pair(lava_usage_t *u, const char *key, int64_t v)
{
    json_t  *o;

    o = json_pack("{sI}", key, (json_int_t) v);
    if (o == NULL) {
        u->raw_len = 0;
        return;
    }

    lava_usage_raw(u, o);
    json_decref(o);
}


static int lava_usage_decimal_ms(const char *p, size_t n, int64_t *ms);


/*
 * A number of seconds in milliseconds. The number as written in text at
 * path (keys from the document root) is converted exactly; when the path
 * cannot be followed in the text (keys written with escapes, a document cut
 * out of a larger one) jansson's value is used. 0 ok, -1 not a number,
 * negative or out of range.
 */
static int
lava_usage_seconds(json_t *j, const char *text, size_t len,
    const char *const *path, int64_t *ms)
{
    size_t       i, n, vlen;
    double       d;
    const char  *p, *v;

    if (j == NULL || !json_is_number(j)) {
        return -1;
    }

    p = text;
    n = text ? len : 0;

    for (i = 0; path[i] && n; i++) {
        if (!lava_json_member(p, n, path[i], &v, &vlen)) {
            break;
        }

        p = v;
        n = vlen;
    }

    if (path[i] == NULL && n) {
        return lava_usage_decimal_ms(p, n, ms);
    }

    if (json_is_integer(j)) {
        if (json_integer_value(j) < 0
            || json_integer_value(j) > LAVA_USAGE_COUNT_MAX / 1000)
        {
            return -1;
        }

        *ms = (int64_t) json_integer_value(j) * 1000;
        return 0;
    }

    d = json_real_value(j);
    if (!(d >= 0 && d < (double) LAVA_USAGE_COUNT_MAX / 1000)) {
        return -1;
    }

    *ms = (int64_t) (d * 1000 + 0.5);
    return 0;
}


static void
lava_usage_clear_tokens(lava_usage_t *u)
{
    u->input_tokens = 0;
    u->cached_input_tokens = 0;
    u->cache_write_tokens = 0;
    u->cache_write_1h_tokens = 0;
    u->output_tokens = 0;
    u->reasoning_tokens = 0;
    u->audio_input_tokens = 0;
    u->audio_output_tokens = 0;
}


static int64_t
lava_usage_sub(int64_t a, int64_t b)
{
    return a > b ? a - b : 0;
}


#define LAVA_GET(obj, key, v, seen)                                          \
    do {                                                                     \
        int  r_ = lava_usage_count(obj, key, v);                             \
        if (r_ < 0) {                                                        \
            return -1;                                                       \
        }                                                                    \
        (seen) |= r_;                                                        \
    } while (0)

#define LAVA_OBJ(obj, key, out)                                              \
    do {                                                                     \
        if (lava_usage_object(obj, key, out) < 0) {                          \
            return -1;                                                       \
        }                                                                    \
    } while (0)


/*
 * Splits a total that includes two parts: *pa gets a, *pb gets b of what is
 * left, *rest the remainder, each clamped so that no bucket goes negative or
 * beyond the total.
 */
static void
lava_usage_split(int64_t total, int64_t a, int64_t b, int64_t *pa,
    int64_t *pb, int64_t *rest)
{
    *pa = a < total ? a : total;
    total -= *pa;
    *pb = b < total ? b : total;
    *rest = total - *pb;
}


/* A prompt total into cached, audio and plain input. */
static void
lava_usage_split_input(lava_usage_t *u, int64_t total, int64_t cached,
    int64_t audio)
{
    lava_usage_split(total, cached, audio, &u->cached_input_tokens,
                     &u->audio_input_tokens, &u->input_tokens);
}


/* A completion total that includes reasoning and audio output. */
static void
lava_usage_split_output(lava_usage_t *u, int64_t total, int64_t reasoning,
    int64_t audio)
{
    lava_usage_split(total, reasoning, audio, &u->reasoning_tokens,
                     &u->audio_output_tokens, &u->output_tokens);
}


/*
 * Chat completions shape: prompt_tokens includes cached and audio input,
 * completion_tokens includes reasoning and audio output -- except where
 * total_tokens shows that reasoning came on top of completion_tokens (xAI).
 * DeepSeek reports cache hits as prompt_cache_hit_tokens, Moonshot as
 * cached_tokens beside prompt_tokens.
 */
static int
lava_usage_openai_chat(lava_usage_t *u, json_t *usage)
{
    int      any, has_cached, has_total, unused;
    json_t  *pd, *cd;
    int64_t  prompt, completion, cached, hit, ain, reasoning, aout, total;

    any = has_cached = has_total = unused = 0;
    prompt = completion = cached = hit = ain = reasoning = aout = total = 0;

    LAVA_GET(usage, "prompt_tokens", &prompt, any);
    LAVA_GET(usage, "completion_tokens", &completion, any);
    LAVA_GET(usage, "total_tokens", &total, has_total);
    LAVA_GET(usage, "prompt_cache_hit_tokens", &hit, unused);
    if (json_object_get(usage, "prompt_cache_hit_tokens") == NULL) {
        /* Moonshot (Kimi) reports its cache hits as usage.cached_tokens */
        LAVA_GET(usage, "cached_tokens", &hit, unused);
    }

    LAVA_OBJ(usage, "prompt_tokens_details", &pd);
    LAVA_GET(pd, "cached_tokens", &cached, has_cached);
    LAVA_GET(pd, "audio_tokens", &ain, unused);

    LAVA_OBJ(usage, "completion_tokens_details", &cd);
    LAVA_GET(cd, "reasoning_tokens", &reasoning, unused);
    LAVA_GET(cd, "audio_tokens", &aout, unused);

    if (!any) {
        return 0;
    }

    lava_usage_chat_set(u, prompt, completion, has_total ? total : -1,
                        has_cached ? cached : hit, ain, reasoning, aout);
    lava_usage_raw(u, usage);

    return 1;
}


void
lava_usage_chat_set(lava_usage_t *u, int64_t prompt, int64_t completion,
    int64_t total, int64_t cached, int64_t ain, int64_t reasoning,
    int64_t aout)
{
    lava_usage_clear_tokens(u);

    lava_usage_split_input(u, prompt, cached, ain);

    if (reasoning > 0 && total >= 0
        && total == prompt + completion + reasoning)
    {
        /* reasoning reported beside completion_tokens, not inside */
        lava_usage_split_output(u, completion, 0, aout);
        u->reasoning_tokens = reasoning;

    } else {
        lava_usage_split_output(u, completion, reasoning, aout);
    }
}


/*
 * input_tokens/output_tokens shape (Responses API, gpt-image, audio
 * transcription): input_tokens includes cached and audio input (the details
 * object is "input_tokens_details", or "input_token_details" for
 * transcriptions), output_tokens includes reasoning.
 */
static int
lava_usage_openai_io(lava_usage_t *u, json_t *usage)
{
    int      any, unused;
    json_t  *id, *od;
    int64_t  in, out, cached, ain, reasoning, aout;

    any = unused = 0;
    in = out = cached = ain = reasoning = aout = 0;

    LAVA_GET(usage, "input_tokens", &in, any);
    LAVA_GET(usage, "output_tokens", &out, any);

    LAVA_OBJ(usage, "input_tokens_details", &id);
    if (id == NULL) {
        LAVA_OBJ(usage, "input_token_details", &id);
    }

    LAVA_GET(id, "cached_tokens", &cached, unused);
    LAVA_GET(id, "audio_tokens", &ain, unused);

    LAVA_OBJ(usage, "output_tokens_details", &od);
    LAVA_GET(od, "reasoning_tokens", &reasoning, unused);
    LAVA_GET(od, "audio_tokens", &aout, unused);

    if (!any) {
        return 0;
    }

    lava_usage_io_set(u, in, out, cached, ain, reasoning, aout);
    lava_usage_raw(u, usage);

    return 1;
}


void
lava_usage_io_set(lava_usage_t *u, int64_t in, int64_t out, int64_t cached,
    int64_t ain, int64_t reasoning, int64_t aout)
{
    lava_usage_clear_tokens(u);
    lava_usage_split_input(u, in, cached, ain);
    lava_usage_split_output(u, out, reasoning, aout);
}


/* {"type":"duration","seconds":N} (audio transcription billed by time) */
static int
lava_usage_openai_duration(lava_usage_t *u, json_t *usage, const char *text,
    size_t len)
{
    int64_t             ms;
    static const char  *path[] = { "usage", "seconds", NULL };

    if (lava_usage_seconds(json_object_get(usage, "seconds"), text, len, path,
                           &ms)
        != 0)
    {
        return -1;
    }

    lava_usage_clear_tokens(u);
    u->usage_duration_ms = ms;
    lava_usage_raw(u, usage);

    return 1;
}


/* a delta that still carries generated text or tool calls */
static int
lava_usage_delta_busy(json_t *delta)
{
    json_t  *v;

    v = json_object_get(delta, "content");
    if (json_is_string(v) && json_string_length(v)) {
        return 1;
    }

    v = json_object_get(delta, "reasoning_content");
    if (json_is_string(v) && json_string_length(v)) {
        return 1;
    }

    v = json_object_get(delta, "tool_calls");
    return json_is_array(v) && json_array_size(v);
}


/*
 * A chat completion chunk with usage is the final word unless it is one of
 * the running totals some hosts (xAI) put on every chunk: a chunk still
 * delivering text, with no choice finished. The include_usage chunk (no
 * choices) and any other document are final.
 */
static int
lava_usage_openai_final(json_t *root)
{
    int          busy;
    size_t       i;
    json_t      *choices, *c, *fr;
    const char  *object;

    object = json_string_value(json_object_get(root, "object"));
    if (object == NULL || strcmp(object, "chat.completion.chunk") != 0) {
        return 1;
    }

    choices = json_object_get(root, "choices");
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        return 1;
    }

    busy = 0;

    json_array_foreach(choices, i, c) {
        fr = json_object_get(c, "finish_reason");
        if (fr && !json_is_null(fr)) {
            return 1;
        }

        busy |= lava_usage_delta_busy(json_object_get(c, "delta"));
    }

    return !busy;
}


/*
 * 1: an output item of the Responses API that is a billed web search: a
 * "web_search_call" whose action is a search. Opening a page of the results
 * or finding in it ("open_page", "find_in_page") is no tool call cost; an
 * item without an action, or with one of another name, is counted.
 */
static int
lava_usage_openai_search_item(json_t *item)
{
    const char  *t;

    t = json_string_value(json_object_get(item, "type"));
    if (t == NULL || strcmp(t, "web_search_call") != 0) {
        return 0;
    }

    t = json_string_value(json_object_get(json_object_get(item, "action"),
                                          "type"));

    return t == NULL
           || (strcmp(t, "open_page") != 0 && strcmp(t, "find_in_page") != 0);
}


/*
 * Web searches of a Responses API response object: its "web_search_call"
 * output items. A count only grows: the in-progress events list fewer
 * items than the terminal one, and the items counted from
 * response.output_item.done events are the same searches.
 */
static void
lava_usage_openai_searches(lava_usage_t *u, json_t *doc)
{
    size_t   i;
    json_t  *output, *item;
    int64_t  n;

    output = json_object_get(doc, "output");
    if (!json_is_array(output)) {
        return;
    }

    n = 0;

    json_array_foreach(output, i, item) {
        n += lava_usage_openai_search_item(item);
    }

    if (n > u->web_search_calls) {
        u->web_search_calls = n;
    }
}


/*
 * A response.output_item.done event of a web search: its output_index is
 * marked, and web_search_calls is at least the number marked. An index
 * beyond the bitmap (or none) is left to the terminal event's count.
 */
static void
lava_usage_openai_search_done(lava_usage_t *u, json_t *root)
{
    size_t      i;
    json_t     *idx;
    int64_t     n;
    json_int_t  k;

    if (!lava_usage_openai_search_item(json_object_get(root, "item"))) {
        return;
    }

    idx = json_object_get(root, "output_index");
    if (!json_is_integer(idx)) {
        return;
    }

    k = json_integer_value(idx);
    if (k < 0 || k >= LAVA_USAGE_ITEMS_MAX) {
        return;
    }

    u->web_search_items[k / 64] |= (uint64_t) 1 << (k % 64);

    n = 0;

    for (i = 0; i < LAVA_USAGE_ITEMS_MAX / 64; i++) {
        n += __builtin_popcountll(u->web_search_items[i]);
    }

    if (n > u->web_search_calls) {
        u->web_search_calls = n;
    }
}


static int
lava_usage_openai(lava_usage_t *u, json_t *root, int ep, const char *text,
    size_t len)
{
    int          rc, final;
    json_t      *doc, *usage, *o, *data;
    int64_t      ms;
    const char  *type, *t;

    static const char  *dur_path[] = { "duration", NULL };

    if (!json_is_object(root)) {
        return 0;
    }

    doc = root;
    final = 1;
    type = json_string_value(json_object_get(root, "type"));

    if (type && strcmp(type, "error") == 0) {
        /* Responses API stream error event */
        u->error_event = 1;
        return 0;
    }

    if (type && strcmp(type, "response.output_item.done") == 0) {
        /* one finished output item: a web search is counted here too, in
         * case the terminal event is too big to be read whole */
        lava_usage_openai_search_done(u, root);
        return 0;
    }

    if (type && strncmp(type, "response.", 9) == 0) {
        /* Responses API event: the response object is nested; only the
         * terminal events carry its final usage */
        LAVA_OBJ(root, "response", &doc);
        if (doc == NULL) {
            return 0;
        }

        t = type + 9;
        final = strcmp(t, "completed") == 0 || strcmp(t, "incomplete") == 0
                || strcmp(t, "failed") == 0;

    } else {
        final = lava_usage_openai_final(root);
    }

    lava_usage_model(u, doc, "model");
    lava_usage_openai_searches(u, doc);

    if (ep == LAVA_EP_IMAGES) {
        data = json_object_get(root, "data");

        if (json_is_array(data)) {
            u->images = (int64_t) json_array_size(data);

        } else if (type && (strcmp(type, "image_generation.completed") == 0
                            || strcmp(type, "image_edit.completed") == 0)
                   && u->images == 0)
        {
            /* streamed image: one completed event per image */
            u->images = 1;
        }
    }

    /* "usage": null in ordinary stream chunks; Groq's own copy only when
     * there is no standard one, so that it is never counted twice */
    rc = lava_usage_object(doc, "usage", &usage);
    if (rc < 0) {
        return -1;
    }

    if (usage == NULL) {
        LAVA_OBJ(root, "x_groq", &o);
        LAVA_OBJ(o, "usage", &usage);
    }

    if (usage == NULL) {
        /* Moonshot (Kimi) streams: the final chunk's choices[0].usage */
        o = json_object_get(root, "choices");
        o = json_is_array(o) ? json_array_get(o, 0) : NULL;
        LAVA_OBJ(o, "usage", &usage);
    }

    if (usage == NULL) {
        if (ep == LAVA_EP_TRANSCRIPTION
            && json_is_number(json_object_get(root, "duration")))
        {
            /* whisper verbose_json: the audio length is the billed unit */
            if (lava_usage_seconds(json_object_get(root, "duration"), text,
                                   len, dur_path, &ms)
                != 0)
            {
                return -1;
            }

            lava_usage_clear_tokens(u);
            u->usage_duration_ms = ms;
            lava_usage_raw_pair(u, "duration_ms", ms);
            u->final = 1;
            return 1;
        }

        return 0;
    }

    if (json_object_get(usage, "prompt_tokens")
        || json_object_get(usage, "completion_tokens"))
    {
        rc = lava_usage_openai_chat(u, usage);

    } else if (json_object_get(usage, "input_tokens")
               || json_object_get(usage, "output_tokens"))
    {
        rc = lava_usage_openai_io(u, usage);

    } else if (json_is_number(json_object_get(usage, "seconds"))) {
        rc = lava_usage_openai_duration(u, usage, text, len);

    } else {
        rc = 0;
    }

    if (rc == 1) {
        u->final = final;
    }

    return rc;
}


/* Anthropic: input_tokens already excludes cache reads and writes. Stream
 * usage comes in message_start and cumulative message_delta objects that may
 * carry only some fields: each present field replaces what was seen. */
static int
lava_usage_anthropic(lava_usage_t *u, json_t *root)
{
    int          any, final, has_in, has_out, has_read, has_cw, has_5m,
                 has_1h, has_ws, has_wf;
    json_t      *msg, *usage, *cc, *stu, *prev;
    int64_t      in, out, read, cw, w5m, w1h, ws, wf;
    const char  *type;

    if (!json_is_object(root)) {
        return 0;
    }

    type = json_string_value(json_object_get(root, "type"));

    if (type == NULL || strcmp(type, "message") == 0) {
        lava_usage_model(u, root, "model");
        LAVA_OBJ(root, "usage", &usage);
        final = 1;

    } else if (strcmp(type, "message_start") == 0) {
        /* input counters, and output_tokens as far as generated: a
         * stream cut after this has not seen its final usage */
        LAVA_OBJ(root, "message", &msg);
        lava_usage_model(u, msg, "model");
        LAVA_OBJ(msg, "usage", &usage);
        final = 0;

    } else if (strcmp(type, "message_delta") == 0) {
        LAVA_OBJ(root, "usage", &usage);
        final = 1;

    } else if (strcmp(type, "error") == 0) {
        /* overloaded_error and the like in the middle of a stream */
        u->error_event = 1;
        return 0;

    } else {
        /* ping, content_block_*, message_stop */
        return 0;
    }

    if (usage == NULL) {
        return 0;
    }

    in = out = read = cw = w5m = w1h = ws = wf = 0;
    has_in = has_out = has_read = has_cw = has_5m = has_1h = has_ws = has_wf
        = 0;

    LAVA_GET(usage, "input_tokens", &in, has_in);
    LAVA_GET(usage, "output_tokens", &out, has_out);
    LAVA_GET(usage, "cache_read_input_tokens", &read, has_read);
    LAVA_GET(usage, "cache_creation_input_tokens", &cw, has_cw);

    LAVA_OBJ(usage, "cache_creation", &cc);
    LAVA_GET(cc, "ephemeral_5m_input_tokens", &w5m, has_5m);
    LAVA_GET(cc, "ephemeral_1h_input_tokens", &w1h, has_1h);

    /* server tools billed per call, cumulative like the tokens */
    LAVA_OBJ(usage, "server_tool_use", &stu);
    LAVA_GET(stu, "web_search_requests", &ws, has_ws);
    LAVA_GET(stu, "web_fetch_requests", &wf, has_wf);

    any = has_in | has_out | has_read | has_cw | has_5m | has_1h | has_ws
          | has_wf;
    if (!any) {
        return 0;
    }

    if (has_in) {
        u->input_tokens = in;
    }

    if (has_out) {
        u->output_tokens = out;
    }

    if (has_read) {
        u->cached_input_tokens = read;
    }

    if (has_1h) {
        u->cache_write_1h_tokens = w1h;
    }

    if (has_ws) {
        u->web_search_calls = ws;
    }

    if (has_wf) {
        u->web_fetch_calls = wf;
    }

    if (has_cw) {
        /* the total wins; whatever the 1-hour part does not explain is a
         * 5-minute write */
        u->cache_write_tokens = lava_usage_sub(cw, u->cache_write_1h_tokens);

    } else if (has_5m) {
        u->cache_write_tokens = w5m;
    }

    /* raw: the merged object, so that the audit copy of a stream holds the
     * input counters of message_start and the output of message_delta */
    prev = NULL;

    if (u->seen && u->raw_len) {
        prev = json_loadb(u->raw, u->raw_len, 0, NULL);
    }

    if (prev && json_is_object(prev) && json_object_update(prev, usage) == 0) {
        lava_usage_raw(u, prev);

    } else {
        lava_usage_raw(u, usage);
    }

    json_decref(prev);

    u->final = final;

    return 1;
}


static int
lava_usage_modality(json_t *obj, const char *key, const char *modality,
    int64_t *v)
{
    size_t       i;
    json_t      *arr, *el;
    int64_t      n;
    int          unused;
    const char  *m;

    *v = 0;

    arr = json_object_get(obj, key);
    if (arr == NULL || json_is_null(arr)) {
        return 0;
    }

    if (!json_is_array(arr)) {
        return -1;
    }

    json_array_foreach(arr, i, el) {
        if (!json_is_object(el)) {
            return -1;
        }

        m = json_string_value(json_object_get(el, "modality"));
        if (m == NULL || strcmp(m, modality) != 0) {
            continue;
        }

        n = 0;
        unused = 0;
        LAVA_GET(el, "tokenCount", &n, unused);
        (void) unused;
        *v += n;
    }

    return 0;
}


/* A Gemini chunk ends the response when a candidate has a finishReason; a
 * body without candidates (prompt blocked) is final too. */
static int
lava_usage_gemini_final(json_t *root)
{
    size_t   i;
    json_t  *cands, *c;

    cands = json_object_get(root, "candidates");
    if (!json_is_array(cands) || json_array_size(cands) == 0) {
        return 1;
    }

    json_array_foreach(cands, i, c) {
        if (json_is_string(json_object_get(c, "finishReason"))) {
            return 1;
        }
    }

    return 0;
}


/*
 * Grounding with Google Search: each candidate's groundingMetadata names the
 * search queries run ("webSearchQueries": billed per query on Gemini 3) and
 * the web sources used ("groundingChunks"); a response with either is one
 * grounded prompt (billed per prompt on Gemini 2.x). Which of the two costs
 * is the rate's business (docs/pricing.md). Stream chunks may repeat the
 * metadata: the largest count seen is kept (lava_usage_gemini_grounded),
 * never a sum over chunks. 0 read into *queries and *grounded, -1 a bad
 * type.
 */
static int
lava_usage_gemini_grounding(json_t *root, int64_t *queries, int64_t *grounded)
{
    size_t   i, k;
    json_t  *cands, *c, *gm, *q, *chunks, *s;

    *queries = *grounded = 0;

    cands = json_object_get(root, "candidates");
    if (!json_is_array(cands)) {
        return 0;
    }

    json_array_foreach(cands, i, c) {
        gm = json_object_get(c, "groundingMetadata");
        if (gm == NULL || json_is_null(gm)) {
            continue;
        }

        if (!json_is_object(gm)) {
            return -1;
        }

        q = json_object_get(gm, "webSearchQueries");
        if (q != NULL && !json_is_null(q)) {
            if (!json_is_array(q)) {
                return -1;
            }

            json_array_foreach(q, k, s) {
                *queries += json_is_string(s) && json_string_length(s) > 0;
            }

            *grounded |= json_array_size(q) > 0;
        }

        chunks = json_object_get(gm, "groundingChunks");
        if (json_is_array(chunks) && json_array_size(chunks) > 0) {
            *grounded = 1;
        }
    }

    return 0;
}


static void
lava_usage_gemini_grounded(lava_usage_t *u, int64_t queries, int64_t grounded)
{
    if (queries > u->web_search_calls) {
        u->web_search_calls = queries;
    }

    if (grounded > u->grounded_prompts) {
        u->grounded_prompts = grounded;
    }
}


/* Gemini usageMetadata: promptTokenCount includes cachedContentTokenCount;
 * thoughts and tool-use prompt tokens are reported apart. Running totals:
 * each usageMetadata replaces the previous one. */
static int
lava_usage_gemini_one(lava_usage_t *u, json_t *root)
{
    int      any;
    json_t  *um;
    int64_t  prompt, cand, cached, thoughts, tool, ain, ain_cached, aout,
             queries, grounded;

    if (!json_is_object(root)) {
        return 0;
    }

    lava_usage_model(u, root, "modelVersion");

    if (lava_usage_gemini_grounding(root, &queries, &grounded) < 0) {
        return -1;
    }

    LAVA_OBJ(root, "usageMetadata", &um);
    if (um == NULL) {
        lava_usage_gemini_grounded(u, queries, grounded);
        return 0;
    }

    any = 0;
    prompt = cand = cached = thoughts = tool = 0;

    LAVA_GET(um, "promptTokenCount", &prompt, any);
    LAVA_GET(um, "candidatesTokenCount", &cand, any);
    LAVA_GET(um, "cachedContentTokenCount", &cached, any);
    LAVA_GET(um, "thoughtsTokenCount", &thoughts, any);
    LAVA_GET(um, "toolUsePromptTokenCount", &tool, any);

    if (lava_usage_modality(um, "promptTokensDetails", "AUDIO", &ain) < 0
        || lava_usage_modality(um, "cacheTokensDetails", "AUDIO", &ain_cached)
           < 0
        || lava_usage_modality(um, "candidatesTokensDetails", "AUDIO", &aout)
           < 0)
    {
        return -1;
    }

    lava_usage_gemini_grounded(u, queries, grounded);

    if (!any) {
        return 0;
    }

    lava_usage_clear_tokens(u);

    u->cached_input_tokens = cached < prompt ? cached : prompt;
    u->audio_input_tokens = lava_usage_sub(ain, ain_cached);
    u->input_tokens = lava_usage_sub(prompt + tool, u->cached_input_tokens
                                                    + u->audio_input_tokens);
    u->reasoning_tokens = thoughts;
    u->audio_output_tokens = aout < cand ? aout : cand;
    u->output_tokens = cand - u->audio_output_tokens;

    lava_usage_raw(u, um);

    u->final = lava_usage_gemini_final(root);

    return 1;
}


static int
lava_usage_gemini(lava_usage_t *u, json_t *root)
{
    int      rc, found;
    size_t   i;
    json_t  *el;

    if (!json_is_array(root)) {
        return lava_usage_gemini_one(u, root);
    }

    found = 0;

    json_array_foreach(root, i, el) {
        rc = lava_usage_gemini_one(u, el);
        if (rc < 0) {
            return -1;
        }

        found |= rc;
    }

    return found;
}


/* Cohere: billed_units is what Cohere charges; tokens is what the model saw.
 * v2 chat: "usage" (body) or "delta.usage" (message-end event);
 * v1: "meta" (body) or "response.meta" (stream-end event). */
static int
lava_usage_cohere(lava_usage_t *u, json_t *root)
{
    int      has_bin, has_bout, has_tin, has_tout, has_su;
    json_t  *usage, *o, *bu, *tk;
    int64_t  bin, bout, tin, tout, su;

    if (!json_is_object(root)) {
        return 0;
    }

    LAVA_OBJ(root, "usage", &usage);

    if (usage == NULL) {
        LAVA_OBJ(root, "delta", &o);
        LAVA_OBJ(o, "usage", &usage);
    }

    if (usage == NULL) {
        LAVA_OBJ(root, "meta", &usage);
    }

    if (usage == NULL) {
        LAVA_OBJ(root, "response", &o);
        LAVA_OBJ(o, "meta", &usage);
    }

    if (usage == NULL) {
        return 0;
    }

    LAVA_OBJ(usage, "billed_units", &bu);
    LAVA_OBJ(usage, "tokens", &tk);

    bin = bout = tin = tout = su = 0;
    has_bin = has_bout = has_tin = has_tout = has_su = 0;

    LAVA_GET(bu, "input_tokens", &bin, has_bin);
    LAVA_GET(bu, "output_tokens", &bout, has_bout);
    LAVA_GET(bu, "search_units", &su, has_su);
    LAVA_GET(tk, "input_tokens", &tin, has_tin);
    LAVA_GET(tk, "output_tokens", &tout, has_tout);

    if (!(has_bin | has_bout | has_tin | has_tout | has_su)) {
        return 0;
    }

    lava_usage_clear_tokens(u);

    u->input_tokens = has_bin ? bin : tin;
    u->output_tokens = has_bout ? bout : tout;

    if (has_su) {
        /* rerank is billed per search unit: one billed request each */
        u->requests = su;
    }

    lava_usage_raw(u, usage);

    u->final = 1;

    return 1;
}


/*
 * Exact decimal to milliseconds: "2.5" -> 2500, "0.0005" -> 1 (halves round
 * up), "1e3" -> 1000000. p/n is a JSON number token. -1 on a negative or
 * malformed number or one beyond LAVA_USAGE_COUNT_MAX ms.
 */
static int
lava_usage_decimal_ms(const char *p, size_t n, int64_t *ms)
{
    int       scale, exp, esign, frac, digits, half;
    size_t    i;
    int64_t   m, pow10, q, r;

    i = 0;
    m = 0;
    scale = 0;
    digits = 0;
    half = -1;      /* first digit dropped for precision, -1: none */
    frac = 0;

    if (i < n && p[i] == '-') {
        return -1;
    }

    for ( /* void */ ; i < n; i++) {
        if (p[i] == '.' && !frac) {
            frac = 1;
            continue;
        }

        if (p[i] < '0' || p[i] > '9') {
            break;
        }

        if (m < (int64_t) 100000000000000000) {       /* 1e17 */
            m = m * 10 + (p[i] - '0');
            scale -= frac;

        } else if (!frac) {
            /* beyond 17 significant digits: only the magnitude counts */
            scale++;
            if (half < 0) {
                half = p[i] - '0';
            }

        } else if (half < 0) {
            half = p[i] - '0';
        }

        digits++;
    }

    if (digits == 0) {
        return -1;
    }

    exp = 0;

    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        esign = 1;

        if (i < n && (p[i] == '+' || p[i] == '-')) {
            esign = (p[i] == '-') ? -1 : 1;
            i++;
        }

        if (i == n) {
            return -1;
        }

        for ( /* void */ ; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            if (exp < 1000) {
                exp = exp * 10 + (p[i] - '0');
            }
        }

        exp *= esign;
    }

    if (i != n) {
        return -1;
    }

    scale += exp + 3;       /* seconds -> milliseconds */

    if (m == 0) {
        *ms = 0;
        return 0;
    }

    if (scale >= 0) {
        for ( /* void */ ; scale > 0; scale--) {
            if (m > LAVA_USAGE_COUNT_MAX / 10) {
                return -1;
            }

            m *= 10;
        }

        if (m > LAVA_USAGE_COUNT_MAX) {
            return -1;
        }

        *ms = m;
        return 0;
    }

    if (-scale > 18) {
        *ms = 0;
        return 0;
    }

    for (pow10 = 1; scale < 0; scale++) {
        pow10 *= 10;
    }

    q = m / pow10;
    r = m % pow10;

    if (r * 2 >= pow10) {
        q++;
    }

    if (q > LAVA_USAGE_COUNT_MAX) {
        return -1;
    }

    *ms = q;
    return 0;
}


size_t
lava_json_span(const char *p, size_t n)
{
    size_t  i, depth;
    int     in_str;

    if (n == 0) {
        return 0;
    }

    if (p[0] != '{' && p[0] != '[' && p[0] != '"') {
        for (i = 0; i < n; i++) {
            if (p[i] == ',' || p[i] == '}' || p[i] == ']'
                || lava_json_is_ws(p[i]))
            {
                break;
            }
        }

        return i;
    }

    depth = 0;
    in_str = 0;

    for (i = 0; i < n; i++) {
        if (in_str) {
            if (p[i] == '\\') {
                i++;

            } else if (p[i] == '"') {
                in_str = 0;

                if (depth == 0) {
                    return i + 1;
                }
            }

            continue;
        }

        switch (p[i]) {

        case '"':
            in_str = 1;
            break;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (depth == 0) {
                return 0;
            }

            if (--depth == 0) {
                return i + 1;
            }

            break;

        default:
            break;
        }
    }

    return 0;
}


int
lava_json_member(const char *p, size_t n, const char *key, const char **v,
    size_t *vlen)
{
    int          found;
    size_t       klen, klen_seen, span;
    const char  *end, *k;

    end = p + n;
    klen = strlen(key);
    found = 0;

    if (n == 0 || *p != '{') {
        return 0;
    }

    p++;

    for ( ;; ) {
        p = lava_json_ws(p, end);
        if (p == end || *p != '"') {
            return found;
        }

        k = p + 1;
        span = lava_json_span(p, end - p);
        if (span < 2) {
            return found;
        }

        klen_seen = span - 2;
        p += span;
        p = lava_json_ws(p, end);

        if (p == end || *p != ':') {
            return found;
        }

        p = lava_json_ws(p + 1, end);

        span = lava_json_span(p, end - p);
        if (span == 0) {
            return found;
        }

        if (klen_seen == klen && memcmp(k, key, klen) == 0) {
            *v = p;
            *vlen = span;
            found = 1;
        }

        p = lava_json_ws(p + span, end);

        if (p == end || *p != ',') {
            return found;
        }

        p++;
    }
}


/* Custom ("other") providers: the documented standard response fields. */
static int
lava_usage_custom(lava_usage_t *u, json_t *root, const char *text,
    size_t len)
{
    int          any, has_tokens, has_in, has_out, has_chars, has_dur;
    size_t       ulen, dlen;
    json_t      *usage, *d;
    int64_t      tokens, in, out, chars, dur_ms;
    const char  *uv, *dv;

    if (!json_is_object(root)) {
        return 0;
    }

    LAVA_OBJ(root, "usage", &usage);
    if (usage == NULL) {
        return 0;
    }

    tokens = in = out = chars = dur_ms = 0;
    has_tokens = has_in = has_out = has_chars = has_dur = 0;

    LAVA_GET(usage, "tokens", &tokens, has_tokens);
    LAVA_GET(usage, "input_tokens", &in, has_in);
    LAVA_GET(usage, "output_tokens", &out, has_out);
    LAVA_GET(usage, "characters", &chars, has_chars);

    d = json_object_get(usage, "duration_seconds");

    if (d && !json_is_null(d)) {
        if (!json_is_number(d)) {
            return -1;
        }

        /* the number as written, not the double jansson made of it */
        if (lava_json_member(text, len, "usage", &uv, &ulen)
            && lava_json_member(uv, ulen, "duration_seconds", &dv, &dlen))
        {
            if (lava_usage_decimal_ms(dv, dlen, &dur_ms) != 0) {
                return -1;
            }

        } else if (json_is_integer(d)) {
            if (json_integer_value(d) < 0
                || json_integer_value(d) > LAVA_USAGE_COUNT_MAX / 1000)
            {
                return -1;
            }

            dur_ms = (int64_t) json_integer_value(d) * 1000;

        } else {
            /* keys written with escapes: the double is all there is */
            if (!(json_real_value(d) >= 0
                  && json_real_value(d) < (double) LAVA_USAGE_COUNT_MAX / 1000))
            {
                return -1;
            }

            dur_ms = (int64_t) (json_real_value(d) * 1000 + 0.5);
        }

        has_dur = 1;
    }

    any = has_tokens | has_in | has_out | has_chars | has_dur;
    if (!any) {
        return 0;
    }

    lava_usage_clear_tokens(u);

    if (has_in || has_out) {
        u->input_tokens = in;
        u->output_tokens = out;

    } else {
        /* one undivided count: one rate per token, booked as input */
        u->input_tokens = tokens;
    }

    u->characters = chars;
    u->usage_duration_ms = dur_ms;

    lava_usage_raw(u, usage);

    u->final = 1;

    return 1;
}


/* The largest "end" of a words array, in ms; -1 none, -2 bad type. */
static int64_t
lava_usage_words_end(json_t *obj)
{
    size_t   i;
    double   d;
    json_t  *words, *w, *end;
    int64_t  best, ms;

    words = json_object_get(obj, "words");
    if (words == NULL || json_is_null(words)) {
        return -1;
    }

    if (!json_is_array(words)) {
        return -2;
    }

    best = -1;

    json_array_foreach(words, i, w) {
        end = json_object_get(w, "end");
        if (end == NULL || json_is_null(end)) {
            continue;
        }

        if (!json_is_number(end)) {
            return -2;
        }

        d = json_number_value(end);
        if (!(d >= 0 && d < (double) LAVA_USAGE_COUNT_MAX / 1000)) {
            return -2;
        }

        ms = (int64_t) (d * 1000 + 0.5);
        if (ms > best) {
            best = ms;
        }
    }

    return best;
}


/* One transcript (or one channel of a multichannel one): its audio length. */
static int
lava_usage_stt_one(json_t *obj, const char *text, size_t len,
    const char *const *path, int64_t *ms)
{
    json_t  *d;

    d = json_object_get(obj, "audio_duration_secs");

    if (d && !json_is_null(d)) {
        return lava_usage_seconds(d, text, len, path, ms) == 0 ? 1 : -1;
    }

    *ms = lava_usage_words_end(obj);

    return *ms == -2 ? -1 : (*ms >= 0);
}


/* ElevenLabs speech-to-text is billed by the length of the audio. */
static int
lava_usage_elevenlabs(lava_usage_t *u, json_t *root, const char *text,
    size_t len)
{
    int      rc, found;
    size_t   i;
    json_t  *trs, *t;
    int64_t  ms, best;

    static const char  *path[] = { "audio_duration_secs", NULL };
    static const char  *none[] = { "", NULL };

    if (!json_is_object(root)) {
        return 0;
    }

    rc = lava_usage_stt_one(root, text, len, path, &best);
    if (rc < 0) {
        return -1;
    }

    found = rc;

    trs = json_object_get(root, "transcripts");

    if (!found && json_is_array(trs)) {
        /* one transcript per channel of the same file: the longest */
        best = 0;

        json_array_foreach(trs, i, t) {
            if (!json_is_object(t)) {
                return -1;
            }

            rc = lava_usage_stt_one(t, NULL, 0, none, &ms);
            if (rc < 0) {
                return -1;
            }

            if (rc && ms >= best) {
                best = ms;
                found = 1;
            }
        }
    }

    if (!found) {
        return 0;
    }

    lava_usage_clear_tokens(u);
    u->usage_duration_ms = best;
    lava_usage_raw_pair(u, "duration_ms", best);
    u->final = 1;

    return 1;
}


/*
 * Retell bills a call by its length, known once the call has ended: the call
 * object (get-call) then has "duration_ms", and "call_cost" with
 * "total_duration_seconds". Calls still registered or ongoing carry nothing.
 */
static int
lava_usage_retell(lava_usage_t *u, json_t *root, const char *text,
    size_t len)
{
    int          has;
    json_t      *cc, *raw;
    int64_t      ms;
    const char  *status;

    static const char  *path[] = { "call_cost", "total_duration_seconds",
                                   NULL };

    if (!json_is_object(root)) {
        return 0;
    }

    status = json_string_value(json_object_get(root, "call_status"));
    if (status == NULL || strcmp(status, "ended") != 0) {
        return 0;
    }

    has = 0;
    ms = 0;
    LAVA_GET(root, "duration_ms", &ms, has);
    LAVA_OBJ(root, "call_cost", &cc);

    if (!has && cc && json_object_get(cc, "total_duration_seconds")) {
        if (lava_usage_seconds(json_object_get(cc, "total_duration_seconds"),
                               text, len, path, &ms)
            != 0)
        {
            return -1;
        }

        has = 1;
    }

    if (!has) {
        return 0;
    }

    lava_usage_clear_tokens(u);
    u->usage_duration_ms = ms;

    /* the audit copy: which call, how long, what Retell said it cost */
    raw = json_object();
    if (raw) {
        if (json_is_string(json_object_get(root, "call_id"))) {
            json_object_set(raw, "call_id", json_object_get(root, "call_id"));
        }

        json_object_set_new(raw, "duration_ms", json_integer(ms));

        if (cc) {
            json_object_set(raw, "call_cost", cc);
        }

        lava_usage_raw(u, raw);

        if (u->raw_len == 0) {
            json_object_del(raw, "call_cost");
            lava_usage_raw(u, raw);
        }

        json_decref(raw);
    }

    u->final = 1;

    return 1;
}


int
lava_usage_parse(lava_usage_t *u, lava_usage_format_e fmt, const char *json,
    size_t len)
{
    return lava_usage_parse_ep(u, fmt, LAVA_EP_OTHER, json, len);
}


#define LAVA_USAGE_SLIM_MIN  128       /* smaller documents: parsed whole */


static int
lava_usage_span_is(const char *v, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(v, s, n) == 0;
}


/*
 * The document without the member that holds the generated content, when
 * the usage parser never reads it: Anthropic's "content", and OpenAI's
 * "choices" when a "usage" object is there and the document is not a
 * stream chunk (a chunk's choices say whether its usage is final, and
 * Moonshot's usage may sit in choices[0]). The member is validated by
 * lava_json_scan (as jansson would without JSON_ALLOW_NUL) but not parsed
 * into jansson's values: an answer's content is most of its bytes. NULL:
 * parse the whole document (nothing to leave out, a doubt, no memory);
 * else a malloc()ed document of *slim_len bytes.
 */
static char *
lava_usage_slim(lava_usage_format_e fmt, const char *json, size_t len,
    size_t *slim_len)
{
    int                done, drop, usage_obj, chunk;
    char              *slim;
    size_t             off, klen, vlen, n, pass;
    const char        *key, *v, *drop_key;
    lava_json_scan_e   rc;

    drop_key = fmt == LAVA_USAGE_ANTHROPIC ? "content"
               : fmt == LAVA_USAGE_OPENAI ? "choices" : NULL;

    if (drop_key == NULL || len < LAVA_USAGE_SLIM_MIN) {
        return NULL;
    }

    slim = NULL;
    n = 0;
    usage_obj = 0;
    chunk = 0;

    /* pass 0: may the member go (and is it there); pass 1: copy the rest */
    for (pass = 0; pass < 2; pass++) {
        off = 0;
        drop = 0;

        do {
            rc = lava_json_scan_member(json, len, &off, 0, &key, &klen, &v,
                                       &vlen, &done);
            if (rc != LAVA_JSON_SCAN_OK) {
                free(slim);
                return NULL;
            }

            if (key == NULL) {
                break;
            }

            if (lava_usage_span_is(key, klen, drop_key)) {
                drop = 1;
                continue;
            }

            if (pass == 0) {
                /* the last of duplicates counts, as in jansson */
                if (lava_usage_span_is(key, klen, "usage")) {
                    usage_obj = vlen > 0 && v[0] == '{';

                } else if (lava_usage_span_is(key, klen, "object")) {
                    chunk = !lava_usage_span_is(v, vlen, "\"chat.completion\"");
                }

                continue;
            }

            if (n > 1) {
                slim[n++] = ',';
            }

            /* from the name's opening quote to the value's end */
            memcpy(slim + n, key - 1, (size_t) (v + vlen - (key - 1)));
            n += (size_t) (v + vlen - (key - 1));

        } while (!done);

        if (pass == 0) {
            if (!drop
                || (fmt == LAVA_USAGE_OPENAI && (!usage_obj || chunk)))
            {
                return NULL;
            }

            slim = malloc(len + 2);
            if (slim == NULL) {
                return NULL;
            }

            slim[0] = '{';
            n = 1;
        }
    }

    slim[n++] = '}';
    *slim_len = n;

    return slim;
}


static int lava_usage_parse_doc(lava_usage_t *u, lava_usage_format_e fmt,
    int ep, const char *json, size_t len, int slim_ok);


int
lava_usage_parse_ep(lava_usage_t *u, lava_usage_format_e fmt, int ep,
    const char *json, size_t len)
{
    return lava_usage_parse_doc(u, fmt, ep, json, len, 1);
}


int
lava_usage_parse_full(lava_usage_t *u, lava_usage_format_e fmt, int ep,
    const char *json, size_t len)
{
    return lava_usage_parse_doc(u, fmt, ep, json, len, 0);
}


static int
lava_usage_parse_doc(lava_usage_t *u, lava_usage_format_e fmt, int ep,
    const char *json, size_t len, int slim_ok)
{
    int           rc;
    char         *slim;
    size_t        slim_len;
    json_t       *root;
    const char   *end;

    end = json + len;
    json = lava_json_ws(json, end);

    while (end > json && lava_json_is_ws(end[-1])) {
        end--;
    }

    len = end - json;

    if (len == 0 || (len == 6 && memcmp(json, "[DONE]", 6) == 0)) {
        /* keep-alives and the OpenAI stream terminator */
        return 0;
    }

    if (fmt == LAVA_USAGE_NONE) {
        return 0;
    }

    if (slim_ok && (fmt == LAVA_USAGE_OPENAI || fmt == LAVA_USAGE_ANTHROPIC)) {
        /* the common answers without jansson (lib/lava_usage_scan.c) */
        rc = fmt == LAVA_USAGE_OPENAI
             ? lava_usage_scan_openai(u, ep, json, len)
             : lava_usage_scan_anthropic(u, json, len);

        if (rc != LAVA_USAGE_SCAN_UNSURE) {
            if (rc == 1) {
                u->seen = 1;
            }

            return rc;
        }
    }

    root = NULL;
    slim = slim_ok ? lava_usage_slim(fmt, json, len, &slim_len) : NULL;

    if (slim) {
        root = json_loadb(slim, slim_len, 0, NULL);
        free(slim);
    }

    if (root == NULL) {
        root = json_loadb(json, len, 0, NULL);
    }

    if (root == NULL) {
        return -1;
    }

    switch (fmt) {

    case LAVA_USAGE_OPENAI:
        rc = lava_usage_openai(u, root, ep, json, len);
        break;

    case LAVA_USAGE_ANTHROPIC:
        rc = lava_usage_anthropic(u, root);
        break;

    case LAVA_USAGE_GEMINI:
        rc = lava_usage_gemini(u, root);
        break;

    case LAVA_USAGE_COHERE:
        rc = lava_usage_cohere(u, root);
        break;

    case LAVA_USAGE_CUSTOM:
        rc = lava_usage_custom(u, root, json, len);
        break;

    case LAVA_USAGE_ELEVENLABS:
        rc = lava_usage_elevenlabs(u, root, json, len);
        break;

    case LAVA_USAGE_RETELL:
        rc = lava_usage_retell(u, root, json, len);
        break;

    default:
        rc = 0;
        break;
    }

    json_decref(root);

    if (rc == 1) {
        u->seen = 1;
    }

    return rc;
}
