/*
 * Stream entries of several events, version 3 (lib/lava_event_v3.h,
 * docs/events.md "Version 3"): which queued entries may travel together
 * and the one XADD that carries them. The queue (ngx_http_lava_events.c)
 * decides when: it gathers consecutive version 2 entries for at most
 * lava_event_batch_wait or lava_event_batch of them. The payload is built
 * here: each member's request id as a request_id pair, then its own
 * version 2 payload, as they are (lib/lava_event_v3.h).
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_event_v3.h"
#include "lava_event_v2.h"


char *
ngx_http_lava_event_v3_conf(ngx_conf_t *cf, ngx_http_lava_main_conf_t *lmcf)
{
    /* 32 events of ~700 bytes: one XADD of ~22 KB, well within one write */
    ngx_conf_init_uint_value(lmcf->event_batch, 32);

    /* today's flush delay: the events of requests ending within 1 ms go
     * to Redis together */
    ngx_conf_init_msec_value(lmcf->event_batch_wait, 1);

    if (lmcf->event_batch == 0
        || lmcf->event_batch > LAVA_EVENT_V3_WRITE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_event_batch\" must be 1 to %d",
                           LAVA_EVENT_V3_WRITE_MAX);
        return NGX_CONF_ERROR;
    }

    /* events wait for company in memory only: a worker that dies loses
     * what waits (its in-flight records then book it as worker_lost),
     * so the wait stays short */
    if (lmcf->event_batch_wait > NGX_HTTP_LAVA_EVENT_V3_WAIT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lava_event_batch_wait\" must be at most %dms",
                           NGX_HTTP_LAVA_EVENT_V3_WAIT_MAX);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_lava_event_v3_member(ngx_uint_t argc, const char **argv,
    const size_t *argvlen)
{
    /* v "2" request_id <id> e <payload>: what ngx_http_lava_event_queue()
     * writes, and what the spool gives back of it */
    return argc == 6
           && argvlen[0] == 1 && argv[0][0] == 'v'
           && argvlen[1] == 1 && argv[1][0] == '2'
           && argvlen[2] == sizeof("request_id") - 1
           && ngx_strncmp(argv[2], "request_id", argvlen[2]) == 0
           && argvlen[4] == 1 && argv[4][0] == 'e';
}


/* a buffer larger than this is freed after its XADD: a rare batch of large
 * events does not keep its memory for the worker's life */
#define NGX_HTTP_LAVA_EVENT_V3_KEEP  (1024 * 1024)


static u_char *
ngx_http_lava_event_v3_pair(u_char *p, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
    p = ngx_cpymem(p, name, name_len);
    p = ngx_sprintf(p, ":%uz:", value_len);
    p = ngx_cpymem(p, value, value_len);
    *p++ = '\n';

    return p;
}


ngx_int_t
ngx_http_lava_event_v3_build(ngx_http_lava_event_v3_cmd_t *cmd,
    ngx_str_t *stream, ngx_uint_t n, const char ***argv,
    const size_t **argvlen)
{
    u_char      *p;
    size_t       size;
    ngx_uint_t   i;

    /* member i: v 2 request_id <id> e <payload> */
    size = 0;

    for (i = 0; i < n; i++) {
        size += sizeof(LAVA_EVENT_V3_SEPARATOR) - 1 + 1 + NGX_SIZE_T_LEN + 1
                + argvlen[i][3] + 1 + argvlen[i][5];
    }

    if (size > cmd->size) {
        if (cmd->buf) {
            ngx_free(cmd->buf);
        }

        cmd->size = 0;
        cmd->buf = ngx_alloc(size, cmd->log);
        if (cmd->buf == NULL) {
            return NGX_ERROR;
        }

        cmd->size = size;
    }

    p = cmd->buf;

    for (i = 0; i < n; i++) {
        p = ngx_http_lava_event_v3_pair(p, LAVA_EVENT_V3_SEPARATOR,
                                        sizeof(LAVA_EVENT_V3_SEPARATOR) - 1,
                                        argv[i][3], argvlen[i][3]);
        p = ngx_cpymem(p, argv[i][5], argvlen[i][5]);
    }

    cmd->len = p - cmd->buf;

    cmd->argv[0] = "XADD";
    cmd->argvlen[0] = sizeof("XADD") - 1;
    cmd->argv[1] = (const char *) stream->data;
    cmd->argvlen[1] = stream->len;
    cmd->argv[2] = "*";
    cmd->argvlen[2] = 1;
    cmd->argv[3] = "v";
    cmd->argvlen[3] = 1;
    cmd->argv[4] = LAVA_EVENT_V3_VERSION;
    cmd->argvlen[4] = sizeof(LAVA_EVENT_V3_VERSION) - 1;
    cmd->argv[5] = LAVA_EVENT_V2_PAYLOAD;
    cmd->argvlen[5] = sizeof(LAVA_EVENT_V2_PAYLOAD) - 1;
    cmd->argv[6] = (const char *) cmd->buf;
    cmd->argvlen[6] = cmd->len;
    cmd->argc = 7;

    return NGX_OK;
}


void
ngx_http_lava_event_v3_done(ngx_http_lava_event_v3_cmd_t *cmd)
{
    if (cmd->size > NGX_HTTP_LAVA_EVENT_V3_KEEP) {
        ngx_free(cmd->buf);
        cmd->buf = NULL;
        cmd->size = 0;
    }
}
