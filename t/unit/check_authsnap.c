/*
 * Auth snapshot (lib/lava_authsnap.c): a snapshot as the sidecar renders it
 * is counted, built and looked up; hostile texts are refused whole, with a
 * fixed reason and the line, and never leave a table half built: truncation
 * at every byte, fields one byte over their bounds, bad hex, duplicates,
 * a text changed between the two passes, blocks too small. Restricted keys
 * ("k") and unfunded customers ("u") too, and the text an older module
 * reads (it skips both letters).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "lava_authsnap.h"


#define H1  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2  "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define H3  "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"
#define H4  "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

/* the order and shape of the auth_snapshot view */
static const char  *snapshot =
    "lava-auth 1 42\n"
    "m " H1 " mer_5a1f0c2e9b7d4a3c8e6f1b2d active\n"
    "m " H2 " mer_9c3e7a1b5d2f4e6a8c0b1d3f disabled\n"
    "c mer_5a1f0c2e9b7d4a3c8e6f1b2d cus_0b7e2d4f6a8c1e3b5d7f9a2c active\n"
    "c mer_5a1f0c2e9b7d4a3c8e6f1b2d cus_3d5f7b9e1a2c4e6b8d0f2a4c blocked\n"
    "c mer_5a1f0c2e9b7d4a3c8e6f1b2d cus_8e1a3c5b7d9f2e4a6c8b0d1f disabled\n"
    "c mer_9c3e7a1b5d2f4e6a8c0b1d3f cus_0b7e2d4f6a8c1e3b5d7f9a2c active\n"
    "t mer_5a1f0c2e9b7d4a3c8e6f1b2d chat\n"
    "t mer_5a1f0c2e9b7d4a3c8e6f1b2d embeddings\n"
    "t mer_9c3e7a1b5d2f4e6a8c0b1d3f chat\n"
    "end\n";


typedef struct {
    lava_authsnap_parse_t   ps;
    lava_authsnap_t        *snap;
    void                   *block;
} snap_t;


static void
hash_of(const char *hex, unsigned char *out)
{
    int           i;
    unsigned int  b;

    for (i = 0; i < LAVA_AUTHSNAP_HASH_LEN; i++) {
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (unsigned char) b;
    }
}


/* count and build; the copy is exactly len bytes so reads past it show */
static int
load(snap_t *s, const char *text, size_t len)
{
    char    *copy;
    size_t   size;

    memset(s, 0, sizeof(snap_t));

    copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);

    if (lava_authsnap_count(&s->ps, copy, len) != LAVA_AUTHSNAP_OK) {
        ck_assert_ptr_nonnull(s->ps.err);
        ck_assert_uint_eq(lava_authsnap_size(&s->ps), 0);
        free(copy);
        return LAVA_AUTHSNAP_ERROR;
    }

    size = lava_authsnap_size(&s->ps);
    ck_assert_uint_gt(size, sizeof(lava_authsnap_t));

    s->block = malloc(size);
    ck_assert_ptr_nonnull(s->block);

    s->snap = lava_authsnap_build(&s->ps, copy, len, s->block, size);
    free(copy);

    if (s->snap == NULL) {
        ck_assert_ptr_nonnull(s->ps.err);
        return LAVA_AUTHSNAP_ERROR;
    }

    ck_assert_ptr_null(s->ps.err);
    ck_assert_uint_eq(s->snap->size, size);
    ck_assert_uint_eq(s->snap->strings_len, s->ps.strings);

    return LAVA_AUTHSNAP_OK;
}


static int
load_str(snap_t *s, const char *text)
{
    return load(s, text, strlen(text));
}


static void
unload(snap_t *s)
{
    free(s->block);
    s->block = NULL;
    s->snap = NULL;
}


/* the error of a text refused at count or build, and its line */
static const char *
refused(const char *text, size_t *line)
{
    snap_t  s;

    ck_assert_int_eq(load_str(&s, text), LAVA_AUTHSNAP_ERROR);
    unload(&s);

    if (line) {
        *line = s.ps.line;
    }

    return s.ps.err;
}


static const lava_authsnap_merchant_t *
merchant(snap_t *s, const char *hex)
{
    unsigned char  h[LAVA_AUTHSNAP_HASH_LEN];

    hash_of(hex, h);
    return lava_authsnap_find_merchant(s->snap, h);
}


static const lava_authsnap_pair_t *
pair(snap_t *s, const lava_authsnap_table_t *t, const char *m, const char *o)
{
    return lava_authsnap_find_pair(s->snap, t,
                                   lava_authsnap_pair_hash(o, strlen(o)),
                                   m, strlen(m), o, strlen(o));
}


