/*
 * Auth snapshot parser and tables (see lava_authsnap.h).
 *
 * The text holds merchant ids and SHA-256 hashes of secret keys: nothing
 * here copies any of it into an error; errors are fixed strings and a line
 * number.
 */

#include <stddef.h>
#include <string.h>

#include "lava_authsnap.h"
#include "lava_reserve.h"
#include "lava_spendkey.h"


#define LAVA_AUTHSNAP_FIELDS   12      /* most fields of a record (l) */


typedef struct {
    const char  *data;
    size_t       len;
} lava_authsnap_str_t;


static size_t
lava_authsnap_align(size_t n)
{
    return (n + 7) & ~(size_t) 7;
}


static int
lava_authsnap_is_id(const lava_authsnap_str_t *f)
{
    size_t         i;
    unsigned char  ch;

    if (f->len == 0 || f->len > LAVA_AUTHSNAP_ID_MAX) {
        return 0;
    }

    for (i = 0; i < f->len; i++) {
        ch = (unsigned char) f->data[i];

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


/* a model of an r record: printable ASCII without space (the event's) */
static int
lava_authsnap_is_model(const lava_authsnap_str_t *f)
{
    size_t  i;

    if (f->len == 0 || f->len > LAVA_AUTHSNAP_MODEL_MAX) {
        return 0;
    }

    for (i = 0; i < f->len; i++) {
        if ((unsigned char) f->data[i] <= 0x20
            || (unsigned char) f->data[i] >= 0x7f)
        {
            return 0;
        }
    }

    return 1;
}


static int
lava_authsnap_eq(const lava_authsnap_str_t *f, const char *s)
{
    size_t  n = strlen(s);

    return f->len == n && memcmp(f->data, s, n) == 0;
}


/* "-": no such id (spend key records) */
static int
lava_authsnap_dash(const lava_authsnap_str_t *f)
{
    return f->len == 1 && f->data[0] == '-';
}


/* an id or "-" */
static int
lava_authsnap_is_id_or_dash(const lava_authsnap_str_t *f)
{
    return lava_authsnap_dash(f) || lava_authsnap_is_id(f);
}


/* "<ms>-<seq>": a Redis stream id */
static int
lava_authsnap_stream_id(const lava_authsnap_str_t *f, int64_t *v)
{
    uint64_t     ms, seq;
    const char  *dash;

    dash = memchr(f->data, '-', f->len);
    if (dash == NULL
        || lava_authsnap_u64(f->data, (size_t) (dash - f->data), &ms)
           != LAVA_AUTHSNAP_OK
        || lava_authsnap_u64(dash + 1, (size_t) (f->data + f->len - dash - 1),
                             &seq)
           != LAVA_AUTHSNAP_OK
        || ms > INT64_MAX || seq > INT64_MAX)
    {
        return LAVA_AUTHSNAP_ERROR;
    }

    v[0] = (int64_t) ms;
    v[1] = (int64_t) seq;

    return LAVA_AUTHSNAP_OK;
}


/* LAVA_AUTHSNAP_ACTIVE..., -1 none of them; "blocked" only if allowed */
static int
lava_authsnap_status(const lava_authsnap_str_t *f, int blocked_ok)
{
    if (lava_authsnap_eq(f, "active")) {
        return LAVA_AUTHSNAP_ACTIVE;
    }

    if (lava_authsnap_eq(f, "disabled")) {
        return LAVA_AUTHSNAP_DISABLED;
    }

    if (blocked_ok && lava_authsnap_eq(f, "blocked")) {
        return LAVA_AUTHSNAP_BLOCKED;
    }

    return -1;
}


/* 64 lower-case hex digits into 32 bytes (out NULL: check only) */
static int
lava_authsnap_hex(const lava_authsnap_str_t *f, unsigned char *out)
{
    size_t         i;
    unsigned char  ch, v;

    if (f->len != 2 * LAVA_AUTHSNAP_HASH_LEN) {
        return LAVA_AUTHSNAP_ERROR;
    }

    for (i = 0; i < f->len; i++) {
        ch = (unsigned char) f->data[i];

        if (ch >= '0' && ch <= '9') {
            v = ch - '0';

        } else if (ch >= 'a' && ch <= 'f') {
            v = ch - 'a' + 10;

        } else {
            return LAVA_AUTHSNAP_ERROR;
        }

        if (out) {
            if (i % 2 == 0) {
                out[i / 2] = (unsigned char) (v << 4);
            } else {
                out[i / 2] |= v;
            }
        }
    }

    return LAVA_AUTHSNAP_OK;
}


int
lava_authsnap_u64(const char *p, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v, d;

    if (len == 0 || len > 20) {
        return LAVA_AUTHSNAP_ERROR;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return LAVA_AUTHSNAP_ERROR;
        }

        d = (uint64_t) (p[i] - '0');

        if (v > (UINT64_MAX - d) / 10) {
            return LAVA_AUTHSNAP_ERROR;
        }

        v = v * 10 + d;
    }

    *out = v;

    return LAVA_AUTHSNAP_OK;
}


int
lava_authsnap_i64(const char *p, size_t len, int64_t *out)
{
    int       neg;
    uint64_t  v;

    neg = (len > 0 && p[0] == '-');

    if (lava_authsnap_u64(p + neg, len - neg, &v) != LAVA_AUTHSNAP_OK
        || v > (uint64_t) INT64_MAX + neg)
    {
        return LAVA_AUTHSNAP_ERROR;
    }

    *out = neg ? (int64_t) (0 - v) : (int64_t) v;

    return LAVA_AUTHSNAP_OK;
}


/* n numbers of a record: i64 (first, when signed) or non-negative i64 */
static int
lava_authsnap_nums(const lava_authsnap_str_t *f, size_t n, int first_signed,
    int64_t *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (lava_authsnap_i64(f[i].data, f[i].len, &out[i])
            != LAVA_AUTHSNAP_OK
            || (out[i] < 0 && !(i == 0 && first_signed)))
        {
            return LAVA_AUTHSNAP_ERROR;
        }
    }

    return LAVA_AUTHSNAP_OK;
}


