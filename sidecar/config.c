#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "price.h"

typedef enum { K_STR, K_INT, K_INT64, K_LEVEL, K_SC_BASIS } key_kind_e;

typedef struct {
    const char  *name;
    key_kind_e   kind;
    size_t       off;
    long long    min, max;
} key_spec_t;

#define C(f)  offsetof(config_t, f)

static const key_spec_t keys[] = {
    { "redis_url",                K_STR,   C(redis_url),     0, 0 },
    { "pg_dsn",                   K_STR,   C(pg_dsn),        0, 0 },
    { "stream",                   K_STR,   C(stream),        0, 0 },
    { "group",                    K_STR,   C(group),         0, 0 },
    { "consumer",                 K_STR,   C(consumer),      0, 0 },
    { "batch_size",               K_INT,   C(batch_size),    1, 10000 },
    { "block_ms",                 K_INT,   C(block_ms),      1, 60000 },
    { "claim_idle_ms",            K_INT,   C(claim_idle_ms), 1000, 86400000 },
    { "max_deliveries",           K_INT,   C(max_deliveries), 2, 1000 },
    { "trim_interval_ms",         K_INT,   C(trim_interval_ms), 0, 86400000 },
    { "trim_retain_ms",           K_INT,   C(trim_retain_ms), 0, 2000000000 },
    { "auth_prefix",              K_STR,   C(auth_prefix),   0, 0 },
    { "auth_publish_interval_ms", K_INT,   C(auth_publish_interval_ms), 100, 3600000 },
    { "service_charge_ppm",       K_INT64, C(service_charge_ppm), 0, 1000000 },
    { "service_charge_basis",     K_SC_BASIS, C(service_charge_basis), 0, 0 },
    { "rates_reload_ms",          K_INT,   C(rates_reload_ms), 1000, 86400000 },
    { "log_level",                K_LEVEL, C(log_level),     0, 0 },
};

#define NKEYS  (sizeof(keys) / sizeof(keys[0]))

static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };

void
config_free(config_t *c)
{
    size_t i;

    for (i = 0; i < NKEYS; i++) {
        if (keys[i].kind == K_STR) {
            free(*(char **) ((char *) c + keys[i].off));
        }
    }
    memset(c, 0, sizeof(*c));
}

static int
set_str(config_t *c, size_t off, const char *v)
{
    char **slot = (char **) ((char *) c + off);
    char  *dup = strdup(v);

    if (dup == NULL) {
        return -1;
    }
    free(*slot);
    *slot = dup;
    return 0;
}

static int
set_defaults(config_t *c)
{
    char host[64], consumer[80];

    memset(c, 0, sizeof(*c));
    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "sidecar");
    }
    host[sizeof(host) - 1] = '\0';
    /* stable across restarts: a restarted sidecar finds its own pending entries */
    snprintf(consumer, sizeof(consumer), "%s", host);

    c->batch_size = 500;
    c->block_ms = 1000;
    c->claim_idle_ms = 30000;
    c->max_deliveries = 10;
    c->trim_interval_ms = 10000;
    c->trim_retain_ms = 3600000;
    c->auth_publish_interval_ms = 1000;
    c->service_charge_ppm = PRICE_SERVICE_CHARGE_PPM_DEFAULT;
    c->service_charge_basis = SC_BASIS_FEE;
    c->rates_reload_ms = 60000;
    c->log_level = SLOG_INFO;

    return set_str(c, C(redis_url), "redis://127.0.0.1:6379")
        || set_str(c, C(pg_dsn), "dbname=lava")
        || set_str(c, C(stream), "lava:usage")
        || set_str(c, C(group), "lava-sidecar")
        || set_str(c, C(consumer), consumer)
        || set_str(c, C(auth_prefix), "lava:auth") ? -1 : 0;
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
    const key_spec_t *k = NULL;
    long long         n;
    char             *end;
    size_t            i;

    for (i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            k = &keys[i];
            break;
        }
    }
    if (k == NULL) {
        snprintf(err, errsize, "unknown key \"%s\"", name);
        return -1;
    }

    switch (k->kind) {
    case K_STR:
        if (*value == '\0') {
            snprintf(err, errsize, "%s is empty", name);
            return -1;
        }
        if (set_str(c, k->off, value) != 0) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        return 0;

    case K_LEVEL:
        for (i = 0; level_names[i] != NULL; i++) {
            if (strcmp(level_names[i], value) == 0) {
                *(int *) ((char *) c + k->off) = (int) i;
                return 0;
            }
        }
        snprintf(err, errsize, "%s must be error, warn, info or debug", name);
        return -1;

    case K_SC_BASIS:
        for (i = 0; i <= SC_BASIS_BASE_FEE; i++) {
            if (strcmp(price_sc_basis_name((sc_basis_e) i), value) == 0) {
                *(int *) ((char *) c + k->off) = (int) i;
                return 0;
            }
        }
        snprintf(err, errsize, "%s must be fee, base or base_fee", name);
        return -1;

    case K_INT:
    case K_INT64:
        errno = 0;
        n = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || n < k->min || n > k->max) {
            snprintf(err, errsize, "%s must be an integer from %lld to %lld",
                     name, k->min, k->max);
            return -1;
        }
        if (k->kind == K_INT) {
            *(int *) ((char *) c + k->off) = (int) n;
        } else {
            *(int64_t *) ((char *) c + k->off) = n;
        }
        return 0;
    }
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
    char          msg[256];

    if (set_defaults(&c) != 0) {
        config_free(&c);
        snprintf(err, errsize, "out of memory");
        return -1;
    }

    if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0) {
        path = CONFIG_DEFAULT_PATH;
    }
    if (path != NULL && read_file(&c, path, err, errsize) != 0) {
        config_free(&c);
        return -1;
    }

    env = getenv("LAVA_REDIS_URL");
    if (env != NULL && *env != '\0' && set_str(&c, C(redis_url), env) != 0) {
        goto oom;
    }
    env = getenv("LAVA_PG_DSN");
    if (env != NULL && *env != '\0' && set_str(&c, C(pg_dsn), env) != 0) {
        goto oom;
    }

    if (config_redis_addr(c.redis_url, &addr, msg, sizeof(msg)) != 0) {
        snprintf(err, errsize, "redis_url: %s", msg);
        config_free(&c);
        return -1;
    }

    *out = c;
    return 0;

oom:
    config_free(&c);
    snprintf(err, errsize, "out of memory");
    return -1;
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
