/*
 * Auth snapshot (lib/lava_authsnap.c): the text worker 0 reads from Redis or
 * from lava_auth_file, both of which others can write. The input is counted
 * and built into a block of exactly the size asked for (any write past it
 * is caught by the sanitizer). A built snapshot must hold every record
 * counted, each found again by its own lookup, with ids of the charset
 * inside the strings.
 *
 * Bytes after a NUL, when there are some, are a second text built into the
 * block sized for the first: a snapshot changed between the two passes must
 * be refused or fit, never overflow.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lava_authsnap.h"

static int
id_ok(const char *p, size_t n)
{
    size_t         i;
    unsigned char  c;

    if (n == 0 || n > LAVA_AUTHSNAP_ID_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        c = (unsigned char) p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
              || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}

/* r records: printable ASCII models (ids_only 0) */
static int
model_ok(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] <= 0x20 || (unsigned char) s[i] >= 0x7f) {
            return 0;
        }
    }

    return n > 0;
}

static void
check_pairs_of(const lava_authsnap_t *snap, const lava_authsnap_table_t *t,
    int blocked_ok, int ids_only)
{
    uint32_t                     i;
    const char                  *str;
    const lava_authsnap_pair_t  *p, *entries;

    entries = t->entries;

    for (i = 0; i < t->n; i++) {
        p = &entries[i];
        FUZZ_CHECK((size_t) p->str + p->mlen + p->olen <= snap->strings_len,
                   "pair strings inside the block");
        str = snap->strings + p->str;
        FUZZ_CHECK(id_ok(str, p->mlen)
                   && (ids_only ? id_ok(str + p->mlen, p->olen)
                                : model_ok(str + p->mlen, p->olen)),
                   "pair ids of the charset");
        FUZZ_CHECK(p->status <= (blocked_ok ? LAVA_AUTHSNAP_BLOCKED
                                            : LAVA_AUTHSNAP_ACTIVE),
                   "pair status");
        FUZZ_CHECK(p->hash == lava_authsnap_pair_hash(str + p->mlen, p->olen),
                   "pair hash");
        FUZZ_CHECK(lava_authsnap_find_pair(snap, t, p->hash, str, p->mlen,
                                           str + p->mlen, p->olen) == p,
                   "pair found by its lookup");
    }
}

static void
check_pairs(const lava_authsnap_t *snap, const lava_authsnap_table_t *t,
    int blocked_ok)
{
    check_pairs_of(snap, t, blocked_ok, 1);
}

/* spend keys: s and x by hash; a lists by (key id, name); l, b, p by one
 * string kept as the "other" of an empty first */
static void
check_spendkeys(const lava_authsnap_t *snap, const lava_authsnap_parse_t *ps)
{
    uint32_t                         i;
    const char                      *str;
    const lava_authsnap_pair_t      *p;
    const lava_authsnap_table_t     *t;
    const lava_authsnap_spendkey_t  *k, *keys;
    size_t                           j, len;

    static const struct { size_t off; int model; } lists[] = {
        { offsetof(lava_authsnap_t, models), 1 },
        { offsetof(lava_authsnap_t, providers), 0 },
    };
    static const size_t  ones[] = {
        offsetof(lava_authsnap_t, limits),
        offsetof(lava_authsnap_t, marks),
        offsetof(lava_authsnap_t, unpriced),
    };

    FUZZ_CHECK(snap->spendkeys.n == ps->spendkeys
               && snap->models.n == ps->models
               && snap->providers.n == ps->providers
               && snap->limits.n == ps->limits
               && snap->marks.n == ps->marks
               && snap->unpriced.n == ps->unpriced
               && ps->revoked <= ps->spendkeys, "spend key records counted");

    keys = snap->spendkeys.entries;

    for (i = 0; i < snap->spendkeys.n; i++) {
        k = &keys[i];
        len = (size_t) k->id_len + k->mlen + k->clen + k->tlen;
        FUZZ_CHECK((size_t) k->str + len <= snap->strings_len,
                   "spend key strings inside the block");
        str = snap->strings + k->str;
        FUZZ_CHECK(id_ok(str, k->id_len)
                   && (k->mlen == 0 || id_ok(str + k->id_len, k->mlen))
                   && (k->clen == 0
                       || id_ok(str + k->id_len + k->mlen, k->clen))
                   && (k->tlen == 0
                       || id_ok(str + k->id_len + k->mlen + k->clen,
                                k->tlen)),
                   "spend key ids of the charset");
        FUZZ_CHECK(k->status <= LAVA_AUTHSNAP_SPK_REVOKED
                   && (k->status == LAVA_AUTHSNAP_SPK_REVOKED)
                      == (k->mlen == 0)
                   && k->shape <= 1 && k->flags <= 7 && k->expires >= 0,
                   "spend key fields");
        FUZZ_CHECK(lava_authsnap_find_spendkey(snap, k->hash) == k,
                   "spend key found by its hash");
    }

    for (j = 0; j < sizeof(lists) / sizeof(lists[0]); j++) {
        t = (const lava_authsnap_table_t *) ((const char *) snap
                                             + lists[j].off);

        for (i = 0; i < t->n; i++) {
            p = &((const lava_authsnap_pair_t *) t->entries)[i];
            FUZZ_CHECK((size_t) p->str + p->mlen + p->olen
                       <= snap->strings_len, "list strings inside the block");
            str = snap->strings + p->str;
            FUZZ_CHECK(id_ok(str, p->mlen)
                       && (lists[j].model ? model_ok(str + p->mlen, p->olen)
                                          : id_ok(str + p->mlen, p->olen)),
                       "list names of the charset");
            FUZZ_CHECK(lava_authsnap_listed(snap, t, str, p->mlen,
                                            str + p->mlen, p->olen, 0) == 1,
                       "list entry found by its lookup");
        }
    }

    for (j = 0; j < sizeof(ones) / sizeof(ones[0]); j++) {
        t = (const lava_authsnap_table_t *) ((const char *) snap + ones[j]);

        for (i = 0; i < t->n; i++) {
            p = &((const lava_authsnap_pair_t *) t->entries)[i];
            FUZZ_CHECK(p->mlen == 0
                       && (size_t) p->str + p->olen <= snap->strings_len
                       && model_ok(snap->strings + p->str, p->olen),
                       "l, b, p strings");
            FUZZ_CHECK(lava_authsnap_find_pair(snap, t, p->hash, "", 0,
                                               snap->strings + p->str,
                                               p->olen) == p,
                       "l, b, p found by their lookup");
        }
    }
}

