/*
 * The translation library's interface as the module uses it: lib/lava_xlate.h
 * (JSON) and lib/lava_xlate_stream.h (SSE), the latter declared here while
 * it is not in lib/ yet (same declarations).
 */

#ifndef NGX_HTTP_LAVA_XLATE_GLUE_H
#define NGX_HTTP_LAVA_XLATE_GLUE_H

#include "lava_xlate.h"

#if defined(__has_include) && __has_include("lava_xlate_stream.h")
#include "lava_xlate_stream.h"
#else
typedef struct lava_xlate_stream_s lava_xlate_stream_t;
lava_xlate_stream_t *lava_xlate_stream_new(lava_fmt_e from, lava_fmt_e to,
    const char *model);
int lava_xlate_stream_feed(lava_xlate_stream_t *s, const char *in,
    size_t len, lava_xlate_buf_t *out);
int lava_xlate_stream_finish(lava_xlate_stream_t *s, lava_xlate_buf_t *out);
void lava_xlate_stream_free(lava_xlate_stream_t *s);
#endif

#endif /* NGX_HTTP_LAVA_XLATE_GLUE_H */
