/*
 * Auth snapshot (docs/auth-sync.md): the text the sidecar publishes in Redis,
 * checked and built into one block of four open-addressing tables (key
 * hashes, customers, meters, unfunded customers) that the module keeps in
 * the lava_auth_zone shared memory and looks up on the request path.
 *
 * Modelled on hiredis read.c: no I/O and no allocation, explicit limits,
 * sticky error. The caller owns the memory; two passes over the same text:
 *
 *   lava_authsnap_count()   checks the whole text, counts records and id bytes
 *   lava_authsnap_size()    bytes of the block those counts need
 *   lava_authsnap_build()   fills a block of that size given by the caller
 *                           (the module: one ngx_slab_alloc() in the zone)
 *                           and refuses duplicates
 *
 * A refused text leaves err (a fixed reason, never a byte of the text: it
 * holds ids and key hashes) and line set, and every later call on the same
 * parse state fails.
 *
 * Layout of a block:
 *   header | entries (and numbers) of each table | slot arrays of the
 *   tables | id strings
 * The block holds plain pointers into itself: it is used at the address it
 * was built at (the module's zone is mapped at the same address in every
 * process).
 */

#ifndef LAVA_AUTHSNAP_H
#define LAVA_AUTHSNAP_H

#include <stddef.h>
#include <stdint.h>

#define LAVA_AUTHSNAP_FORMAT     "1"      /* text format of the header line */
#define LAVA_AUTHSNAP_HASH_LEN   32       /* SHA-256 of a secret key */
#define LAVA_AUTHSNAP_ID_MAX     64       /* bytes of an id or meter slug */
/* records of one kind: slots (> 2 n, a power of two) fit in 32 bits */
#define LAVA_AUTHSNAP_RECORDS_MAX  (UINT32_MAX / 4)
#define LAVA_AUTHSNAP_STRINGS_MAX  UINT32_MAX   /* id bytes of a snapshot */

#define LAVA_AUTHSNAP_OK          0
#define LAVA_AUTHSNAP_ERROR      -1

/* status of a record */
#define LAVA_AUTHSNAP_ACTIVE      0
#define LAVA_AUTHSNAP_DISABLED    1
#define LAVA_AUTHSNAP_BLOCKED     2      /* customers: wallet at its minimum */


/* a secret key: "m" (full) or "k" (restricted) record */
typedef struct {
    unsigned char   hash[LAVA_AUTHSNAP_HASH_LEN];
    uint32_t        id;                 /* offset in strings */
    uint8_t         id_len;
    uint8_t         status;             /* ACTIVE or DISABLED */
    uint8_t         restricted;         /* 1: "k", customer billing only */
} lava_authsnap_merchant_t;


/*
 * customer or unfunded customer (merchant id, customer id), meter (merchant
 * id, slug), wallet (merchant id, customer id), rate bound (provider, model)
 * or fee bound (merchant id, meter slug)
 */
typedef struct {
    uint32_t        hash;               /* lava_authsnap_pair_hash(other) */
    uint32_t        str;                /* merchant id, then the other */
    uint8_t         mlen;
    uint8_t         olen;
    uint8_t         status;             /* LAVA_AUTHSNAP_ACTIVE... */
} lava_authsnap_pair_t;


typedef struct {
    uint32_t        n;                  /* entries */
    uint32_t        mask;               /* slots - 1; slots > 2 n */
    uint32_t       *slots;              /* entry index + 1; 0: free */
    void           *entries;
    int64_t        *vals;               /* wallets, rates, fees: the
                                           record's numbers, k per entry
                                           (LAVA_AUTHSNAP_*_VALS) */
} lava_authsnap_table_t;


/* numbers of a w, r and f record (docs/auth-sync.md) */
#define LAVA_AUTHSNAP_WALLET_VALS  1    /* headroom_nusd (may be <= 0) */
#define LAVA_AUTHSNAP_RATE_VALS    2    /* in, out: nusd per 1M tokens */
#define LAVA_AUTHSNAP_FEE_VALS     3    /* ppm, nusd per 1M tokens, nusd
                                           per request */
#define LAVA_AUTHSNAP_MODEL_MAX    255  /* bytes of a model of an r record */
#define LAVA_AUTHSNAP_DATE_VALS    1    /* "d": unix seconds */
#define LAVA_AUTHSNAP_TABLES       14   /* m+k, c, t, w, r, f, u, s+x,
                                           a m, a p, l, b, p, d */

/* spend keys (docs/spend-keys.md): "s" and "x" records */
#define LAVA_AUTHSNAP_SPK_ACTIVE   0
#define LAVA_AUTHSNAP_SPK_PAUSED   1
#define LAVA_AUTHSNAP_SPK_REVOKED  2    /* "x": only hash and id known */

