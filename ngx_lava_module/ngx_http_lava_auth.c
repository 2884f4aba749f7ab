/*
 * Auth snapshot (docs/auth-sync.md) in the lava_auth_zone shared memory, and
 * the poller that keeps it current.
 *
 * Worker 0 polls GET <prefix>:version on its own Redis connection. When the
 * version differs from the loaded one it fetches <prefix>:snapshot, checks
 * the whole text, builds the new tables in one fresh block of the zone and
 * only then swaps the block pointer under the zone's slab mutex: a reader
 * sees the old snapshot or the new one, never a mix. The old block is freed
 * under the same lock, so no reader can still be inside it. A bad snapshot or
 * a full zone keeps the old snapshot. The zone and its snapshot survive a
 * reload (the init_zone data argument), and outages of Redis or Postgres.
 *
 * The request path (every worker) hashes the key with SHA-256 and looks it
 * up: no network round trip. Only hashes are stored; key bytes are neither
 * kept nor logged.
 *
 * Layout of a snapshot block (one ngx_slab_alloc()):
 *   header | merchant entries | customer entries | meter entries |
 *   slot arrays of the three open-addressing tables | id strings
 * The zone is mapped at the same address in every process, so the block
 * holds plain pointers.
 */


#include "ngx_http_lava_redis.h"
#include "ngx_http_lava_token.h"


#define NGX_HTTP_LAVA_AUTH_HASH_LEN   NGX_HTTP_LAVA_SECRET_HASH_LEN
#define NGX_HTTP_LAVA_AUTH_FORMAT     "1"         /* snapshot text format */
#define NGX_HTTP_LAVA_AUTH_FIELDS     4           /* most fields of a record */


typedef struct {
    u_char                       hash[NGX_HTTP_LAVA_AUTH_HASH_LEN];
    uint32_t                     id;         /* offset in strings */
    uint8_t                      id_len;
    uint8_t                      disabled;
} ngx_http_lava_auth_merchant_t;


/* customer (merchant id, customer id) or meter (merchant id, slug) */
typedef struct {
    uint32_t                     hash;
    uint32_t                     str;        /* merchant id, then the other */
    uint8_t                      mlen;
    uint8_t                      olen;
    uint8_t                      disabled;   /* NGX_HTTP_LAVA_AUTH_ST_* */
} ngx_http_lava_auth_pair_t;


/* record status field */
#define NGX_HTTP_LAVA_AUTH_ST_ACTIVE    0
#define NGX_HTTP_LAVA_AUTH_ST_DISABLED  1
#define NGX_HTTP_LAVA_AUTH_ST_BLOCKED   2   /* customers: wallet at its minimum */


typedef struct {
    uint32_t                     n;          /* entries */
    uint32_t                     mask;       /* slots - 1; slots > 2 n */
    uint32_t                    *slots;      /* entry index + 1; 0: free */
    void                        *entries;
} ngx_http_lava_auth_table_t;


typedef struct {
    uint64_t                     version;
    size_t                       size;       /* bytes of the block */
    ngx_http_lava_auth_table_t   merchants;
    ngx_http_lava_auth_table_t   customers;
    ngx_http_lava_auth_table_t   meters;
    u_char                      *strings;
    size_t                       strings_len;
} ngx_http_lava_auth_snap_t;


/* shared state of the zone */
typedef struct {
    ngx_http_lava_auth_snap_t   *snap;       /* NULL: never loaded;
                                                guarded by the slab mutex */
} ngx_http_lava_auth_sh_t;


typedef struct {
    ngx_uint_t                   line;
    uint64_t                     version;
    ngx_uint_t                   merchants;
    ngx_uint_t                   customers;
    ngx_uint_t                   meters;
    size_t                       strings;
    const char                  *err;
} ngx_http_lava_auth_parse_t;


/* worker 0 only */
typedef struct {
    ngx_http_lava_redis_t       *redis;
    ngx_shm_zone_t              *zone;
    ngx_event_t                  poll;
    ngx_msec_t                   interval;
    ngx_str_t                    version_key;    /* cycle pool */
    ngx_str_t                    snapshot_key;
    ngx_str_t                    file;       /* lava_auth_file; len 0 none */
    ngx_log_t                   *log;
    uint64_t                     fetching;   /* version the GET is for */
    uint64_t                     applied;    /* version key last applied */
    uint64_t                     rejected;   /* version key refused */
    unsigned                     has_applied:1;
    unsigned                     has_rejected:1;
    unsigned                     busy:1;     /* a GET awaits its reply */
    unsigned                     missing_logged:1;
    unsigned                     error_logged:1;
    unsigned                     file_logged:1;
} ngx_http_lava_auth_poller_t;


static ngx_int_t ngx_http_lava_auth_parse(ngx_http_lava_auth_parse_t *ps,
    u_char *pos, u_char *last, ngx_http_lava_auth_snap_t *snap);