/*
 * Splits a line into fields separated by one space. Returns the number of
 * fields (max + 1 when there are more than max), or 0 on an empty field.
 */
static size_t
lava_authsnap_split(const char *pos, const char *last, lava_authsnap_str_t *f,
    size_t max)
{
    size_t       n;
    const char  *sp;

    for (n = 0; /* void */; n++) {
        if (n == max) {
            return max + 1;
        }

        sp = memchr(pos, ' ', (size_t) (last - pos));

        f[n].data = pos;
        f[n].len = (size_t) ((sp ? sp : last) - pos);

        if (f[n].len == 0) {
            return 0;
        }

        if (sp == NULL) {
            return n + 1;
        }

        pos = sp + 1;
    }
}


/* FNV-1a: the data is the publisher's own, no flooding concern */
uint32_t
lava_authsnap_pair_hash(const char *o, size_t olen)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < olen; i++) {
        h = (h ^ (unsigned char) o[i]) * 16777619u;
    }

    return h;
}


const lava_authsnap_merchant_t *
lava_authsnap_find_merchant(const lava_authsnap_t *snap,
    const unsigned char *hash)
{
    uint32_t                         h, i, s;
    const lava_authsnap_table_t     *t;
    const lava_authsnap_merchant_t  *m, *entries;

    t = &snap->merchants;
    entries = t->entries;

    memcpy(&h, hash, sizeof(uint32_t));

    /* slots > 2 n: an empty slot always ends the probe */
    for (i = h & t->mask; /* void */; i = (i + 1) & t->mask) {
        s = t->slots[i];

        if (s == 0) {
            return NULL;
        }

        m = &entries[s - 1];

        if (memcmp(m->hash, hash, LAVA_AUTHSNAP_HASH_LEN) == 0) {
            return m;
        }
    }
}


const lava_authsnap_spendkey_t *
lava_authsnap_find_spendkey(const lava_authsnap_t *snap,
    const unsigned char *hash)
{
    uint32_t                         h, i, s;
    const lava_authsnap_table_t     *t;
    const lava_authsnap_spendkey_t  *k, *entries;

    t = &snap->spendkeys;

    if (t->n == 0) {
        return NULL;
    }

    entries = t->entries;

    memcpy(&h, hash, sizeof(uint32_t));

    for (i = h & t->mask; /* void */; i = (i + 1) & t->mask) {
        s = t->slots[i];

        if (s == 0) {
            return NULL;
        }

        k = &entries[s - 1];

        if (memcmp(k->hash, hash, LAVA_AUTHSNAP_HASH_LEN) == 0) {
            return k;
        }
    }
}


const lava_authsnap_pair_t *
lava_authsnap_find_pair(const lava_authsnap_t *snap,
    const lava_authsnap_table_t *t, uint32_t hash, const char *m,
    size_t mlen, const char *o, size_t olen)
{
    uint32_t                     i, s;
    const char                  *str;
    const lava_authsnap_pair_t  *p, *entries;

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
            && memcmp(str, m, mlen) == 0
            && memcmp(str + mlen, o, olen) == 0)
        {
            return p;
        }
    }
}


/* appends a, then b, to the strings; NULL past the counted bytes */
static char *
lava_authsnap_str(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    const lava_authsnap_str_t *a, const lava_authsnap_str_t *b)
{
    char    *start;
    size_t   len;

    len = a->len + (b ? b->len : 0);

    if (len > ps->strings - snap->strings_len) {
        return NULL;
    }

    start = snap->strings + snap->strings_len;

    memcpy(start, a->data, a->len);

    if (b) {
        memcpy(start + a->len, b->data, b->len);
    }

    snap->strings_len += len;

    return start;
}


#define LAVA_AUTHSNAP_CHANGED  "snapshot text changed between the passes"


static int
lava_authsnap_add_merchant(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    const lava_authsnap_str_t *hex, const lava_authsnap_str_t *id, int status,
    int restricted)
{
    char                      *str;
    uint32_t                   h, i;
    unsigned char              hash[LAVA_AUTHSNAP_HASH_LEN];
    lava_authsnap_table_t     *t;
    lava_authsnap_merchant_t  *m, *entries;

    (void) lava_authsnap_hex(hex, hash);

    if (lava_authsnap_find_merchant(snap, hash)) {
        ps->err = "duplicate key hash";
        return LAVA_AUTHSNAP_ERROR;
    }

    t = &snap->merchants;

    if (t->n == ps->merchants) {
        ps->err = LAVA_AUTHSNAP_CHANGED;
        return LAVA_AUTHSNAP_ERROR;
    }

    str = lava_authsnap_str(ps, snap, id, NULL);
    if (str == NULL) {
        ps->err = LAVA_AUTHSNAP_CHANGED;
        return LAVA_AUTHSNAP_ERROR;
    }

    entries = t->entries;
    m = &entries[t->n];

    memcpy(m->hash, hash, LAVA_AUTHSNAP_HASH_LEN);
    m->id = (uint32_t) (str - snap->strings);
    m->id_len = (uint8_t) id->len;
    m->status = (uint8_t) status;
    m->restricted = (uint8_t) restricted;

    memcpy(&h, hash, sizeof(uint32_t));

    for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        /* void */
    }

    t->slots[i] = ++t->n;

    return LAVA_AUTHSNAP_OK;
}


/*
 * An "s" record (f: its fields) or an "x" record (revoked: hash and id).
 * One table, so a hash is never both.
 */
