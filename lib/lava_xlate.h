/*
 * Format translation of JSON bodies between the OpenAI Chat Completions
 * shape, the Anthropic Messages shape and the Gemini generateContent shape
 * (docs/translation.md): requests, non-stream responses and error bodies,
 * all six directions through one internal form (lib/lava_xlate_int.h).
 * Streams are lib/lava_xlate_stream.h.
 *
 * Pure C with jansson; no I/O, no nginx types. Every output buffer is
 * malloc'd and owned by the caller (free(out->data)); on failure out is
 * left empty ({NULL, 0}).
 *
 * What the target cannot express is refused, never dropped silently: the
 * call fails with err "<what> is not supported by <target>" (the module
 * answers 400 with it). A few members whose loss changes nothing the client
 * can observe are dropped by design; docs/translation.md lists them.
 */
#ifndef LAVA_XLATE_H
#define LAVA_XLATE_H

#include <stddef.h>

typedef enum {
    LAVA_FMT_OPENAI = 0,     /* POST /v1/chat/completions */
    LAVA_FMT_ANTHROPIC,      /* POST /v1/messages */
    LAVA_FMT_GEMINI          /* POST /v1beta/models/<m>:generateContent */
} lava_fmt_e;

#define LAVA_FMT_N  3

typedef struct {
    char    *data;           /* malloc'd, caller frees; not NUL-terminated
                                in general (it is, but do not rely on it) */
    size_t   len;
} lava_xlate_buf_t;

/* bytes of a request body the translators accept (the module's inspection
 * limit is smaller; this bounds a direct caller) */
#define LAVA_XLATE_BODY_MAX        (64 * 1024 * 1024)

/* max_tokens sent to Anthropic when the client gave none (Anthropic
 * requires it; OpenAI and Gemini let the model decide) */
#define LAVA_XLATE_ANTHROPIC_MAX_TOKENS  4096

/* bytes of a model name (the event's model limit is smaller) */
#define LAVA_XLATE_MODEL_MAX       256

/*
 * model: the provider's model name to put in the body (NULL: keep the
 * client's). Gemini bodies carry no model (it is in the URL): with
 * to == LAVA_FMT_GEMINI model is ignored; with from == LAVA_FMT_GEMINI and
 * another target, model is required.
 * Returns 0, or -1 with err set to "<what> is not supported by <target>",
 * a parse error or a missing member (NUL-terminated, truncated to errlen;
 * printable ASCII without '"' or '\\': names quoted from the body have
 * other bytes replaced by '?', so err goes into JSON as it is).
 * from == to: the body is kept as sent (only the model replaced).
 */
int lava_xlate_request(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, const char *model, lava_xlate_buf_t *out, char *err,
    size_t errlen);

/*
 * What the caller needs besides the body: the stream flag lives in the URL
 * for Gemini (streamGenerateContent?alt=sse), in the body for the others.
 */
typedef struct {
    int      stream;         /* in: -1 read the client body, 0/1 the
                                client's URL said (Gemini clients);
                                out: the request streams */
    int      include_usage;  /* out: the client asked for usage in the
                                stream (OpenAI stream_options; always 1
                                for Anthropic and Gemini clients) */
    char     model[LAVA_XLATE_MODEL_MAX];   /* out: the client body's
                                               model, "" none */
} lava_xlate_req_info_t;

/*
 * lava_xlate_request() with info (may be NULL: stream read from the body).
 * A streaming request to OpenAI always asks for
 * stream_options.include_usage (billing reads the provider's usage); a
 * streaming request to Gemini loses its stream flag (the caller picks
 * streamGenerateContent?alt=sse from info->stream).
 */
int lava_xlate_request_info(lava_fmt_e from, lava_fmt_e to,
    const char *body, size_t len, const char *model,
    lava_xlate_req_info_t *info, lava_xlate_buf_t *out, char *err,
    size_t errlen);

/* A provider's non-stream 2xx response body into the client's shape
 * (from == to: its bytes as they came, once they parse as an object). */
int lava_xlate_response(lava_fmt_e from, lava_fmt_e to, const char *body,
    size_t len, lava_xlate_buf_t *out, char *err, size_t errlen);

/*
 * A provider's error body (any status, any bytes, JSON or not) into the
 * client's error shape; the caller keeps the status. Returns 0, or -1 only
 * when out of memory.
 */
int lava_xlate_error(lava_fmt_e from, lava_fmt_e to, int status,
    const char *body, size_t len, lava_xlate_buf_t *out);

/* "openai", "anthropic", "google" (also "gemini"): the SDK's format names;
 * anything else (-1 cast to lava_fmt_e) */
lava_fmt_e lava_xlate_fmt(const char *name, size_t len);

/* "openai", "anthropic", "gemini": for messages */
const char *lava_xlate_fmt_name(lava_fmt_e fmt);

#endif