static size_t ngx_http_lava_auth_layout(ngx_http_lava_auth_parse_t *ps,
    ngx_http_lava_auth_snap_t *snap);
static ngx_http_lava_auth_merchant_t *ngx_http_lava_auth_find_merchant(
    ngx_http_lava_auth_snap_t *snap, const u_char *hash);
static ngx_http_lava_auth_pair_t *ngx_http_lava_auth_find_pair(
    ngx_http_lava_auth_snap_t *snap, ngx_http_lava_auth_table_t *t,
    uint32_t hash, u_char *m, size_t mlen, u_char *o, size_t olen);
static uint32_t ngx_http_lava_auth_pair_hash(u_char *o, size_t olen);

static void ngx_http_lava_auth_ready(ngx_http_lava_redis_t *rd);
static void ngx_http_lava_auth_reply(ngx_http_lava_redis_t *rd,
    redisReply *reply, void *privdata);
static void ngx_http_lava_auth_poll(ngx_http_lava_auth_poller_t *p);
static void ngx_http_lava_auth_poll_handler(ngx_event_t *ev);
static void ngx_http_lava_auth_version_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply);
static void ngx_http_lava_auth_snapshot_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply);
static void ngx_http_lava_auth_save(ngx_http_lava_auth_poller_t *p,
    u_char *text, size_t len);
static void ngx_http_lava_auth_restore(ngx_http_lava_auth_poller_t *p);
static ngx_int_t ngx_http_lava_auth_load(ngx_http_lava_auth_poller_t *p,
    u_char *text, size_t len);


static ngx_http_lava_auth_poller_t  ngx_http_lava_auth_poller;

/* privdata of the two GETs */
static char  ngx_http_lava_auth_get_version;
static char  ngx_http_lava_auth_get_snapshot;


/* zone */

ngx_int_t
ngx_http_lava_auth_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    size_t                    len;
    ngx_slab_pool_t          *shpool;
    ngx_http_lava_auth_sh_t  *sh;

    if (data) {
        /* reload with the same zone: keep the old cycle's snapshot */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_lava_auth_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    len = sizeof(" in lava_auth_zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in lava_auth_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a snapshot too big for the zone is logged here, not by the slab */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/* request path */

ngx_http_lava_auth_rc_e
ngx_http_lava_auth_check(ngx_http_request_t *r, const u_char *secret_hash,
    ngx_str_t *customer_id, ngx_str_t *meter, ngx_str_t *merchant_id)
{
    u_char                         *id;
    size_t                          id_len;
    uint32_t                        chash, thash;
    ngx_slab_pool_t                *shpool;
    ngx_shm_zone_t                 *zone;
    ngx_http_lava_auth_sh_t        *sh;
    ngx_uint_t                      blocked;
    ngx_http_lava_auth_rc_e         rc;
    ngx_http_lava_auth_pair_t      *pair;
    ngx_http_lava_auth_snap_t      *snap;
    ngx_http_lava_main_conf_t      *lmcf;
    ngx_http_lava_auth_merchant_t  *m;

    merchant_id->len = 0;
    merchant_id->data = NULL;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_lava_module);

    zone = lmcf->auth_zone;
    if (zone == NULL || zone->shm.addr == NULL) {
        return NGX_HTTP_LAVA_AUTH_NOT_LOADED;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = zone->data;

    /* allocated before taking the lock */
    id = ngx_pnalloc(r->pool, NGX_HTTP_LAVA_ID_MAX);
    if (id == NULL) {
        return NGX_HTTP_LAVA_AUTH_NOT_LOADED;
    }

    chash = ngx_http_lava_auth_pair_hash(customer_id->data, customer_id->len);
    thash = ngx_http_lava_auth_pair_hash(meter->data, meter->len);

    id_len = 0;
    m = NULL;
    blocked = 0;

    ngx_shmtx_lock(&shpool->mutex);

    snap = sh->snap;

    if (snap == NULL) {
        rc = NGX_HTTP_LAVA_AUTH_NOT_LOADED;
        goto done;
    }

    m = ngx_http_lava_auth_find_merchant(snap, secret_hash);

    if (m == NULL) {
        rc = NGX_HTTP_LAVA_AUTH_UNKNOWN_KEY;
        goto done;
    }

    id_len = m->id_len;
    ngx_memcpy(id, snap->strings + m->id, id_len);

    if (m->disabled) {
        rc = NGX_HTTP_LAVA_AUTH_MERCHANT_DISABLED;
        goto done;
    }

    rc = NGX_HTTP_LAVA_AUTH_OK;

    if (customer_id->len) {
        pair = ngx_http_lava_auth_find_pair(snap, &snap->customers,
                                            chash, id, id_len,
                                            customer_id->data,
                                            customer_id->len);
        if (pair == NULL) {
            rc = NGX_HTTP_LAVA_AUTH_UNKNOWN_CUSTOMER;
            goto done;
        }

        if (pair->disabled == NGX_HTTP_LAVA_AUTH_ST_DISABLED) {
            rc = NGX_HTTP_LAVA_AUTH_CUSTOMER_DISABLED;
            goto done;
        }

        blocked = (pair->disabled == NGX_HTTP_LAVA_AUTH_ST_BLOCKED);
    }

    if (meter->len) {
        pair = ngx_http_lava_auth_find_pair(snap, &snap->meters, thash,
                                            id, id_len, meter->data,
                                            meter->len);
        if (pair == NULL) {
            rc = NGX_HTTP_LAVA_AUTH_UNKNOWN_METER;
            goto done;
        }
    }

    /* known and valid in every other way: the caller decides whether the
     * customer's wallet pays for this request */
    if (blocked) {
        rc = NGX_HTTP_LAVA_AUTH_CUSTOMER_BLOCKED;
    }

done:

    ngx_shmtx_unlock(&shpool->mutex);

    if (m) {
        merchant_id->data = id;
        merchant_id->len = id_len;
    }

    return rc;
}


/*
 * Pairs are hashed on the customer id or meter slug only, so the hash can be
 * computed before the merchant is known (outside the lock); the lookup then
 * compares the merchant id too. FNV-1a: the data is our own, no flooding
 * concern.
 */
static uint32_t
ngx_http_lava_auth_pair_hash(u_char *o, size_t olen)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < olen; i++) {
        h = (h ^ o[i]) * 16777619u;
    }

    return h;
}


