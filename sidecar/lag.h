/*
 * Samples how far booking is behind the stream, for /metrics and /healthz
 * (metrics.h): entries the group has not read (XINFO GROUPS "lag", Redis 7),
 * entries read and not acknowledged (XPENDING), and the age of the oldest
 * entry not booked yet, from the ids (ms since the epoch) of the oldest
 * pending entry and of the first one not delivered. A few short commands on
 * the sidecar's own connection, run as a job (jobs.c) only when
 * metrics_listen is set.
 */
#ifndef SIDECAR_LAG_H
#define SIDECAR_LAG_H

#include <hiredis/hiredis.h>

#include "config.h"
#include "metrics.h"

/* STREAM_OK, or STREAM_FAILED (logged; the connection may be broken). */
int lag_sample(redisContext *c, const config_t *cfg, metrics_stream_t *out);

#endif
