#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "db.h"
#include "lava_id.h"
#include "entry3.h"
#include "log.h"
#include "partition.h"
#include "rconn.h"
#include "reconcile.h"
#include "stream.h"

#define RECONCILE_PAGE     1000          /* entries per XRANGE / XPENDING */

/* The command line. */
typedef struct {
    const char    *ids;                  /* --ids FILE ("-": stdin); NULL: none */
    const char    *since, *until;        /* --since, --until: Postgres timestamps */
    int            limit;                /* --list N: rows listed per kind */
} rec_opts_t;

/* Request ids of the stream, by state; -1: the query failed. */
typedef struct {
    long long      entries, pending, reqs, repeated, booked, dead, waiting, undelivered,
                   missing, nostream_id, twice, checks_failed;
} rec_stream_n_t;

/* Request ids of the --ids list, by state. */
typedef struct {
    long long      lines, booked, dead, waiting, missing, extra;
} rec_ids_n_t;

typedef struct {
    PGconn        *db;
    redisContext  *redis;
    const config_t *cfg;
    const rec_opts_t *opt;
    char          *copybuf;              /* rows for one COPY, malloc()ed */
    size_t         copylen, copysize;
    int            failed;
    stream_id_t    last;                 /* the group's last delivered id */
    rec_stream_n_t n;
    rec_ids_n_t    id;
} rec_t;

/* --- COPY ----------------------------------------------------------------- */

static int
copy_put(rec_t *r, const char *p, size_t n)
{
    char   *nb;
    size_t  size;

    if (r->copylen + n > r->copysize) {
        size = (r->copylen + n) * 2 + 65536;
        nb = realloc(r->copybuf, size);
        if (nb == NULL) {
            return -1;
        }
        r->copybuf = nb;
        r->copysize = size;
    }
    memcpy(r->copybuf + r->copylen, p, n);
    r->copylen += n;
    return 0;
}

/* One text-format COPY column; NULL (or absent) as \N. */
static int
copy_col(rec_t *r, const char *p, size_t n, int last)
{
    size_t i;
    int    rc = 0;

    if (p == NULL) {
        rc = copy_put(r, "\\N", 2);
    } else {
        for (i = 0; rc == 0 && i < n; i++) {
            unsigned char c = (unsigned char) p[i];

            if (c == '\\') {
                rc = copy_put(r, "\\\\", 2);
            } else if (c == '\t') {
                rc = copy_put(r, "\\t", 2);
            } else if (c == '\n') {
                rc = copy_put(r, "\\n", 2);
            } else if (c == '\r') {
                rc = copy_put(r, "\\r", 2);
            } else if (c == 0) {
                rc = copy_put(r, "?", 1);       /* text columns hold no NUL */
            } else {
                rc = copy_put(r, (const char *) &c, 1);
            }
        }
    }
    return rc != 0 ? -1 : copy_put(r, last ? "\n" : "\t", 1);
}

static int
copy_flush(rec_t *r, const char *table)
{
    char      sql[128];
    PGresult *res;
    int       ok;

    snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
    res = PQexec(r->db, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        slog(SLOG_ERROR, "postgres copy into %s failed: %s", table, db_error(r->db));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    ok = (r->copylen == 0 || PQputCopyData(r->db, r->copybuf, (int) r->copylen) == 1)
         && PQputCopyEnd(r->db, NULL) == 1;
    res = PQgetResult(r->db);
    ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        slog(SLOG_ERROR, "postgres copy into %s failed: %s", table, db_error(r->db));
    }
    PQclear(res);
    while ((res = PQgetResult(r->db)) != NULL) {
        PQclear(res);
    }
    r->copylen = 0;
    return ok ? 0 : -1;
}

static int
run(rec_t *r, const char *sql)
{
    return db_command(r->db, sql, "reconcile query");
}

/* --- the stream ------------------------------------------------------------ */

/* The value of field name in an entry's [field, value, ...] array. */
static const redisReply *
entry_field(const redisReply *f, const char *name)
{
    size_t i, n = strlen(name);

    if (f->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < f->elements; i += 2) {
        if (f->element[i]->type == REDIS_REPLY_STRING && f->element[i]->len == n
            && memcmp(f->element[i]->str, name, n) == 0
            && f->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return f->element[i + 1];
        }
    }
    return NULL;
}