static ngx_http_lava_auth_merchant_t *
ngx_http_lava_auth_find_merchant(ngx_http_lava_auth_snap_t *snap,
    const u_char *hash)
{
    uint32_t                        h, i, s;
    ngx_http_lava_auth_table_t     *t;
    ngx_http_lava_auth_merchant_t  *m, *entries;

    t = &snap->merchants;
    entries = t->entries;

    ngx_memcpy(&h, hash, sizeof(uint32_t));

    /* slots > 2 n: an empty slot always ends the probe */
    for (i = h & t->mask; /* void */; i = (i + 1) & t->mask) {
        s = t->slots[i];

        if (s == 0) {
            return NULL;
        }

        m = &entries[s - 1];

        if (ngx_memcmp(m->hash, hash, NGX_HTTP_LAVA_AUTH_HASH_LEN) == 0) {
            return m;
        }
    }
}


static ngx_http_lava_auth_pair_t *
ngx_http_lava_auth_find_pair(ngx_http_lava_auth_snap_t *snap,
    ngx_http_lava_auth_table_t *t, uint32_t hash, u_char *m, size_t mlen,
    u_char *o, size_t olen)
{
    u_char                     *str;
    uint32_t                    i, s;
    ngx_http_lava_auth_pair_t  *p, *entries;

    entries = t->entries;

    for (i = hash & t->mask; /* void */; i = (i + 1) & t->mask) {
        s = t->slots[i];

        if (s == 0) {
            return NULL;
        }

        p = &entries[s - 1];
        str = snap->strings + p->str;

        if (p->hash == hash
            && p->mlen == mlen
            && p->olen == olen
            && ngx_memcmp(str, m, mlen) == 0
            && ngx_memcmp(str + mlen, o, olen) == 0)
        {
            return p;
        }
    }
}


/* snapshot parsing */

