/*
 * Spend keys (docs/spend-keys.md): the arithmetic the module applies to
 * them on the request path. Pure C, no I/O, no allocation, no nginx types:
 *
 *   the raw key's shape          "lava_spk_" + 64 lower-case hex digits
 *   cycles                       calendar periods in UTC: the start of the
 *                                daily, weekly (ISO week, from Monday) or
 *                                monthly cycle holding a time; total: 0
 *   the rate limit               a token bucket of rpm + burst tokens,
 *                                refilled at rpm tokens per 60 s, in exact
 *                                integer arithmetic (never a double)
 *   allow-lists                  a model matches a listed name as given or
 *                                without its date suffix
 *
 * The snapshot records that carry a key's settings are read by
 * lib/lava_authsnap.c; the shared memory that holds the buckets is the
 * module's (ngx_http_lava_spendkey.c).
 */

#ifndef LAVA_SPENDKEY_H
#define LAVA_SPENDKEY_H

#include <stddef.h>
#include <stdint.h>

#define LAVA_SPK_PREFIX       "lava_spk_"
#define LAVA_SPK_PREFIX_LEN   (sizeof(LAVA_SPK_PREFIX) - 1)
#define LAVA_SPK_HEX_LEN      64          /* 32 random bytes */
#define LAVA_SPK_KEY_LEN      (LAVA_SPK_PREFIX_LEN + LAVA_SPK_HEX_LEN)

/* cycles of request_limit and spend_limit; NONE: no such limit ("-") */
typedef enum {
    LAVA_SPK_CYCLE_NONE = 0,
    LAVA_SPK_CYCLE_DAILY,
    LAVA_SPK_CYCLE_WEEKLY,
    LAVA_SPK_CYCLE_MONTHLY,
    LAVA_SPK_CYCLE_TOTAL
} lava_spk_cycle_e;

/* request shape of a key (RestSpendKey.request_shape) */
typedef enum {
    LAVA_SPK_SHAPE_OPENAI = 0,
    LAVA_SPK_SHAPE_ANTHROPIC
} lava_spk_shape_e;

/* flags of an "s" record (docs/auth-sync.md) */
#define LAVA_SPK_F_REFUSE_UNPRICED   0x1   /* model_not_priced */
#define LAVA_SPK_F_MODELS            0x2   /* allowed_models list present */
#define LAVA_SPK_F_PROVIDERS         0x4   /* allowed_providers present */
#define LAVA_SPK_F_ALL               0x7

/* units of the bucket: one request is this many units; rpm units refill
 * per ms, so the arithmetic is exact */
#define LAVA_SPK_UNITS_PER_TOKEN     60000

/*
 * A token bucket. Zero-initialised it is full at the first take (last_ms 0
 * means never used). tokens in units (LAVA_SPK_UNITS_PER_TOKEN a request).
 */
typedef struct {
    int64_t   units;
    int64_t   last_ms;                 /* wall clock of the last refill */
} lava_spk_bucket_t;

typedef struct {
    int64_t   remaining;               /* whole requests left after this */
    int64_t   retry_after_ms;          /* refused: until one token is back */
    int64_t   reset_ms;                /* until the bucket is full again */
} lava_spk_take_t;


/* 1: s is "lava_spk_" + 64 lower-case hex digits; 0 otherwise */
int lava_spk_key_valid(const char *s, size_t len);

/* 1: s starts with "lava_spk_" (a spend key, well-formed or not) */
int lava_spk_key_prefixed(const char *s, size_t len);

/* "daily", "weekly", "monthly", "total", "-" (NONE); -1 anything else */
int lava_spk_cycle_parse(const char *s, size_t len);
const char *lava_spk_cycle_name(lava_spk_cycle_e c);

/*
 * The start (unix seconds, UTC) of the cycle holding now_s: 00:00 of the
 * day, Monday 00:00 of the ISO week, 00:00 of the 1st of the month; 0 for
 * total and none.
 */
int64_t lava_spk_cycle_start(lava_spk_cycle_e c, int64_t now_s);

/*
 * Takes one request from the bucket of rpm (> 0) and burst at now_ms.
 * Returns 1 taken, 0 refused (the bucket is unchanged then but for the
 * refill); out (may be NULL) gets the numbers of the headers. commit 0:
 * only says whether one could be taken, nothing changes.
 */
int lava_spk_bucket_take(lava_spk_bucket_t *b, int64_t rpm, int64_t burst,
    int64_t now_ms, int commit, lava_spk_take_t *out);

/* Whole requests in a bucket at now_ms, without changing it. */
int64_t lava_spk_bucket_level(const lava_spk_bucket_t *b, int64_t rpm,
    int64_t burst, int64_t now_ms);

/*
 * 1: model matches the listed name: as given, or the model without its
 * date suffix (lava_reserve_undated(): "gpt-4o-2024-08-06" matches a
 * listed "gpt-4o"; a listed dated name matches only itself).
 * Case-sensitive, as providers are.
 */
int lava_spk_model_match(const char *name, size_t nlen, const char *model,
    size_t mlen);

#endif /* LAVA_SPENDKEY_H */
