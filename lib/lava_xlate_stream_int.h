/*
 * Stream translation, internal: the state shared by the decoders of provider
 * events (lava_xlate_stream.c) and the writers of client events
 * (lava_xlate_stream_out.c), and the internal form between them.
 *
 * A decoder turns one provider event into calls of the xs_* functions below
 * (start, text, tool start/arguments, block stop, finish, usage, end,
 * error); the writer of the client's format turns each call into client
 * bytes appended to s->ob. Only lib/lava_xlate_stream*.c include this file.
 */
#ifndef LAVA_XLATE_STREAM_INT_H
#define LAVA_XLATE_STREAM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lava_sse.h"
#include "lava_xlate_map.h"
#include "lava_xlate_stream.h"

/* Usage and finish reasons are lava_xlate_map.h's internal form, shared
 * with the JSON translator; a provider's error event is kept as the HTTP
 * status its type stands for (lava_xlate_error_type() names it again in the
 * client's format). */

/* Client content block (Anthropic client) or pending call (Gemini client). */
enum {
    XS_BLK_NONE = 0,
    XS_BLK_TEXT,
    XS_BLK_TOOL,
    XS_BLK_THINK            /* reasoning text */
};

struct lava_xlate_stream_s {
    lava_fmt_e   from;
    lava_fmt_e   to;
    unsigned     opts;
    char        *model_override;    /* owned, NULL: the provider's */

    lava_sse_t   sse;

    int          err;               /* sticky translator failure */
    char         errmsg[160];

    char        *ob;                /* client bytes of this call (owned) */
    size_t       olen;
    size_t       ocap;

    /* what the provider said about the answer */
    char         id[128];
    char         model[128];
    char         cid[160];          /* id as the client's format writes it */
    long long    created;
    lava_xlate_usage_t  usage;
    lava_finish_e       fin;        /* NONE until known */
    int64_t      an_input;          /* Anthropic provider: input_tokens as
                                       sent (without cache reads/writes) */
    char         usage_js[512];     /* the usage object last written ... */
    size_t       usage_js_len;      /* (0: none kept) */
    lava_xlate_usage_t  usage_js_of;    /* ... and the usage it is of */

    /* progress */
    int          started;           /* client start written */
    int          fin_written;       /* OpenAI client: finish chunk written */
    int          ended;             /* the client's stream has its end */
    int          refused;           /* OpenAI provider: a refusal delta */
    int          dead;              /* provider error relayed: ignore rest */
    unsigned long  fast_events;     /* events the fast path decoded (the
                                       tests and bench/xstream.c read it) */

    /* decoder state */
    int          src_blk;           /* Anthropic provider: kind of the open
                                       block (XS_BLK_*, or -1: ignored) */
    int          src_tools;         /* tool calls seen (Gemini provider) */

    /* writer state */
    int          blk;               /* open client block, XS_BLK_* */
    int          blk_index;         /* Anthropic client: next block index */
    long         tool_key;          /* provider's key of the open tool call */
    int          ntools;            /* tool calls written */
    char         tool_id[128];      /* Gemini client: pending call */
    char         tool_name[256];
    char        *args;              /* Gemini client: its arguments (owned) */
    size_t       args_len;
    size_t       args_cap;
};

typedef struct lava_xlate_stream_s  xs_t;

/* lava_xlate_stream.c */
void lava_xs_fail(xs_t *s, const char *what);

/* lava_xlate_stream_out.c: the internal form, written for s->to */
void lava_xs_start(xs_t *s);
void lava_xs_text(xs_t *s, const char *p, size_t n);
void lava_xs_reasoning(xs_t *s, const char *p, size_t n);
void lava_xs_tool_start(xs_t *s, long key, const char *id, size_t id_len,
    const char *name, size_t name_len);
void lava_xs_tool_args(xs_t *s, long key, const char *p, size_t n);
void lava_xs_block_stop(xs_t *s);
void lava_xs_finish(xs_t *s, lava_finish_e fin);
void lava_xs_end(xs_t *s);
/* a provider's error event; status: the HTTP status its type stands for */
void lava_xs_error(xs_t *s, int status, const char *msg, size_t msg_len);
/* the client-shaped event for a translator failure */
void lava_xs_error_failure(xs_t *s);

/*
 * lava_xlate_stream_fast.c: one provider event's data decoded by the
 * scanner when it is one of the common text-delta events, with the same xs_*
 * calls the jansson decoder would make: 0; LAVA_XS_FAST_DECLINED when it is
 * not (nothing was done: decode it with jansson).
 */
#define LAVA_XS_FAST_DECLINED  1
int lava_xs_fast_event(xs_t *s, const char *payload, size_t len);

/* the HTTP status a format's error type (or Gemini status) stands for,
 * 500 when unknown */
int lava_xs_err_status(lava_fmt_e fmt, const char *type, size_t len);

/* the output buffer */
void lava_xs_out(xs_t *s, const char *p, size_t n);
#define lava_xs_out_lit(s, lit)  lava_xs_out(s, lit, sizeof(lit) - 1)
void lava_xs_out_jstr(xs_t *s, const char *p, size_t n);
void lava_xs_out_int(xs_t *s, int64_t v);

#endif
