/*
 * The sidecar's run-time state: configuration, connections and the rate
 * table, owned by main() and handed to the subsystems. Connections are
 * opened lazily and dropped on failure; the next use opens them again.
 */
#ifndef SIDECAR_SIDECAR_H
#define SIDECAR_SIDECAR_H

#include <stdint.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "config.h"
#include "loop.h"
#include "rates.h"

/* Exit statuses of lava-sidecar (lava-sidecar(8); reconcile has its own). */
#define SIDECAR_EXIT_OK            0   /* stopped by SIGTERM/SIGINT; -t, --help, --version */
#define SIDECAR_EXIT_CONFIG        1   /* configuration invalid, or the process cannot start */
#define SIDECAR_EXIT_USAGE         2   /* unknown option or argument */
#define SIDECAR_EXIT_NOT_MIGRATED  3   /* ledger missing or older: run lava-migrate */
#define SIDECAR_EXIT_SCHEMA_NEWER  4   /* ledger newer than this sidecar: upgrade it */

typedef struct {
    config_t       cfg;
    const char    *config_path;      /* NULL: default path or built-in defaults */
    redisContext  *redis;
    int            group_ready;      /* XGROUP CREATE done on this connection */
    PGconn        *db;
    rates_t       *rates;
    int64_t        rates_loaded_ms;  /* monotonic time of the last load */
    backoff_t      redis_backoff;
    backoff_t      db_backoff;
    const char *const *sql_files;    /* schema check on each new Postgres
                                        connection (schema.h); NULL: none */
    size_t         nsql_files;
    int            exit_code;        /* SIDECAR_EXIT_*, set with loop_stop */
} sidecar_t;

/* Connect when needed; 0, or -1 (logged) without waiting. A new Postgres
 * connection to a ledger of another version is closed, and loop_stop set
 * with exit_code (schema.h). */
int sidecar_redis_ready(sidecar_t *s);
int sidecar_db_ready(sidecar_t *s);

/* Drop a connection after an error that may have broken it. */
void sidecar_redis_failed(sidecar_t *s);
void sidecar_db_failed(sidecar_t *s);

/* Load rates and meters again and swap them in; the old table stays on
 * failure. 0 or -1. */
int sidecar_rates_reload(sidecar_t *s);

void sidecar_close(sidecar_t *s);

#endif