static ngx_uint_t
ngx_http_lava_auth_is_id(ngx_str_t *f)
{
    u_char      ch;
    ngx_uint_t  i;

    if (f->len == 0 || f->len > NGX_HTTP_LAVA_ID_MAX) {
        return 0;
    }

    for (i = 0; i < f->len; i++) {
        ch = f->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '_' || ch == '.' || ch == ':' || ch == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


/* NGX_HTTP_LAVA_AUTH_ST_*, -1 none of them; "blocked" only if allowed */
static ngx_int_t
ngx_http_lava_auth_status(ngx_str_t *f, ngx_uint_t blocked_ok)
{
    if (f->len == sizeof("active") - 1
        && ngx_strncmp(f->data, "active", f->len) == 0)
    {
        return NGX_HTTP_LAVA_AUTH_ST_ACTIVE;
    }

    if (f->len == sizeof("disabled") - 1
        && ngx_strncmp(f->data, "disabled", f->len) == 0)
    {
        return NGX_HTTP_LAVA_AUTH_ST_DISABLED;
    }

    if (blocked_ok
        && f->len == sizeof("blocked") - 1
        && ngx_strncmp(f->data, "blocked", f->len) == 0)
    {
        return NGX_HTTP_LAVA_AUTH_ST_BLOCKED;
    }

    return -1;
}


/* 64 lower-case hex digits into 32 bytes */
static ngx_int_t
ngx_http_lava_auth_hex(ngx_str_t *f, u_char *out)
{
    u_char      ch, v;
    ngx_uint_t  i;

    if (f->len != 2 * NGX_HTTP_LAVA_AUTH_HASH_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < f->len; i++) {
        ch = f->data[i];

        if (ch >= '0' && ch <= '9') {
            v = ch - '0';

        } else if (ch >= 'a' && ch <= 'f') {
            v = ch - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        if (out) {
            if (i % 2 == 0) {
                out[i / 2] = (u_char) (v << 4);
            } else {
                out[i / 2] |= v;
            }
        }
    }

    return NGX_OK;
}


/* decimal digits only, no sign, at most 2^64 - 1 */
static ngx_int_t
ngx_http_lava_auth_u64(u_char *p, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v, d;

    if (len == 0 || len > 20) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }

        d = p[i] - '0';

        if (v > (UINT64_MAX - d) / 10) {
            return NGX_ERROR;
        }

        v = v * 10 + d;
    }

    *out = v;

    return NGX_OK;
}


/*
 * Splits a line into fields separated by one space. Returns the number of
 * fields (max + 1 when there are more than max), or 0 on an empty field.
 */
static ngx_uint_t
ngx_http_lava_auth_split(u_char *pos, u_char *last, ngx_str_t *f,
    ngx_uint_t max)
{
    u_char      *sp;
    ngx_uint_t   n;

    for (n = 0; /* void */; n++) {
        if (n == max) {
            return max + 1;
        }

        sp = ngx_strlchr(pos, last, ' ');

        f[n].data = pos;
        f[n].len = (sp ? sp : last) - pos;

        if (f[n].len == 0) {
            return 0;
        }

        if (sp == NULL) {
            return n + 1;
        }

        pos = sp + 1;
    }
}


static u_char *
ngx_http_lava_auth_str(ngx_http_lava_auth_snap_t *snap, ngx_str_t *a,
    ngx_str_t *b)
{
    u_char  *p, *start;

    start = snap->strings + snap->strings_len;

    p = ngx_cpymem(start, a->data, a->len);

    if (b) {
        p = ngx_cpymem(p, b->data, b->len);
    }

    snap->strings_len = p - snap->strings;

    return start;
}


static ngx_int_t
ngx_http_lava_auth_add_merchant(ngx_http_lava_auth_snap_t *snap,
    ngx_str_t *hex, ngx_str_t *id, ngx_uint_t disabled)
{
    u_char                          hash[NGX_HTTP_LAVA_AUTH_HASH_LEN];
    u_char                         *str;
    uint32_t                        h, i;
    ngx_http_lava_auth_table_t     *t;
    ngx_http_lava_auth_merchant_t  *m, *entries;

    (void) ngx_http_lava_auth_hex(hex, hash);

    if (ngx_http_lava_auth_find_merchant(snap, hash)) {
        return NGX_DECLINED;
    }

    t = &snap->merchants;
    entries = t->entries;

    m = &entries[t->n];
    ngx_memcpy(m->hash, hash, NGX_HTTP_LAVA_AUTH_HASH_LEN);

    str = ngx_http_lava_auth_str(snap, id, NULL);
    m->id = (uint32_t) (str - snap->strings);
    m->id_len = (uint8_t) id->len;
    m->disabled = (uint8_t) disabled;

    ngx_memcpy(&h, hash, sizeof(uint32_t));

    for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        /* void */
    }

    t->slots[i] = ++t->n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lava_auth_add_pair(ngx_http_lava_auth_snap_t *snap,
    ngx_http_lava_auth_table_t *t, ngx_str_t *mid, ngx_str_t *oid,
    ngx_uint_t disabled)
{
    u_char                     *str;
    uint32_t                    h, i;
    ngx_http_lava_auth_pair_t  *p, *entries;

    h = ngx_http_lava_auth_pair_hash(oid->data, oid->len);

    if (ngx_http_lava_auth_find_pair(snap, t, h, mid->data, mid->len,
                                     oid->data, oid->len))
    {
        return NGX_DECLINED;
    }

    entries = t->entries;
    p = &entries[t->n];

    str = ngx_http_lava_auth_str(snap, mid, oid);
    p->hash = h;
    p->str = (uint32_t) (str - snap->strings);
    p->mlen = (uint8_t) mid->len;
    p->olen = (uint8_t) oid->len;
    p->disabled = (uint8_t) disabled;

    for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        /* void */
    }

    t->slots[i] = ++t->n;

    return NGX_OK;
}


/*
 * Checks the whole text (snap NULL: counts records and string bytes for the
 * layout) or fills snap (second pass, which also finds duplicates). Strict:
 * every line ends with '\n', fields are separated by one space, ids match
 * [A-Za-z0-9_.:-]{1,64}, the last line is "end". Records of an unknown
 * single letter are skipped (forward compatibility).
 */
