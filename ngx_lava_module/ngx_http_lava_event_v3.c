/*
 * Stream entries of several events, version 3 (lib/lava_event_v3.h,
 * docs/events.md "Version 3"): which queued entries may travel together
 * and the one XADD that carries them. The queue (ngx_http_lava_events.c)
 * decides when: it gathers consecutive version 2 entries for at most
 * lava_event_batch_wait or lava_event_batch of them.
 */

#include "ngx_http_lava_module.h"
#include "ngx_http_lava_event_v3.h"


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


void
ngx_http_lava_event_v3_start(ngx_http_lava_event_v3_cmd_t *cmd,
    ngx_str_t *stream)
{
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
    cmd->argc = 5;
}


void
ngx_http_lava_event_v3_add(ngx_http_lava_event_v3_cmd_t *cmd,
    const char **argv, const size_t *argvlen)
{
    ngx_uint_t  i;

    /* the member's request_id and e couples; the bytes stay the member's
     * (hiredis formats the command before the queue can free them) */
    for (i = 2; i < 6; i++) {
        cmd->argv[cmd->argc] = argv[i];
        cmd->argvlen[cmd->argc] = argvlen[i];
        cmd->argc++;
    }
}