/*
 * The request ids of an entry into *rids (malloc'd, 2 strings per id, the
 * first of each the id): its request_id field, or every event's of a
 * version 3 entry (sidecar/entry3.h). Returns how many (0: none, or a
 * malformed entry), -1 when out of memory.
 */
static long
entry_rids(const redisReply *f, sv_t **rids)
{
    const redisReply *rid;
    sv_t              kv[4];
    char              err[8];
    long              n = 0;
    size_t            i;

    *rids = NULL;
    if (f->type == REDIS_REPLY_ARRAY && f->elements == 4) {
        for (i = 0; i < 4 && f->element[i]->type == REDIS_REPLY_STRING; i++) {
            kv[i].p = f->element[i]->str;
            kv[i].n = f->element[i]->len;
        }
        n = i == 4 ? entry3_split(kv, 2, NULL, err, sizeof(err)) : 0;
    }
    if (n > 0) {
        *rids = calloc(2 * (size_t) n, sizeof(sv_t));
        if (*rids == NULL) {
            return -1;
        }
        (void) entry3_split(kv, 2, *rids, err, sizeof(err));
        return n;
    }
    rid = entry_field(f, "request_id");
    if (rid == NULL) {
        return 0;
    }
    *rids = calloc(2, sizeof(sv_t));
    if (*rids == NULL) {
        return -1;
    }
    (*rids)[0].p = rid->str;
    (*rids)[0].n = rid->len;
    return 1;
}

/* XRANGE over the whole stream into rec_stream; returns entries or -1. */
static long long
load_stream(rec_t *r)
{
    redisReply  *rep;
    char         start[STREAM_ID_MAX + 1], count[16];
    const char  *argv[6];
    long long    total = 0;
    size_t       i, k;
    long         nrids;
    sv_t        *rids = NULL;
    stream_id_t  id;
    char         num[48];

    strcpy(start, "-");
    snprintf(count, sizeof(count), "%d", RECONCILE_PAGE);

    for (;;) {
        argv[0] = "XRANGE";
        argv[1] = r->cfg->stream;
        argv[2] = start;
        argv[3] = "+";
        argv[4] = "COUNT";
        argv[5] = count;
        rep = redisCommandArgv(r->redis, 6, argv, NULL);
        if (rconn_failed(r->redis, rep, "xrange")) {
            return -1;
        }
        if (rep->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            slog(SLOG_ERROR, "redis xrange: unexpected reply shape");
            return -1;
        }
        for (i = 0; i < rep->elements; i++) {
            const redisReply *e = rep->element[i];

            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
                || e->element[0]->type != REDIS_REPLY_STRING
                || stream_id_parse(e->element[0]->str, e->element[0]->len, &id) != 0)
            {
                continue;
            }
            /* a row per request id: one, or one per event of version 3 */
            nrids = entry_rids(e->element[1], &rids);
            if (nrids < 0) {
                goto oom;
            }
            k = 0;
            do {
                if (copy_col(r, e->element[0]->str, e->element[0]->len, 0) != 0) {
                    goto oom;
                }
                snprintf(num, sizeof(num), "%llu", id.ms);
                if (copy_col(r, num, strlen(num), 0) != 0) {
                    goto oom;
                }
                snprintf(num, sizeof(num), "%llu", id.seq);
                if (copy_col(r, num, strlen(num), 0) != 0
                    || copy_col(r, nrids ? rids[2 * k].p : NULL, nrids ? rids[2 * k].n : 0, 1)
                       != 0)
                {
                    goto oom;
                }
            } while (++k < (size_t) nrids);
            free(rids);
            rids = NULL;
            total++;
            if (i + 1 == rep->elements) {
                /* the next page starts after this id */
                snprintf(start, sizeof(start), "(%.*s", (int) e->element[0]->len,
                         e->element[0]->str);
            }
        }
        i = rep->elements;
        freeReplyObject(rep);
        if (r->copylen > 4 * 1024 * 1024 && copy_flush(r, "rec_stream") != 0) {
            return -1;
        }
        if (i < RECONCILE_PAGE) {
            break;
        }
    }
    return copy_flush(r, "rec_stream") == 0 ? total : -1;