START_TEST(test_snapshot)
{
    snap_t                           s;
    const lava_authsnap_pair_t      *p;
    const lava_authsnap_merchant_t  *m;

    ck_assert_int_eq(load_str(&s, snapshot), LAVA_AUTHSNAP_OK);

    ck_assert_uint_eq(s.snap->version, 42);
    ck_assert_uint_eq(s.ps.merchants, 2);
    ck_assert_uint_eq(s.ps.customers, 4);
    ck_assert_uint_eq(s.ps.meters, 3);
    ck_assert_uint_eq(s.snap->merchants.n, 2);
    ck_assert_uint_eq(s.snap->customers.n, 4);
    ck_assert_uint_eq(s.snap->meters.n, 3);

    m = merchant(&s, H1);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->status, LAVA_AUTHSNAP_ACTIVE);
    ck_assert_int_eq(m->id_len, 28);
    ck_assert_int_eq(memcmp(s.snap->strings + m->id,
                            "mer_5a1f0c2e9b7d4a3c8e6f1b2d", 28), 0);

    m = merchant(&s, H2);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->status, LAVA_AUTHSNAP_DISABLED);

    ck_assert_ptr_null(merchant(&s, H3));

    p = pair(&s, &s.snap->customers, "mer_5a1f0c2e9b7d4a3c8e6f1b2d",
             "cus_0b7e2d4f6a8c1e3b5d7f9a2c");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->status, LAVA_AUTHSNAP_ACTIVE);

    p = pair(&s, &s.snap->customers, "mer_5a1f0c2e9b7d4a3c8e6f1b2d",
             "cus_3d5f7b9e1a2c4e6b8d0f2a4c");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->status, LAVA_AUTHSNAP_BLOCKED);

    p = pair(&s, &s.snap->customers, "mer_5a1f0c2e9b7d4a3c8e6f1b2d",
             "cus_8e1a3c5b7d9f2e4a6c8b0d1f");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->status, LAVA_AUTHSNAP_DISABLED);

    /* another merchant's customer, and a prefix of the right merchant */
    ck_assert_ptr_null(pair(&s, &s.snap->customers,
                            "mer_9c3e7a1b5d2f4e6a8c0b1d3f",
                            "cus_3d5f7b9e1a2c4e6b8d0f2a4c"));
    ck_assert_ptr_null(pair(&s, &s.snap->customers,
                            "mer_5a1f0c2e9b7d4a3c8e6f1b2",
                            "cus_0b7e2d4f6a8c1e3b5d7f9a2c"));
    ck_assert_ptr_null(pair(&s, &s.snap->customers,
                            "mer_5a1f0c2e9b7d4a3c8e6f1b2d", "cus_"));

    ck_assert_ptr_nonnull(pair(&s, &s.snap->meters,
                               "mer_5a1f0c2e9b7d4a3c8e6f1b2d", "embeddings"));
    ck_assert_ptr_nonnull(pair(&s, &s.snap->meters,
                               "mer_9c3e7a1b5d2f4e6a8c0b1d3f", "chat"));
    ck_assert_ptr_null(pair(&s, &s.snap->meters,
                            "mer_9c3e7a1b5d2f4e6a8c0b1d3f", "embeddings"));
    ck_assert_ptr_null(pair(&s, &s.snap->customers,
                            "mer_5a1f0c2e9b7d4a3c8e6f1b2d", "chat"));

    unload(&s);

    /* no records at all: empty tables, every lookup misses */
    ck_assert_int_eq(load_str(&s, "lava-auth 1 0\nend\n"), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.snap->version, 0);
    ck_assert_ptr_null(merchant(&s, H1));
    ck_assert_ptr_null(pair(&s, &s.snap->meters, "m", "chat"));
    unload(&s);
}
END_TEST


START_TEST(test_truncated)
{
    size_t   len, i;
    snap_t   s;

    /* every proper prefix lacks the final "end\n": refused, never built */
    len = strlen(snapshot);

    for (i = 0; i < len; i++) {
        ck_assert_msg(load(&s, snapshot, i) == LAVA_AUTHSNAP_ERROR,
                      "prefix of %zu bytes accepted", i);
        ck_assert_ptr_null(s.snap);
        unload(&s);
    }

    ck_assert_str_eq(refused("", NULL), "empty snapshot");
    ck_assert_str_eq(refused("lava-auth 1 42\n", NULL),
                     "incomplete snapshot (no final \"end\" line)");
    ck_assert_str_eq(refused("lava-auth 1 42\nend", NULL),
                     "incomplete snapshot (no final \"end\" line)");
    ck_assert_str_eq(refused("lava-auth 1 42\nt m chat", NULL),
                     "incomplete snapshot (no final \"end\" line)");
}
END_TEST


START_TEST(test_header)
{
    size_t  line;
    snap_t  s;

    ck_assert_str_eq(refused("lava-auth 2 42\nend\n", &line),
                     "unsupported snapshot format");
    ck_assert_uint_eq(line, 1);
    ck_assert_str_eq(refused("lava-auth 1\nend\n", NULL), "bad header line");
    ck_assert_str_eq(refused("lava-auth 1 42 x\nend\n", NULL),
                     "bad header line");
    ck_assert_str_eq(refused("lava-auth  1 42\nend\n", NULL),
                     "bad header line");
    ck_assert_str_eq(refused("lava-authx 1 42\nend\n", NULL),
                     "bad header line");
    ck_assert_str_eq(refused("end\n", NULL), "bad header line");
    ck_assert_str_eq(refused("lava-auth 1 -1\nend\n", NULL),
                     "bad version in the header line");
    ck_assert_str_eq(refused("lava-auth 1 4x\nend\n", NULL),
                     "bad version in the header line");
    ck_assert_str_eq(refused("lava-auth 1 18446744073709551616\nend\n", NULL),
                     "bad version in the header line");
    ck_assert_str_eq(refused("lava-auth 1 000000000000000000001\nend\n", NULL),
                     "bad version in the header line");

    ck_assert_int_eq(load_str(&s, "lava-auth 1 18446744073709551615\nend\n"),
                     LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.snap->version, UINT64_MAX);
    unload(&s);
}
END_TEST


