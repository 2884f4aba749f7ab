/*
 * Stream entries of several events, version 3 (lib/lava_event_v3.h).
 */

#ifndef NGX_HTTP_LAVA_EVENT_V3_H
#define NGX_HTTP_LAVA_EVENT_V3_H

#include "ngx_http_lava_module.h"
#include "lava_event_v3.h"


#define NGX_HTTP_LAVA_EVENT_V3_WAIT_MAX  100    /* lava_event_batch_wait, ms */


/*
 * One XADD of version 3: XADD stream * v 3 e <payload>. The payload is
 * built in buf, the worker's, grown as needed (hiredis formats the command
 * at once, so one buffer serves every XADD).
 */
typedef struct {
    int              argc;
    const char      *argv[7];
    size_t           argvlen[7];
    u_char          *buf;
    size_t           size;          /* bytes allocated for buf */
    size_t           len;           /* bytes of the payload */
    ngx_log_t       *log;
} ngx_http_lava_event_v3_cmd_t;


/* lava_event_batch, lava_event_batch_wait: defaults and checks */
char *ngx_http_lava_event_v3_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);

/* 1 when an entry's fields (after XADD stream *) are a version 2 entry,
 * which may travel in a version 3 one */
ngx_uint_t ngx_http_lava_event_v3_member(ngx_uint_t argc, const char **argv,
    const size_t *argvlen);

/*
 * Builds the XADD of the n entries' fields (each a member):
 * argv[i]/argvlen[i] point to the 6 fields of member i. NGX_ERROR: no
 * memory for the payload (the entries are then sent one by one).
 */
ngx_int_t ngx_http_lava_event_v3_build(ngx_http_lava_event_v3_cmd_t *cmd,
    ngx_str_t *stream, ngx_uint_t n, const char ***argv,
    const size_t **argvlen);

/* after the command was formatted: a large buffer is given back */
void ngx_http_lava_event_v3_done(ngx_http_lava_event_v3_cmd_t *cmd);

#endif /* NGX_HTTP_LAVA_EVENT_V3_H */
