/*
 * The sidecar's periodic jobs: one table (jobs.c) of what runs and how
 * often, run by the main loop between stream reads. A job's interval is a
 * config_t setting in ms, read at each run (so SIGHUP changes it); 0 there
 * turns the job off. Due jobs run in table order with the same "now"; each
 * is set to run next at now + interval before it runs, and may set
 * job->next_ms itself (at once when more work waits, later after a failure).
 */
#ifndef SIDECAR_JOBS_H
#define SIDECAR_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "sidecar.h"

enum {
    JOB_OK = 0,      /* done; failures are logged and retried at the next run */
    JOB_AGAIN,       /* Redis failed: the loop starts again (reconnects) first */
    JOB_STOP         /* a stop request came while booking: leave the loop */
};

typedef struct job_s  job_t;

typedef int (*job_run_pt)(sidecar_t *s, job_t *job);

typedef struct {
    const char  *name;
    size_t       every;      /* offsetof(config_t, <int>_ms): the interval */
    int          times;      /* runs per interval (claim: twice) */
    job_run_pt   run;
} job_spec_t;

struct job_s {
    const job_spec_t  *spec;
    int64_t            now_ms;    /* monotonic: when this run started */
    int64_t            next_ms;   /* monotonic: when it is due again */
};

/* Every job due at once: at the start and after SIGHUP. */
void jobs_reset(void);

/* Runs the jobs that are due: JOB_OK, or the first JOB_AGAIN or JOB_STOP
 * (the jobs after it wait for the next call). */
int jobs_run_due(sidecar_t *s);

/* When the next job is due (monotonic ms); INT64_MAX when every job is off. */
int64_t jobs_next_ms(const sidecar_t *s);

#endif