START_TEST(test_u64)
{
    uint64_t  v;

    ck_assert_int_eq(lava_authsnap_u64("0", 1, &v), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(lava_authsnap_u64("1732400000123", 13, &v),
                     LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(v, 1732400000123ULL);
    ck_assert_int_eq(lava_authsnap_u64("18446744073709551615", 20, &v),
                     LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(v, UINT64_MAX);

    v = 7;
    ck_assert_int_eq(lava_authsnap_u64("18446744073709551616", 20, &v),
                     LAVA_AUTHSNAP_ERROR);
    ck_assert_int_eq(lava_authsnap_u64("99999999999999999999", 20, &v),
                     LAVA_AUTHSNAP_ERROR);
    ck_assert_int_eq(lava_authsnap_u64("", 0, &v), LAVA_AUTHSNAP_ERROR);
    ck_assert_int_eq(lava_authsnap_u64("+1", 2, &v), LAVA_AUTHSNAP_ERROR);
    ck_assert_int_eq(lava_authsnap_u64(" 1", 2, &v), LAVA_AUTHSNAP_ERROR);
    ck_assert_int_eq(lava_authsnap_u64("1\n", 2, &v), LAVA_AUTHSNAP_ERROR);
    ck_assert_uint_eq(v, 7);
}
END_TEST


/* "lava-auth 1 1\n<line>\nend\n" */
static const char *
one(const char *line, size_t *lineno)
{
    static char  buf[1024];

    snprintf(buf, sizeof(buf), "lava-auth 1 1\n%s\nend\n", line);
    return refused(buf, lineno);
}


static int
one_ok(const char *line)
{
    int     rc;
    char    buf[1024];
    snap_t  s;

    snprintf(buf, sizeof(buf), "lava-auth 1 1\n%s\nend\n", line);
    rc = load_str(&s, buf);
    unload(&s);

    return rc;
}


START_TEST(test_fields)
{
    char    line[512], id64[65], id65[66];
    size_t  lineno;

    memset(id64, 'a', 64);
    id64[64] = '\0';
    memset(id65, 'a', 65);
    id65[65] = '\0';

    /* ids: 1 to 64 bytes of the charset */
    ck_assert_int_eq(one_ok("t m x"), LAVA_AUTHSNAP_OK);
    ck_assert_int_eq(one_ok("t A-z_0.9:x m"), LAVA_AUTHSNAP_OK);
    snprintf(line, sizeof(line), "t %s %s", id64, id64);
    ck_assert_int_eq(one_ok(line), LAVA_AUTHSNAP_OK);
    snprintf(line, sizeof(line), "t %s x", id65);
    ck_assert_str_eq(one(line, NULL), "bad \"t\" record");
    snprintf(line, sizeof(line), "c m %s active", id65);
    ck_assert_str_eq(one(line, NULL), "bad \"c\" record");
    snprintf(line, sizeof(line), "m " H1 " %s active", id64);
    ck_assert_int_eq(one_ok(line), LAVA_AUTHSNAP_OK);
    snprintf(line, sizeof(line), "m " H1 " %s active", id65);
    ck_assert_str_eq(one(line, NULL), "bad \"m\" record");
    ck_assert_str_eq(one("t m ch/at", NULL), "bad \"t\" record");
    ck_assert_str_eq(one("t m ch\tat", NULL), "bad \"t\" record");
    ck_assert_str_eq(one("t m caf\xc3\xa9", NULL), "bad \"t\" record");

    /* one space between fields, none around, no more fields */
    ck_assert_str_eq(one("t m  chat", NULL), "bad \"t\" record");
    ck_assert_str_eq(one("t m chat ", NULL), "bad \"t\" record");
    ck_assert_str_eq(one("t m chat x", NULL), "bad \"t\" record");
    ck_assert_str_eq(one("t m", NULL), "bad \"t\" record");
    ck_assert_str_eq(one("c m c active x", NULL), "bad \"c\" record");
    ck_assert_str_eq(one("m " H1 " m active x", NULL), "bad \"m\" record");
    ck_assert_str_eq(one("t m chat\r", NULL), "bad \"t\" record");
    ck_assert_str_eq(one(" t m chat", NULL), "bad record");
    ck_assert_str_eq(one("tm chat", NULL), "bad record");
    ck_assert_str_eq(one("t", NULL), "bad record");
    ck_assert_str_eq(one("", NULL), "bad record");

    /* statuses: blocked is a customer status only */
    ck_assert_int_eq(one_ok("c m c blocked"), LAVA_AUTHSNAP_OK);
    ck_assert_str_eq(one("m " H1 " m blocked", NULL), "bad \"m\" record");
    ck_assert_str_eq(one("c m c Active", NULL), "bad \"c\" record");
    ck_assert_str_eq(one("c m c activ", NULL), "bad \"c\" record");
    ck_assert_str_eq(one("c m c actives", NULL), "bad \"c\" record");
    ck_assert_str_eq(one("c m c", NULL), "bad \"c\" record");

    /* unknown letters are a newer publisher's records; others are not */
    /* (x, s, a, l, b and p are spend key records now: q stands in) */
    ck_assert_int_eq(one_ok("q anything at all  here"), LAVA_AUTHSNAP_OK);
    ck_assert_int_eq(one_ok("Z 1"), LAVA_AUTHSNAP_OK);
    ck_assert_str_eq(one("1 x", &lineno), "bad record");
    ck_assert_uint_eq(lineno, 2);
    ck_assert_str_eq(one("\x01 x", NULL), "bad record");

    /* after "end" nothing, not even an empty line */
    ck_assert_str_eq(refused("lava-auth 1 1\nend\n\n", &lineno),
                     "data after the \"end\" line");
    ck_assert_uint_eq(lineno, 2);
    ck_assert_str_eq(refused("lava-auth 1 1\nend\nt m x\nend\n", NULL),
                     "data after the \"end\" line");
    ck_assert_str_eq(refused("lava-auth 1 1\r\nend\r\n", NULL),
                     "bad version in the header line");
}
END_TEST


START_TEST(test_hex)
{
    char  line[256];

    /* exactly 64 lower-case hex digits */
    ck_assert_int_eq(one_ok("m " H1 " m active"), LAVA_AUTHSNAP_OK);
    ck_assert_str_eq(one("m " H1 "0 m active", NULL), "bad \"m\" record");
    snprintf(line, sizeof(line), "m %.63s m active", H1);
    ck_assert_str_eq(one(line, NULL), "bad \"m\" record");
    snprintf(line, sizeof(line), "m %.63sA m active", H1);
    ck_assert_str_eq(one(line, NULL), "bad \"m\" record");
    snprintf(line, sizeof(line), "m %.63sg m active", H1);
    ck_assert_str_eq(one(line, NULL), "bad \"m\" record");
    snprintf(line, sizeof(line), "m %.63s: m active", H1);
    ck_assert_str_eq(one(line, NULL), "bad \"m\" record");
    snprintf(line, sizeof(line), "m %.63s/ m active", H1);
    ck_assert_str_eq(one(line, NULL), "bad \"m\" record");
    ck_assert_str_eq(one("m 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822C"
                         "D15D6C15B0F00A08 m active", NULL),
                     "bad \"m\" record");
    ck_assert_str_eq(one("m  m active", NULL), "bad \"m\" record");
}
END_TEST


START_TEST(test_duplicates)
{
    size_t  line;
    snap_t  s;

    /* counted fine, refused while building, with the line of the second */
    ck_assert_str_eq(refused("lava-auth 1 1\n"
                             "m " H1 " a active\n"
                             "m " H2 " b active\n"
                             "m " H1 " c disabled\n"
                             "end\n", &line),
                     "duplicate key hash");
    ck_assert_uint_eq(line, 4);
    ck_assert_str_eq(refused("lava-auth 1 1\n"
                             "c m x active\nc m x blocked\nend\n", &line),
                     "duplicate customer");
    ck_assert_uint_eq(line, 3);
    ck_assert_str_eq(refused("lava-auth 1 1\nt m chat\nt m chat\nend\n",
                             NULL),
                     "duplicate meter");

    /* the same id under two merchants, or as customer and meter: not one */
    ck_assert_int_eq(load_str(&s, "lava-auth 1 1\n"
                                  "c a x active\nc b x disabled\n"
                                  "c ab x active\nc a bx active\n"
                                  "t a x\nt b x\nend\n"), LAVA_AUTHSNAP_OK);
    ck_assert_int_eq(pair(&s, &s.snap->customers, "a", "x")->status,
                     LAVA_AUTHSNAP_ACTIVE);
    ck_assert_int_eq(pair(&s, &s.snap->customers, "b", "x")->status,
                     LAVA_AUTHSNAP_DISABLED);
    ck_assert_ptr_nonnull(pair(&s, &s.snap->customers, "ab", "x"));
    ck_assert_ptr_nonnull(pair(&s, &s.snap->customers, "a", "bx"));
    ck_assert_ptr_null(pair(&s, &s.snap->customers, "abx", ""));
    unload(&s);
}
END_TEST


/* many records in tables of > 2 n slots: every one found, others not */
START_TEST(test_many)
{
    char          *text, *p, hex[65], id[32];
    size_t         i, n, size;
    snap_t         s;
    unsigned char  h[LAVA_AUTHSNAP_HASH_LEN];

    n = 5000;
    /* header, then per i at most an m, a c and a t line */
    size = 64 + n * (2 + 64 + 1 + 16 + 8 + 2 + 12 + 1 + 16 + 8
                     + 2 + 10 + 1 + 16);
    text = malloc(size);
    ck_assert_ptr_nonnull(text);

    p = text + sprintf(text, "lava-auth 1 7\n");

    for (i = 0; i < n; i++) {
        p += sprintf(p, "m %08x%056zx mer_%zu active\n",
                     (unsigned) (i * 2654435761u), i, i);
        p += sprintf(p, "c mer_%zu cus_%zu %s\n", i % 97, i,
                     i % 3 ? "active" : "blocked");
        p += sprintf(p, "t mer_%zu m%zu\n", i % 97, i);
    }

    p += sprintf(p, "end\n");
    ck_assert_uint_lt((size_t) (p - text), size);

    ck_assert_int_eq(load(&s, text, (size_t) (p - text)), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.snap->merchants.n, n);
    ck_assert_uint_gt(s.snap->merchants.mask + 1, 2 * n);

    for (i = 0; i < n; i++) {
        sprintf(hex, "%08x%056zx", (unsigned) (i * 2654435761u), i);
        hash_of(hex, h);
        ck_assert_ptr_nonnull(lava_authsnap_find_merchant(s.snap, h));

        sprintf(id, "cus_%zu", i);
        sprintf(hex, "mer_%zu", i % 97);
        ck_assert_ptr_nonnull(pair(&s, &s.snap->customers, hex, id));
        ck_assert_ptr_null(pair(&s, &s.snap->customers, "mer_97", id));

        sprintf(id, "m%zu", i);
        ck_assert_ptr_nonnull(pair(&s, &s.snap->meters, hex, id));
    }

    sprintf(hex, "%08x%056zx", (unsigned) 2654435761u, (size_t) 2);
    hash_of(hex, h);
    ck_assert_ptr_null(lava_authsnap_find_merchant(s.snap, h));

    unload(&s);
    free(text);
}
END_TEST


/* restricted keys ("k") share the key table; unfunded customers ("u") */
START_TEST(test_restricted)
{
    snap_t                           s;
    size_t                           line;
    const lava_authsnap_merchant_t  *m;

    static const char  *text =
        "lava-auth 1 43\n"
        "m " H1 " mer_a active\n"
        "m " H2 " mer_b disabled\n"
        "k " H3 " mer_a active\n"
        "k " H4 " mer_b disabled\n"
        "c mer_a cus_1 active\n"
        "c mer_a cus_2 active\n"
        "c mer_a cus_3 blocked\n"
        "t mer_a chat\n"
        "u mer_a cus_2\n"
        "u mer_a cus_3\n"
        "end\n";

    ck_assert_int_eq(load_str(&s, text), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.ps.merchants, 4);
    ck_assert_uint_eq(s.ps.restricted, 2);
    ck_assert_uint_eq(s.ps.unfunded, 2);
    ck_assert_uint_eq(s.snap->unfunded.n, 2);

    m = merchant(&s, H1);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->restricted, 0);

    m = merchant(&s, H3);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->restricted, 1);
    ck_assert_int_eq(m->status, LAVA_AUTHSNAP_ACTIVE);
    ck_assert_int_eq(m->id_len, 5);
    ck_assert_int_eq(memcmp(s.snap->strings + m->id, "mer_a", 5), 0);

    m = merchant(&s, H4);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->restricted, 1);
    ck_assert_int_eq(m->status, LAVA_AUTHSNAP_DISABLED);

    ck_assert_ptr_null(pair(&s, &s.snap->unfunded, "mer_a", "cus_1"));
    ck_assert_ptr_nonnull(pair(&s, &s.snap->unfunded, "mer_a", "cus_2"));
    ck_assert_ptr_nonnull(pair(&s, &s.snap->unfunded, "mer_a", "cus_3"));
    ck_assert_ptr_null(pair(&s, &s.snap->unfunded, "mer_b", "cus_2"));
    /* the tables are apart: a "u" is not a customer, nor a "c" unfunded */
    ck_assert_int_eq(pair(&s, &s.snap->customers, "mer_a", "cus_2")->status,
                     LAVA_AUTHSNAP_ACTIVE);
    unload(&s);

    /* "u" before its "c", or with no "c" at all: order-free, kept */
    ck_assert_int_eq(load_str(&s, "lava-auth 1 1\nu m x\nc m x active\n"
                                  "u m y\nend\n"), LAVA_AUTHSNAP_OK);
    ck_assert_ptr_nonnull(pair(&s, &s.snap->unfunded, "m", "y"));
    unload(&s);

    /* fields as strict as "m" and "t" */
    ck_assert_str_eq(one("k " H1 " m blocked", NULL), "bad \"k\" record");
    ck_assert_str_eq(one("k " H1 " m", NULL), "bad \"k\" record");
    ck_assert_str_eq(one("k " H1 " m active x", NULL), "bad \"k\" record");
    ck_assert_str_eq(one("k 9F86D0 m active", NULL), "bad \"k\" record");
    ck_assert_str_eq(one("k " H1 " m/x active", NULL), "bad \"k\" record");
    ck_assert_str_eq(one("u m", NULL), "bad \"u\" record");
    ck_assert_str_eq(one("u m x active", NULL), "bad \"u\" record");
    ck_assert_str_eq(one("u m  x", NULL), "bad \"u\" record");
    ck_assert_str_eq(one("u m x/y", NULL), "bad \"u\" record");

    /* one hash is one key: never both full and restricted */
    ck_assert_str_eq(refused("lava-auth 1 1\n"
                             "m " H1 " a active\n"
                             "k " H1 " a active\n"
                             "end\n", &line),
                     "duplicate key hash");
    ck_assert_uint_eq(line, 3);
    ck_assert_str_eq(refused("lava-auth 1 1\n"
                             "k " H1 " a active\n"
                             "k " H1 " b active\n"
                             "end\n", NULL),
                     "duplicate key hash");
    ck_assert_str_eq(refused("lava-auth 1 1\nu m x\nu m x\nend\n", &line),
                     "duplicate unfunded customer");
    ck_assert_uint_eq(line, 3);
}
END_TEST