static ngx_int_t
ngx_http_lava_auth_parse(ngx_http_lava_auth_parse_t *ps, u_char *pos,
    u_char *last, ngx_http_lava_auth_snap_t *snap)
{
    u_char      *eol;
    ngx_int_t    st;
    ngx_str_t    f[NGX_HTTP_LAVA_AUTH_FIELDS + 1];
    ngx_uint_t   n;

    ps->line = 0;

    while (pos < last) {
        ps->line++;
        st = 0;

        eol = ngx_strlchr(pos, last, '\n');
        if (eol == NULL) {
            ps->err = "incomplete snapshot (no final \"end\" line)";
            return NGX_ERROR;
        }

        if (ps->line == 1) {
            n = ngx_http_lava_auth_split(pos, eol, f, 3);

            if (n != 3
                || f[0].len != sizeof("lava-auth") - 1
                || ngx_strncmp(f[0].data, "lava-auth", f[0].len) != 0)
            {
                ps->err = "bad header line";
                return NGX_ERROR;
            }

            if (f[1].len != sizeof(NGX_HTTP_LAVA_AUTH_FORMAT) - 1
                || ngx_strncmp(f[1].data, NGX_HTTP_LAVA_AUTH_FORMAT,
                               f[1].len) != 0)
            {
                ps->err = "unsupported snapshot format";
                return NGX_ERROR;
            }

            if (ngx_http_lava_auth_u64(f[2].data, f[2].len, &ps->version)
                != NGX_OK)
            {
                ps->err = "bad version in the header line";
                return NGX_ERROR;
            }

            pos = eol + 1;
            continue;
        }

        if (eol - pos == 3 && ngx_strncmp(pos, "end", 3) == 0) {
            if (eol + 1 != last) {
                ps->err = "data after the \"end\" line";
                return NGX_ERROR;
            }

            return NGX_OK;
        }

        if (eol - pos < 2 || pos[1] != ' ') {
            ps->err = "bad record";
            return NGX_ERROR;
        }

        switch (pos[0]) {

        case 'm':
            n = ngx_http_lava_auth_split(pos, eol, f, 4);

            if (n != 4
                || ngx_http_lava_auth_hex(&f[1], NULL) != NGX_OK
                || !ngx_http_lava_auth_is_id(&f[2])
                || (st = ngx_http_lava_auth_status(&f[3], 0)) < 0)
            {
                ps->err = "bad \"m\" record";
                return NGX_ERROR;
            }

            if (snap == NULL) {
                ps->merchants++;
                ps->strings += f[2].len;

            } else if (ngx_http_lava_auth_add_merchant(snap, &f[1], &f[2],
                                                       st)
                       != NGX_OK)
            {
                ps->err = "duplicate key hash";
                return NGX_ERROR;
            }

            break;

        case 'c':
            n = ngx_http_lava_auth_split(pos, eol, f, 4);

            if (n != 4
                || !ngx_http_lava_auth_is_id(&f[1])
                || !ngx_http_lava_auth_is_id(&f[2])
                || (st = ngx_http_lava_auth_status(&f[3], 1)) < 0)
            {
                ps->err = "bad \"c\" record";
                return NGX_ERROR;
            }

            if (snap == NULL) {
                ps->customers++;
                ps->strings += f[1].len + f[2].len;

            } else if (ngx_http_lava_auth_add_pair(snap, &snap->customers,
                                                   &f[1], &f[2], st)
                       != NGX_OK)
            {
                ps->err = "duplicate customer";
                return NGX_ERROR;
            }

            break;

        case 't':
            n = ngx_http_lava_auth_split(pos, eol, f, 3);

            if (n != 3
                || !ngx_http_lava_auth_is_id(&f[1])
                || !ngx_http_lava_auth_is_id(&f[2]))
            {
                ps->err = "bad \"t\" record";
                return NGX_ERROR;
            }

            if (snap == NULL) {
                ps->meters++;
                ps->strings += f[1].len + f[2].len;

            } else if (ngx_http_lava_auth_add_pair(snap, &snap->meters,
                                                   &f[1], &f[2], 0)
                       != NGX_OK)
            {
                ps->err = "duplicate meter";
                return NGX_ERROR;
            }

            break;

        default:
            if ((pos[0] >= 'a' && pos[0] <= 'z')
                || (pos[0] >= 'A' && pos[0] <= 'Z'))
            {
                break;          /* a record type of a newer publisher */
            }

            ps->err = "bad record";
            return NGX_ERROR;
        }

        pos = eol + 1;
    }

    ps->err = (ps->line == 0) ? "empty snapshot"
                              : "incomplete snapshot (no final \"end\" line)";

    return NGX_ERROR;
}


static uint32_t
ngx_http_lava_auth_slots(ngx_uint_t n)
{
    uint32_t  s;

    for (s = 1; s < 2 * n + 1; s <<= 1) { /* void */ }

    return s;
}


/*
 * Computes the block size for the counted records; with snap set, also
 * points its tables into the block (whose bytes must be zeroed).
 */
