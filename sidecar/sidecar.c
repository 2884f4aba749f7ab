#include "db.h"
#include "log.h"
#include "rconn.h"
#include "schema.h"
#include "sidecar.h"
#include "stream.h"

/* Redis replies may take block_ms (XREADGROUP BLOCK): allow that and more. */
#define REDIS_TIMEOUT_SLACK_MS  5000

int
sidecar_redis_ready(sidecar_t *s)
{
    if (s->redis == NULL) {
        s->redis = rconn_open(s->cfg.redis_url, s->cfg.block_ms + REDIS_TIMEOUT_SLACK_MS);
        if (s->redis == NULL) {
            return -1;
        }
        s->group_ready = 0;
    }
    if (!s->group_ready) {
        if (stream_group_create(s->redis, &s->cfg) != STREAM_OK) {
            sidecar_redis_failed(s);
            return -1;
        }
        s->group_ready = 1;
    }
    backoff_reset(&s->redis_backoff);
    return 0;
}

/*
 * Before anything is booked on a new connection: a ledger that was never
 * migrated, or migrated by another version, stops the sidecar with one
 * line saying what to run, instead of a failing statement every second.
 */
static int
sidecar_schema_ok(sidecar_t *s)
{
    char         why[384];
    schema_rc_e  rc;

    if (s->sql_files == NULL) {
        return 0;
    }
    rc = schema_check(s->db, s->sql_files, s->nsql_files, why, sizeof(why));
    switch (rc) {
    case SCHEMA_OK:
        return 0;
    case SCHEMA_DB_FAILED:
        return -1;
    case SCHEMA_NEWER:
        s->exit_code = SIDECAR_EXIT_SCHEMA_NEWER;
        break;
    default:
        s->exit_code = SIDECAR_EXIT_NOT_MIGRATED;
        break;
    }
    slog(SLOG_ERROR, "%s", why);
    loop_stop = 1;
    return -1;
}

int
sidecar_db_ready(sidecar_t *s)
{
    if (s->db != NULL && PQstatus(s->db) != CONNECTION_OK) {
        db_close(&s->db);
    }
    if (s->db == NULL) {
        s->db = db_connect(s->cfg.pg_dsn);
        if (s->db == NULL) {
            return -1;
        }
        if (sidecar_schema_ok(s) != 0) {
            db_close(&s->db);
            return -1;
        }
        slog(SLOG_INFO, "connected to postgres");
    }
    backoff_reset(&s->db_backoff);
    return 0;
}

void
sidecar_redis_failed(sidecar_t *s)
{
    /* an error reply leaves the connection usable; anything else does not */
    if (s->redis != NULL && s->redis->err) {
        rconn_close(&s->redis);
        s->group_ready = 0;
    }
}

void
sidecar_db_failed(sidecar_t *s)
{
    if (s->db != NULL && PQstatus(s->db) != CONNECTION_OK) {
        db_close(&s->db);
    }
}

int
sidecar_rates_reload(sidecar_t *s)
{
    rates_t *t;

    if (sidecar_db_ready(s) != 0) {
        return -1;
    }
    t = rates_load(s->db);
    s->rates_loaded_ms = loop_now_ms();
    if (t == NULL) {
        sidecar_db_failed(s);
        return -1;
    }
    slog(s->rates == NULL ? SLOG_INFO : SLOG_DEBUG, "loaded %zu rates and %zu meters",
         t->nrates, t->nmeters);
    rates_free(s->rates);
    s->rates = t;
    return 0;
}

void
sidecar_close(sidecar_t *s)
{
    rconn_close(&s->redis);
    db_close(&s->db);
    rates_free(s->rates);
    s->rates = NULL;
    config_free(&s->cfg);
}