/*
 * An older module (the parser before "k" and "u") skips unknown letters: a
 * restricted key is then unknown (401), never a full key. Modelled here by
 * the forward-compatibility rule itself: a letter this parser does not
 * know is skipped the same way.
 */
START_TEST(test_restricted_old_reader)
{
    snap_t  s;

    ck_assert_int_eq(load_str(&s, "lava-auth 1 1\n"
                                  "m " H1 " a active\n"
                                  "q " H3 " a active\n"
                                  "v a x\n"
                                  "end\n"), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.ps.merchants, 1);
    ck_assert_ptr_null(merchant(&s, H3));
    unload(&s);
}
END_TEST



START_TEST(test_sticky)
{
    char                   *block;
    size_t                  size;
    lava_authsnap_parse_t   ps;
    const char             *bad = "lava-auth 1 1\nt m\nend\n";
    const char             *t2 = "lava-auth 1 1\nt m a\nt m b\nend\n";
    const char             *t3 = "lava-auth 1 1\nt m a\nt m b\nt m c\nend\n";
    const char             *v2 = "lava-auth 1 2\nt m a\nt m b\nend\n";
    const char             *longer = "lava-auth 1 1\nt m aa\nt m bb\nend\n";

    /* build refuses what was not counted, or was refused */
    memset(&ps, 0, sizeof(ps));
    block = aligned_alloc(8, 4096);
    ck_assert_ptr_nonnull(block);
    ck_assert_ptr_null(lava_authsnap_build(&ps, t2, strlen(t2), block, 4096));
    ck_assert_ptr_nonnull(ps.err);

    ck_assert_int_eq(lava_authsnap_count(&ps, bad, strlen(bad)),
                     LAVA_AUTHSNAP_ERROR);
    ck_assert_str_eq(ps.err, "bad \"t\" record");
    ck_assert_uint_eq(lava_authsnap_size(&ps), 0);
    ck_assert_ptr_null(lava_authsnap_build(&ps, t2, strlen(t2), block, 4096));
    ck_assert_str_eq(ps.err, "bad \"t\" record");

    /* a new count starts afresh */
    ck_assert_int_eq(lava_authsnap_count(&ps, t2, strlen(t2)),
                     LAVA_AUTHSNAP_OK);
    ck_assert_ptr_null(ps.err);
    size = lava_authsnap_size(&ps);
    ck_assert_uint_le(size, 4096);

    /* a block too small or misaligned */
    ck_assert_ptr_null(lava_authsnap_build(&ps, t2, strlen(t2), block,
                                           size - 1));
    ck_assert_ptr_nonnull(ps.err);
    ck_assert_ptr_null(lava_authsnap_build(&ps, t2, strlen(t2), block, size));

    ck_assert_int_eq(lava_authsnap_count(&ps, t2, strlen(t2)),
                     LAVA_AUTHSNAP_OK);
    ck_assert_ptr_null(lava_authsnap_build(&ps, t2, strlen(t2), block + 4,
                                           size));
    ck_assert_ptr_nonnull(ps.err);

    /* a text changed between the passes never writes past the block */
    ck_assert_int_eq(lava_authsnap_count(&ps, t2, strlen(t2)),
                     LAVA_AUTHSNAP_OK);
    ck_assert_ptr_null(lava_authsnap_build(&ps, t3, strlen(t3), block, size));
    ck_assert_str_eq(ps.err, "snapshot text changed between the passes");

    ck_assert_int_eq(lava_authsnap_count(&ps, t2, strlen(t2)),
                     LAVA_AUTHSNAP_OK);
    ck_assert_ptr_null(lava_authsnap_build(&ps, longer, strlen(longer), block,
                                           size));
    ck_assert_str_eq(ps.err, "snapshot text changed between the passes");

    ck_assert_int_eq(lava_authsnap_count(&ps, t2, strlen(t2)),
                     LAVA_AUTHSNAP_OK);
    ck_assert_ptr_null(lava_authsnap_build(&ps, v2, strlen(v2), block, size));
    ck_assert_str_eq(ps.err, "snapshot text changed between the passes");

    /* and the same text builds */
    ck_assert_int_eq(lava_authsnap_count(&ps, t2, strlen(t2)),
                     LAVA_AUTHSNAP_OK);
    ck_assert_ptr_nonnull(lava_authsnap_build(&ps, t2, strlen(t2), block,
                                              size));

    free(block);
}
END_TEST


