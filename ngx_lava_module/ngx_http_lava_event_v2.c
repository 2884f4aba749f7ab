/*
 * The stream entry's format (lava_event_version, docs/events.md): version 1
 * is the event's fields as they are, one stream field each; version 2 packs
 * all but v and request_id into one value (lib/lava_event_v2.h), so that
 * hiredis formats 6 arguments instead of about 40 and Redis stores three
 * fields. Version 1 stays for a rolling upgrade: sidecars that read
 * version 2 first, then the modules that write it.
 */

#include "ngx_http_lava_module.h"
#include "lava_event_v2.h"


/*
 * The payload of one entry is built here, then copied by
 * ngx_http_lava_event_push(): one buffer per worker (a worker runs one
 * request's log phase at a time), sized for the largest event the table
 * allows, so the request path allocates nothing for it.
 */
static char  ngx_http_lava_event_v2_buf[LAVA_EVENT_V2_MAX];


ngx_int_t
ngx_http_lava_event_queue(ngx_uint_t argc, const char **argv,
    const size_t *argvlen, lava_inflight_ref_t held)
{
    size_t                      size, i, n;
    const char                 *v2[6];
    size_t                      v2len[6];
    ngx_http_lava_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_lava_module);

    if (lmcf == NULL || lmcf->event_version != 2) {
        return ngx_http_lava_event_push(argc, argv, argvlen, held);
    }

    size = lava_event_v2_size(argc, argv, argvlen);

    if (size > sizeof(ngx_http_lava_event_v2_buf)) {
        /* the writer cuts every value to its row's max: cannot happen */
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "lava usage event of %uz bytes written as version 1",
                      size);
        return ngx_http_lava_event_push(argc, argv, argvlen, held);
    }

    v2[0] = "v";
    v2len[0] = 1;
    v2[1] = LAVA_EVENT_V2_VERSION;
    v2len[1] = sizeof(LAVA_EVENT_V2_VERSION) - 1;
    n = 2;

    for (i = 0; i + 1 < argc; i += 2) {
        if (argvlen[i] == sizeof("request_id") - 1
            && ngx_strncmp(argv[i], "request_id", argvlen[i]) == 0)
        {
            v2[n] = argv[i];
            v2len[n] = argvlen[i];
            v2[n + 1] = argv[i + 1];
            v2len[n + 1] = argvlen[i + 1];
            n += 2;
            break;
        }
    }

    v2[n] = LAVA_EVENT_V2_PAYLOAD;
    v2len[n] = sizeof(LAVA_EVENT_V2_PAYLOAD) - 1;
    v2[n + 1] = ngx_http_lava_event_v2_buf;
    v2len[n + 1] = lava_event_v2_pack(ngx_http_lava_event_v2_buf, argc, argv,
                                      argvlen);
    n += 2;

    return ngx_http_lava_event_push(n, v2, v2len, held);
}