static size_t
ngx_http_lava_auth_layout(ngx_http_lava_auth_parse_t *ps,
    ngx_http_lava_auth_snap_t *snap)
{
    u_char    *base;
    size_t     off;
    uint32_t   ms, cs, ts;

    ms = ngx_http_lava_auth_slots(ps->merchants);
    cs = ngx_http_lava_auth_slots(ps->customers);
    ts = ngx_http_lava_auth_slots(ps->meters);

    base = (u_char *) snap;
    off = ngx_align(sizeof(ngx_http_lava_auth_snap_t), 8);

    if (snap) {
        snap->merchants.entries = base + off;
        snap->merchants.mask = ms - 1;
    }

    off += ngx_align(ps->merchants * sizeof(ngx_http_lava_auth_merchant_t), 8);

    if (snap) {
        snap->customers.entries = base + off;
        snap->customers.mask = cs - 1;
    }

    off += ngx_align(ps->customers * sizeof(ngx_http_lava_auth_pair_t), 8);

    if (snap) {
        snap->meters.entries = base + off;
        snap->meters.mask = ts - 1;
    }

    off += ngx_align(ps->meters * sizeof(ngx_http_lava_auth_pair_t), 8);

    if (snap) {
        snap->merchants.slots = (uint32_t *) (base + off);
        snap->customers.slots = snap->merchants.slots + ms;
        snap->meters.slots = snap->customers.slots + cs;
    }

    off += ngx_align(((size_t) ms + cs + ts) * sizeof(uint32_t), 8);

    if (snap) {
        snap->strings = base + off;
    }

    off += ps->strings;

    return off;
}


static ngx_int_t
ngx_http_lava_auth_load(ngx_http_lava_auth_poller_t *p, u_char *text,
    size_t len)
{
    size_t                       size;
    ngx_slab_pool_t             *shpool;
    ngx_http_lava_auth_sh_t     *sh;
    ngx_http_lava_auth_snap_t   *snap, *old;
    ngx_http_lava_auth_parse_t   ps;

    shpool = (ngx_slab_pool_t *) p->zone->shm.addr;
    sh = p->zone->data;

    if (len > p->zone->shm.size) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "lava auth: snapshot of version %uL (%uz bytes) is "
                      "larger than lava_auth_zone \"%V\", keeping the "
                      "previous snapshot",
                      p->fetching, len, &p->zone->shm.name);
        return NGX_ERROR;
    }

    ngx_memzero(&ps, sizeof(ngx_http_lava_auth_parse_t));

    if (ngx_http_lava_auth_parse(&ps, text, text + len, NULL) != NGX_OK) {
        goto invalid;
    }

    if (ps.merchants > UINT32_MAX / 4 || ps.customers > UINT32_MAX / 4
        || ps.meters > UINT32_MAX / 4 || ps.strings > UINT32_MAX)
    {
        ps.err = "too many records";
        goto invalid;
    }

    size = ngx_http_lava_auth_layout(&ps, NULL);

    snap = ngx_slab_alloc(shpool, size);
    if (snap == NULL) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "lava auth: lava_auth_zone \"%V\" is full, snapshot "
                      "of version %uL needs %uz bytes next to the loaded "
                      "one, keeping the previous snapshot",
                      &p->zone->shm.name, ps.version, size);
        return NGX_ERROR;
    }

    ngx_memzero(snap, size);

    (void) ngx_http_lava_auth_layout(&ps, snap);
    snap->version = ps.version;
    snap->size = size;

    if (ngx_http_lava_auth_parse(&ps, text, text + len, snap) != NGX_OK) {
        ngx_slab_free(shpool, snap);
        goto invalid;
    }

    /* readers hold the same mutex: none is inside the old block after this */
    ngx_shmtx_lock(&shpool->mutex);

    old = sh->snap;
    sh->snap = snap;

    if (old) {
        ngx_slab_free_locked(shpool, old);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                  "lava auth: snapshot version %uL loaded (%ui keys, "
                  "%ui customers, %ui meters, %uz bytes)",
                  ps.version, ps.merchants, ps.customers, ps.meters, size);

    return NGX_OK;

invalid:

    /* the reason and line number only: the text holds ids and hashes */
    ngx_log_error(NGX_LOG_ERR, p->log, 0,
                  "lava auth: snapshot of version %uL rejected at line %ui: "
                  "%s, keeping the previous snapshot",
                  p->fetching, ps.line, ps.err);

    return NGX_ERROR;
}


/* poller (worker 0) */