/* errors are fixed strings: no byte of the text (ids, hashes) in them */
START_TEST(test_no_echo)
{
    size_t       i;
    const char  *err;
    const char  *texts[] = {
        "lava-auth 1 1\nm " H1 " secretid active\n"
        "m " H1 " secretid active\nend\n",
        "lava-auth 1 1\nc secretid secretid activ\nend\n",
        "lava-auth 1 secretid\nend\n",
        "secretid\n",
        "lava-auth 1 1\n# secretid\nend\n",
        "lava-auth 1 1\nk " H1 " secretid active\n"
        "m " H1 " secretid active\nend\n",
        "lava-auth 1 1\nu secretid secretid\nu secretid secretid\nend\n",
        "lava-auth 1 1\nu secretid secretid active\nend\n",
    };

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        err = refused(texts[i], NULL);
        ck_assert_ptr_null(strstr(err, "secretid"));
        ck_assert_ptr_null(strstr(err, "9f86d0"));
    }
}
END_TEST



/* wallet reservations: w, r and f records (docs/auth-sync.md) */
static const char  *wallet_snapshot =
    "lava-auth 1 9\n"
    "m " H1 " mer_a active\n"
    "c mer_a cus_1 active\n"
    "c mer_a cus_2 blocked\n"
    "t mer_a chat\n"
    "w mer_a cus_1 10000\n"
    "w mer_a cus_2 -250\n"
    "r openai gpt-4o-mini 152850 611400\n"
    "r openai models/x:y@z 1 2\n"
    "r openai * 15285000 61140000\n"
    "r anthropic claude-opus-4-1 15285000 76425000\n"
    "f mer_a chat 200000 0 0\n"
    "f mer_a per_call 0 5095000 1019\n"
    "end\n";


