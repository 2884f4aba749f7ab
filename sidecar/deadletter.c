#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "book.h"
#include "db.h"
#include "deadletter.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "stream.h"

#define STR_(x)      #x
#define STRINGIFY(x) STR_(x)

int
deadletter_overdelivered(sidecar_t *s, redisReply *const *entries, size_t n,
    const long long *counts)
{
    book_dead_t   *dead;
    book_result_t  res;
    sv_t          *kv;
    char           why[200];
    size_t         i, j, nkv = 0, k = 0;
    int            rc, ret = -1;

    if (n == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (entries[i]->type == REDIS_REPLY_ARRAY
            && entries[i]->element[1]->type == REDIS_REPLY_ARRAY)
        {
            nkv += entries[i]->element[1]->elements;
        }
    }
    dead = calloc(n, sizeof(*dead));
    kv = calloc(nkv + 1, sizeof(*kv));
    if (dead == NULL || kv == NULL) {
        slog(SLOG_ERROR, "dead-lettering %zu entries failed: out of memory", n);
        goto done;
    }

    nkv = 0;
    for (i = 0; i < n; i++) {
        redisReply *e = entries[i], *f;

        if (e->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        dead[k].stream_id.p = e->element[0]->str;
        dead[k].stream_id.n = e->element[0]->len;
        f = e->element[1];
        if (f->type == REDIS_REPLY_ARRAY) {
            dead[k].kv = &kv[nkv];
            for (j = 0; j + 1 < f->elements; j += 2) {
                if (f->element[j]->type != REDIS_REPLY_STRING
                    || f->element[j + 1]->type != REDIS_REPLY_STRING)
                {
                    continue;
                }
                kv[nkv].p = f->element[j]->str;
                kv[nkv++].n = f->element[j]->len;
                kv[nkv].p = f->element[j + 1]->str;
                kv[nkv++].n = f->element[j + 1]->len;
                dead[k].npairs++;
            }
        }
        snprintf(dead[k].reason, sizeof(dead[k].reason),
                 "delivered %lld times without being acknowledged (max_deliveries %d):"
                 " processing it stopped the sidecar each time", counts[i],
                 s->cfg.max_deliveries);
        slog(SLOG_WARN, "stream entry %.*s dead-lettered: delivered %lld times",
             (int) dead[k].stream_id.n, dead[k].stream_id.p, counts[i]);
        k++;
    }

    for (;;) {
        if (sidecar_db_ready(s) == 0) {
            rc = book_batch(s->db, s->cfg.stream, NULL, 0, dead, k, &res, why, sizeof(why));
            if (rc == BOOK_OK) {
                break;
            }
            if (rc == BOOK_REJECTED) {
                slog(SLOG_ERROR, "%zu over-delivered entries cannot be stored as dead letters;"
                     " they stay in the stream: %s", k, why);
                ret = 0;
                goto done;
            }
            sidecar_db_failed(s);
        }
        if (loop_stop) {
            goto done;
        }
        backoff_wait(&s->db_backoff);
        if (loop_stop) {
            goto done;
        }
    }

    metrics_dead_lettered(res.dead + res.poison);

    /* Committed: now acknowledge them. */
    ret = 0;
    if (sidecar_redis_ready(s) != 0 || stream_ack(s->redis, &s->cfg, entries, n) != STREAM_OK) {
        slog(SLOG_WARN, "acknowledging %zu dead-lettered entries failed; they will be"
             " delivered again", n);
        sidecar_redis_failed(s);
    }

done:
    free(dead);
    free(kv);
    return ret;
}

/* XADD <stream> * <the dead letter's fields>; the new id into id. */
static int
xadd_fields(sidecar_t *s, json_t *fields, char *id, size_t idsize)
{
    const char  *key, **argv;
    size_t      *lens, argc = 0, n;
    char       **own;
    json_t      *v;
    redisReply  *r;
    int          rc = -1;

    n = json_object_size(fields);
    argv = calloc(2 * n + 3, sizeof(*argv));
    lens = calloc(2 * n + 3, sizeof(*lens));
    own = calloc(n + 1, sizeof(*own));
    if (argv == NULL || lens == NULL || own == NULL) {
        goto done;
    }

    argv[argc] = "XADD";        lens[argc++] = 4;
    argv[argc] = s->cfg.stream; lens[argc++] = strlen(s->cfg.stream);
    argv[argc] = "*";           lens[argc++] = 1;

    n = 0;
    json_object_foreach(fields, key, v) {
        argv[argc] = key;
        lens[argc++] = strlen(key);
        if (json_is_string(v)) {
            argv[argc] = json_string_value(v);
            lens[argc++] = json_string_length(v);
        } else {
            /* not written by the sidecar; sent as its JSON text */
            own[n] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (own[n] == NULL) {
                goto done;
            }
            argv[argc] = own[n];
            lens[argc++] = strlen(own[n++]);
        }
    }
    if (argc == 3) {
        snprintf(id, idsize, "-");          /* no fields: nothing to send */
        rc = 0;
        goto done;
    }

    r = redisCommandArgv(s->redis, (int) argc, argv, lens);
    if (rconn_failed(s->redis, r, "xadd (dead letter replay)")) {
        goto done;
    }
    if (r->type == REDIS_REPLY_STRING && r->len < idsize) {
        memcpy(id, r->str, r->len);
        id[r->len] = '\0';
        rc = 0;
    }
    freeReplyObject(r);

done:
    if (own != NULL) {
        for (n = 0; own[n] != NULL; n++) {
            free(own[n]);
        }
    }
    free(own);
    free(argv);
    free(lens);
    return rc;
}

int
deadletter_replay(sidecar_t *s)
{
    PGresult    *res, *u;
    json_t      *fields;
    const char  *params[2];
    char         id[STREAM_ID_MAX];
    int          i, rows, done = 0;

    if (sidecar_db_ready(s) != 0 || sidecar_redis_ready(s) != 0) {
        return -1;
    }
    if (db_command(s->db, "BEGIN", "begin") != 0) {
        sidecar_db_failed(s);
        return -1;
    }
    /* SKIP LOCKED: several sidecars replay different rows */
    res = PQexec(s->db,
        "SELECT id, fields::text FROM dead_letters"
        " WHERE replay_requested_at IS NOT NULL AND replayed_at IS NULL"
        " ORDER BY id LIMIT " STRINGIFY(DEADLETTER_REPLAY_BATCH) " FOR UPDATE SKIP LOCKED");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "postgres selecting dead letters to replay failed: %s", db_error(s->db));
        PQclear(res);
        goto fail;
    }

    rows = PQntuples(res);
    for (i = 0; i < rows; i++) {
        fields = json_loads(PQgetvalue(res, i, 1), 0, NULL);
        if (fields == NULL || !json_is_object(fields)) {
            json_decref(fields);
            slog(SLOG_ERROR, "dead letter %s: fields are not a JSON object; not replayed",
                 PQgetvalue(res, i, 0));
            snprintf(id, sizeof(id), "-");
        } else {
            /* XADD first: if the COMMIT is lost the entry is sent again, and
             * booking the same request twice books it once */
            if (xadd_fields(s, fields, id, sizeof(id)) != 0) {
                json_decref(fields);
                PQclear(res);
                sidecar_redis_failed(s);
                goto fail;
            }
            json_decref(fields);
        }
        params[0] = PQgetvalue(res, i, 0);
        params[1] = id;
        u = PQexecParams(s->db,
            "UPDATE dead_letters SET replayed_at = now(), replay_stream_id = $2 WHERE id = $1",
            2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(u) != PGRES_COMMAND_OK) {
            slog(SLOG_ERROR, "postgres marking dead letter %s replayed failed: %s",
                 params[0], db_error(s->db));
            PQclear(u);
            PQclear(res);
            goto fail;
        }
        PQclear(u);
        slog(SLOG_INFO, "dead letter %s replayed as stream entry %s", params[0], id);
        done++;
    }
    PQclear(res);

    if (db_command(s->db, "COMMIT", "commit") != 0) {
        sidecar_db_failed(s);
        return -1;
    }
    return done;

fail:
    if (PQstatus(s->db) == CONNECTION_OK) {
        (void) db_command(s->db, "ROLLBACK", "rollback");
    }
    sidecar_db_failed(s);
    return -1;
}