static int
lava_authsnap_add_spendkey(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    const lava_authsnap_str_t *f, int revoked, int status, int shape,
    int flags, int64_t expires)
{
    char                      *str;
    uint32_t                   h, i;
    unsigned char              hash[LAVA_AUTHSNAP_HASH_LEN];
    lava_authsnap_str_t        none = { "", 0 };
    lava_authsnap_table_t     *t;
    lava_authsnap_spendkey_t  *k, *entries;
    const lava_authsnap_str_t *c, *m;

    (void) lava_authsnap_hex(&f[1], hash);

    if (lava_authsnap_find_spendkey(snap, hash)) {
        ps->err = "duplicate spend key hash";
        return LAVA_AUTHSNAP_ERROR;
    }

    t = &snap->spendkeys;

    if (t->n == ps->spendkeys) {
        ps->err = LAVA_AUTHSNAP_CHANGED;
        return LAVA_AUTHSNAP_ERROR;
    }

    m = revoked ? &none : &f[3];
    c = revoked ? &none : &f[4];

    /* id and merchant, then customer and meter ("-": none) */
    str = lava_authsnap_str(ps, snap, &f[2], m);
    if (str == NULL
        || (!revoked && !lava_authsnap_dash(&f[4])
            && lava_authsnap_str(ps, snap, c, NULL) == NULL)
        || (!revoked && !lava_authsnap_dash(&f[5])
            && lava_authsnap_str(ps, snap, &f[5], NULL) == NULL))
    {
        ps->err = LAVA_AUTHSNAP_CHANGED;
        return LAVA_AUTHSNAP_ERROR;
    }

    entries = t->entries;
    k = &entries[t->n];

    memcpy(k->hash, hash, LAVA_AUTHSNAP_HASH_LEN);
    k->str = (uint32_t) (str - snap->strings);
    k->id_len = (uint8_t) f[2].len;
    k->mlen = (uint8_t) m->len;
    k->clen = (uint8_t) ((revoked || lava_authsnap_dash(&f[4])) ? 0 : f[4].len);
    k->tlen = (uint8_t) ((revoked || lava_authsnap_dash(&f[5])) ? 0 : f[5].len);
    k->status = (uint8_t) (revoked ? LAVA_AUTHSNAP_SPK_REVOKED : status);
    k->shape = (uint8_t) shape;
    k->flags = (uint8_t) flags;
    k->expires = expires;

    memcpy(&h, hash, sizeof(uint32_t));

    for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        /* void */
    }

    t->slots[i] = ++t->n;

    return LAVA_AUTHSNAP_OK;
}


/* pairs whose first id alone does not spread them (spend key lists): FNV-1a
 * over both */
static uint32_t
lava_authsnap_hash2(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t    i;
    uint32_t  h;

    h = lava_authsnap_pair_hash(a, alen);

    for (i = 0; i < blen; i++) {
        h = (h ^ (unsigned char) b[i]) * 16777619u;
    }

    return h;
}


static int lava_authsnap_add_pair_h(lava_authsnap_parse_t *ps,
    lava_authsnap_t *snap, lava_authsnap_table_t *t, size_t counted,
    const lava_authsnap_str_t *mid, const lava_authsnap_str_t *oid,
    int status, const char *dup, uint32_t h);


static int
lava_authsnap_add_pair(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    lava_authsnap_table_t *t, size_t counted, const lava_authsnap_str_t *mid,
    const lava_authsnap_str_t *oid, int status, const char *dup)
{
    return lava_authsnap_add_pair_h(ps, snap, t, counted, mid, oid, status,
                                    dup, lava_authsnap_pair_hash(oid->data,
                                                                 oid->len));
}


static int
lava_authsnap_add_pair_h(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    lava_authsnap_table_t *t, size_t counted, const lava_authsnap_str_t *mid,
    const lava_authsnap_str_t *oid, int status, const char *dup, uint32_t h)
{
    char                  *str;
    uint32_t               i;
    lava_authsnap_pair_t  *p, *entries;

    if (lava_authsnap_find_pair(snap, t, h, mid->data, mid->len, oid->data,
                                oid->len))
    {
        ps->err = dup;
        return LAVA_AUTHSNAP_ERROR;
    }

    if (t->n == counted) {
        ps->err = LAVA_AUTHSNAP_CHANGED;
        return LAVA_AUTHSNAP_ERROR;
    }

    str = lava_authsnap_str(ps, snap, mid, oid);
    if (str == NULL) {
        ps->err = LAVA_AUTHSNAP_CHANGED;
        return LAVA_AUTHSNAP_ERROR;
    }

    entries = t->entries;
    p = &entries[t->n];

    p->hash = h;
    p->str = (uint32_t) (str - snap->strings);
    p->mlen = (uint8_t) mid->len;
    p->olen = (uint8_t) oid->len;
    p->status = (uint8_t) status;

    for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
        /* void */
    }

    t->slots[i] = ++t->n;

    return LAVA_AUTHSNAP_OK;
}


/* a pair and its k numbers (w, r, f records) */
static int
lava_authsnap_add_vals(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    lava_authsnap_table_t *t, size_t counted, const lava_authsnap_str_t *f,
    const int64_t *vals, size_t k, const char *dup)
{
    if (lava_authsnap_add_pair(ps, snap, t, counted, &f[1], &f[2],
                               LAVA_AUTHSNAP_ACTIVE, dup)
        != LAVA_AUTHSNAP_OK)
    {
        return LAVA_AUTHSNAP_ERROR;
    }

    memcpy(&t->vals[(t->n - 1) * k], vals, k * sizeof(int64_t));

    return LAVA_AUTHSNAP_OK;
}


