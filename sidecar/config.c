#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "partition.h"
#include "price.h"

#define C(f)     offsetof(config_t, f)
#define STR_(x)  #x
#define STR(x)   STR_(x)

/*
 * One row per setting. Defaults are text as in the file and go through the
 * same parser as the file, so a default is always within its limits. The
 * order is the order of docs/sidecar.md's table.
 */
const config_setting_t config_settings[] = {
    { "redis_url",       CONFIG_STR, C(redis_url), "redis://127.0.0.1:6379", 0, 0,
      "LAVA_REDIS_URL", CONFIG_RECONNECT_REDIS },
    { "pg_dsn",          CONFIG_STR, C(pg_dsn), "dbname=lava", 0, 0,
      "LAVA_PG_DSN", CONFIG_RECONNECT_PG },
    { "stream",          CONFIG_STR, C(stream), "lava:usage", 0, 0,
      NULL, CONFIG_RECONNECT_REDIS },
    { "group",           CONFIG_STR, C(group), "lava-sidecar", 0, 0,
      NULL, CONFIG_RECONNECT_REDIS },
    /* the host name: stable across restarts, so a restarted sidecar finds
     * its own pending entries */
    { "consumer",        CONFIG_STR, C(consumer), NULL, 0, 0,
      NULL, CONFIG_RECONNECT_REDIS },
    /* partitions by paying customer (partition.h): each partition its own
     * consumer group, derived from group */
    { "partitions",      CONFIG_INT, C(partitions), "1", 1, PARTITION_MAX,
      NULL, CONFIG_RECONNECT_REDIS },
    { "partition",       CONFIG_INT, C(partition), "0", 0, PARTITION_MAX - 1,
      NULL, CONFIG_RECONNECT_REDIS },
    { "batch_size",      CONFIG_INT, C(batch_size), "2000", 1, 10000,
      NULL, CONFIG_LIVE },
    /* the Redis timeout covers it */
    { "block_ms",        CONFIG_INT, C(block_ms), "1000", 1, 60000,
      NULL, CONFIG_RECONNECT_REDIS },
    { "claim_idle_ms",   CONFIG_INT, C(claim_idle_ms), "30000", 1000, 86400000,
      NULL, CONFIG_LIVE },
    { "max_deliveries",  CONFIG_INT, C(max_deliveries), "10", 2, 1000,
      NULL, CONFIG_LIVE },
    { "trim_interval_ms", CONFIG_INT, C(trim_interval_ms), "10000", 0, 86400000,
      NULL, CONFIG_LIVE },
    { "trim_retain_ms",  CONFIG_INT, C(trim_retain_ms), "3600000", 0, 2000000000,
      NULL, CONFIG_LIVE },
    { "auth_prefix",     CONFIG_STR, C(auth_prefix), "lava:auth", 0, 0,
      NULL, CONFIG_LIVE },
    { "auth_publish_interval_ms", CONFIG_INT, C(auth_publish_interval_ms), "1000",
      100, 3600000, NULL, CONFIG_LIVE },
    { "service_charge_ppm", CONFIG_INT64, C(service_charge_ppm),
      STR(PRICE_SERVICE_CHARGE_PPM_DEFAULT), 0, 1000000, NULL, CONFIG_LIVE },
    { "service_charge_basis", CONFIG_SC_BASIS, C(service_charge_basis), "fee", 0, 0,
      NULL, CONFIG_LIVE },
    { "rates_reload_ms", CONFIG_INT, C(rates_reload_ms), "60000", 1000, 86400000,
      NULL, CONFIG_LIVE },
    { "log_level",       CONFIG_LEVEL, C(log_level), "info", 0, 0,
      NULL, CONFIG_LIVE },
    /* the /metrics and /healthz listener (metrics.h), opened again when it
     * changes */
    { "metrics_listen",  CONFIG_LISTEN, C(metrics_listen), "off", 0, 0,
      NULL, CONFIG_LIVE },
    { "healthz_max_lag_ms", CONFIG_INT, C(healthz_max_lag_ms), "60000", 1000, 86400000,
      NULL, CONFIG_LIVE },
};

const size_t config_nsettings = sizeof(config_settings) / sizeof(config_settings[0]);

static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };

#define FIELD(c, k, type)  ((type *) ((char *) (c) + (k)->off))

void
config_free(config_t *c)
{
    size_t i;

    for (i = 0; i < config_nsettings; i++) {
        if (config_settings[i].type == CONFIG_STR
            || config_settings[i].type == CONFIG_LISTEN)
        {
            free(*FIELD(c, &config_settings[i], char *));
        }
    }
    memset(c, 0, sizeof(*c));
}