START_TEST(test_wallet_records)
{
    int      dflt;
    snap_t   s;
    int64_t  h, in, out, fee[3];

    ck_assert_int_eq(load_str(&s, wallet_snapshot), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.ps.wallets, 2);
    ck_assert_uint_eq(s.ps.rates, 4);
    ck_assert_uint_eq(s.ps.fees, 2);

    /* the tables of an older snapshot are unchanged */
    ck_assert_uint_eq(s.snap->customers.n, 2);
    ck_assert_ptr_nonnull(pair(&s, &s.snap->customers, "mer_a", "cus_2"));

    ck_assert_int_eq(lava_authsnap_wallet(s.snap, "mer_a", 5, "cus_1", 5, &h),
                     1);
    ck_assert_int_eq(h, 10000);
    ck_assert_int_eq(lava_authsnap_wallet(s.snap, "mer_a", 5, "cus_2", 5, &h),
                     1);
    ck_assert_int_eq(h, -250);
    ck_assert_int_eq(lava_authsnap_wallet(s.snap, "mer_a", 5, "cus_3", 5, &h),
                     0);
    ck_assert_int_eq(lava_authsnap_wallet(s.snap, "mer_b", 5, "cus_1", 5, &h),
                     0);

    ck_assert_int_eq(lava_authsnap_rate(s.snap, "openai", 6, "gpt-4o-mini", 11,
                                        &in, &out, &dflt), 1);
    ck_assert_int_eq(in, 152850);
    ck_assert_int_eq(out, 611400);
    ck_assert_int_eq(dflt, 0);

    /* models take any printable byte but space */
    ck_assert_int_eq(lava_authsnap_rate(s.snap, "openai", 6, "models/x:y@z",
                                        12, &in, &out, &dflt), 1);
    ck_assert_int_eq(out, 2);

    /* a model without rows: the provider's "*" */
    ck_assert_int_eq(lava_authsnap_rate(s.snap, "openai", 6, "gpt-9", 5,
                                        &in, &out, &dflt), 1);
    ck_assert_int_eq(in, 15285000);
    ck_assert_int_eq(out, 61140000);
    ck_assert_int_eq(dflt, 1);
    ck_assert_int_eq(lava_authsnap_rate(s.snap, "openai", 6, "", 0,
                                        &in, &out, &dflt), 1);
    ck_assert_int_eq(dflt, 1);

    /* a provider without any record */
    ck_assert_int_eq(lava_authsnap_rate(s.snap, "anthropic", 9, "claude-x", 8,
                                        &in, &out, &dflt), 0);
    ck_assert_int_eq(lava_authsnap_rate(s.snap, "mistral", 7, "gpt-4o-mini",
                                        11, &in, &out, &dflt), 0);

    ck_assert_int_eq(lava_authsnap_fee(s.snap, "mer_a", 5, "chat", 4, fee), 1);
    ck_assert_int_eq(fee[0], 200000);
    ck_assert_int_eq(lava_authsnap_fee(s.snap, "mer_a", 5, "per_call", 8, fee),
                     1);
    ck_assert_int_eq(fee[1], 5095000);
    ck_assert_int_eq(fee[2], 1019);
    ck_assert_int_eq(lava_authsnap_fee(s.snap, "mer_a", 5, "other", 5, fee), 0);

    unload(&s);

    /* a snapshot without them: every lookup misses */
    ck_assert_int_eq(load_str(&s, snapshot), LAVA_AUTHSNAP_OK);
    ck_assert_int_eq(lava_authsnap_wallet(s.snap,
                                          "mer_5a1f0c2e9b7d4a3c8e6f1b2d", 28,
                                          "cus_0b7e2d4f6a8c1e3b5d7f9a2c", 28,
                                          &h), 0);
    ck_assert_int_eq(lava_authsnap_rate(s.snap, "openai", 6, "x", 1, &in,
                                        &out, &dflt), 0);
    unload(&s);
}
END_TEST