ngx_int_t
ngx_http_lava_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_lava_main_conf_t *lmcf)
{
    ngx_str_t                     *prefix;
    ngx_http_lava_auth_sh_t       *sh;
    ngx_http_lava_auth_poller_t   *p = &ngx_http_lava_auth_poller;

    if (lmcf->auth_zone == NULL || ngx_worker != 0) {
        return NGX_OK;
    }

    ngx_memzero(p, sizeof(ngx_http_lava_auth_poller_t));

    p->zone = lmcf->auth_zone;
    p->interval = lmcf->auth_poll ? lmcf->auth_poll : 1000;
    p->log = cycle->log;

    prefix = &lmcf->auth_prefix;

    p->version_key.len = prefix->len + sizeof(":version") - 1;
    p->version_key.data = ngx_pnalloc(cycle->pool, p->version_key.len);
    p->snapshot_key.len = prefix->len + sizeof(":snapshot") - 1;
    p->snapshot_key.data = ngx_pnalloc(cycle->pool, p->snapshot_key.len);

    if (p->version_key.data == NULL || p->snapshot_key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p->version_key.data, "%V:version", prefix);
    ngx_sprintf(p->snapshot_key.data, "%V:snapshot", prefix);

    p->file = lmcf->auth_file;

    if (p->file.len) {
        sh = p->zone->data;

        /* the zone outlives reloads: only an nginx (re)start finds it empty;
         * no lock, the other workers only read */
        if (sh->snap == NULL) {
            ngx_http_lava_auth_restore(p);
        }
    }

    p->poll.handler = ngx_http_lava_auth_poll_handler;
    p->poll.data = p;
    p->poll.log = cycle->log;
    p->poll.cancelable = 1;

    p->redis = ngx_http_lava_redis_create(cycle, lmcf, "auth",
                                          ngx_http_lava_auth_ready,
                                          ngx_http_lava_auth_reply, p);
    if (p->redis == NULL) {
        return NGX_ERROR;
    }

    ngx_add_timer(&p->poll, p->interval);

    return NGX_OK;
}


static void
ngx_http_lava_auth_poll_handler(ngx_event_t *ev)
{
    ngx_http_lava_auth_poller_t  *p = ev->data;

    /* an exiting worker 0 leaves polling to its successor */
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_lava_auth_poll(p);

    ngx_add_timer(&p->poll, p->interval);
}


static void
ngx_http_lava_auth_ready(ngx_http_lava_redis_t *rd)
{
    /* at start and after an outage, do not wait for the next tick */
    ngx_http_lava_auth_poll(ngx_http_lava_redis_data(rd));
}


static void
ngx_http_lava_auth_poll(ngx_http_lava_auth_poller_t *p)
{
    size_t       argvlen[2];
    const char  *argv[2];

    if (p->busy || !ngx_http_lava_redis_ready(p->redis)) {
        return;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) p->version_key.data;
    argvlen[1] = p->version_key.len;

    if (ngx_http_lava_redis_command(p->redis, &ngx_http_lava_auth_get_version,
                                    2, argv, argvlen)
        == NGX_OK)
    {
        p->busy = 1;
    }
}


static void
ngx_http_lava_auth_reply(ngx_http_lava_redis_t *rd, redisReply *reply,
    void *privdata)
{
    size_t                        n;
    u_char                        err[128];
    ngx_http_lava_auth_poller_t  *p = ngx_http_lava_redis_data(rd);

    p->busy = 0;

    if (reply == NULL) {
        return;             /* connection lost; polled again once ready */
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (!p->error_logged) {
            n = ngx_http_lava_redis_errstr(reply, err, sizeof(err));
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "lava auth: reading the snapshot from redis "
                          "failed (%*s), keeping the loaded one", n, err);
            p->error_logged = 1;
        }

        return;
    }

    p->error_logged = 0;

    if (privdata == &ngx_http_lava_auth_get_version) {
        ngx_http_lava_auth_version_reply(p, reply);

    } else {
        ngx_http_lava_auth_snapshot_reply(p, reply);
    }
}


static void
ngx_http_lava_auth_version_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply)
{
    uint64_t                  v, loaded;
    ngx_uint_t                has_loaded;
    size_t                    argvlen[2];
    const char               *argv[2];
    ngx_slab_pool_t          *shpool;
    ngx_http_lava_auth_sh_t  *sh;

    if (reply->type == REDIS_REPLY_NIL) {
        if (!p->missing_logged) {
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "lava auth: no snapshot published yet "
                          "(\"%V\" is not set)", &p->version_key);
            p->missing_logged = 1;
        }

        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || ngx_http_lava_auth_u64((u_char *) reply->str, reply->len, &v)
           != NGX_OK)
    {
        if (!p->missing_logged) {
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "lava auth: \"%V\" does not hold a version number",
                          &p->version_key);
            p->missing_logged = 1;
        }

        return;
    }

    p->missing_logged = 0;

    if ((p->has_applied && v == p->applied)
        || (p->has_rejected && v == p->rejected))
    {
        return;
    }

    shpool = (ngx_slab_pool_t *) p->zone->shm.addr;
    sh = p->zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    has_loaded = (sh->snap != NULL);
    loaded = has_loaded ? sh->snap->version : 0;

    ngx_shmtx_unlock(&shpool->mutex);

    if (has_loaded && loaded == v) {
        /* loaded by a previous worker 0, e.g. before a reload */
        p->applied = v;
        p->has_applied = 1;
        return;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) p->snapshot_key.data;
    argvlen[1] = p->snapshot_key.len;

    if (ngx_http_lava_redis_command(p->redis,
                                    &ngx_http_lava_auth_get_snapshot,
                                    2, argv, argvlen)
        == NGX_OK)
    {
        p->fetching = v;
        p->busy = 1;
    }
}