int
config_changed(const config_t *a, const config_t *b, config_reload_e what)
{
    const config_setting_t *k;
    size_t                  i;

    for (i = 0; i < config_nsettings; i++) {
        k = &config_settings[i];
        if (k->reload != what) {
            continue;
        }
        switch (k->type) {
        case CONFIG_STR:
        case CONFIG_LISTEN:
            if (strcmp(*FIELD(a, k, char *const), *FIELD(b, k, char *const)) != 0) {
                return 1;
            }
            break;
        case CONFIG_INT64:
            if (*FIELD(a, k, const int64_t) != *FIELD(b, k, const int64_t)) {
                return 1;
            }
            break;
        case CONFIG_INT:
        case CONFIG_LEVEL:
        case CONFIG_SC_BASIS:
            if (*FIELD(a, k, const int) != *FIELD(b, k, const int)) {
                return 1;
            }
            break;
        }
    }
    return 0;
}

static int
set_str(config_t *c, const config_setting_t *k, const char *v)
{
    char **slot = FIELD(c, k, char *);
    char  *dup = strdup(v);

    if (dup == NULL) {
        return -1;
    }
    free(*slot);
    *slot = dup;
    return 0;
}

static int
set_value(config_t *c, const config_setting_t *k, const char *value, char *err,
    size_t errsize)
{
    const char  *name = k->name;
    long long    n;
    char        *end;
    size_t       i;

    switch (k->type) {
    case CONFIG_STR:
        if (*value == '\0') {
            snprintf(err, errsize, "%s is empty", name);
            return -1;
        }
        if (set_str(c, k, value) != 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        return 0;

    case CONFIG_LISTEN:
        if (config_listen_addr(value, NULL, 0, NULL) < 0) {
            snprintf(err, errsize, "%s must be off or a numeric IPv4 address:port", name);
            return -1;
        }
        if (set_str(c, k, value) != 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        return 0;

    case CONFIG_LEVEL:
        for (i = 0; level_names[i] != NULL; i++) {
            if (strcmp(level_names[i], value) == 0) {
                *FIELD(c, k, int) = (int) i;
                return 0;
            }
        }
        snprintf(err, errsize, "%s must be error, warn, info or debug", name);
        return -1;

    case CONFIG_SC_BASIS:
        for (i = 0; i <= SC_BASIS_BASE_FEE; i++) {
            if (strcmp(price_sc_basis_name((sc_basis_e) i), value) == 0) {
                *FIELD(c, k, int) = (int) i;
                return 0;
            }
        }
        snprintf(err, errsize, "%s must be fee, base or base_fee", name);
        return -1;

    case CONFIG_INT:
    case CONFIG_INT64:
        errno = 0;
        n = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || n < k->min || n > k->max) {
            snprintf(err, errsize, "%s must be an integer from %lld to %lld",
                     name, k->min, k->max);
            return -1;
        }
        if (k->type == CONFIG_INT) {
            *FIELD(c, k, int) = (int) n;
        } else {
            *FIELD(c, k, int64_t) = n;
        }
        return 0;
    }
    return -1;
}

static int
set_defaults(config_t *c, char *err, size_t errsize)
{
    const config_setting_t *k;
    char                    host[64], msg[256];
    size_t                  i;

    memset(c, 0, sizeof(*c));
    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "sidecar");
    }
    host[sizeof(host) - 1] = '\0';

    for (i = 0; i < config_nsettings; i++) {
        k = &config_settings[i];
        if (set_value(c, k, k->dflt != NULL ? k->dflt : host, msg, sizeof(msg)) != 0) {
            snprintf(err, errsize, "default: %s", msg);
            return -1;
        }
    }
    return 0;
}

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char) *s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) {
        *--e = '\0';
    }
    return s;
}

static int
set_key(config_t *c, const char *name, const char *value, char *err, size_t errsize)
{
    size_t i;

    for (i = 0; i < config_nsettings; i++) {
        if (strcmp(config_settings[i].name, name) == 0) {
            return set_value(c, &config_settings[i], value, err, errsize);
        }
    }
    snprintf(err, errsize, "unknown key \"%s\"", name);
    return -1;
}