/* a record keyed by one id (l, b, p) and its k numbers */
static int
lava_authsnap_add_vals1(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    lava_authsnap_table_t *t, size_t counted, const lava_authsnap_str_t *id,
    const int64_t *vals, size_t k, const char *dup)
{
    lava_authsnap_str_t  none = { "", 0 };

    /* the id is the "other" string: pairs are hashed on it */
    if (lava_authsnap_add_pair(ps, snap, t, counted, &none, id,
                               LAVA_AUTHSNAP_ACTIVE, dup)
        != LAVA_AUTHSNAP_OK)
    {
        return LAVA_AUTHSNAP_ERROR;
    }

    if (k) {
        memcpy(&t->vals[(t->n - 1) * k], vals, k * sizeof(int64_t));
    }

    return LAVA_AUTHSNAP_OK;
}


/*
 * The records that are a pair of strings and k numbers, all read alike:
 * t <merchant_id> <meter_slug>, u <merchant_id> <customer_id> (wallet at or
 * below its minimum), w <merchant_id> <customer_id> <headroom_nusd>,
 * r <provider> <model|*> <in_nusd_per_1m> <out_nusd_per_1m> (bound of a
 * token's cost), d <provider> <model> <unix_s> (when the ledger first priced
 * the model: GET /v1/models "created"), f <merchant_id> <meter_slug> <ppm>
 * <nusd_per_1m> <nusd_per_req>.
 */
typedef struct {
    char         letter;
    uint8_t      model;         /* the second string is a model name */
    uint8_t      k;             /* numbers after the pair */
    uint8_t      first_signed;  /* the first number may be negative */
    size_t       table;         /* offsetof(lava_authsnap_t, ...) */
    size_t       count;         /* offsetof(lava_authsnap_parse_t, ...) */
    const char  *bad;
    const char  *dup;
} lava_authsnap_pair_rec_t;

/* the letter as a char and as a string (the error names it) */
#define LAVA_AUTHSNAP_PAIR_REC(c, cs, model, k, sig, field, dup)             \
    { c, model, k, sig, offsetof(lava_authsnap_t, field),                    \
      offsetof(lava_authsnap_parse_t, field), "bad \"" cs "\" record", dup }

static const lava_authsnap_pair_rec_t  lava_authsnap_pair_recs[] = {
    LAVA_AUTHSNAP_PAIR_REC('t', "t", 0, 0, 0, meters, "duplicate meter"),
    LAVA_AUTHSNAP_PAIR_REC('u', "u", 0, 0, 0, unfunded,
                           "duplicate unfunded customer"),
    LAVA_AUTHSNAP_PAIR_REC('w', "w", 0, LAVA_AUTHSNAP_WALLET_VALS, 1, wallets,
                           "duplicate wallet"),
    LAVA_AUTHSNAP_PAIR_REC('r', "r", 1, LAVA_AUTHSNAP_RATE_VALS, 0, rates,
                           "duplicate rate"),
    LAVA_AUTHSNAP_PAIR_REC('d', "d", 1, LAVA_AUTHSNAP_DATE_VALS, 0, dates,
                           "duplicate model date"),
    LAVA_AUTHSNAP_PAIR_REC('f', "f", 0, LAVA_AUTHSNAP_FEE_VALS, 0, fees,
                           "duplicate fee")
};


static const lava_authsnap_pair_rec_t *
lava_authsnap_pair_rec(char c)
{
    size_t  i;

    for (i = 0; i < sizeof(lava_authsnap_pair_recs)
                    / sizeof(lava_authsnap_pair_recs[0]); i++)
    {
        if (lava_authsnap_pair_recs[i].letter == c) {
            return &lava_authsnap_pair_recs[i];
        }
    }

    return NULL;
}


/* one such record: counted (snap NULL) or added */
static int
lava_authsnap_pair_record(lava_authsnap_parse_t *ps,
    const lava_authsnap_pair_rec_t *pr, const char *pos, const char *eol,
    lava_authsnap_t *snap)
{
    size_t                  n, *count;
    int64_t                 v[LAVA_AUTHSNAP_FEE_VALS];  /* the most k */
    lava_authsnap_str_t     f[LAVA_AUTHSNAP_FIELDS + 1];
    lava_authsnap_table_t  *t;

    n = lava_authsnap_split(pos, eol, f, 3 + pr->k);

    if (n != (size_t) (3 + pr->k)
        || !lava_authsnap_is_id(&f[1])
        || !(pr->model ? lava_authsnap_is_model(&f[2])
                       : lava_authsnap_is_id(&f[2]))
        || (pr->k && lava_authsnap_nums(&f[3], pr->k, pr->first_signed, v)
                     != LAVA_AUTHSNAP_OK))
    {
        ps->err = pr->bad;
        return LAVA_AUTHSNAP_ERROR;
    }

    count = (size_t *) ((char *) ps + pr->count);

    if (snap == NULL) {
        (*count)++;
        ps->strings += f[1].len + f[2].len;
        return LAVA_AUTHSNAP_OK;
    }

    t = (lava_authsnap_table_t *) ((char *) snap + pr->table);

    if (pr->k == 0) {
        return lava_authsnap_add_pair(ps, snap, t, *count, &f[1], &f[2],
                                      LAVA_AUTHSNAP_ACTIVE, pr->dup);
    }

    return lava_authsnap_add_vals(ps, snap, t, *count, f, v, pr->k, pr->dup);
}


/*
 * Both passes: snap NULL counts into ps; otherwise fills snap, whose tables
 * were sized by the counts.
 */