static void
ngx_http_lava_auth_snapshot_reply(ngx_http_lava_auth_poller_t *p,
    redisReply *reply)
{
    if (reply->type != REDIS_REPLY_STRING) {
        if (!p->missing_logged) {
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "lava auth: \"%V\" is set but \"%V\" holds no "
                          "snapshot", &p->version_key, &p->snapshot_key);
            p->missing_logged = 1;
        }

        return;
    }

    /* a refused version is not fetched again: one error per version */

    if (ngx_http_lava_auth_load(p, (u_char *) reply->str, reply->len)
        != NGX_OK)
    {
        p->rejected = p->fetching;
        p->has_rejected = 1;
        return;
    }

    p->applied = p->fetching;
    p->has_applied = 1;
    p->has_rejected = 0;

    if (p->file.len) {
        ngx_http_lava_auth_save(p, (u_char *) reply->str, reply->len);
    }
}


/*
 * lava_auth_file: the last snapshot loaded from Redis is kept on disk, so
 * that an nginx started while Redis is away (a restart, a reboot) still
 * knows the keys instead of answering 503 auth_unavailable. Written to a
 * temporary name and renamed over the file: a reader sees a whole snapshot
 * or the previous one; one cut short by a crash fails the parser (it must
 * end with "end") and is not used. The file holds ids and SHA-256 hashes of
 * secret keys, never the keys: mode 0600 all the same.
 */
static void
ngx_http_lava_auth_save(ngx_http_lava_auth_poller_t *p, u_char *text,
    size_t len)
{
    u_char    *tmp;
    size_t     off;
    ssize_t    n;
    ngx_fd_t   fd;

    tmp = ngx_alloc(p->file.len + sizeof(".tmp"), p->log);
    if (tmp == NULL) {
        return;
    }

    ngx_sprintf(tmp, "%V.tmp%Z", &p->file);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_OWNER_ACCESS);
    if (fd == NGX_INVALID_FILE) {
        goto failed;
    }

    for (off = 0; off < len; off += (size_t) n) {
        n = ngx_write_fd(fd, text + off, len - off);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            (void) ngx_close_file(fd);
            (void) ngx_delete_file(tmp);
            goto failed;
        }
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR
        || ngx_rename_file(tmp, p->file.data) == NGX_FILE_ERROR)
    {
        (void) ngx_delete_file(tmp);
        goto failed;
    }

    ngx_free(tmp);
    p->file_logged = 0;
    return;

failed:

    if (!p->file_logged) {
        ngx_log_error(NGX_LOG_ERR, p->log, ngx_errno,
                      "lava auth: writing the snapshot to \"%V\" failed, "
                      "an nginx started without redis will not know the "
                      "keys", &p->file);
        p->file_logged = 1;
    }

    ngx_free(tmp);
}


/* at start, with nothing loaded yet: the snapshot kept by lava_auth_file */
static void
ngx_http_lava_auth_restore(ngx_http_lava_auth_poller_t *p)
{
    off_t             size;
    u_char           *buf;
    size_t            off;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    fd = ngx_open_file(p->file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ERR, p->log, ngx_errno,
                          "lava auth: opening \"%V\" failed", &p->file);
        }

        return;
    }

    buf = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, p->log, ngx_errno,
                      "lava auth: stat of \"%V\" failed", &p->file);
        goto done;
    }

    size = ngx_file_size(&fi);

    /* ngx_http_lava_auth_load() refuses what the zone cannot hold */
    if (size <= 0 || (size_t) size > p->zone->shm.size) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "lava auth: \"%V\" is empty or larger than the zone, "
                      "not used", &p->file);
        goto done;
    }

    buf = ngx_alloc((size_t) size, p->log);
    if (buf == NULL) {
        goto done;
    }

    for (off = 0; off < (size_t) size; off += (size_t) n) {
        n = ngx_read_fd(fd, buf + off, (size_t) size - off);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            ngx_log_error(NGX_LOG_ERR, p->log, ngx_errno,
                          "lava auth: reading \"%V\" failed", &p->file);
            goto done;
        }
    }

    if (ngx_http_lava_auth_load(p, buf, (size_t) size) == NGX_OK) {
        ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                      "lava auth: snapshot taken from \"%V\" until redis "
                      "has one", &p->file);
    }

done:

    if (buf) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);
}
