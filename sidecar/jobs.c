#include <string.h>

#include "authpub.h"
#include "consume.h"
#include "deadletter.h"
#include "jobs.h"
#include "lag.h"
#include "log.h"
#include "reprice.h"
#include "stream.h"

static int job_rates(sidecar_t *s, job_t *job);
static int job_auth(sidecar_t *s, job_t *job);
static int job_replay(sidecar_t *s, job_t *job);
static int job_reprice(sidecar_t *s, job_t *job);
static int job_trim(sidecar_t *s, job_t *job);
static int job_lag(sidecar_t *s, job_t *job);

#define EVERY(f)  offsetof(config_t, f)

/* A new periodic job is one row here. */
static const job_spec_t job_specs[] = {
    { "rates",  EVERY(rates_reload_ms),          1, job_rates },
    { "auth",   EVERY(auth_publish_interval_ms), 1, job_auth },
    { "replay", EVERY(auth_publish_interval_ms), 1, job_replay },
    { "reprice", EVERY(auth_publish_interval_ms), 1, job_reprice },
    { "trim",   EVERY(trim_interval_ms),         1, job_trim },
    { "claim",  EVERY(claim_idle_ms),            2, consume_claim },
    { "lag",    EVERY(auth_publish_interval_ms), 1, job_lag },
};

#define NJOBS  (sizeof(job_specs) / sizeof(job_specs[0]))

static job_t jobs[NJOBS];            /* run-time state, one per row */

static int64_t
interval_ms(const sidecar_t *s, const job_spec_t *spec)
{
    return *(const int *) ((const char *) &s->cfg + spec->every) / spec->times;
}

void
jobs_reset(void)
{
    size_t i;

    for (i = 0; i < NJOBS; i++) {
        jobs[i].spec = &job_specs[i];
        jobs[i].now_ms = 0;
        jobs[i].next_ms = 0;
    }
}

int
jobs_run_due(sidecar_t *s)
{
    int64_t  now = loop_now_ms(), every;
    size_t   i;
    int      rc;

    for (i = 0; i < NJOBS; i++) {
        every = interval_ms(s, &job_specs[i]);
        if (every <= 0 || now < jobs[i].next_ms) {
            continue;
        }
        jobs[i].spec = &job_specs[i];
        jobs[i].now_ms = now;
        jobs[i].next_ms = now + every;
        rc = job_specs[i].run(s, &jobs[i]);
        if (rc == JOB_AGAIN || rc == JOB_STOP) {
            return rc;
        }
    }
    return JOB_OK;
}

int64_t
jobs_next_ms(const sidecar_t *s)
{
    int64_t  next = INT64_MAX;
    size_t   i;

    for (i = 0; i < NJOBS; i++) {
        if (interval_ms(s, &job_specs[i]) > 0 && jobs[i].next_ms < next) {
            next = jobs[i].next_ms;
        }
    }
    return next;
}

/* --- the jobs ---------------------------------------------------------------- */

/* the rate table and meters, when Postgres says they changed */
static int
job_rates(sidecar_t *s, job_t *job)
{
    (void) sidecar_rates_reload(s);
    return JOB_OK;
}

/* the auth snapshot, published when its version changed */
static int
job_auth(sidecar_t *s, job_t *job)
{
    int rc;

    if (sidecar_db_ready(s) != 0) {
        return JOB_OK;
    }
    /* the r and f records come from the rate table: current first */
    if ((s->rates == NULL || rates_changed(s->db, s->rates) > 0)
        && sidecar_rates_reload(s) != 0)
    {
        return JOB_OK;
    }
    rc = authpub_tick(s->db, s->redis, &s->cfg, s->rates);
    if (rc == AUTHPUB_DB_FAILED) {
        sidecar_db_failed(s);
    } else if (rc == AUTHPUB_REDIS_FAILED) {
        sidecar_redis_failed(s);
        return JOB_AGAIN;
    }
    return JOB_OK;
}

/* dead letters marked for replay in psql, on the auth snapshot's pace */
static int
job_replay(sidecar_t *s, job_t *job)
{
    if (s->db != NULL) {
        (void) deadletter_replay(s);
    }
    return s->redis == NULL ? JOB_AGAIN : JOB_OK;
}

/* requests marked for re-pricing in psql, on the same pace as replay */
static int
job_reprice(sidecar_t *s, job_t *job)
{
    if (s->db != NULL) {
        (void) reprice_run(s);
    }
    return s->redis == NULL ? JOB_AGAIN : JOB_OK;
}

/* acknowledged entries, never past a pending or undelivered one */
static int
job_trim(sidecar_t *s, job_t *job)
{
    long long trimmed;

    if (stream_trim(s->redis, &s->cfg, &trimmed) != STREAM_OK) {
        sidecar_redis_failed(s);
        return JOB_AGAIN;
    }
    if (trimmed > 0) {
        slog(SLOG_DEBUG, "trimmed %lld acknowledged entries from %s", trimmed, s->cfg.stream);
    }
    return JOB_OK;
}

/* stream backlog and ledger lag for /metrics and /healthz (lag.h) */
static int
job_lag(sidecar_t *s, job_t *job)
{
    if (strcmp(s->cfg.metrics_listen, "off") == 0) {
        return JOB_OK;
    }
    if (lag_sample(s->redis, &s->cfg, &metrics_stream) != STREAM_OK) {
        sidecar_redis_failed(s);
        return JOB_AGAIN;
    }
    return JOB_OK;
}
