/*
 * Auth snapshot parser and tables (see lava_authsnap.h).
 *
 * The text holds merchant ids and SHA-256 hashes of secret keys: nothing
 * here copies any of it into an error; errors are fixed strings and a line
 * number.
 */

#include <string.h>

#include "lava_authsnap.h"


#define LAVA_AUTHSNAP_FIELDS   4       /* most fields of a record */


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


static int
lava_authsnap_eq(const lava_authsnap_str_t *f, const char *s)
{
    size_t  n = strlen(s);

    return f->len == n && memcmp(f->data, s, n) == 0;
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


static int
lava_authsnap_add_pair(lava_authsnap_parse_t *ps, lava_authsnap_t *snap,
    lava_authsnap_table_t *t, size_t counted, const lava_authsnap_str_t *mid,
    const lava_authsnap_str_t *oid, int status, const char *dup)
{
    char                  *str;
    uint32_t               h, i;
    lava_authsnap_pair_t  *p, *entries;

    h = lava_authsnap_pair_hash(oid->data, oid->len);

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


/*
 * Both passes: snap NULL counts into ps; otherwise fills snap, whose tables
 * were sized by the counts.
 */
static int
lava_authsnap_parse(lava_authsnap_parse_t *ps, const char *pos,
    const char *last, lava_authsnap_t *snap)
{
    int                   st;
    size_t                n;
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

        case 't':
            n = lava_authsnap_split(pos, eol, f, 3);

            if (n != 3
                || !lava_authsnap_is_id(&f[1])
                || !lava_authsnap_is_id(&f[2]))
            {
                ps->err = "bad \"t\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->meters++;
                ps->strings += f[1].len + f[2].len;

            } else if (lava_authsnap_add_pair(ps, snap, &snap->meters,
                                              ps->meters, &f[1], &f[2],
                                              LAVA_AUTHSNAP_ACTIVE,
                                              "duplicate meter")
                       != LAVA_AUTHSNAP_OK)
            {
                return LAVA_AUTHSNAP_ERROR;
            }

            break;

        case 'u':
            /* a customer whose wallet is at or below its minimum */
            n = lava_authsnap_split(pos, eol, f, 3);

            if (n != 3
                || !lava_authsnap_is_id(&f[1])
                || !lava_authsnap_is_id(&f[2]))
            {
                ps->err = "bad \"u\" record";
                return LAVA_AUTHSNAP_ERROR;
            }

            if (snap == NULL) {
                ps->unfunded++;
                ps->strings += f[1].len + f[2].len;

            } else if (lava_authsnap_add_pair(ps, snap, &snap->unfunded,
                                              ps->unfunded, &f[1], &f[2],
                                              LAVA_AUTHSNAP_ACTIVE,
                                              "duplicate unfunded customer")
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
    char      *base;
    size_t     off;
    uint32_t   ms, cs, ts, us;

    ms = lava_authsnap_slots(ps->merchants);
    cs = lava_authsnap_slots(ps->customers);
    ts = lava_authsnap_slots(ps->meters);
    us = lava_authsnap_slots(ps->unfunded);

    base = (char *) snap;
    off = lava_authsnap_align(sizeof(lava_authsnap_t));

    if (snap) {
        snap->merchants.entries = base + off;
        snap->merchants.mask = ms - 1;
    }

    off += lava_authsnap_align(ps->merchants
                               * sizeof(lava_authsnap_merchant_t));

    if (snap) {
        snap->customers.entries = base + off;
        snap->customers.mask = cs - 1;
    }

    off += lava_authsnap_align(ps->customers * sizeof(lava_authsnap_pair_t));

    if (snap) {
        snap->meters.entries = base + off;
        snap->meters.mask = ts - 1;
    }

    off += lava_authsnap_align(ps->meters * sizeof(lava_authsnap_pair_t));

    if (snap) {
        snap->unfunded.entries = base + off;
        snap->unfunded.mask = us - 1;
    }

    off += lava_authsnap_align(ps->unfunded * sizeof(lava_authsnap_pair_t));

    if (snap) {
        snap->merchants.slots = (uint32_t *) (void *) (base + off);
        snap->customers.slots = snap->merchants.slots + ms;
        snap->meters.slots = snap->customers.slots + cs;
        snap->unfunded.slots = snap->meters.slots + ts;
    }

    off += lava_authsnap_align(((size_t) ms + cs + ts + us)
                               * sizeof(uint32_t));

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
