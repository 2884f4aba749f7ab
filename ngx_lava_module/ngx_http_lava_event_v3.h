/*
 * Stream entries of several events, version 3 (lib/lava_event_v3.h).
 */

#ifndef NGX_HTTP_LAVA_EVENT_V3_H
#define NGX_HTTP_LAVA_EVENT_V3_H

#include "ngx_http_lava_module.h"
#include "lava_event_v3.h"


#define NGX_HTTP_LAVA_EVENT_V3_WAIT_MAX  100    /* lava_event_batch_wait, ms */


/* one XADD of version 3: XADD stream * v 3, then 4 strings per event */
typedef struct {
    int              argc;
    const char      *argv[5 + 4 * LAVA_EVENT_V3_WRITE_MAX];
    size_t           argvlen[5 + 4 * LAVA_EVENT_V3_WRITE_MAX];
} ngx_http_lava_event_v3_cmd_t;


/* lava_event_batch, lava_event_batch_wait: defaults and checks */
char *ngx_http_lava_event_v3_conf(ngx_conf_t *cf,
    ngx_http_lava_main_conf_t *lmcf);

/* 1 when an entry's fields (after XADD stream *) are a version 2 entry,
 * which may travel in a version 3 one */
ngx_uint_t ngx_http_lava_event_v3_member(ngx_uint_t argc, const char **argv,
    const size_t *argvlen);

void ngx_http_lava_event_v3_start(ngx_http_lava_event_v3_cmd_t *cmd,
    ngx_str_t *stream);

/* appends a member (ngx_http_lava_event_v3_member() said 1) */
void ngx_http_lava_event_v3_add(ngx_http_lava_event_v3_cmd_t *cmd,
    const char **argv, const size_t *argvlen);

#endif /* NGX_HTTP_LAVA_EVENT_V3_H */