oom:
    free(rids);
    freeReplyObject(rep);
    slog(SLOG_ERROR, "reading the stream failed: out of memory");
    return -1;
}

/*
 * With partitions (partition.h), an entry another partition books is
 * acknowledged unread in this partition's group: its state is that of its
 * own partition's group. Every partition's group is read, so an entry is
 * pending when it is pending in any of them, and not yet delivered when it
 * is past the last delivered id of any of them. The name of partition p's
 * group; malloc'd.
 */
static char *
partition_group_of(const config_t *cfg, int p)
{
    return partition_sibling(cfg->group, cfg->partition, cfg->partitions, p);
}

static long long load_pending_group(rec_t *r, const char *group);

/* XPENDING of every partition's group into rec_pending; -1 on failure. */
static long long
load_pending(rec_t *r)
{
    long long  total = 0, n;
    char      *g;
    int        p;

    for (p = 0; p < r->cfg->partitions; p++) {
        g = partition_group_of(r->cfg, p);
        if (g == NULL) {
            return -1;
        }
        n = load_pending_group(r, g);
        free(g);
        if (n < 0) {
            return -1;
        }
        total += n;
    }
    return copy_flush(r, "rec_pending") == 0 ? total : -1;
}

/* XPENDING of one group, every page, into rec_pending's copy; -1 on failure. */
static long long
load_pending_group(rec_t *r, const char *group)
{
    redisReply  *rep;
    char         start[STREAM_ID_MAX + 1], count[16];
    const char  *argv[6];
    long long    total = 0;
    size_t       i, n;

    strcpy(start, "-");
    snprintf(count, sizeof(count), "%d", RECONCILE_PAGE);
    for (;;) {
        argv[0] = "XPENDING";
        argv[1] = r->cfg->stream;
        argv[2] = group;
        argv[3] = start;
        argv[4] = "+";
        argv[5] = count;
        rep = redisCommandArgv(r->redis, 6, argv, NULL);
        if (rep != NULL && rep->type == REDIS_REPLY_ERROR
            && strncmp(rep->str, "NOGROUP", 7) == 0)
        {
            freeReplyObject(rep);
            break;                              /* no group: nothing pending */
        }
        if (rconn_failed(r->redis, rep, "xpending")) {
            return -1;
        }
        n = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
        for (i = 0; i < n; i++) {
            const redisReply *p = rep->element[i];

            if (p->type != REDIS_REPLY_ARRAY || p->elements < 1
                || p->element[0]->type != REDIS_REPLY_STRING)
            {
                continue;
            }
            if (copy_col(r, p->element[0]->str, p->element[0]->len, 1) != 0) {
                freeReplyObject(rep);
                return -1;
            }
            total++;
            if (i + 1 == n) {
                snprintf(start, sizeof(start), "(%.*s", (int) p->element[0]->len,
                         p->element[0]->str);
            }
        }
        freeReplyObject(rep);
        if (n < RECONCILE_PAGE) {
            break;
        }
    }
    return total;
}

/* The group's last delivered id, "0-0" when it has none or does not exist;
 * with partitions the lowest of every partition's group (a partition whose
 * group does not exist yet has delivered nothing). */
