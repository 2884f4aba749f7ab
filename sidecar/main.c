/*
 * lava-sidecar: reads usage events from the Redis Stream with a consumer
 * group, prices them, books them in the Postgres ledger exactly once and
 * acknowledges them after COMMIT; publishes the auth snapshot to Redis.
 *
 *   lava-sidecar [-c config] [-t] [-v]
 *   lava-sidecar [-c config] reconcile [options]   (reconcile.h)
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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static void
usage(void)
{
    fprintf(stderr,
        "usage: lava-sidecar [-c config] [-t] [-v]\n"
        "       lava-sidecar [-c config] reconcile [--ids FILE] [--since TIME]"
        " [--until TIME] [--list N]\n"
        "  -c config  configuration file (default %s if it exists)\n"
        "  -t         check the configuration and exit\n"
        "  -v         log debug lines\n"
        "  reconcile  compare the stream (and a list of request ids) with the ledger\n"
        "environment: LAVA_REDIS_URL, LAVA_PG_DSN override the file\n",
        CONFIG_DEFAULT_PATH);
}

/* -1 and *mode, or the exit status when there is nothing to run. */
static int
parse_args(int argc, char **argv, sidecar_t *s, run_mode_e *mode)
{
    int opt;

    *mode = RUN_SIDECAR;
    while ((opt = getopt(argc, argv, "+c:tvh")) != -1) {
        switch (opt) {
        case 'c': s->config_path = optarg; break;
        case 't': *mode = RUN_CHECK; break;
        case 'v': verbose = 1; break;
        default:  usage(); return opt == 'h' ? 0 : 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "reconcile") == 0) {
        *mode = RUN_RECONCILE;
        return -1;
    }
    if (optind != argc) {
        usage();
        return 2;
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
        return mode == RUN_RECONCILE ? 2 : 1;
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
        return 1;
    }
    backoff_reset(&s.redis_backoff);
    backoff_reset(&s.db_backoff);
    consume_init();
    metrics_watch(&s);
    slog(SLOG_INFO, "starting: stream %s, group %s, consumer %s", s.cfg.stream,
         s.cfg.group, s.cfg.consumer);

    run(&s);

    slog(SLOG_INFO, "stopped");
    metrics_close();
    sidecar_close(&s);
    return 0;
}
