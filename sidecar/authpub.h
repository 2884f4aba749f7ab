/*
 * Publishes the auth snapshot (docs/auth-sync.md) from Postgres to Redis.
 * Each tick reads auth_state.version (plus the rate table's version); when
 * it differs from the version in
 * Redis, reads the auth_snapshot view in the same snapshot of the database,
 * renders the text and writes it with MULTI; SET snapshot; SET version; EXEC.
 * Several sidecars publishing the same version write the same text, but for
 * the b records (the stream watermark, sidecar/authspend.h), read from
 * Redis before the database; a sidecar whose last snapshot was held back by
 * pending entries moves the version on once the watermark has moved.
 */
#ifndef SIDECAR_AUTHPUB_H
#define SIDECAR_AUTHPUB_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "config.h"
#include "rates.h"

enum {
    AUTHPUB_OK = 0,           /* published, or nothing changed */
    AUTHPUB_DB_FAILED = -1,   /* logged */
    AUTHPUB_REDIS_FAILED = -2 /* logged */
};

/* rates: the loaded rate table, rendered into r and f records
 * (sidecar/authrates.h); its version is part of the published one */
int authpub_tick(PGconn *db, redisContext *rc, const config_t *cfg, const rates_t *rates);

#endif