static int
group_last(rec_t *r, stream_id_t *last)
{
    redisReply   *rep;
    stream_id_t   id_p, *found;
    size_t        i, j;
    char        **names;
    int           p, np = r->cfg->partitions, rc = -1;

    last->ms = 0;
    last->seq = 0;
    names = calloc((size_t) np, sizeof(*names));
    found = calloc((size_t) np, sizeof(*found));
    if (names == NULL || found == NULL) {
        goto done;
    }
    for (p = 0; p < np; p++) {
        names[p] = partition_group_of(r->cfg, p);
        if (names[p] == NULL) {
            goto done;
        }
    }
    rep = redisCommand(r->redis, "XINFO GROUPS %s", r->cfg->stream);
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);                   /* no such stream */
        rc = 0;
        goto done;
    }
    if (rconn_failed(r->redis, rep, "xinfo groups")) {
        goto done;
    }
    for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *g = rep->element[i], *name = NULL, *id = NULL;

        for (j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements; j += 2) {
            if (g->element[j]->type != REDIS_REPLY_STRING) {
                continue;
            }
            if (strcmp(g->element[j]->str, "name") == 0) {
                name = g->element[j + 1];
            } else if (strcmp(g->element[j]->str, "last-delivered-id") == 0) {
                id = g->element[j + 1];
            }
        }
        if (name == NULL || id == NULL || name->type != REDIS_REPLY_STRING
            || id->type != REDIS_REPLY_STRING)
        {
            continue;
        }
        for (p = 0; p < np; p++) {
            if (strcmp(name->str, names[p]) == 0
                && stream_id_parse(id->str, id->len, &id_p) == 0)
            {
                found[p] = id_p;
            }
        }
    }
    freeReplyObject(rep);
    *last = found[0];
    for (p = 1; p < np; p++) {
        if (stream_id_cmp(&found[p], last) < 0) {
            *last = found[p];
        }
    }
    rc = 0;

done:
    for (p = 0; names != NULL && p < np; p++) {
        free(names[p]);
    }
    free(names);
    free(found);
    return rc;
}

/* --- the id list ------------------------------------------------------------- */

/* a character that would make a longer word of an id next to it */
static int
id_word_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* The first request id (lib/lava_id.h) of every line standing on its own,
 * into rec_ids. */
static long long
load_ids(rec_t *r, const char *path)
{
    FILE      *f;
    char      *line = NULL, *p;
    size_t     cap = 0;
    ssize_t    len;
    long long  total = 0;

    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        slog(SLOG_ERROR, "cannot open %s", path);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) != -1) {
        for (p = line; (p = strstr(p, LAVA_REQID_PREFIX)) != NULL;
             p += LAVA_REQID_PREFIX_LEN)
        {
            if (line + len - p < LAVA_REQID_LEN || (p > line && id_word_char(p[-1]))) {
                continue;
            }
            if (lava_reqid_valid(p, LAVA_REQID_LEN) && !id_word_char(p[LAVA_REQID_LEN])) {
                if (copy_col(r, p, LAVA_REQID_LEN, 1) != 0) {
                    goto fail;
                }
                total++;
                break;
            }
        }
    }
    free(line);
    if (f != stdin) {
        fclose(f);
    }
    return copy_flush(r, "rec_ids") == 0 ? total : -1;

fail:
    free(line);
    if (f != stdin) {
        fclose(f);
    }
    return -1;
}

/* --- report -------------------------------------------------------------------- */

static PGresult *
query(rec_t *r, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(r->db, sql, nparams, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "postgres reconcile query failed: %s", db_error(r->db));
        PQclear(res);
        r->failed = 1;
        return NULL;
    }
    return res;
}

