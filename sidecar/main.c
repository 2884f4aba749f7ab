/*
 * lava-sidecar: reads usage events from the Redis Stream with a consumer
 * group, prices them, books them in the Postgres ledger exactly once and
 * acknowledges them after COMMIT; publishes the auth snapshot to Redis.
 *
 *   lava-sidecar [-c config] [-t] [-v]
 *   lava-sidecar [-c config] reconcile [options]   (reconcile.h)
 *   lava-sidecar --help | --version
 *
 * Exit statuses: SIDECAR_EXIT_* (sidecar.h, lava-sidecar(8)).
 *
 * SIGTERM/SIGINT: finish the batch in hand, then exit. SIGHUP: read the
 * config file again (kept when invalid) and reload rates and meters.
 *
 * The loop: signals, then the periodic jobs that are due (jobs.c), then one
 * read of the stream (consume.c) that waits no longer than the next job.
 * Entries read a second time (this consumer's own pending entries after a
 * restart or reconnect, or entries claimed from a consumer that died) may be
 * what stopped the sidecar before: they are booked one per transaction, so
 * that such an entry takes no other with it, and dead-lettered unread once
 * delivered more than max_deliveries times (deadletter.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lava_build.h"         /* LAVA_VERSION, LAVA_SQL_FILES: made by the build */

#include "consume.h"
#include "db.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "rconn.h"
#include "reconcile.h"
#include "sidecar.h"

typedef enum {
    RUN_SIDECAR,
    RUN_CHECK,                          /* -t */
    RUN_RECONCILE                       /* argv[optind] is "reconcile" */
} run_mode_e;

static int verbose;

/* what lava-migrate records for this version's ledger (schema.h) */
static const char *const sql_files[] = { LAVA_SQL_FILES };

static void
usage(FILE *out)
{
    fprintf(out,
        "usage: lava-sidecar [-c config] [-t] [-v]\n"
        "       lava-sidecar [-c config] reconcile [--ids FILE] [--since TIME]"
        " [--until TIME] [--list N]\n"
        "       lava-sidecar --help | --version\n"
        "\n"
        "Reads usage events from the Redis Stream, books them in the Postgres\n"
        "ledger and publishes the auth snapshot nginx checks tokens against.\n"
        "\n"
        "  -c, --config FILE  configuration file (default %s if it exists)\n"
        "  -t                 check the configuration and exit\n"
        "  -v                 log debug lines\n"
        "  -h, --help         this text\n"
        "  -V, --version      the version\n"
        "  reconcile          compare the stream (and a list of request ids) with the\n"
        "                     ledger; exit 0 all accounted for, 1 not, 2 error\n"
        "\n"
        "environment: LAVA_REDIS_URL, LAVA_PG_DSN override the file\n"
        "exit status: 0 stopped (SIGTERM, SIGINT), 1 configuration invalid,\n"
        "  2 bad arguments, 3 database not migrated or older: run lava-migrate,\n"
        "  4 database newer than this sidecar: upgrade it\n"
        "signals: SIGHUP reloads the configuration and the rates\n",
        CONFIG_DEFAULT_PATH);
}