static int
read_file(config_t *c, const char *path, char *err, size_t errsize)
{
    FILE   *f;
    char    line[4096], msg[256], *s, *eq;
    int     lineno = 0, rc = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }

    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errsize, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errsize, "%s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (set_key(c, trim(s), trim(eq + 1), msg, sizeof(msg)) != 0) {
            snprintf(err, errsize, "%s:%d: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }

    if (rc == 0 && ferror(f)) {
        snprintf(err, errsize, "cannot read %s", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int
config_load(const char *path, config_t *out, char *err, size_t errsize)
{
    config_t      c;
    redis_addr_t  addr;
    const char   *env;
    char          msg[256], *group;
    size_t        i;

    if (set_defaults(&c, err, errsize) != 0) {
        config_free(&c);
        return -1;
    }

    if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0) {
        path = CONFIG_DEFAULT_PATH;
    }
    if (path != NULL && read_file(&c, path, err, errsize) != 0) {
        config_free(&c);
        return -1;
    }

    for (i = 0; i < config_nsettings; i++) {
        if (config_settings[i].env == NULL) {
            continue;
        }
        env = getenv(config_settings[i].env);
        if (env != NULL && *env != '\0'
            && set_value(&c, &config_settings[i], env, msg, sizeof(msg)) != 0)
        {
            snprintf(err, errsize, "%s: %s", config_settings[i].env, msg);
            config_free(&c);
            return -1;
        }
    }

    if (config_redis_addr(c.redis_url, &addr, msg, sizeof(msg)) != 0) {
        snprintf(err, errsize, "redis_url: %s", msg);
        config_free(&c);
        return -1;
    }

    if (c.partition >= c.partitions) {
        snprintf(err, errsize, "partition %d is not below partitions %d (they count from 0)",
                 c.partition, c.partitions);
        config_free(&c);
        return -1;
    }
    group = partition_group(c.group, c.partition, c.partitions);
    if (group == NULL) {
        snprintf(err, errsize, "out of memory");
        config_free(&c);
        return -1;
    }
    free(c.group);
    c.group = group;

    *out = c;
    return 0;
}

int
config_redis_addr(const char *url, redis_addr_t *out, char *err, size_t errsize)
{
    const char *p, *at, *hend, *colon;
    char       *end;
    long        n;
    size_t      len;

    memset(out, 0, sizeof(*out));
    out->port = 6379;

    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errsize, "must start with redis://");
        return -1;
    }
    p = url + 8;

    /* [user][:password]@ : Redis 7 ACL users are not used, only the password */
    at = strchr(p, '@');
    if (at != NULL) {
        colon = memchr(p, ':', (size_t) (at - p));
        if (colon != NULL) {
            len = (size_t) (at - colon - 1);
            if (len >= sizeof(out->password)) {
                snprintf(err, errsize, "password too long");
                return -1;
            }
            memcpy(out->password, colon + 1, len);
            out->password[len] = '\0';
        }
        p = at + 1;
    }

    hend = p + strcspn(p, ":/");
    len = (size_t) (hend - p);
    if (len == 0 || len >= sizeof(out->host)) {
        snprintf(err, errsize, "no host");
        return -1;
    }
    memcpy(out->host, p, len);
    out->host[len] = '\0';
    p = hend;

    if (*p == ':') {
        n = strtol(p + 1, &end, 10);
        if (end == p + 1 || n < 1 || n > 65535 || (*end != '\0' && *end != '/')) {
            snprintf(err, errsize, "bad port");
            return -1;
        }
        out->port = (int) n;
        p = end;
    }

    if (*p == '/' && p[1] != '\0') {
        n = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != '\0' || n < 0 || n > 65535) {
            snprintf(err, errsize, "bad database number");
            return -1;
        }
        out->db = (int) n;
    } else if (*p != '\0' && strcmp(p, "/") != 0) {
        snprintf(err, errsize, "unexpected text after the host");
        return -1;
    }

    return 0;
}

/* numeric only: the sidecar never waits on DNS for its own listener */
int
config_listen_addr(const char *v, char *host, size_t hostsize, int *port)
{
    struct in_addr  a;
    const char     *colon;
    char            h[INET_ADDRSTRLEN], *end;
    size_t          len;
    long            n;

    if (strcmp(v, "off") == 0) {
        return 1;
    }
    colon = strrchr(v, ':');
    if (colon == NULL) {
        return -1;
    }
    len = (size_t) (colon - v);
    if (len == 0 || len >= sizeof(h)) {
        return -1;
    }
    memcpy(h, v, len);
    h[len] = '\0';
    if (inet_pton(AF_INET, h, &a) != 1) {
        return -1;
    }
    errno = 0;
    n = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || n < 1 || n > 65535) {
        return -1;
    }
    if (host != NULL) {
        if (len >= hostsize) {
            return -1;
        }
        memcpy(host, h, len + 1);
    }
    if (port != NULL) {
        *port = (int) n;
    }
    return 0;
}