typedef struct {
    unsigned char   hash[LAVA_AUTHSNAP_HASH_LEN];
    int64_t         expires;            /* unix s; 0 never */
    uint32_t        str;                /* id, merchant, customer, meter */
    uint8_t         id_len;
    uint8_t         mlen;
    uint8_t         clen;               /* 0: the merchant pays */
    uint8_t         tlen;               /* 0: no meter */
    uint8_t         status;             /* LAVA_AUTHSNAP_SPK_* */
    uint8_t         shape;              /* lava_spk_shape_e */
    uint8_t         flags;              /* LAVA_SPK_F_* */
} lava_authsnap_spendkey_t;

/* numbers of an "l" record, in its order */
enum {
    LAVA_AUTHSNAP_L_RPM = 0,
    LAVA_AUTHSNAP_L_BURST,
    LAVA_AUTHSNAP_L_REQ_CYCLE,          /* lava_spk_cycle_e */
    LAVA_AUTHSNAP_L_REQ_LIMIT,
    LAVA_AUTHSNAP_L_REQ_USED,
    LAVA_AUTHSNAP_L_SPEND_CYCLE,
    LAVA_AUTHSNAP_L_SPEND_LIMIT,        /* nusd */
    LAVA_AUTHSNAP_L_SPEND_USED,         /* nusd */
    LAVA_AUTHSNAP_L_REQ_START,          /* unix s of the counted cycle */
    LAVA_AUTHSNAP_L_SPEND_START,
    LAVA_AUTHSNAP_LIMIT_VALS
};

#define LAVA_AUTHSNAP_MARK_VALS    2    /* "b": ms, seq of a stream id */


typedef struct {
    uint64_t                version;
    size_t                  size;       /* bytes of the block */
    lava_authsnap_table_t   merchants;
    lava_authsnap_table_t   customers;
    lava_authsnap_table_t   meters;
    lava_authsnap_table_t   wallets;    /* w: customers whose wallet is
                                           reserved against */
    lava_authsnap_table_t   rates;      /* r: bound of a token's cost */
    lava_authsnap_table_t   fees;       /* f: bound of a meter's fee */
    lava_authsnap_table_t   unfunded;   /* u: wallet at or below its
                                           minimum, whatever its policy */
    lava_authsnap_table_t   spendkeys;  /* s and x, by key hash */
    lava_authsnap_table_t   models;     /* a <id> m: (key id, model) */
    lava_authsnap_table_t   providers;  /* a <id> p: (key id, provider) */
    lava_authsnap_table_t   limits;     /* l: (key id, ""), LIMIT_VALS */
    lava_authsnap_table_t   marks;      /* b: (stream, ""), MARK_VALS */
    lava_authsnap_table_t   unpriced;   /* p: (merchant, "") */
    lava_authsnap_table_t   dates;      /* d: (provider, model), the
                                           model's first price, unix s */
    char                   *strings;
    size_t                  strings_len;
} lava_authsnap_t;


typedef struct {
    uint64_t        version;            /* of the header line */
    size_t          merchants;          /* records counted: "m" and "k" */
    size_t          restricted;         /* of them "k" */
    size_t          customers;
    size_t          meters;
    size_t          wallets;            /* "w" */
    size_t          rates;              /* "r" */
    size_t          fees;               /* "f" */
    size_t          unfunded;           /* "u" */
    size_t          spendkeys;          /* "s" and "x" */
    size_t          revoked;            /* of them "x" */
    size_t          models;             /* "a <id> m" */
    size_t          providers;          /* "a <id> p" */
    size_t          limits;             /* "l" */
    size_t          marks;              /* "b" */
    size_t          unpriced;           /* "p" */
    size_t          dates;              /* "d" */
    size_t          strings;            /* bytes of ids */
    size_t          line;               /* lines read; the refused one */
    const char     *err;                /* sticky; NULL: no error */
    int             counted;            /* lava_authsnap_count() succeeded */
} lava_authsnap_parse_t;


/*
 * Pass one: the whole text is checked and counted into ps (reset first).
 * Strict: a header line "lava-auth 1 <version>", every line ends with '\n',
 * fields are separated by one space, ids match [A-Za-z0-9_.:-]{1,64}, hashes
 * are 64 lower-case hex digits, the last line is "end". Records of an
 * unknown single letter are skipped (forward compatibility).
 */
int lava_authsnap_count(lava_authsnap_parse_t *ps, const char *text,
    size_t len);

/* Bytes of the block for the counted records; 0 after an error. */
size_t lava_authsnap_size(const lava_authsnap_parse_t *ps);

