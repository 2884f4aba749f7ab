/*
 * Sidecar settings: the table's defaults load and read back as written,
 * docs/sidecar.md and conf/sidecar.conf list the same settings with the
 * same defaults, and a reload tells which connection a change needs.
 * Paths are relative to the top of the tree (LAVA_SRCDIR overrides).
 */
#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config.h"
#include "log.h"
#include "price.h"


static const char *const levels[] = { "error", "warn", "info", "debug" };


static const char *
srcpath(const char *rel, char *buf, size_t size)
{
    const char *top = getenv("LAVA_SRCDIR");

    snprintf(buf, size, "%s/%s", top ? top : ".", rel);
    return buf;
}


/* a config file holding text, removed by the caller */
static char *
conf_file(const char *text)
{
    char  *path = strdup("/tmp/check_config.XXXXXX");
    int    fd;

    ck_assert_ptr_nonnull(path);
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}


/* loads text with no environment overrides: 0, or -1 with err */
static int
load_text(const char *text, config_t *c, char *err, size_t errsize)
{
    char *path = conf_file(text);
    int   rc;

    unsetenv("LAVA_REDIS_URL");
    unsetenv("LAVA_PG_DSN");
    rc = config_load(path, c, err, errsize);
    unlink(path);
    free(path);
    return rc;
}


/* a setting's value as it would be written in the file */
static const char *
value_text(const config_t *c, const config_setting_t *k, char *buf, size_t size)
{
    const char *p = (const char *) c + k->off;

    switch (k->type) {
    case CONFIG_STR:
    case CONFIG_LISTEN:
        return *(char *const *) p;
    case CONFIG_INT:
        snprintf(buf, size, "%d", *(const int *) p);
        return buf;
    case CONFIG_INT64:
        snprintf(buf, size, "%lld", (long long) *(const int64_t *) p);
        return buf;
    case CONFIG_LEVEL:
        return levels[*(const int *) p];
    case CONFIG_SC_BASIS:
        return price_sc_basis_name((sc_basis_e) *(const int *) p);
    }
    return "?";
}


static const config_setting_t *
setting(const char *name)
{
    size_t i;

    for (i = 0; i < config_nsettings; i++) {
        if (strcmp(config_settings[i].name, name) == 0) {
            return &config_settings[i];
        }
    }
    return NULL;
}


START_TEST(defaults_load_as_written)
{
    config_t  c;
    char      err[512], buf[64], host[64];
    size_t    i;

    ck_assert_int_eq(load_text("# nothing\n", &c, err, sizeof(err)), 0);
    for (i = 0; i < config_nsettings; i++) {
        const config_setting_t *k = &config_settings[i];

        if (k->dflt != NULL) {
            ck_assert_str_eq(value_text(&c, k, buf, sizeof(buf)), k->dflt);
        }
    }
    /* the few the rest of the sidecar names by constant */
    ck_assert_int_eq(c.service_charge_ppm, PRICE_SERVICE_CHARGE_PPM_DEFAULT);
    ck_assert_int_eq(c.service_charge_basis, SC_BASIS_FEE);
    ck_assert_int_eq(c.log_level, SLOG_INFO);
    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    host[sizeof(host) - 1] = '\0';
    ck_assert_str_eq(c.consumer, host);
    config_free(&c);
}
END_TEST


START_TEST(settings_are_unique_and_in_range)
{
    size_t i, j;

    ck_assert_uint_gt(config_nsettings, 0);
    for (i = 0; i < config_nsettings; i++) {
        const config_setting_t *k = &config_settings[i];

        for (j = i + 1; j < config_nsettings; j++) {
            ck_assert_str_ne(k->name, config_settings[j].name);
        }
        if (k->type == CONFIG_INT || k->type == CONFIG_INT64) {
            ck_assert_int_le(k->min, k->max);
            ck_assert_ptr_nonnull(k->dflt);
            ck_assert_int_ge(atoll(k->dflt), k->min);
            ck_assert_int_le(atoll(k->dflt), k->max);
        }
        if (k->dflt == NULL) {
            ck_assert_int_eq(k->type, CONFIG_STR);
        }
    }
}
END_TEST


