#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authspend.h"
#include "log.h"

/* "<ms>-<seq>", both plain decimal uint64 */
static int
parse_id(const char *id, size_t len, uint64_t *ms, uint64_t *seq)
{
    char        buf[AUTHSPEND_ID_MAX];
    char       *dash, *end;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, id, len);
    buf[len] = '\0';
    dash = strchr(buf, '-');
    if (dash == NULL || dash == buf || dash[1] == '\0'
        || strspn(buf, "0123456789") != (size_t) (dash - buf)
        || strspn(dash + 1, "0123456789") != strlen(dash + 1))
    {
        return -1;
    }
    *dash = '\0';
    errno = 0;
    *ms = strtoull(buf, &end, 10);
    if (errno != 0) {
        return -1;
    }
    *seq = strtoull(dash + 1, &end, 10);
    return errno != 0 ? -1 : 0;
}

int
authspend_id_before(const char *id, size_t len, char *out, size_t size)
{
    uint64_t ms, seq;

    if (parse_id(id, len, &ms, &seq) != 0) {
        return -1;
    }
    if (seq > 0) {
        seq--;
    } else if (ms > 0) {
        ms--;
        seq = UINT64_MAX;
    }
    snprintf(out, size, "%" PRIu64 "-%" PRIu64, ms, seq);
    return 0;
}

static int
text_add(char **text, const char *s)
{
    size_t  old = *text != NULL ? strlen(*text) : 0;
    char   *p = realloc(*text, old + strlen(s) + 1);

    if (p == NULL) {
        return -1;
    }
    memcpy(p + old, s, strlen(s) + 1);
    *text = p;
    return 0;
}

/* The value of field name in a flat [name, value, ...] reply, or NULL. */
static redisReply *
field(const redisReply *r, const char *name)
{
    size_t i;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, name) == 0) {
            return r->element[i + 1];
        }
    }
    return NULL;
}

/*
 * W from XINFO GROUPS and the XPENDING summary of the same instant (EXEC's
 * two replies). A missing stream or group (an error reply) is "0-0".
 */
int
authspend_compute(const redisReply *groups, const redisReply *pending, const char *group,
                  char *out, size_t size, int *held)
{
    const redisReply *g = NULL, *name, *last;
    size_t            i;
    uint64_t          ms, seq;

    snprintf(out, size, "0-0");
    if (groups->type != REDIS_REPLY_ARRAY || pending->type != REDIS_REPLY_ARRAY) {
        return 0;                           /* no such stream or group yet */
    }
    for (i = 0; i < groups->elements; i++) {
        name = field(groups->element[i], "name");
        if (name != NULL && name->type == REDIS_REPLY_STRING && strcmp(name->str, group) == 0) {
            g = groups->element[i];
            break;
        }
    }
    if (g == NULL) {
        return 0;
    }
    /* XPENDING summary: [count, smallest id, greatest id, consumers] */
    if (pending->elements >= 2 && pending->element[0]->type == REDIS_REPLY_INTEGER
        && pending->element[0]->integer > 0)
    {
        *held = 1;
        if (pending->element[1]->type != REDIS_REPLY_STRING) {
            return -1;
        }
        return authspend_id_before(pending->element[1]->str, pending->element[1]->len, out, size);
    }
    /* nothing pending: every delivered entry is booked, the last one too */
    last = field(g, "last-delivered-id");
    if (last == NULL || last->type != REDIS_REPLY_STRING
        || parse_id(last->str, last->len, &ms, &seq) != 0)
    {
        return -1;
    }
    snprintf(out, size, "%" PRIu64 "-%" PRIu64, ms, seq);
    return 0;
}

int
authspend_watermark(redisContext *rc, const char *stream, const char *group,
                    char **text, int *held)
{
    redisReply *r = NULL, *exec = NULL;
    char        w[AUTHSPEND_ID_MAX], line[AUTHSPEND_ID_MAX + 300];
    int         i, ret = 0;

    if (strpbrk(stream, " \t\r\n") != NULL || strlen(stream) > 255) {
        slog(SLOG_ERROR, "stream key \"%s\" cannot be published in a b record", stream);
        return -2;
    }
    if (redisAppendCommand(rc, "MULTI") != REDIS_OK
        || redisAppendCommand(rc, "XINFO GROUPS %s", stream) != REDIS_OK
        || redisAppendCommand(rc, "XPENDING %s %s", stream, group) != REDIS_OK
        || redisAppendCommand(rc, "EXEC") != REDIS_OK)
    {
        slog(SLOG_ERROR, "redis stream watermark failed: out of memory");
        return -1;
    }
    /* MULTI's OK, two QUEUED, then EXEC's array */
    for (i = 0; i < 4; i++) {
        void *reply = NULL;

        if (redisGetReply(rc, &reply) != REDIS_OK) {
            slog(SLOG_ERROR, "redis stream watermark failed: %s", rc->errstr);
            freeReplyObject(exec);
            return -1;
        }
        r = reply;
        if (i < 3) {
            if (r->type == REDIS_REPLY_ERROR) {
                slog(SLOG_ERROR, "redis stream watermark failed: %.*s", (int) r->len, r->str);
                ret = -1;
            }
            freeReplyObject(r);
        } else {
            exec = r;
        }
    }
    if (ret == 0 && (exec->type != REDIS_REPLY_ARRAY || exec->elements != 2)) {
        slog(SLOG_ERROR, "redis stream watermark failed: exec aborted");
        ret = -1;
    }
    if (ret == 0
        && authspend_compute(exec->element[0], exec->element[1], group, w, sizeof(w), held) != 0)
    {
        slog(SLOG_ERROR, "redis stream watermark failed: unexpected reply for %s", stream);
        ret = -1;
    }
    freeReplyObject(exec);
    if (ret != 0) {
        return ret;
    }
    snprintf(line, sizeof(line), "b %s %s\n", stream, w);
    if (text_add(text, line) != 0) {
        slog(SLOG_ERROR, "rendering the auth snapshot failed: out of memory");
        return -2;
    }
    return 0;
}