START_TEST(test_wallet_refused)
{
    size_t  line;

#define HEAD  "lava-auth 1 1\n"

    ck_assert_str_eq(refused(HEAD "w m c\nend\n", &line), "bad \"w\" record");
    ck_assert_uint_eq(line, 2);
    ck_assert_str_eq(refused(HEAD "w m c 1 2\nend\n", NULL),
                     "bad \"w\" record");
    ck_assert_str_eq(refused(HEAD "w m c +1\nend\n", NULL), "bad \"w\" record");
    ck_assert_str_eq(refused(HEAD "w m c -\nend\n", NULL), "bad \"w\" record");
    ck_assert_str_eq(refused(HEAD "w m c 9223372036854775808\nend\n", NULL),
                     "bad \"w\" record");
    ck_assert_str_eq(refused(HEAD "w m c -9223372036854775809\nend\n", NULL),
                     "bad \"w\" record");
    ck_assert_str_eq(refused(HEAD "w m c/x 1\nend\n", NULL),
                     "bad \"w\" record");
    ck_assert_str_eq(refused(HEAD "w m c 1\nw m c 2\nend\n", &line),
                     "duplicate wallet");
    ck_assert_uint_eq(line, 3);

    ck_assert_str_eq(refused(HEAD "r p m 1\nend\n", NULL), "bad \"r\" record");
    ck_assert_str_eq(refused(HEAD "r p m -1 1\nend\n", NULL),
                     "bad \"r\" record");
    ck_assert_str_eq(refused(HEAD "r p m\x7f 1 1\nend\n", NULL),
                     "bad \"r\" record");
    ck_assert_str_eq(refused(HEAD "r p/q m 1 1\nend\n", NULL),
                     "bad \"r\" record");
    ck_assert_str_eq(refused(HEAD "r p * 1 1\nr p * 2 2\nend\n", NULL),
                     "duplicate rate");

    ck_assert_str_eq(refused(HEAD "f m t 1 1\nend\n", NULL), "bad \"f\" record");
    ck_assert_str_eq(refused(HEAD "f m t 1 1 -1\nend\n", NULL),
                     "bad \"f\" record");
    ck_assert_str_eq(refused(HEAD "f m t 1 1 1 1\nend\n", NULL),
                     "bad \"f\" record");
    ck_assert_str_eq(refused(HEAD "f m t 0 0 0\nf m t 0 0 0\nend\n", NULL),
                     "duplicate fee");

#undef HEAD

    {
        snap_t   s;
        int64_t  h;
        char     model[LAVA_AUTHSNAP_MODEL_MAX + 40];

        /* the extremes of the numbers */
        ck_assert_int_eq(load_str(&s, "lava-auth 1 1\n"
                                      "w m a -9223372036854775808\n"
                                      "w m b 9223372036854775807\n"
                                      "w m c -0\nend\n"), LAVA_AUTHSNAP_OK);
        ck_assert_int_eq(lava_authsnap_wallet(s.snap, "m", 1, "a", 1, &h), 1);
        ck_assert(h == INT64_MIN);
        ck_assert_int_eq(lava_authsnap_wallet(s.snap, "m", 1, "b", 1, &h), 1);
        ck_assert(h == INT64_MAX);
        ck_assert_int_eq(lava_authsnap_wallet(s.snap, "m", 1, "c", 1, &h), 1);
        ck_assert(h == 0);
        unload(&s);

        /* a model of 255 bytes is taken, 256 refused */
        sprintf(model, "lava-auth 1 1\nr p %0255d 1 1\nend\n", 7);
        ck_assert_int_eq(load_str(&s, model), LAVA_AUTHSNAP_OK);
        unload(&s);
        sprintf(model, "lava-auth 1 1\nr p %0256d 1 1\nend\n", 7);
        ck_assert_str_eq(refused(model, NULL), "bad \"r\" record");
    }
}
END_TEST