/*
 * Pass two: builds the snapshot in block (size bytes, at least
 * lava_authsnap_size(), 8-byte aligned) from the same text. NULL and ps->err
 * set on a duplicate key hash ("m" and "k" alike), customer, meter or
 * unfunded customer, or on a text that is not the one counted.
 */
lava_authsnap_t *lava_authsnap_build(lava_authsnap_parse_t *ps,
    const char *text, size_t len, void *block, size_t size);

/* Lookups; NULL: not in the snapshot. hash: LAVA_AUTHSNAP_HASH_LEN bytes. */
const lava_authsnap_merchant_t *lava_authsnap_find_merchant(
    const lava_authsnap_t *snap, const unsigned char *hash);

/*
 * Pairs are hashed on the customer id or meter slug only, so the caller can
 * hash before it knows the merchant (outside its lock); the lookup compares
 * the merchant id too.
 */
uint32_t lava_authsnap_pair_hash(const char *o, size_t olen);
const lava_authsnap_pair_t *lava_authsnap_find_pair(
    const lava_authsnap_t *snap, const lava_authsnap_table_t *t,
    uint32_t hash, const char *m, size_t mlen, const char *o, size_t olen);

/*
 * Wallet reservations (ngx_http_lava_wallet.c). Each returns 1 and fills
 * the record's numbers, or 0: no such record.
 *   wallet: headroom_nusd of (merchant, customer): balance - minimum
 *   rate:   the (provider, model) record, else the provider's "*" record
 *           (*dflt set to 1 then); in and out, nusd per 1M tokens
 *   fee:    the (merchant, meter) record: ppm, nusd per 1M tokens, nusd per
 *           request
 */
int lava_authsnap_wallet(const lava_authsnap_t *snap, const char *m,
    size_t mlen, const char *c, size_t clen, int64_t *headroom);
int lava_authsnap_rate(const lava_authsnap_t *snap, const char *p,
    size_t plen, const char *model, size_t mlen, int64_t *in, int64_t *out,
    int *dflt);
/*
 * The unix time (s) from which the ledger first priced (provider, model)
 * (its "d" record: the earliest effective_from of the model's rate rows),
 * 0 when the snapshot has none (a publisher before "d" records, a model
 * without rows of its own).
 */
int64_t lava_authsnap_created(const lava_authsnap_t *snap, const char *p,
    size_t plen, const char *model, size_t mlen);
int lava_authsnap_fee(const lava_authsnap_t *snap, const char *m,
    size_t mlen, const char *t, size_t tlen, int64_t vals[3]);

/*
 * Spend keys (docs/spend-keys.md). find_spendkey: the "s" or "x" record of
 * a key hash, NULL unknown. The others return 1 found, 0 not:
 *   listed:   (key id, name) in models or providers; a model is also
 *             found by its undated name (lava_spk_model_match)
 *   limits:   the key's "l" numbers (LAVA_AUTHSNAP_LIMIT_VALS)
 *   mark:     the booked-through stream id of a stream ("b")
 *   unpriced: the merchant refuses models without a rate ("p")
 *   priced:   the model has an "r" record of its own, as given or undated
 *             (the provider's "*" bound does not count)
 *   meter_only: the provider is billed on the merchant's meter alone: its
 *             "*" record is "0 0" (docs/auth-sync.md); a provider whose
 *             every rate is 0 looks the same
 */
const lava_authsnap_spendkey_t *lava_authsnap_find_spendkey(
    const lava_authsnap_t *snap, const unsigned char *hash);
int lava_authsnap_listed(const lava_authsnap_t *snap,
    const lava_authsnap_table_t *t, const char *id, size_t idlen,
    const char *name, size_t nlen, int model);
int lava_authsnap_limits(const lava_authsnap_t *snap, const char *id,
    size_t idlen, int64_t vals[LAVA_AUTHSNAP_LIMIT_VALS]);
int lava_authsnap_mark(const lava_authsnap_t *snap, const char *stream,
    size_t len, uint64_t *ms, uint64_t *seq);
int lava_authsnap_unpriced(const lava_authsnap_t *snap, const char *m,
    size_t mlen);
int lava_authsnap_priced(const lava_authsnap_t *snap, const char *p,
    size_t plen, const char *model, size_t mlen);
int lava_authsnap_meter_only(const lava_authsnap_t *snap, const char *p,
    size_t plen);

/* Decimal digits only, no sign, at most 2^64 - 1 (the version numbers). */
int lava_authsnap_u64(const char *p, size_t len, uint64_t *out);

/* An optional '-' and decimal digits, within int64_t. */
int lava_authsnap_i64(const char *p, size_t len, int64_t *out);

#endif /* LAVA_AUTHSNAP_H */
