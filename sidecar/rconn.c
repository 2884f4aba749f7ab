#include <string.h>
#include <sys/time.h>

#include "config.h"
#include "log.h"
#include "rconn.h"

redisContext *
rconn_open(const char *url, int timeout_ms)
{
    redis_addr_t   a;
    redisContext  *c;
    redisReply    *r;
    struct timeval tv;
    char           err[128];

    if (config_redis_addr(url, &a, err, sizeof(err)) != 0) {
        slog(SLOG_ERROR, "redis_url: %s", err);
        return NULL;
    }

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;

    c = redisConnectWithTimeout(a.host, a.port, tv);
    if (c == NULL || c->err) {
        slog(SLOG_ERROR, "redis connect to %s:%d failed: %s", a.host, a.port,
             c != NULL ? c->errstr : "out of memory");
        if (c != NULL) {
            redisFree(c);
        }
        memset(a.password, 0, sizeof(a.password));
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        slog(SLOG_ERROR, "redis set timeout on %s:%d failed", a.host, a.port);
        goto fail;
    }

    if (a.password[0] != '\0') {
        r = redisCommand(c, "AUTH %s", a.password);
        memset(a.password, 0, sizeof(a.password));
        if (rconn_failed(c, r, "auth")) {
            goto fail;
        }
        freeReplyObject(r);
    }
    if (a.db != 0) {
        r = redisCommand(c, "SELECT %d", a.db);
        if (rconn_failed(c, r, "select")) {
            goto fail;
        }
        freeReplyObject(r);
    }

    slog(SLOG_INFO, "connected to redis %s:%d", a.host, a.port);
    return c;

fail:
    redisFree(c);
    return NULL;
}

void
rconn_close(redisContext **c)
{
    if (*c != NULL) {
        redisFree(*c);
        *c = NULL;
    }
}

int
rconn_failed(redisContext *c, redisReply *r, const char *what)
{
    if (r == NULL) {
        slog(SLOG_ERROR, "redis %s failed: %s", what,
             c->err ? c->errstr : "no reply");
        return 1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        slog(SLOG_ERROR, "redis %s failed: %.*s", what, (int) r->len, r->str);
        freeReplyObject(r);
        return 1;
    }
    return 0;
}