/* -1 and *mode, or the exit status when there is nothing to run. */
static int
parse_args(int argc, char **argv, sidecar_t *s, run_mode_e *mode)
{
    static const struct option  longopts[] = {
        { "config",  required_argument, NULL, 'c' },
        { "help",    no_argument,       NULL, 'h' },
        { "version", no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int  opt;

    *mode = RUN_SIDECAR;
    /* "+": options after "reconcile" are reconcile's own */
    while ((opt = getopt_long(argc, argv, "+c:tvhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': s->config_path = optarg; break;
        case 't': *mode = RUN_CHECK; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return SIDECAR_EXIT_OK;
        case 'V': printf("lava-sidecar %s\n", LAVA_VERSION); return SIDECAR_EXIT_OK;
        default:  usage(stderr); return SIDECAR_EXIT_USAGE;
        }
    }
    if (optind < argc && strcmp(argv[optind], "reconcile") == 0) {
        *mode = RUN_RECONCILE;
        return -1;
    }
    if (optind != argc) {
        usage(stderr);
        return SIDECAR_EXIT_USAGE;
    }
    return -1;
}

static void
apply_log_level(const config_t *c)
{
    slog_level = verbose ? SLOG_DEBUG : c->log_level;
}

static int
load_config(sidecar_t *s)
{
    char err[512];

    if (config_load(s->config_path, &s->cfg, err, sizeof(err)) != 0) {
        slog(SLOG_ERROR, "config: %s", err);
        return -1;
    }
    apply_log_level(&s->cfg);
    return 0;
}

/* SIGHUP: the new config is built completely before it replaces the old. */
static void
reload(sidecar_t *s)
{
    config_t nc;
    char     err[512];

    if (config_load(s->config_path, &nc, err, sizeof(err)) != 0) {
        slog(SLOG_ERROR, "reload: config not changed: %s", err);
    } else {
        if (config_changed(&nc, &s->cfg, CONFIG_RECONNECT_REDIS)) {
            rconn_close(&s->redis);
            s->group_ready = 0;
        }
        if (config_changed(&nc, &s->cfg, CONFIG_RECONNECT_PG)) {
            db_close(&s->db);
        }
        config_free(&s->cfg);
        s->cfg = nc;
        apply_log_level(&s->cfg);
        slog(SLOG_INFO, "reload: config read");
    }

    if (sidecar_rates_reload(s) != 0) {
        slog(SLOG_WARN, "reload: rates not reloaded; the old table stays");
    }
}

/* Until a stop request: jobs when due, stream reads in between. */
static void
run(sidecar_t *s)
{
    int64_t  wait;
    int      rc;

    jobs_reset();
    for (;;) {
        loop_poll_signals();
        if (loop_stop) {
            return;
        }
        metrics_serve(s);
        if (loop_reload) {
            loop_reload = 0;
            reload(s);
            jobs_reset();
        }
        if (consume_connect(s) != 0) {
            backoff_wait(&s->redis_backoff);
            continue;
        }

        rc = jobs_run_due(s);
        if (rc == JOB_STOP) {
            return;
        }
        if (rc == JOB_AGAIN) {
            continue;
        }

        /* wake for the next job even when no entry comes */
        wait = jobs_next_ms(s) - loop_now_ms();
        if (wait > s->cfg.block_ms) {
            wait = s->cfg.block_ms;
        }
        if (consume_read(s, (int) (wait < 1 ? 1 : wait)) != 0) {
            return;
        }
    }
}

int
main(int argc, char **argv)
{
    sidecar_t   s;
    run_mode_e  mode;
    int         rc;

    memset(&s, 0, sizeof(s));
    rc = parse_args(argc, argv, &s, &mode);
    if (rc >= 0) {
        return rc;
    }
    if (load_config(&s) != 0) {
        return mode == RUN_RECONCILE ? 2 : SIDECAR_EXIT_CONFIG;
    }

    if (mode == RUN_RECONCILE) {
        rc = reconcile_main(&s.cfg, argc - optind, argv + optind);
        config_free(&s.cfg);
        return rc;
    }
    if (mode == RUN_CHECK) {
        printf("lava-sidecar: configuration ok\n");
        config_free(&s.cfg);
        return 0;
    }

    if (loop_init() != 0) {
        config_free(&s.cfg);
        return SIDECAR_EXIT_CONFIG;
    }
    backoff_reset(&s.redis_backoff);
    backoff_reset(&s.db_backoff);
    consume_init();
    s.sql_files = sql_files;
    s.nsql_files = sizeof(sql_files) / sizeof(sql_files[0]);
    metrics_watch(&s);
    slog(SLOG_INFO, "starting lava-sidecar %s: stream %s, group %s, consumer %s",
         LAVA_VERSION, s.cfg.stream, s.cfg.group, s.cfg.consumer);

    /* the ledger's version first, whether Redis is up or not (a Postgres
     * that is not up yet is retried, and checked, by the loop) */
    (void) sidecar_db_ready(&s);

    run(&s);

    if (s.exit_code == SIDECAR_EXIT_OK) {
        slog(SLOG_INFO, "stopped");
    }

    metrics_close();
    sidecar_close(&s);
    return s.exit_code;
}