/*
 * The size a snapshot of 10 000 block-policy customers reaches and what
 * parsing it costs: worker 0 parses each version it loads (the version now
 * moves with every booking of such a wallet, at most once per publish
 * interval). Measured, and bounded loosely so a slow machine passes.
 */
/* "d": when the ledger first priced a model (GET /v1/models "created") */
START_TEST(test_model_dates)
{
#define HEAD  "lava-auth 1 1\n"

    snap_t   s;
    size_t   line;

    ck_assert_int_eq(load_str(&s, HEAD "r openai gpt-4o 1 2\n"
                              "d openai gpt-4o 1735689600\n"
                              "d openai models/x:y@z 1\n"
                              "r openai * 1 2\nend\n"), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.ps.dates, 2);
    ck_assert(lava_authsnap_created(s.snap, "openai", 6, "gpt-4o", 6)
              == 1735689600);
    ck_assert(lava_authsnap_created(s.snap, "openai", 6, "models/x:y@z", 12)
              == 1);
    ck_assert(lava_authsnap_created(s.snap, "openai", 6, "gpt-4o-mini", 11)
              == 0);
    ck_assert(lava_authsnap_created(s.snap, "anthropic", 9, "gpt-4o", 6) == 0);
    unload(&s);

    /* a snapshot without them (an older publisher): 0, unknown */
    ck_assert_int_eq(load_str(&s, wallet_snapshot), LAVA_AUTHSNAP_OK);
    ck_assert(lava_authsnap_created(s.snap, "openai", 6, "gpt-4o-mini", 11)
              == 0);
    unload(&s);

    ck_assert_str_eq(refused(HEAD "d p m\nend\n", &line), "bad \"d\" record");
    ck_assert_uint_eq(line, 2);
    ck_assert_str_eq(refused(HEAD "d p m -1\nend\n", NULL),
                     "bad \"d\" record");
    ck_assert_str_eq(refused(HEAD "d p m 1 2\nend\n", NULL),
                     "bad \"d\" record");
    ck_assert_str_eq(refused(HEAD "d p/q m 1\nend\n", NULL),
                     "bad \"d\" record");
    ck_assert_str_eq(refused(HEAD "d p m 1\nd p m 2\nend\n", NULL),
                     "duplicate model date");
#undef HEAD
}
END_TEST


START_TEST(test_wallet_10k)
{
    char            *text, *p;
    size_t           i, n, size, len;
    snap_t           s;
    int64_t          h;
    struct timespec  t0, t1;
    double           ms;

    n = 10000;
    size = 256 + n * 200 + 300 * 80;
    text = malloc(size);
    ck_assert_ptr_nonnull(text);

    p = text + sprintf(text, "lava-auth 1 77\n");
    p += sprintf(p, "m " H1 " mer_5a1f0c2e9b7d4a3c8e6f1b2d active\n");

    for (i = 0; i < n; i++) {
        p += sprintf(p, "c mer_5a1f0c2e9b7d4a3c8e6f1b2d cus_%026zu active\n",
                     i);
    }
    p += sprintf(p, "t mer_5a1f0c2e9b7d4a3c8e6f1b2d chat\n");
    for (i = 0; i < n; i++) {
        p += sprintf(p, "w mer_5a1f0c2e9b7d4a3c8e6f1b2d cus_%026zu %zu\n",
                     i, i * 1000003);
    }
    for (i = 0; i < 300; i++) {
        p += sprintf(p, "r openai model-%zu-2025-01-01 %zu %zu\n", i,
                     i * 1000, i * 4000);
    }
    p += sprintf(p, "end\n");
    len = (size_t) (p - text);
    ck_assert_uint_lt(len, size);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(load(&s, text, len), LAVA_AUTHSNAP_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3
         + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;

    fprintf(stderr, "authsnap: 10k customers with wallets: %zu bytes of "
            "text, %zu bytes of block, parsed in %.2f ms\n",
            len, s.snap->size, ms);

    for (i = 0; i < n; i += 997) {
        char  c[64];

        sprintf(c, "cus_%026zu", i);
        ck_assert_int_eq(lava_authsnap_wallet(s.snap,
                                              "mer_5a1f0c2e9b7d4a3c8e6f1b2d",
                                              28, c, 30, &h), 1);
        ck_assert_int_eq(h, (int64_t) (i * 1000003));
    }

    ck_assert(ms < 1000.0);
    ck_assert_uint_lt(len, 2 * 1024 * 1024);

    unload(&s);
    free(text);
}
END_TEST

Suite *
make_suite(void)
{
    Suite  *s = suite_create("authsnap");
    TCase  *tc = tcase_create("parse");

    tcase_add_test(tc, test_snapshot);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_header);
    tcase_add_test(tc, test_u64);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_hex);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_restricted);
    tcase_add_test(tc, test_restricted_old_reader);
    tcase_add_test(tc, test_sticky);
    tcase_add_test(tc, test_no_echo);
    tcase_add_test(tc, test_wallet_records);
    tcase_add_test(tc, test_wallet_refused);
    tcase_add_test(tc, test_wallet_10k);
    tcase_add_test(tc, test_model_dates);
    suite_add_tcase(s, tc);

    return s;
}