static long long
count_of(rec_t *r, const char *sql, int nparams, const char *const *params)
{
    PGresult  *res = query(r, sql, nparams, params);
    long long  n = -1;

    if (res != NULL && PQntuples(res) == 1) {
        n = atoll(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return n;
}

/* Prints up to limit rows of sql, one line each, columns separated by two spaces. */
static void
list(rec_t *r, const char *title, const char *sql, int nparams, const char *const *params,
    long long total, int limit)
{
    PGresult *res;
    int       i, j;

    if (total <= 0 || limit <= 0) {
        return;
    }
    res = query(r, sql, nparams, params);
    if (res == NULL) {
        return;
    }
    printf("%s:\n", title);
    for (i = 0; i < PQntuples(res) && i < limit; i++) {
        printf("  ");
        for (j = 0; j < PQnfields(res); j++) {
            printf("%s%s", j ? "  " : "", PQgetisnull(res, i, j) ? "-" : PQgetvalue(res, i, j));
        }
        printf("\n");
    }
    if (total > limit) {
        printf("  ... %lld more\n", total - limit);
    }
    PQclear(res);
}

/* --- the steps --------------------------------------------------------------------- */

/* -1 and *o, or the exit status when there is nothing to run. */
static int
parse_options(int argc, char **argv, rec_opts_t *o)
{
    static const struct option opts[] = {
        { "ids", required_argument, NULL, 'i' },
        { "since", required_argument, NULL, 's' },
        { "until", required_argument, NULL, 'u' },
        { "list", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;

    memset(o, 0, sizeof(*o));
    o->limit = 20;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': o->ids = optarg; break;
        case 's': o->since = optarg; break;
        case 'u': o->until = optarg; break;
        case 'l': o->limit = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: lava-sidecar [-c config] reconcile [--ids FILE]"
                    " [--since TIME] [--until TIME] [--list N]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    return -1;
}

/* Both connections, and one snapshot of the ledger for every query after. */
static int
open_snapshot(rec_t *r)
{
    r->db = db_connect(r->cfg->pg_dsn);
    r->redis = rconn_open(r->cfg->redis_url, 30000);
    if (r->db == NULL || r->redis == NULL) {
        return -1;
    }
    return run(r, "BEGIN ISOLATION LEVEL REPEATABLE READ") != 0
        || run(r, "CREATE TEMP TABLE rec_stream (stream_id text, ms numeric, seq numeric,"
                  " request_id text) ON COMMIT DROP") != 0
        || run(r, "CREATE TEMP TABLE rec_pending (stream_id text) ON COMMIT DROP") != 0
        || run(r, "CREATE TEMP TABLE rec_ids (request_id text) ON COMMIT DROP") != 0
        ? -1 : 0;
}

/* The group's position first: an entry read after it is "not yet delivered". */
static int
read_stream(rec_t *r)
{
    if (group_last(r, &r->last) != 0) {
        return -1;
    }
    r->n.pending = load_pending(r);
    r->n.entries = load_stream(r);
    return r->n.pending < 0 || r->n.entries < 0 ? -1 : 0;
}

static int
read_ids(rec_t *r)
{
    if (r->opt->ids == NULL) {
        return 0;
    }
    r->id.lines = load_ids(r, r->opt->ids);
    return r->id.lines < 0 ? -1 : 0;
}

/* rec_req: each request id of the stream with its state in the ledger. */
static int
query_requests(rec_t *r)
{
    PGresult  *res;
    char       last_ms[32], last_seq[32];

    snprintf(last_ms, sizeof(last_ms), "%llu", r->last.ms);
    snprintf(last_seq, sizeof(last_seq), "%llu", r->last.seq);
    if (run(r, "CREATE INDEX ON rec_stream (request_id)") != 0
        || run(r, "ANALYZE rec_stream") != 0)
    {
        return -1;
    }
    res = PQexecParams(r->db,
        "CREATE TEMP TABLE rec_req ON COMMIT DROP AS"
        " SELECT x.request_id, x.entries, x.first_id,"
        "        e.request_id IS NOT NULL AS booked,"
        "        EXISTS (SELECT 1 FROM dead_letters d WHERE d.request_id = x.request_id"
        "                   OR (d.stream = $3 AND d.stream_id = ANY (x.ids))) AS dead,"
        "        x.pending, x.undelivered"
        "   FROM (SELECT s.request_id, count(*) AS entries, min(s.stream_id) AS first_id,"
        "                array_agg(s.stream_id) AS ids,"
        "                bool_or(p.stream_id IS NOT NULL) AS pending,"
        "                bool_or((s.ms, s.seq) > ($1::numeric, $2::numeric)) AS undelivered"
        "           FROM rec_stream s"
        "           LEFT JOIN (SELECT DISTINCT stream_id FROM rec_pending) p"
        "                  ON p.stream_id = s.stream_id"
        "          WHERE s.request_id IS NOT NULL"
        "          GROUP BY s.request_id) x"
        "   LEFT JOIN events e ON e.request_id = x.request_id",
        3, NULL, (const char *const []) { last_ms, last_seq, r->cfg->stream }, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        slog(SLOG_ERROR, "postgres reconcile query failed: %s", db_error(r->db));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* The stream's request ids by state, and the ledger's own checks. */
static int
query_ledger(rec_t *r)
{
    rec_stream_n_t  *n = &r->n;
    const char      *p[1];

    if (query_requests(r) != 0) {
        return -1;
    }
    n->reqs = count_of(r, "SELECT count(*) FROM rec_req", 0, NULL);
    n->repeated = count_of(r, "SELECT count(*) FROM rec_req WHERE entries > 1", 0, NULL);
    n->booked = count_of(r, "SELECT count(*) FROM rec_req WHERE booked", 0, NULL);
    n->dead = count_of(r, "SELECT count(*) FROM rec_req WHERE NOT booked AND dead", 0, NULL);
    n->waiting = count_of(r, "SELECT count(*) FROM rec_req WHERE NOT booked AND NOT dead"
                             " AND pending", 0, NULL);
    n->undelivered = count_of(r, "SELECT count(*) FROM rec_req WHERE NOT booked AND NOT dead"
                                 " AND NOT pending AND undelivered", 0, NULL);
    n->missing = count_of(r, "SELECT count(*) FROM rec_req WHERE NOT booked AND NOT dead"
                             " AND NOT pending AND NOT undelivered", 0, NULL);
    p[0] = r->cfg->stream;
    n->nostream_id = count_of(r,
        "SELECT count(*) FROM rec_stream s WHERE s.request_id IS NULL AND NOT EXISTS"
        " (SELECT 1 FROM dead_letters d WHERE d.stream = $1 AND d.stream_id = s.stream_id)"
        " AND NOT EXISTS (SELECT 1 FROM rec_pending p WHERE p.stream_id = s.stream_id)",
        1, p);
    n->twice = count_of(r,
        "SELECT count(DISTINCT request_id) FROM (SELECT request_id FROM transfers"
        "  WHERE request_id IS NOT NULL GROUP BY request_id, kind HAVING count(*) > 1) x",
        0, NULL);
    n->checks_failed = count_of(r, "SELECT count(*) FROM ledger_check WHERE NOT ok", 0, NULL);
    return r->failed ? -1 : 0;
}

/* The --ids list's request ids by state (rec_idstate). */
static int
query_ids(rec_t *r)
{
    rec_ids_n_t  *n = &r->id;
    const char   *p[2];

    if (r->opt->ids == NULL) {
        return 0;
    }
    /* a failure shows in the counts below */
    (void) run(r, "CREATE TEMP TABLE rec_idstate ON COMMIT DROP AS"
                   " SELECT DISTINCT ON (i.request_id) i.request_id,"
                   "   CASE WHEN e.request_id IS NOT NULL THEN 'booked'"
                   "        WHEN EXISTS (SELECT 1 FROM dead_letters d"
                   "                      WHERE d.request_id = i.request_id) THEN 'dead'"
                   "        WHEN q.request_id IS NOT NULL THEN 'stream'"
                   "        ELSE 'missing' END AS state"
                   "   FROM rec_ids i"
                   "   LEFT JOIN events e ON e.request_id = i.request_id"
                   "   LEFT JOIN rec_req q ON q.request_id = i.request_id");
    n->booked = count_of(r, "SELECT count(*) FROM rec_idstate WHERE state = 'booked'",
                         0, NULL);
    n->dead = count_of(r, "SELECT count(*) FROM rec_idstate WHERE state = 'dead'", 0, NULL);
    n->waiting = count_of(r, "SELECT count(*) FROM rec_idstate WHERE state = 'stream'",
                          0, NULL);
    n->missing = count_of(r, "SELECT count(*) FROM rec_idstate WHERE state = 'missing'",
                          0, NULL);
    if (r->opt->since != NULL || r->opt->until != NULL) {
        p[0] = r->opt->since;
        p[1] = r->opt->until;
        n->extra = count_of(r,
            "SELECT count(*) FROM events e WHERE ($1::timestamptz IS NULL OR"
            " e.started_at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR"
            " e.started_at < $2::timestamptz) AND NOT EXISTS"
            " (SELECT 1 FROM rec_idstate i WHERE i.request_id = e.request_id)", 2, p);
    }
    return r->failed ? -1 : 0;
}

static void
report_stream(const rec_t *r)
{
    const rec_stream_n_t *n = &r->n;

    printf("stream %s, group %s: %lld entries, %lld request ids, %lld sent more than once"
           " (at-least-once delivery; booked once)\n",
           r->cfg->stream, r->cfg->group, n->entries, n->reqs, n->repeated);
    printf("  booked             %lld\n", n->booked);
    printf("  dead-lettered      %lld\n", n->dead);
    printf("  pending            %lld   (delivered to a sidecar, not acknowledged yet)\n",
           n->waiting);
    printf("  not yet delivered  %lld\n", n->undelivered);
    printf("  missing            %lld   (acknowledged, in neither the ledger nor dead_letters)\n",
           n->missing);
    if (n->nostream_id > 0) {
        printf("  entries without a request id, not dead-lettered: %lld\n", n->nostream_id);
    }
    printf("ledger: %lld requests charged twice; ledger_check: %s\n", n->twice,
           n->checks_failed == 0 ? "every invariant holds" : "FAILS");
}

static void
report_ids(const rec_t *r)
{
    const rec_ids_n_t *n = &r->id;

    if (r->opt->ids == NULL) {
        return;
    }
    printf("id list %s: %lld request ids (%lld lines with an id)\n", r->opt->ids,
           n->booked + n->dead + n->waiting + n->missing, n->lines);
    printf("  booked             %lld\n", n->booked);
    printf("  dead-lettered      %lld\n", n->dead);
    printf("  in the stream      %lld   (not booked yet)\n", n->waiting);
    printf("  missing            %lld   (not in the stream nor the ledger: still in a"
           " spool file, or lost before Redis)\n", n->missing);
    if (r->opt->since != NULL || r->opt->until != NULL) {
        printf("  booked in the time window but not in the list: %lld\n", n->extra);
    }
}

/* Up to --list rows of each kind of trouble. */
static void
report_lists(rec_t *r)
{
    int limit = r->opt->limit;

    list(r, "missing (stream)", "SELECT request_id, first_id FROM rec_req WHERE NOT booked"
         " AND NOT dead AND NOT pending AND NOT undelivered ORDER BY first_id", 0, NULL,
         r->n.missing, limit);
    if (r->opt->ids != NULL) {
        list(r, "missing (id list)", "SELECT request_id FROM rec_idstate"
             " WHERE state = 'missing' ORDER BY request_id", 0, NULL, r->id.missing, limit);
    }
    list(r, "charged twice", "SELECT request_id, kind, count(*) FROM transfers"
         " WHERE request_id IS NOT NULL GROUP BY request_id, kind HAVING count(*) > 1"
         " ORDER BY 1, 2", 0, NULL, r->n.twice, limit);
    list(r, "dead-lettered", "SELECT d.request_id, d.stream_id, d.reason FROM dead_letters d"
         " JOIN rec_req q ON q.request_id = d.request_id WHERE NOT q.booked"
         " ORDER BY d.id", 0, NULL, r->n.dead, limit);
}

/* The exit status: 0 reconciled, 1 not. */
static int
report_result(const rec_t *r)
{
    int bad = r->n.missing > 0 || r->id.missing > 0 || r->n.twice > 0
              || r->n.checks_failed != 0;

    printf("result: %s\n", bad ? "NOT RECONCILED" : "reconciled");
    return bad ? 1 : 0;
}

int
reconcile_main(const config_t *cfg, int argc, char **argv)
{
    rec_opts_t  opt;
    rec_t       r;
    int         rc;

    rc = parse_options(argc, argv, &opt);
    if (rc >= 0) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opt = &opt;

    rc = 2;
    if (open_snapshot(&r) == 0 && read_stream(&r) == 0 && read_ids(&r) == 0
        && query_ledger(&r) == 0)
    {
        report_stream(&r);
        if (query_ids(&r) == 0) {
            report_ids(&r);
            report_lists(&r);
            rc = report_result(&r);
            (void) run(&r, "ROLLBACK");
        }
    }

    db_close(&r.db);
    rconn_close(&r.redis);
    free(r.copybuf);
    return rc;
}