/* "| `name` | default | meaning |" rows of the Configuration section */
START_TEST(docs_list_the_settings_and_defaults)
{
    FILE    *f;
    char     path[4096], *line = NULL, *cell[3], *p, *e, lo[32], hi[32];
    const char *dflt;
    size_t   cap = 0, n = 0, i;
    int      in = 0;

    f = fopen(srcpath("docs/sidecar.md", path, sizeof(path)), "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);

    while (getline(&line, &cap, f) != -1) {
        if (strncmp(line, "## ", 3) == 0) {
            in = strncmp(line, "## Configuration", 16) == 0;
            continue;
        }
        if (!in || strncmp(line, "| `", 3) != 0) {
            continue;
        }
        /* the first three cells, backticks and spaces trimmed */
        p = line + 1;
        for (i = 0; i < 3; i++) {
            e = strchr(p, '|');
            ck_assert_msg(e != NULL, "docs/sidecar.md: short row: %s", line);
            *e = '\0';
            while (*p == ' ' || *p == '`') {
                p++;
            }
            cell[i] = p;
            for (p = e; p > cell[i] && (p[-1] == ' ' || p[-1] == '`'); p--) {
            }
            *p = '\0';
            p = e + 1;
        }

        ck_assert_msg(n < config_nsettings, "docs/sidecar.md: %s is not a setting", cell[0]);
        dflt = config_settings[n].dflt ? config_settings[n].dflt : "host name";
        ck_assert_msg(strcmp(cell[0], config_settings[n].name) == 0,
                      "docs/sidecar.md: row %zu is %s, the table's is %s", n + 1, cell[0],
                      config_settings[n].name);
        ck_assert_msg(strcmp(cell[1], dflt) == 0,
                      "docs/sidecar.md: %s defaults to %s, the table's is %s", cell[0], cell[1],
                      dflt);
        /* limits the meaning states, as "(min–max)" */
        p = strstr(cell[2], "\xe2\x80\x93");
        if (p != NULL && strchr(cell[2], '(') != NULL) {
            snprintf(lo, sizeof(lo), "%lld", config_settings[n].min);
            snprintf(hi, sizeof(hi), "%lld", config_settings[n].max);
            ck_assert_msg(strncmp(p - strlen(lo), lo, strlen(lo)) == 0
                          && strncmp(p + 3, hi, strlen(hi)) == 0,
                          "docs/sidecar.md: %s limits are not %s-%s", cell[0], lo, hi);
        }
        n++;
    }
    free(line);
    fclose(f);
    ck_assert_uint_eq(n, config_nsettings);
}
END_TEST


/* every setting in the sample, set ("key = value") or shown ("# key = value"),
 * at its default */
START_TEST(sample_conf_holds_the_defaults)
{
    FILE                    *f;
    char                     path[4096], line[1024], key[128], value[512], err[512];
    const config_setting_t  *k;
    unsigned char            seen[64] = { 0 };
    config_t                 c, d;
    size_t                   i;

    ck_assert_uint_le(config_nsettings, sizeof(seen));
    f = fopen(srcpath("conf/sidecar.conf", path, sizeof(path)), "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "# %127[a-z_] = %511[^\n]", key, value) != 2
            && sscanf(line, "%127[a-z_] = %511[^\n]", key, value) != 2)
        {
            continue;
        }
        k = setting(key);
        if (k == NULL) {
            continue;                   /* a comment that reads like one */
        }
        seen[k - config_settings] = 1;
        if (k->dflt != NULL) {
            ck_assert_msg(strcmp(value, k->dflt) == 0,
                          "conf/sidecar.conf: %s = %s, the default is %s", key, value, k->dflt);
        }
    }
    fclose(f);
    for (i = 0; i < config_nsettings; i++) {
        ck_assert_msg(seen[i], "conf/sidecar.conf does not show %s", config_settings[i].name);
    }

    /* and it loads to the defaults */
    unsetenv("LAVA_REDIS_URL");
    unsetenv("LAVA_PG_DSN");
    ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), 0);
    ck_assert_int_eq(load_text("", &d, err, sizeof(err)), 0);
    ck_assert_int_eq(config_changed(&c, &d, CONFIG_LIVE), 0);
    ck_assert_int_eq(config_changed(&c, &d, CONFIG_RECONNECT_REDIS), 0);
    ck_assert_int_eq(config_changed(&c, &d, CONFIG_RECONNECT_PG), 0);
    config_free(&c);
    config_free(&d);
}
END_TEST


