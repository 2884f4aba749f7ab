#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lag.h"
#include "loop.h"
#include "rconn.h"
#include "stream.h"

/* without Redis 7's "lag": entries after the last delivered one, counted
 * up to this many */
#define LAG_COUNT_MAX  100000

static redisReply *
field(const redisReply *r, const char *name)
{
    size_t i, len = strlen(name);

    for (i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];

        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS)
            && k->len == len && memcmp(k->str, name, len) == 0)
        {
            return r->element[i + 1];
        }
    }
    return NULL;
}

/* the ms part of an id reply; 0 when it is not one */
static long long
id_ms(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        return 0;
    }
    return strtoll(r->str, NULL, 10);
}

static int
failed(redisContext *c, redisReply *r, const char *what)
{
    rconn_failed(c, r, what);
    return STREAM_FAILED;
}

int
lag_sample(redisContext *c, const config_t *cfg, metrics_stream_t *out)
{
    redisReply     *r, *g = NULL, *p;
    struct timeval  tv;
    long long       pending = 0, undelivered = 0, oldest = 0, ms, now;
    char            last[STREAM_ID_MAX] = "0-0";
    size_t          i;

    if (c == NULL) {
        return STREAM_FAILED;
    }

    r = redisCommand(c, "XINFO GROUPS %s", cfg->stream);
    if (r == NULL || (r->type == REDIS_REPLY_ERROR && strstr(r->str, "no such key") == NULL)) {
        return failed(c, r, "xinfo groups");
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *name = field(r->element[i], "name");

        if (r->element[i]->type == REDIS_REPLY_ARRAY && name != NULL
            && name->type == REDIS_REPLY_STRING && strcmp(name->str, cfg->group) == 0)
        {
            g = r->element[i];
            break;
        }
    }
    if (g != NULL) {
        p = field(g, "pending");
        pending = p != NULL && p->type == REDIS_REPLY_INTEGER ? p->integer : 0;
        p = field(g, "last-delivered-id");
        if (p != NULL && p->type == REDIS_REPLY_STRING && p->len < sizeof(last)) {
            memcpy(last, p->str, p->len);
            last[p->len] = '\0';
        }
        p = field(g, "lag");
        undelivered = p != NULL && p->type == REDIS_REPLY_INTEGER ? p->integer : -1;
    }
    freeReplyObject(r);

    /* the oldest pending entry: XPENDING's summary [count, smallest, ...] */
    if (pending > 0) {
        r = redisCommand(c, "XPENDING %s %s", cfg->stream, cfg->group);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            return failed(c, r, "xpending");
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
            oldest = id_ms(r->element[1]);
        }
        freeReplyObject(r);
    }

    /* the first entry not delivered (and, without "lag", how many follow) */
    if (undelivered != 0) {
        r = redisCommand(c, "XRANGE %s (%s + COUNT %d", cfg->stream, last,
                         undelivered < 0 ? LAG_COUNT_MAX : 1);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            return failed(c, r, "xrange");
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            if (undelivered < 0) {
                undelivered = (long long) r->elements;
            }
            if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY
                && r->element[0]->elements > 0)
            {
                ms = id_ms(r->element[0]->element[0]);
                if (ms > 0 && (oldest == 0 || ms < oldest)) {
                    oldest = ms;
                }
            }
        }
        freeReplyObject(r);
    }

    gettimeofday(&tv, NULL);
    now = (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;

    out->pending = pending;
    out->undelivered = undelivered < 0 ? 0 : undelivered;
    out->lag_ms = oldest > 0 && now > oldest ? now - oldest : 0;
    out->sampled_ms = loop_now_ms();
    return STREAM_OK;
}
