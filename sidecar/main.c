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
 * Entries read a second time (this consumer's own pending entries after a
 * restart or reconnect, or entries claimed from a consumer that died) may be
 * what stopped the sidecar before: they are booked one per transaction, so
 * that such an entry takes no other with it, and dead-lettered unread once
 * delivered more than max_deliveries times (deadletter.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authpub.h"
#include "batch.h"
#include "db.h"
#include "deadletter.h"
#include "log.h"
#include "loop.h"
#include "rconn.h"
#include "reconcile.h"
#include "reprice.h"
#include "sidecar.h"
#include "stream.h"

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

static int verbose;

static void
apply_log_level(const config_t *c)
{
    slog_level = verbose ? SLOG_DEBUG : c->log_level;
}

static int
same(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
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
        if (!same(nc.redis_url, s->cfg.redis_url) || !same(nc.stream, s->cfg.stream)
            || !same(nc.group, s->cfg.group) || !same(nc.consumer, s->cfg.consumer)
            || nc.block_ms != s->cfg.block_ms)
        {
            rconn_close(&s->redis);
            s->group_ready = 0;
        }
        if (!same(nc.pg_dsn, s->cfg.pg_dsn)) {
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

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/*
 * Entries delivered before (own pending ones, claimed ones): those delivered
 * more than max_deliveries times are dead-lettered unread, the others booked
 * one per transaction. 0 done (or Redis failed: the entries stay pending and
 * come again), -1 a stop request came first.
 */
static int
process_redelivered(sidecar_t *s, stream_batch_t *b)
{
    long long    *counts;
    redisReply  **over;
    size_t        i, nover = 0;
    int           rc = 0;

    if (b->n == 0) {
        return 0;
    }
    counts = calloc(b->n, sizeof(*counts));
    over = calloc(b->n, sizeof(*over));
    if (counts == NULL || over == NULL
        || stream_deliveries(s->redis, &s->cfg, b->entries, b->n, counts) != STREAM_OK)
    {
        if (counts == NULL || over == NULL) {
            slog(SLOG_ERROR, "processing %zu redelivered entries failed: out of memory", b->n);
        }
        free(counts);
        free(over);
        sidecar_redis_failed(s);
        return 0;
    }

    for (i = 0; i < b->n; i++) {
        if (counts[i] > s->cfg.max_deliveries) {
            counts[nover] = counts[i];
            over[nover++] = b->entries[i];
        }
    }
    if (nover > 0) {
        rc = deadletter_overdelivered(s, over, nover, counts);
    }

    for (i = 0; rc == 0 && i < b->n; i++) {
        size_t k;
        int    skip = 0;

        for (k = 0; k < nover; k++) {
            if (over[k] == b->entries[i]) {
                skip = 1;
                break;
            }
        }
        if (!skip) {
            rc = batch_process(s, &b->entries[i], 1);
        }
    }
    free(counts);
    free(over);
    return rc;
}

int
main(int argc, char **argv)
{
    sidecar_t       s;
    stream_batch_t  b;
    char            err[512], pending_cursor[STREAM_ID_MAX], claim_cursor[STREAM_ID_MAX];
    int             opt, check_only = 0, reading_pending = 1, connected, rc;
    int64_t         now, next_auth = 0, next_rates = 0, next_claim = 0, next_trim = 0, wait;
    long long       trimmed;

    memset(&s, 0, sizeof(s));

    while ((opt = getopt(argc, argv, "+c:tvh")) != -1) {
        switch (opt) {
        case 'c': s.config_path = optarg; break;
        case 't': check_only = 1; break;
        case 'v': verbose = 1; break;
        default:  usage(); return opt == 'h' ? 0 : 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "reconcile") == 0) {
        if (config_load(s.config_path, &s.cfg, err, sizeof(err)) != 0) {
            slog(SLOG_ERROR, "config: %s", err);
            return 2;
        }
        apply_log_level(&s.cfg);
        rc = reconcile_main(&s.cfg, argc - optind, argv + optind);
        config_free(&s.cfg);
        return rc;
    }
    if (optind != argc) {
        usage();
        return 2;
    }

    if (config_load(s.config_path, &s.cfg, err, sizeof(err)) != 0) {
        slog(SLOG_ERROR, "config: %s", err);
        return 1;
    }
    apply_log_level(&s.cfg);
    if (check_only) {
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
    strcpy(pending_cursor, "0");
    strcpy(claim_cursor, "0-0");

    slog(SLOG_INFO, "starting: stream %s, group %s, consumer %s", s.cfg.stream,
         s.cfg.group, s.cfg.consumer);

    for (;;) {
        loop_poll_signals();
        if (loop_stop) {
            break;
        }
        if (loop_reload) {
            loop_reload = 0;
            reload(&s);
            next_auth = next_rates = next_claim = next_trim = 0;
        }

        connected = s.redis != NULL;
        if (sidecar_redis_ready(&s) != 0) {
            backoff_wait(&s.redis_backoff);
            continue;
        }
        if (!connected) {
            /* a new connection: first what was delivered to us and not acked */
            reading_pending = 1;
            strcpy(pending_cursor, "0");
        }

        now = loop_now_ms();

        if (now >= next_rates) {
            next_rates = now + s.cfg.rates_reload_ms;
            (void) sidecar_rates_reload(&s);
        }

        if (now >= next_auth) {
            next_auth = now + s.cfg.auth_publish_interval_ms;
            if (sidecar_db_ready(&s) == 0) {
                rc = authpub_tick(s.db, s.redis, &s.cfg);
                if (rc == AUTHPUB_DB_FAILED) {
                    sidecar_db_failed(&s);
                } else if (rc == AUTHPUB_REDIS_FAILED) {
                    sidecar_redis_failed(&s);
                    continue;
                }
            }
            /* dead letters marked for replay in psql, on the same pace */
            if (s.db != NULL) {
                (void) deadletter_replay(&s);
            }
            /* requests marked for re-pricing in psql, likewise */
            if (s.db != NULL) {
                (void) reprice_run(&s);
            }
            if (s.redis == NULL) {
                continue;
            }
        }

        /* acknowledged entries, never past a pending or undelivered one */
        if (s.cfg.trim_interval_ms > 0 && now >= next_trim) {
            next_trim = now + s.cfg.trim_interval_ms;
            rc = stream_trim(s.redis, &s.cfg, &trimmed);
            if (rc != STREAM_OK) {
                sidecar_redis_failed(&s);
                continue;
            }
            if (trimmed > 0) {
                slog(SLOG_DEBUG, "trimmed %lld acknowledged entries from %s", trimmed,
                     s.cfg.stream);
            }
        }

        /* entries of consumers that died with them pending (this one included) */
        if (now >= next_claim) {
            rc = stream_autoclaim(s.redis, &s.cfg, claim_cursor, &b);
            if (rc == STREAM_OK) {
                if (b.n > 0) {
                    slog(SLOG_INFO, "claimed %zu entries idle for %d ms", b.n,
                         s.cfg.claim_idle_ms);
                }
                rc = process_redelivered(&s, &b);
                stream_batch_free(&b);
                if (rc != 0) {
                    break;                      /* stopping, nothing acked */
                }
                /* more may be waiting: claim again soon, else at a slow pace */
                if (strcmp(claim_cursor, "0-0") == 0) {
                    next_claim = now + s.cfg.claim_idle_ms / 2;
                }
            } else {
                if (rc == STREAM_NOGROUP) {
                    s.group_ready = 0;
                }
                sidecar_redis_failed(&s);
                next_claim = now + 1000;
                continue;
            }
        }

        /* wake for the next timer even when no entry comes */
        wait = min64(next_auth, min64(next_rates, next_claim)) - loop_now_ms();
        if (s.cfg.trim_interval_ms > 0) {
            wait = min64(wait, next_trim - loop_now_ms());
        }
        wait = min64(wait, s.cfg.block_ms);

        rc = stream_read(s.redis, &s.cfg, reading_pending ? pending_cursor : ">",
                         (int) (wait < 1 ? 1 : wait), &b);
        if (rc != STREAM_OK) {
            if (rc == STREAM_NOGROUP) {
                s.group_ready = 0;
            }
            sidecar_redis_failed(&s);
            if (s.redis != NULL) {
                backoff_wait(&s.redis_backoff);  /* an error reply: do not spin */
            }
            continue;
        }

        if (reading_pending) {
            if (b.n == 0) {
                reading_pending = 0;
            } else {
                redisReply *last = b.entries[b.n - 1];

                if (last->type == REDIS_REPLY_ARRAY) {
                    memcpy(pending_cursor, last->element[0]->str, last->element[0]->len);
                    pending_cursor[last->element[0]->len] = '\0';
                }
            }
        }

        rc = reading_pending ? process_redelivered(&s, &b) : batch_process(&s, b.entries, b.n);
        stream_batch_free(&b);
        if (rc != 0) {
            break;
        }
    }

    slog(SLOG_INFO, "stopped");
    sidecar_close(&s);
    return 0;
}