START_TEST(reload_classes)
{
    static const struct {
        const char       *text;
        config_reload_e   what;
    } cases[] = {
        { "redis_url = redis://127.0.0.1:6380\n", CONFIG_RECONNECT_REDIS },
        { "stream = other\n",                     CONFIG_RECONNECT_REDIS },
        { "group = other\n",                      CONFIG_RECONNECT_REDIS },
        { "consumer = other\n",                   CONFIG_RECONNECT_REDIS },
        { "block_ms = 200\n",                     CONFIG_RECONNECT_REDIS },
        { "pg_dsn = dbname=other\n",              CONFIG_RECONNECT_PG },
        { "batch_size = 7\n",                     CONFIG_LIVE },
        { "service_charge_ppm = 25000\n",         CONFIG_LIVE },
        { "service_charge_basis = base\n",        CONFIG_LIVE },
        { "log_level = debug\n",                  CONFIG_LIVE },
        { "metrics_listen = 127.0.0.1:9187\n",    CONFIG_LIVE },
        { "healthz_max_lag_ms = 5000\n",          CONFIG_LIVE },
    };
    config_t  base, c;
    char      err[512];
    size_t    i;
    int       w;

    ck_assert_int_eq(load_text("", &base, err, sizeof(err)), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(load_text(cases[i].text, &c, err, sizeof(err)) == 0, "%s", err);
        for (w = CONFIG_LIVE; w <= CONFIG_RECONNECT_PG; w++) {
            ck_assert_msg(config_changed(&base, &c, (config_reload_e) w)
                          == (w == (int) cases[i].what), "%s: class %d", cases[i].text, w);
        }
        config_free(&c);
    }
    config_free(&base);
}
END_TEST


START_TEST(environment_overrides_the_file)
{
    config_t  c;
    char      err[512], *path = conf_file("pg_dsn = dbname=file\nredis_url = redis://h:1\n");

    setenv("LAVA_PG_DSN", "dbname=env", 1);
    setenv("LAVA_REDIS_URL", "", 1);            /* empty: not set */
    ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), 0);
    ck_assert_str_eq(c.pg_dsn, "dbname=env");
    ck_assert_str_eq(c.redis_url, "redis://h:1");
    config_free(&c);

    setenv("LAVA_REDIS_URL", "http://nope", 1);
    ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "redis_url: must start with redis://");
    unsetenv("LAVA_PG_DSN");
    unsetenv("LAVA_REDIS_URL");
    unlink(path);
    free(path);
}
END_TEST


START_TEST(refusals)
{
    static const struct {
        const char *text;
        const char *err;          /* after "<path>:<line>: " */
    } cases[] = {
        { "nope = 1\n",                "unknown key \"nope\"" },
        { "batch_size = 0\n",          "batch_size must be an integer from 1 to 10000" },
        { "batch_size = 10001\n",      "batch_size must be an integer from 1 to 10000" },
        { "block_ms = 1x\n",           "block_ms must be an integer from 1 to 60000" },
        { "service_charge_ppm = -1\n",
          "service_charge_ppm must be an integer from 0 to 1000000" },
        { "stream =\n",                "stream is empty" },
        { "log_level = loud\n",        "log_level must be error, warn, info or debug" },
        { "service_charge_basis = x\n", "service_charge_basis must be fee, base or base_fee" },
        { "batch_size\n",              "expected key = value" },
        { "metrics_listen = 9187\n",
          "metrics_listen must be off or a numeric IPv4 address:port" },
        { "metrics_listen = localhost:9187\n",
          "metrics_listen must be off or a numeric IPv4 address:port" },
        { "metrics_listen = 127.0.0.1:0\n",
          "metrics_listen must be off or a numeric IPv4 address:port" },
        { "metrics_listen = 127.0.0.1:9187x\n",
          "metrics_listen must be off or a numeric IPv4 address:port" },
        { "healthz_max_lag_ms = 999\n",
          "healthz_max_lag_ms must be an integer from 1000 to 86400000" },
    };
    config_t  c;
    char      err[512];
    size_t    i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(load_text(cases[i].text, &c, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, ":1: ") != NULL
                      && strcmp(strstr(err, ":1: ") + 4, cases[i].err) == 0,
                      "%s: %s", cases[i].text, err);
    }
}
END_TEST


Suite *
make_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("settings");

    tcase_add_test(tc, defaults_load_as_written);
    tcase_add_test(tc, settings_are_unique_and_in_range);
    tcase_add_test(tc, docs_list_the_settings_and_defaults);
    tcase_add_test(tc, sample_conf_holds_the_defaults);
    tcase_add_test(tc, reload_classes);
    tcase_add_test(tc, environment_overrides_the_file);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}