static void
check_snap(const lava_authsnap_t *snap, const lava_authsnap_parse_t *ps)
{
    uint32_t                         i;
    size_t                           restricted;
    const lava_authsnap_merchant_t  *m, *entries;

    FUZZ_CHECK(snap->merchants.n <= ps->merchants
               && snap->customers.n <= ps->customers
               && snap->meters.n <= ps->meters
               && snap->unfunded.n <= ps->unfunded,
               "no more records than counted");
    FUZZ_CHECK(ps->restricted <= ps->merchants, "restricted keys are keys");
    FUZZ_CHECK(snap->merchants.mask + 1 > 2 * (size_t) snap->merchants.n,
               "slots > 2 n");
    FUZZ_CHECK(snap->strings_len <= ps->strings, "strings as counted");

    entries = snap->merchants.entries;
    restricted = 0;

    for (i = 0; i < snap->merchants.n; i++) {
        m = &entries[i];
        FUZZ_CHECK((size_t) m->id + m->id_len <= snap->strings_len,
                   "merchant id inside the block");
        FUZZ_CHECK(id_ok(snap->strings + m->id, m->id_len),
                   "merchant id of the charset");
        FUZZ_CHECK(m->status <= LAVA_AUTHSNAP_DISABLED, "merchant status");
        FUZZ_CHECK(m->restricted <= 1, "restricted is a flag");
        restricted += m->restricted;
        FUZZ_CHECK(lava_authsnap_find_merchant(snap, m->hash) == m,
                   "merchant found by its hash");
    }

    FUZZ_CHECK(restricted <= ps->restricted, "restricted as counted");

    check_pairs(snap, &snap->customers, 1);
    check_pairs(snap, &snap->meters, 0);
    check_pairs(snap, &snap->unfunded, 0);
    check_pairs(snap, &snap->wallets, 0);
    check_pairs_of(snap, &snap->rates, 0, 0);
    check_pairs(snap, &snap->fees, 0);
    FUZZ_CHECK(snap->wallets.n <= ps->wallets && snap->rates.n <= ps->rates
               && snap->fees.n <= ps->fees, "no more w, r, f than counted");
    check_spendkeys(snap, ps);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   *a, *b;
    void                   *block;
    size_t                  alen, blen, need;
    const uint8_t          *nul;
    lava_authsnap_t        *snap;
    lava_authsnap_parse_t   ps, ps2;

    nul = memchr(data, '\0', size);
    alen = nul ? (size_t) (nul - data) : size;
    blen = nul ? size - alen - 1 : 0;

    /* exact-size copies: a read past either text is caught */
    a = malloc(alen ? alen : 1);
    b = malloc(blen ? blen : 1);
    FUZZ_CHECK(a != NULL && b != NULL, "malloc");
    memcpy(a, data, alen);
    if (nul) {
        memcpy(b, nul + 1, blen);
    }

    if (lava_authsnap_count(&ps, a, alen) != LAVA_AUTHSNAP_OK) {
        FUZZ_CHECK(ps.err != NULL && lava_authsnap_size(&ps) == 0,
                   "a refused text has a reason and no size");
        FUZZ_CHECK(lava_authsnap_build(&ps, a, alen, b, blen) == NULL,
                   "a refused text is never built");
        goto done;
    }

    FUZZ_CHECK(ps.err == NULL, "a counted text has no error");

    /* the same text counts the same */
    FUZZ_CHECK(lava_authsnap_count(&ps2, a, alen) == LAVA_AUTHSNAP_OK
               && memcmp(&ps, &ps2, sizeof(ps)) == 0, "count deterministic");

    need = lava_authsnap_size(&ps);
    FUZZ_CHECK(need >= sizeof(lava_authsnap_t), "block size");

    block = malloc(need);
    FUZZ_CHECK(block != NULL, "malloc");

    snap = lava_authsnap_build(&ps, a, alen, block, need);

    if (snap) {
        FUZZ_CHECK(ps.err == NULL && snap->size == need
                   && snap->version == ps.version, "built as counted");
        FUZZ_CHECK(snap->merchants.n == ps.merchants
                   && snap->customers.n == ps.customers
                   && snap->meters.n == ps.meters
                   && snap->unfunded.n == ps.unfunded
                   && snap->strings_len == ps.strings,
                   "every counted record is in");
        check_snap(snap, &ps);

    } else {
        FUZZ_CHECK(ps.err != NULL, "a refused build has a reason");
        FUZZ_CHECK(lava_authsnap_build(&ps, a, alen, block, need) == NULL,
                   "sticky error");
    }

    if (nul) {
        /* the second text into the block counted for the first */
        FUZZ_CHECK(lava_authsnap_count(&ps, a, alen) == LAVA_AUTHSNAP_OK,
                   "count again");
        snap = lava_authsnap_build(&ps, b, blen, block, need);

        if (snap) {
            check_snap(snap, &ps);
        }
    }

    free(block);

done:

    free(a);
    free(b);
    return 0;
}
