/*
 * Ready means ready: the master fills a new lava_auth_zone before any
 * worker exists, so that every worker authenticates from its first request
 * after a start (or a reload that created the zone), instead of answering
 * 503 auth_unavailable until worker 0 has polled Redis.
 *
 * First the lava_auth_file snapshot (ngx_http_lava_auth_restore()); without
 * one, the snapshot in Redis, read with one blocking hiredis connection
 * bounded by lava_redis_timeout (connect, then each reply). Blocking is
 * acceptable here, and only here: the master is configuring, nothing is
 * served yet; a Redis that is away costs the start at most a few timeouts
 * and leaves worker 0 to load the snapshot as soon as Redis answers. A zone
 * kept across a reload keeps its snapshot and is not touched. Not for
 * nginx -t, which must not depend on Redis.
 */

#include <hiredis/hiredis.h>

#include "ngx_http_lava_auth.h"


static void ngx_http_lava_auth_boot_redis(ngx_shm_zone_t *zone,
    ngx_http_lava_main_conf_t *lmcf);
static redisReply *ngx_http_lava_auth_boot_get(redisContext *c,
    ngx_log_t *log, ngx_str_t *prefix, const char *suffix);


void
ngx_http_lava_auth_boot(ngx_shm_zone_t *zone, ngx_http_lava_main_conf_t *lmcf)
{
    ngx_http_lava_auth_sh_t  *sh;

    if (ngx_test_config || lmcf == NULL) {
        return;
    }

    sh = zone->data;

    if (lmcf->auth_file.len) {
        ngx_http_lava_auth_restore(zone, zone->shm.log, &lmcf->auth_file);
    }

    /* no lock: no worker exists yet */
    if (sh->snap == NULL) {
        ngx_http_lava_auth_boot_redis(zone, lmcf);
    }
}


static void
ngx_http_lava_auth_boot_redis(ngx_shm_zone_t *zone,
    ngx_http_lava_main_conf_t *lmcf)
{
    size_t           n;
    u_char           err[128];
    uint64_t         v;
    ngx_log_t       *log;
    redisReply      *reply;
    redisContext    *c;
    struct timeval   tv;

    log = zone->shm.log;

    tv.tv_sec = lmcf->redis_timeout / 1000;
    tv.tv_usec = (lmcf->redis_timeout % 1000) * 1000;

    c = redisConnectWithTimeout((const char *) lmcf->redis_host.data,
                                lmcf->redis_port, tv);

    if (c == NULL || c->err) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "lava auth: redis at %V:%d not reached at start (%s): "
                      "worker 0 loads the snapshot once it answers, requests "
                      "get 503 auth_unavailable until then",
                      &lmcf->redis_host, (int) lmcf->redis_port,
                      c ? c->errstr : "out of memory");
        goto done;
    }

    if (redisSetTimeout(c, tv) != REDIS_OK) {
        goto done;
    }

    if (lmcf->redis_password.len) {
        reply = redisCommand(c, "AUTH %b", lmcf->redis_password.data,
                             lmcf->redis_password.len);

        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            /* Redis error texts never echo the password */
            n = reply ? ngx_min(reply->len, sizeof(err)) : 0;
            if (reply) {
                ngx_memcpy(err, reply->str, n);
            }

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "lava auth: redis AUTH failed at start (%*s)",
                          n, err);
            if (reply) {
                freeReplyObject(reply);
            }

            goto done;
        }

        freeReplyObject(reply);
    }

    reply = ngx_http_lava_auth_boot_get(c, log, &lmcf->auth_prefix,
                                        ":version");
    if (reply == NULL) {
        goto done;
    }

    if (lava_authsnap_u64(reply->str, reply->len, &v) != LAVA_AUTHSNAP_OK) {
        freeReplyObject(reply);
        goto done;
    }

    freeReplyObject(reply);

    reply = ngx_http_lava_auth_boot_get(c, log, &lmcf->auth_prefix,
                                        ":snapshot");
    if (reply == NULL) {
        goto done;
    }

    if (ngx_http_lava_auth_load(zone, log, 0, (u_char *) reply->str,
                                reply->len)
        == NGX_OK)
    {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "lava auth: snapshot read from redis before the "
                      "workers start");
    }

    freeReplyObject(reply);

done:

    if (c) {
        redisFree(c);
    }
}


/* GET <prefix><suffix>: a string reply, or NULL (logged unless absent) */
static redisReply *
ngx_http_lava_auth_boot_get(redisContext *c, ngx_log_t *log,
    ngx_str_t *prefix, const char *suffix)
{
    redisReply  *reply;

    reply = redisCommand(c, "GET %b%s", prefix->data, prefix->len, suffix);

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "lava auth: reading the snapshot from redis at start "
                      "failed (%s)", c->errstr);
        return NULL;
    }

    if (reply->type != REDIS_REPLY_STRING) {
        /* nothing published yet (NIL), or an error: worker 0 says which */
        freeReplyObject(reply);
        return NULL;
    }

    return reply;
}
