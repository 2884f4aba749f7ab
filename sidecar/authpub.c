#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authpub.h"
#include "authrates.h"
#include "authspend.h"
#include "db.h"
#include "log.h"
#include "rconn.h"

/* A growing text buffer. */
typedef struct {
    char    *p;
    size_t   len, cap;
} buf_t;

static int
buf_add(buf_t *b, const char *s, size_t n)
{
    char   *np;
    size_t  cap;

    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        np = realloc(b->p, cap);
        if (np == NULL) {
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/*
 * The b records (sidecar/authspend.h) of the last snapshot this sidecar
 * published, and whether pending entries held them back then. Such a
 * snapshot may count a booked request in its l records that nginx still
 * counts itself: when the watermark has moved since, the version is moved
 * on so that a snapshot with the new watermark goes out, even if nothing
 * else changed.
 */
static char *authpub_last_b;
static int   authpub_last_held;

static int
buf_add_cb(void *arg, const char *s, size_t n)
{
    return buf_add(arg, s, n);
}

/*
 * The published version: auth_state.version plus the version of the rate
 * table the r and f records are rendered from (pricing_state.version). Both
 * only grow, so the sum moves whenever either does.
 */
static int
read_version(PGconn *db, const rates_t *rates, char *out, size_t size)
{
    PGresult *res = PQexec(db, "SELECT version FROM auth_state");
    int       ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

    if (ok) {
        long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

        snprintf(out, size, "%lld", v + (long long) (rates->version > 0 ? rates->version : 0));
    } else {
        slog(SLOG_ERROR, "reading auth_state failed: %s", db_error(db));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

/* The snapshot text of one consistent view of the database. */
static int
render(PGconn *db, buf_t *b, char *version, size_t vsize, const rates_t *rates,
       const config_t *cfg, const char *btext)
{
    PGresult *res = NULL;
    char      head[64];
    int       i, n, rc = -1;

    if (db_command(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   "auth snapshot begin") != 0)
    {
        return -1;
    }
    if (read_version(db, rates, version, vsize) != 0) {
        goto done;
    }
    res = PQexec(db, "SELECT line FROM auth_snapshot ORDER BY part, k1, k2");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "reading auth_snapshot failed: %s", db_error(db));
        goto done;
    }

    snprintf(head, sizeof(head), "lava-auth 1 %s\n", version);
    if (buf_add(b, head, strlen(head)) != 0) {
        goto oom;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        if (buf_add(b, PQgetvalue(res, i, 0), (size_t) PQgetlength(res, i, 0)) != 0
            || buf_add(b, "\n", 1) != 0)
        {
            goto oom;
        }
    }
    /* the reservation bounds (sidecar/authrates.h) */
    if (authrates_render(rates, (int64_t) time(NULL) * 1000,
                         cfg->service_charge_ppm, buf_add_cb, b) != 0)
    {
        goto oom;
    }
    /* the booked-through watermarks, taken before this transaction */
    if (btext != NULL && buf_add(b, btext, strlen(btext)) != 0) {
        goto oom;
    }
    if (buf_add(b, "end\n", 4) != 0) {
        goto oom;
    }
    rc = 0;
    goto done;

oom:
    slog(SLOG_ERROR, "rendering the auth snapshot failed: out of memory");
done:
    PQclear(res);
    if (db_command(db, rc == 0 ? "COMMIT" : "ROLLBACK", "auth snapshot end") != 0) {
        rc = -1;
    }
    return rc;
}

int
authpub_tick(PGconn *db, redisContext *rc, const config_t *cfg, const rates_t *rates)
{
    redisReply *r;
    buf_t       b = { NULL, 0, 0 };
    char        version[32], key_snap[300], key_ver[300];
    char       *btext = NULL;
    int         same, held = 0, ret = AUTHPUB_OK;

    snprintf(key_snap, sizeof(key_snap), "%s:snapshot", cfg->auth_prefix);
    snprintf(key_ver, sizeof(key_ver), "%s:version", cfg->auth_prefix);

    /* Before anything is read from the database (sidecar/authspend.h);
     * without it (a stream key with a space) nginx keeps counting its own
     * requests until they expire: conservative. */
    if (authspend_watermark(rc, cfg->stream, cfg->group, &btext, &held) == -1) {
        free(btext);
        return AUTHPUB_REDIS_FAILED;
    }

    if (read_version(db, rates, version, sizeof(version)) != 0) {
        free(btext);
        return AUTHPUB_DB_FAILED;
    }

    r = redisCommand(rc, "GET %s", key_ver);
    if (rconn_failed(rc, r, "get auth version")) {
        free(btext);
        return AUTHPUB_REDIS_FAILED;
    }
    same = r->type == REDIS_REPLY_STRING && strlen(version) == r->len
           && memcmp(r->str, version, r->len) == 0;
    freeReplyObject(r);
    if (same) {
        if (!authpub_last_held || btext == NULL || authpub_last_b == NULL
            || strcmp(btext, authpub_last_b) == 0)
        {
            free(btext);
            return AUTHPUB_OK;
        }
        /* the watermark moved past what held the last snapshot back */
        if (db_command(db, "UPDATE auth_state SET version = version + 1",
                       "auth version for the stream watermark") != 0)
        {
            free(btext);
            return AUTHPUB_DB_FAILED;
        }
    }

    /* The version is read again with the lines: it names exactly them. */
    if (render(db, &b, version, sizeof(version), rates, cfg, btext) != 0) {
        free(b.p);
        free(btext);
        return AUTHPUB_DB_FAILED;
    }

    if (redisAppendCommand(rc, "MULTI") != REDIS_OK
        || redisAppendCommand(rc, "SET %s %b", key_snap, b.p, b.len) != REDIS_OK
        || redisAppendCommand(rc, "SET %s %s", key_ver, version) != REDIS_OK
        || redisAppendCommand(rc, "EXEC") != REDIS_OK)
    {
        slog(SLOG_ERROR, "redis publish auth snapshot failed: out of memory");
        free(b.p);
        free(btext);
        return AUTHPUB_REDIS_FAILED;
    }
    free(b.p);

    /* MULTI, two QUEUED, then EXEC's array */
    for (int i = 0; i < 4; i++) {
        void *reply = NULL;

        if (redisGetReply(rc, &reply) != REDIS_OK) {
            slog(SLOG_ERROR, "redis publish auth snapshot failed: %s", rc->errstr);
            free(btext);
            return AUTHPUB_REDIS_FAILED;
        }
        r = reply;
        if (r->type == REDIS_REPLY_ERROR
            || (i == 3 && r->type != REDIS_REPLY_ARRAY))
        {
            slog(SLOG_ERROR, "redis publish auth snapshot failed: %.*s",
                 r->type == REDIS_REPLY_ERROR ? (int) r->len : 13,
                 r->type == REDIS_REPLY_ERROR ? r->str : "exec aborted");
            ret = AUTHPUB_REDIS_FAILED;
        }
        freeReplyObject(r);
    }

    if (ret == AUTHPUB_OK) {
        slog(SLOG_INFO, "published auth snapshot version %s (%zu bytes)", version, b.len);
        free(authpub_last_b);
        authpub_last_b = btext;
        authpub_last_held = held;
        btext = NULL;
    }
    free(btext);
    return ret;
}
