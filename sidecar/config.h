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
    char     *group;                     /* consumer group; with partitions, the
                                            partition's (partition_group()) */
    char     *consumer;                  /* consumer name in the group */
    int       partitions;                /* of the stream, by customer (partition.h) */
    int       partition;                 /* this sidecar's, 0..partitions-1 */
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
    char     *metrics_listen;            /* "127.0.0.1:9187", or "off" */
    int       healthz_max_lag_ms;        /* /healthz: ledger lag allowed */
} config_t;

/*
 * The settings: one row each, the only place a setting's name, type,
 * default, limits, environment override and reload class are written
 * (docs/sidecar.md and conf/sidecar.conf list the same names and defaults;
 * t/unit/check_config.c checks that they do).
 */
typedef enum {
    CONFIG_STR,                          /* char *, never empty */
    CONFIG_INT,                          /* int, min..max */
    CONFIG_INT64,                        /* int64_t, min..max */
    CONFIG_LEVEL,                        /* int SLOG_*: error, warn, info, debug */
    CONFIG_SC_BASIS,                     /* int sc_basis_e: fee, base, base_fee */
    CONFIG_LISTEN                        /* char *: "off" or numeric IPv4:port */
} config_type_e;

/* What a setting changed by SIGHUP needs before it is used. */
typedef enum {
    CONFIG_LIVE,                         /* nothing: read at each use */
    CONFIG_RECONNECT_REDIS,              /* a new Redis connection (and group check) */
    CONFIG_RECONNECT_PG                  /* a new Postgres connection */
} config_reload_e;

typedef struct {
    const char       *name;              /* the key in the file */
    config_type_e     type;
    size_t            off;               /* of the field in config_t */
    const char       *dflt;              /* as written in the file; NULL: the host name */
    long long         min, max;          /* CONFIG_INT, CONFIG_INT64 */
    const char       *env;               /* overrides the file when set, or NULL */
    config_reload_e   reload;
} config_setting_t;

extern const config_setting_t  config_settings[];
extern const size_t            config_nsettings;

/*
 * path NULL: CONFIG_DEFAULT_PATH if it exists, else built-in defaults.
 * Returns 0, or -1 with a message in err (which never holds a secret).
 */
int config_load(const char *path, config_t *out, char *err, size_t errsize);
void config_free(config_t *c);

/* 1 when a setting of reload class what differs between a and b. */
int config_changed(const config_t *a, const config_t *b, config_reload_e what);

/* Parsed redis_url. */
typedef struct {
    char  host[256];
    int   port;
    char  password[256];                 /* empty: no AUTH */
    int   db;
} redis_addr_t;

int config_redis_addr(const char *url, redis_addr_t *out, char *err, size_t errsize);

/* A CONFIG_LISTEN value: 0 and the address (host, port), 1 "off", -1 bad. */
int config_listen_addr(const char *v, char *host, size_t hostsize, int *port);

#endif
