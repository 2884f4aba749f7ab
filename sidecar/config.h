/*
 * Sidecar configuration: a file of `key = value` lines ('#' starts a
 * comment), then the environment (LAVA_REDIS_URL, LAVA_PG_DSN) on top.
 * config_load() builds a complete new config or fails without side
 * effects, so a reload can keep the old one when the new file is bad.
 */
#ifndef SIDECAR_CONFIG_H
#define SIDECAR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH  "/etc/lava/sidecar.conf"

typedef struct {
    char     *redis_url;                 /* redis://[:password@]host[:port][/db] */
    char     *pg_dsn;                    /* libpq conninfo or URI; may hold a password */
    char     *stream;                    /* Redis Stream key */
    char     *group;                     /* consumer group */
    char     *consumer;                  /* consumer name in the group */
    int       batch_size;                /* entries per XREADGROUP / transaction */
    int       block_ms;                  /* XREADGROUP BLOCK */
    int       claim_idle_ms;             /* XAUTOCLAIM entries idle this long */
    int       max_deliveries;            /* then a pending entry is dead-lettered */
    int       trim_interval_ms;          /* XTRIM MINID this often; 0: never */
    int       trim_retain_ms;            /* acknowledged entries kept this long */
    char     *auth_prefix;               /* <prefix>:snapshot, <prefix>:version */
    int       auth_publish_interval_ms;
    int64_t   service_charge_ppm;        /* of the basis; 19000 = 1.9 % */
    int       service_charge_basis;      /* sc_basis_e: fee, base, base_fee */
    int       rates_reload_ms;           /* rate table and meters re-read */
    int       log_level;                 /* SLOG_* */
} config_t;

/*
 * path NULL: CONFIG_DEFAULT_PATH if it exists, else built-in defaults.
 * Returns 0, or -1 with a message in err (which never holds a secret).
 */
int config_load(const char *path, config_t *out, char *err, size_t errsize);
void config_free(config_t *c);

/* Parsed redis_url. */
typedef struct {
    char  host[256];
    int   port;
    char  password[256];                 /* empty: no AUTH */
    int   db;
} redis_addr_t;

int config_redis_addr(const char *url, redis_addr_t *out, char *err, size_t errsize);

#endif