static int
lava_authsnap_parse(lava_authsnap_parse_t *ps, const char *pos,
    const char *last, lava_authsnap_t *snap)
{
    int                   st, shape;
    size_t                n;
    int64_t               v[LAVA_AUTHSNAP_FEE_VALS];
    const lava_authsnap_pair_rec_t  *pr;
    int64_t               lv[LAVA_AUTHSNAP_LIMIT_VALS];
    uint64_t              version;
    const char           *eol;
    lava_authsnap_str_t   f[LAVA_AUTHSNAP_FIELDS + 1];

    ps->line = 0;

    while (pos < last) {
        ps->line++;
        st = 0;

        eol = memchr(pos, '\n', (size_t) (last - pos));
        if (eol == NULL) {
            ps->err = "incomplete snapshot (no final \"end\" line)";
            return LAVA_AUTHSNAP_ERROR;
        }

        if (ps->line == 1) {
            n = lava_authsnap_split(pos, eol, f, 3);

            if (n != 3 || !lava_authsnap_eq(&f[0], "lava-auth")) {
                ps->err = "bad header line";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (!lava_authsnap_eq(&f[1], LAVA_AUTHSNAP_FORMAT)) {
                ps->err = "unsupported snapshot format";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (lava_authsnap_u64(f[2].data, f[2].len, &version)
                != LAVA_AUTHSNAP_OK)
            {
                ps->err = "bad version in the header line";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->version = version;

            } else if (version != ps->version) {
                ps->err = LAVA_AUTHSNAP_CHANGED;
                return LAVA_AUTHSNAP_ERROR;
            }

            pos = eol + 1;
            continue;
        }

        if (eol - pos == 3 && memcmp(pos, "end", 3) == 0) {
            if (eol + 1 != last) {
                ps->err = "data after the \"end\" line";
                return LAVA_AUTHSNAP_ERROR;
            }

            return LAVA_AUTHSNAP_OK;
        }

        if (eol - pos < 2 || pos[1] != ' ') {
            ps->err = "bad record";
            return LAVA_AUTHSNAP_ERROR;
        }

        pr = lava_authsnap_pair_rec(pos[0]);

        if (pr) {
            if (lava_authsnap_pair_record(ps, pr, pos, eol, snap)
                != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            pos = eol + 1;
            continue;
        }

        switch (pos[0]) {

        case 'm':
        case 'k':
            /* a secret key: full ("m") or restricted to customer billing
             * ("k"); one table, so a hash is never both */
            n = lava_authsnap_split(pos, eol, f, 4);

            if (n != 4
                || lava_authsnap_hex(&f[1], NULL) != LAVA_AUTHSNAP_OK
                || !lava_authsnap_is_id(&f[2])
                || (st = lava_authsnap_status(&f[3], 0)) < 0)
            {
                ps->err = (pos[0] == 'm') ? "bad \"m\" record"
                                          : "bad \"k\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->merchants++;
                ps->restricted += (pos[0] == 'k');
                ps->strings += f[2].len;

            } else if (lava_authsnap_add_merchant(ps, snap, &f[1], &f[2], st,
                                                  pos[0] == 'k')
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 'c':
            n = lava_authsnap_split(pos, eol, f, 4);

            if (n != 4
                || !lava_authsnap_is_id(&f[1])
                || !lava_authsnap_is_id(&f[2])
                || (st = lava_authsnap_status(&f[3], 1)) < 0)
            {
                ps->err = "bad \"c\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->customers++;
                ps->strings += f[1].len + f[2].len;

            } else if (lava_authsnap_add_pair(ps, snap, &snap->customers,
                                              ps->customers, &f[1], &f[2], st,
                                              "duplicate customer")
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 's':
            /* s <hash> <id> <merchant> <customer|-> <meter|-> <status>
             *   <expires> <shape> <flags> */
            n = lava_authsnap_split(pos, eol, f, 10);

            if (n != 10
                || lava_authsnap_hex(&f[1], NULL) != LAVA_AUTHSNAP_OK
                || !lava_authsnap_is_id(&f[2])
                || !lava_authsnap_is_id(&f[3])
                || !lava_authsnap_is_id_or_dash(&f[4])
                || !lava_authsnap_is_id_or_dash(&f[5])
                || lava_authsnap_nums(&f[7], 1, 0, v) != LAVA_AUTHSNAP_OK
                || lava_authsnap_nums(&f[9], 1, 0, &v[1]) != LAVA_AUTHSNAP_OK)
            {
                ps->err = "bad \"s\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (lava_authsnap_eq(&f[6], "active")) {
                st = LAVA_AUTHSNAP_SPK_ACTIVE;

            } else if (lava_authsnap_eq(&f[6], "paused")) {
                st = LAVA_AUTHSNAP_SPK_PAUSED;

            } else {
                ps->err = "bad \"s\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (lava_authsnap_eq(&f[8], "openai")) {
                shape = LAVA_SPK_SHAPE_OPENAI;

            } else if (lava_authsnap_eq(&f[8], "anthropic")) {
                shape = LAVA_SPK_SHAPE_ANTHROPIC;

            } else {
                ps->err = "bad \"s\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->spendkeys++;
                ps->strings += f[2].len + f[3].len
                               + (lava_authsnap_dash(&f[4]) ? 0 : f[4].len)
                               + (lava_authsnap_dash(&f[5]) ? 0 : f[5].len);

            } else if (lava_authsnap_add_spendkey(ps, snap, f, 0, st, shape,
                                                  /* bits of a newer
                                                   * publisher: ignored */
                                                  (int) (v[1]
                                                         & LAVA_SPK_F_ALL),
                                                  v[0])
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 'x':
            /* x <hash> <id>: a key revoked in the last 30 days */
            n = lava_authsnap_split(pos, eol, f, 3);

            if (n != 3
                || lava_authsnap_hex(&f[1], NULL) != LAVA_AUTHSNAP_OK
                || !lava_authsnap_is_id(&f[2]))
            {
                ps->err = "bad \"x\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->spendkeys++;
                ps->revoked++;
                ps->strings += f[2].len;

            } else if (lava_authsnap_add_spendkey(ps, snap, f, 1, 0, 0, 0, 0)
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 'a':
            /* a <id> m <model> | a <id> p <provider> */
            n = lava_authsnap_split(pos, eol, f, 4);

            if (n != 4
                || !lava_authsnap_is_id(&f[1])
                || f[2].len != 1)
            {
                ps->err = "bad \"a\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (f[2].data[0] == 'm') {
                if (!lava_authsnap_is_model(&f[3])) {
                    ps->err = "bad \"a\" record";
                    return LAVA_AUTHSNAP_ERROR;
                }

                if (snap == NULL) {
                    ps->models++;
                    ps->strings += f[1].len + f[3].len;

                } else if (lava_authsnap_add_pair_h(ps, snap,
                                                  &snap->models, ps->models, &f[1],
                                                  &f[3], LAVA_AUTHSNAP_ACTIVE,
                                                  "duplicate allowed model",
                                                  lava_authsnap_hash2(
                                                      f[1].data, f[1].len,
                                                      f[3].data, f[3].len))
                           != LAVA_AUTHSNAP_OK)
                {
                    return LAVA_AUTHSNAP_ERROR;
                }

            } else if (f[2].data[0] == 'p') {
                if (!lava_authsnap_is_id(&f[3])) {
                    ps->err = "bad \"a\" record";
                    return LAVA_AUTHSNAP_ERROR;
                }

                if (snap == NULL) {
                    ps->providers++;
                    ps->strings += f[1].len + f[3].len;

                } else if (lava_authsnap_add_pair_h(ps, snap,
                                                  &snap->providers, ps->providers, &f[1],
                                                  &f[3], LAVA_AUTHSNAP_ACTIVE,
                                                  "duplicate allowed provider",
                                                  lava_authsnap_hash2(
                                                      f[1].data, f[1].len,
                                                      f[3].data, f[3].len))
                           != LAVA_AUTHSNAP_OK)
                {
                    return LAVA_AUTHSNAP_ERROR;
                }

            } else if (!((f[2].data[0] >= 'a' && f[2].data[0] <= 'z')
                         || (f[2].data[0] >= 'A' && f[2].data[0] <= 'Z')))
            {
                ps->err = "bad \"a\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            /* another letter: a list of a newer publisher, skipped */
            break;

        case 'l':
            /* l <id> <rpm> <burst> <req_cycle|-> <req_limit> <req_used>
             *   <spend_cycle|-> <spend_limit> <spend_used> <req_start>
             *   <spend_start> */
            n = lava_authsnap_split(pos, eol, f, 12);

            if (n != 12
                || !lava_authsnap_is_id(&f[1])
                || lava_authsnap_nums(&f[2], 2, 0, lv) != LAVA_AUTHSNAP_OK
                || (lv[2] = lava_spk_cycle_parse(f[4].data, f[4].len)) < 0
                || lava_authsnap_nums(&f[5], 2, 0, &lv[3])
                   != LAVA_AUTHSNAP_OK
                || (lv[5] = lava_spk_cycle_parse(f[7].data, f[7].len)) < 0
                || lava_authsnap_nums(&f[8], 4, 0, &lv[6])
                   != LAVA_AUTHSNAP_OK)
            {
                ps->err = "bad \"l\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->limits++;
                ps->strings += f[1].len;

            } else if (lava_authsnap_add_vals1(ps, snap, &snap->limits,
                                               ps->limits, &f[1], lv,
                                               LAVA_AUTHSNAP_LIMIT_VALS,
                                               "duplicate limits")
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 'b':
            /* b <stream_key> <ms>-<seq> */
            n = lava_authsnap_split(pos, eol, f, 3);

            if (n != 3
                || !lava_authsnap_is_model(&f[1])
                || lava_authsnap_stream_id(&f[2], v) != LAVA_AUTHSNAP_OK)
            {
                ps->err = "bad \"b\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->marks++;
                ps->strings += f[1].len;

            } else if (lava_authsnap_add_vals1(ps, snap, &snap->marks,
                                               ps->marks, &f[1], v,
                                               LAVA_AUTHSNAP_MARK_VALS,
                                               "duplicate stream mark")
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 'p':
            /* p <merchant_id>: refuses models without a rate */
            n = lava_authsnap_split(pos, eol, f, 2);

            if (n != 2 || !lava_authsnap_is_id(&f[1])) {
                ps->err = "bad \"p\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->unpriced++;
                ps->strings += f[1].len;

            } else if (lava_authsnap_add_vals1(ps, snap, &snap->unpriced,
                                               ps->unpriced, &f[1], NULL, 0,
                                               "duplicate merchant setting")
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        default:
            if ((pos[0] >= 'a' && pos[0] <= 'z')
                || (pos[0] >= 'A' && pos[0] <= 'Z'))
            {
                break;          /* a record type of a newer publisher */
            }

            ps->err = "bad record";
            return LAVA_AUTHSNAP_ERROR;
        }

        pos = eol + 1;
    }

    ps->err = (ps->line == 0) ? "empty snapshot"
                              : "incomplete snapshot (no final \"end\" line)";

    return LAVA_AUTHSNAP_ERROR;
}


int
lava_authsnap_count(lava_authsnap_parse_t *ps, const char *text, size_t len)
{
    memset(ps, 0, sizeof(lava_authsnap_parse_t));

    if (lava_authsnap_parse(ps, text, text + len, NULL) != LAVA_AUTHSNAP_OK) {
        return LAVA_AUTHSNAP_ERROR;
    }

    if (ps->merchants > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->customers > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->meters > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->unfunded > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->wallets > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->rates > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->fees > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->spendkeys > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->models > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->providers > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->limits > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->marks > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->unpriced > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->dates > LAVA_AUTHSNAP_RECORDS_MAX
        || ps->strings > LAVA_AUTHSNAP_STRINGS_MAX)
    {
        ps->err = "too many records";
        return LAVA_AUTHSNAP_ERROR;
    }

    ps->counted = 1;

    return LAVA_AUTHSNAP_OK;
}


static uint32_t
lava_authsnap_slots(size_t n)
{
    uint32_t  s;

    for (s = 1; s < 2 * n + 1; s <<= 1) { /* void */ }

    return s;
}


/*
 * The block size for the counted records; with snap set, also points its
 * tables into the block.
 */
static size_t
lava_authsnap_layout(const lava_authsnap_parse_t *ps, lava_authsnap_t *snap)
{
    char                   *base;
    size_t                  off, i, slots;
    size_t                  n[LAVA_AUTHSNAP_TABLES], k[LAVA_AUTHSNAP_TABLES];
    size_t                  esz[LAVA_AUTHSNAP_TABLES];
    uint32_t                s[LAVA_AUTHSNAP_TABLES], *sp;
    lava_authsnap_table_t  *t[LAVA_AUTHSNAP_TABLES];

    n[0] = ps->merchants;  esz[0] = sizeof(lava_authsnap_merchant_t);
    n[1] = ps->customers;
    n[2] = ps->meters;
    n[3] = ps->wallets;    k[3] = LAVA_AUTHSNAP_WALLET_VALS;
    n[4] = ps->rates;      k[4] = LAVA_AUTHSNAP_RATE_VALS;
    n[5] = ps->fees;       k[5] = LAVA_AUTHSNAP_FEE_VALS;
    n[6] = ps->unfunded;
    n[7] = ps->spendkeys;  esz[7] = sizeof(lava_authsnap_spendkey_t);
    n[8] = ps->models;
    n[9] = ps->providers;
    n[10] = ps->limits;    k[10] = LAVA_AUTHSNAP_LIMIT_VALS;
    n[11] = ps->marks;     k[11] = LAVA_AUTHSNAP_MARK_VALS;
    n[12] = ps->unpriced;
    n[13] = ps->dates;     k[13] = LAVA_AUTHSNAP_DATE_VALS;
    k[0] = k[1] = k[2] = k[6] = k[7] = k[8] = k[9] = k[12] = 0;

    if (snap) {
        t[0] = &snap->merchants;
        t[1] = &snap->customers;
        t[2] = &snap->meters;
        t[3] = &snap->wallets;
        t[4] = &snap->rates;
        t[5] = &snap->fees;
        t[6] = &snap->unfunded;
        t[7] = &snap->spendkeys;
        t[8] = &snap->models;
        t[9] = &snap->providers;
        t[10] = &snap->limits;
        t[11] = &snap->marks;
        t[12] = &snap->unpriced;
        t[13] = &snap->dates;
    }

    base = (char *) snap;
    off = lava_authsnap_align(sizeof(lava_authsnap_t));
    slots = 0;

    /* entries, then the numbers of each table (8-byte aligned) */
    for (i = 0; i < LAVA_AUTHSNAP_TABLES; i++) {
        if (i > 0 && i != 7) {
            esz[i] = sizeof(lava_authsnap_pair_t);
        }

        s[i] = lava_authsnap_slots(n[i]);
        slots += s[i];

        if (snap) {
            t[i]->entries = base + off;
            t[i]->mask = s[i] - 1;
        }

        off += lava_authsnap_align(n[i] * esz[i]);

        if (snap && k[i]) {
            t[i]->vals = (int64_t *) (void *) (base + off);
        }

        off += n[i] * k[i] * sizeof(int64_t);
    }

    if (snap) {
        sp = (uint32_t *) (void *) (base + off);

        for (i = 0; i < LAVA_AUTHSNAP_TABLES; i++) {
            t[i]->slots = sp;
            sp += s[i];
        }
    }

    off += lava_authsnap_align(slots * sizeof(uint32_t));

    if (snap) {
        snap->strings = base + off;
    }

    off += ps->strings;

    return off;
}


size_t
lava_authsnap_size(const lava_authsnap_parse_t *ps)
{
    if (ps->err || !ps->counted) {
        return 0;
    }

    return lava_authsnap_layout(ps, NULL);
}


lava_authsnap_t *
lava_authsnap_build(lava_authsnap_parse_t *ps, const char *text, size_t len,
    void *block, size_t size)
{
    size_t            need;
    lava_authsnap_t  *snap;

    if (ps->err) {
        return NULL;
    }

    if (!ps->counted) {
        ps->err = "snapshot not counted";
        return NULL;
    }

    need = lava_authsnap_layout(ps, NULL);

    if (block == NULL || size < need || ((uintptr_t) block & 7) != 0) {
        ps->err = "block too small or misaligned";
        return NULL;
    }

    memset(block, 0, need);

    snap = block;
    (void) lava_authsnap_layout(ps, snap);
    snap->version = ps->version;
    snap->size = need;

    if (lava_authsnap_parse(ps, text, text + len, snap) != LAVA_AUTHSNAP_OK) {
        return NULL;
    }

    return snap;
}


/* wallet reservations: the numbers of a w, r or f record */

static const int64_t *
lava_authsnap_vals(const lava_authsnap_t *snap, const lava_authsnap_table_t *t,
    size_t k, const char *a, size_t alen, const char *b, size_t blen)
{
    const lava_authsnap_pair_t  *p;

    if (t->n == 0) {
        return NULL;
    }

    p = lava_authsnap_find_pair(snap, t, lava_authsnap_pair_hash(b, blen),
                                a, alen, b, blen);
    if (p == NULL) {
        return NULL;
    }

    return &t->vals[(size_t) (p - (const lava_authsnap_pair_t *) t->entries)
                    * k];
}


int
lava_authsnap_wallet(const lava_authsnap_t *snap, const char *m, size_t mlen,
    const char *c, size_t clen, int64_t *headroom)
{
    const int64_t  *v;

    v = lava_authsnap_vals(snap, &snap->wallets, LAVA_AUTHSNAP_WALLET_VALS,
                           m, mlen, c, clen);
    if (v == NULL) {
        return 0;
    }

    *headroom = v[0];

    return 1;
}


int
lava_authsnap_rate(const lava_authsnap_t *snap, const char *p, size_t plen,
    const char *model, size_t mlen, int64_t *in, int64_t *out, int *dflt)
{
    const int64_t  *v;

    *dflt = 0;
    v = NULL;

    if (mlen) {
        v = lava_authsnap_vals(snap, &snap->rates, LAVA_AUTHSNAP_RATE_VALS,
                               p, plen, model, mlen);
    }

    if (v == NULL) {
        v = lava_authsnap_vals(snap, &snap->rates, LAVA_AUTHSNAP_RATE_VALS,
                               p, plen, "*", 1);
        *dflt = 1;
    }

    if (v == NULL) {
        return 0;
    }

    *in = v[0];
    *out = v[1];

    return 1;
}


int64_t
lava_authsnap_created(const lava_authsnap_t *snap, const char *p,
    size_t plen, const char *model, size_t mlen)
{
    const int64_t  *v;

    v = lava_authsnap_vals(snap, &snap->dates, LAVA_AUTHSNAP_DATE_VALS,
                           p, plen, model, mlen);

    return v ? v[0] : 0;
}


int
lava_authsnap_fee(const lava_authsnap_t *snap, const char *m, size_t mlen,
    const char *t, size_t tlen, int64_t vals[3])
{
    const int64_t  *v;

    v = lava_authsnap_vals(snap, &snap->fees, LAVA_AUTHSNAP_FEE_VALS,
                           m, mlen, t, tlen);
    if (v == NULL) {
        return 0;
    }

    memcpy(vals, v, LAVA_AUTHSNAP_FEE_VALS * sizeof(int64_t));

    return 1;
}


/* spend keys */

int
lava_authsnap_listed(const lava_authsnap_t *snap,
    const lava_authsnap_table_t *t, const char *id, size_t idlen,
    const char *name, size_t nlen, int model)
{
    size_t  ulen;

    if (t->n == 0) {
        return 0;
    }

    if (lava_authsnap_find_pair(snap, t,
                                lava_authsnap_hash2(id, idlen, name, nlen),
                                id, idlen, name, nlen))
    {
        return 1;
    }

    /* a listed undated name allows its dated models (lava_spk_model_match) */
    ulen = model ? lava_reserve_undated(name, nlen) : nlen;

    return ulen != nlen
           && lava_authsnap_find_pair(snap, t,
                                      lava_authsnap_hash2(id, idlen, name,
                                                          ulen),
                                      id, idlen, name, ulen)
              != NULL;
}


int
lava_authsnap_limits(const lava_authsnap_t *snap, const char *id,
    size_t idlen, int64_t vals[LAVA_AUTHSNAP_LIMIT_VALS])
{
    const int64_t  *v;

    v = lava_authsnap_vals(snap, &snap->limits, LAVA_AUTHSNAP_LIMIT_VALS,
                           "", 0, id, idlen);
    if (v == NULL) {
        return 0;
    }

    memcpy(vals, v, LAVA_AUTHSNAP_LIMIT_VALS * sizeof(int64_t));

    return 1;
}


int
lava_authsnap_mark(const lava_authsnap_t *snap, const char *stream,
    size_t len, uint64_t *ms, uint64_t *seq)
{
    const int64_t  *v;

    v = lava_authsnap_vals(snap, &snap->marks, LAVA_AUTHSNAP_MARK_VALS,
                           "", 0, stream, len);
    if (v == NULL) {
        return 0;
    }

    *ms = (uint64_t) v[0];
    *seq = (uint64_t) v[1];

    return 1;
}


int
lava_authsnap_unpriced(const lava_authsnap_t *snap, const char *m,
    size_t mlen)
{
    const lava_authsnap_table_t  *t = &snap->unpriced;

    return t->n
           && lava_authsnap_find_pair(snap, t,
                                      lava_authsnap_pair_hash(m, mlen),
                                      "", 0, m, mlen)
              != NULL;
}


int
lava_authsnap_meter_only(const lava_authsnap_t *snap, const char *p,
    size_t plen)
{
    const int64_t  *v;

    /* the sidecar publishes "r <provider> * 0 0" for a provider billed on
     * the merchant's meter alone (sidecar/authrates.c) */
    v = lava_authsnap_vals(snap, &snap->rates, LAVA_AUTHSNAP_RATE_VALS,
                           p, plen, "*", 1);

    return v != NULL && v[0] == 0 && v[1] == 0;
}


int
lava_authsnap_priced(const lava_authsnap_t *snap, const char *p, size_t plen,
    const char *model, size_t mlen)
{
    size_t                        ulen;
    const lava_authsnap_table_t  *t = &snap->rates;

    if (t->n == 0 || mlen == 0 || (mlen == 1 && model[0] == '*')) {
        return 0;
    }

    if (lava_authsnap_find_pair(snap, t, lava_authsnap_pair_hash(model, mlen),
                                p, plen, model, mlen))
    {
        return 1;
    }

    ulen = lava_reserve_undated(model, mlen);

    return ulen != mlen
           && lava_authsnap_find_pair(snap, t,
                                      lava_authsnap_pair_hash(model, ulen),
                                      p, plen, model, ulen)
              != NULL;
}
