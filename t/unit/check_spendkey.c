/*
 * Spend keys: the arithmetic of lib/lava_spendkey.c (key shape, UTC cycle
 * starts across month, year and leap-day edges, the token bucket at its
 * edges, allow-list matching with date suffixes) and the spend key records
 * of the auth snapshot (lib/lava_authsnap.c: s, x, a, l, b, p): read,
 * looked up, duplicates and malformed records refused whole, unknown list
 * kinds skipped, and the text an older reader sees.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lava_authsnap.h"
#include "lava_spendkey.h"


#define HEX64  "0123456789abcdef0123456789abcdef"                           \
               "0123456789abcdef0123456789abcdef"

#define H1  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2  "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define H3  "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"

#define MER  "mer_5a1f0c2e9b7d4a3c8e6f1b2d"
#define CUS  "cus_0b7e2d4f6a8c1e3b5d7f9a2c"
#define SPK1 "spk_01JZ8Q2W3E4R5T6Y7U8I9O0PAB"
#define SPK2 "spk_01JZ8Q2W3E4R5T6Y7U8I9O0PCD"
#define SPK3 "spk_01JZ8Q2W3E4R5T6Y7U8I9O0PEF"
#define SPKLEN  (sizeof(SPK1) - 1)


START_TEST(test_key_shape)
{
    ck_assert_int_eq(lava_spk_key_valid("lava_spk_" HEX64,
                                        sizeof("lava_spk_" HEX64) - 1), 1);
    /* one digit short, upper case, a non-hex letter, another prefix */
    ck_assert_int_eq(lava_spk_key_valid("lava_spk_" HEX64,
                                        sizeof("lava_spk_" HEX64) - 2), 0);
    ck_assert_int_eq(lava_spk_key_valid("lava_spk_A123456789abcdef"
                                        "0123456789abcdef0123456789abcdef"
                                        "0123456789abcdef", 73), 0);
    ck_assert_int_eq(lava_spk_key_valid("lava_spk_g123456789abcdef"
                                        "0123456789abcdef0123456789abcdef"
                                        "0123456789abcdef", 73), 0);
    ck_assert_int_eq(lava_spk_key_valid("lava_spx_" HEX64, 73), 0);

    ck_assert_int_eq(lava_spk_key_prefixed("lava_spk_", 9), 1);
    ck_assert_int_eq(lava_spk_key_prefixed("lava_spk", 8), 0);
    ck_assert_int_eq(lava_spk_key_prefixed("eyJhbGciOi", 10), 0);
}
END_TEST


START_TEST(test_cycles)
{
    /* 2026-12-07 16:40:57 UTC, a Monday */
    const int64_t  t = 1796661657;

    ck_assert_int_eq(lava_spk_cycle_parse("daily", 5), LAVA_SPK_CYCLE_DAILY);
    ck_assert_int_eq(lava_spk_cycle_parse("weekly", 6),
                     LAVA_SPK_CYCLE_WEEKLY);
    ck_assert_int_eq(lava_spk_cycle_parse("monthly", 7),
                     LAVA_SPK_CYCLE_MONTHLY);
    ck_assert_int_eq(lava_spk_cycle_parse("total", 5), LAVA_SPK_CYCLE_TOTAL);
    ck_assert_int_eq(lava_spk_cycle_parse("-", 1), LAVA_SPK_CYCLE_NONE);
    ck_assert_int_eq(lava_spk_cycle_parse("hourly", 6), -1);
    ck_assert_int_eq(lava_spk_cycle_parse("dail", 4), -1);
    ck_assert_str_eq(lava_spk_cycle_name(LAVA_SPK_CYCLE_WEEKLY), "weekly");

    /* 2026-12-07 00:00:00 */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_DAILY, t),
                     1796601600);
    /* a Monday is its own week's start */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_WEEKLY, t),
                     1796601600);
    /* Sunday 2026-12-13 23:59:59 is still that week */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_WEEKLY,
                                          1797206399), 1796601600);
    /* Monday 2026-12-14 00:00:00 starts the next */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_WEEKLY,
                                          1797206400), 1797206400);
    /* 2026-12-01 00:00:00 */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_MONTHLY, t),
                     1796083200);
    /* 2028-02-29 12:00 (leap day) is February's: 2028-02-01 */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_MONTHLY,
                                          1835438400), 1832976000);
    /* 2027-01-01 00:00:00 is its own month and day; its week started on
     * Monday 2026-12-28 */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_MONTHLY,
                                          1798761600), 1798761600);
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_DAILY, 1798761600),
                     1798761600);
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_WEEKLY,
                                          1798761600), 1798416000);
    /* the epoch was a Thursday: its week began Monday 1969-12-29 */
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_WEEKLY, 0),
                     -3 * 86400);
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_TOTAL, t), 0);
    ck_assert_int_eq(lava_spk_cycle_start(LAVA_SPK_CYCLE_NONE, t), 0);
}
END_TEST


START_TEST(test_bucket)
{
    int                i, taken;
    lava_spk_take_t    tk;
    lava_spk_bucket_t  b;

    /* rpm 10, burst 5: 15 at once, the 16th refused */
    memset(&b, 0, sizeof(b));

    for (i = 0, taken = 0; i < 64; i++) {
        taken += lava_spk_bucket_take(&b, 10, 5, 1000000, 1, &tk);
    }

    ck_assert_int_eq(taken, 15);
    ck_assert_int_eq(tk.remaining, 0);
    /* one token comes back every 6 s */
    ck_assert_int_eq(tk.retry_after_ms, 6000);
    ck_assert_int_eq(tk.reset_ms, 90000);

    /* 5999 ms later still none; at 6000 ms one */
    ck_assert_int_eq(lava_spk_bucket_take(&b, 10, 5, 1005999, 1, &tk), 0);
    ck_assert_int_eq(tk.retry_after_ms, 1);
    ck_assert_int_eq(lava_spk_bucket_take(&b, 10, 5, 1006000, 1, &tk), 1);
    ck_assert_int_eq(lava_spk_bucket_take(&b, 10, 5, 1006000, 1, &tk), 0);

    /* a check without commit changes nothing */
    ck_assert_int_eq(lava_spk_bucket_take(&b, 10, 5, 1012000, 0, &tk), 1);
    ck_assert_int_eq(lava_spk_bucket_take(&b, 10, 5, 1012000, 0, &tk), 1);
    ck_assert_int_eq(lava_spk_bucket_level(&b, 10, 5, 1012000), 1);

    /* an hour idle: full again, never more than rpm + burst */
    ck_assert_int_eq(lava_spk_bucket_level(&b, 10, 5, 4600000), 15);

    /* a clock that went back refills nothing */
    ck_assert_int_eq(lava_spk_bucket_level(&b, 10, 5, 0), 0);

    /* no burst: rpm at once */
    memset(&b, 0, sizeof(b));

    for (i = 0, taken = 0; i < 10; i++) {
        taken += lava_spk_bucket_take(&b, 3, 0, 5, 1, NULL);
    }

    ck_assert_int_eq(taken, 3);

    /* rpm 0: no limit */
    ck_assert_int_eq(lava_spk_bucket_take(&b, 0, 0, 5, 1, &tk), 1);

    /* huge rpm and a long gap do not overflow */
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(lava_spk_bucket_take(&b, 1000000000, 1000000000, 1, 1,
                                          &tk), 1);
    ck_assert_int_eq(lava_spk_bucket_level(&b, 1000000000, 1000000000,
                                           INT64_MAX / 2), 2000000000);
}
END_TEST


START_TEST(test_model_match)
{
    ck_assert_int_eq(lava_spk_model_match("gpt-4o", 6, "gpt-4o", 6), 1);
    ck_assert_int_eq(lava_spk_model_match("gpt-4o", 6,
                                          "gpt-4o-2024-08-06", 17), 1);
    ck_assert_int_eq(lava_spk_model_match("claude-sonnet-4-5", 17,
                                          "claude-sonnet-4-5-20250929", 26),
                     1);
    /* a dated name allows itself only */
    ck_assert_int_eq(lava_spk_model_match("gpt-4o-2024-08-06", 17,
                                          "gpt-4o", 6), 0);
    ck_assert_int_eq(lava_spk_model_match("gpt-4o-2024-08-06", 17,
                                          "gpt-4o-2024-11-20", 17), 0);
    /* no prefix matching, no case folding */
    ck_assert_int_eq(lava_spk_model_match("gpt-4o", 6, "gpt-4o-mini", 11),
                     0);
    ck_assert_int_eq(lava_spk_model_match("gpt-4o", 6, "GPT-4o", 6), 0);
    ck_assert_int_eq(lava_spk_model_match("gpt-4", 5, "gpt-4o", 6), 0);
}
END_TEST


/* ---- the snapshot records ---- */

static const char  *spk_snapshot =
    "lava-auth 1 7\n"
    "m " H1 " " MER " active\n"
    "c " MER " " CUS " active\n"
    "t " MER " chat\n"
    "r openai gpt-4o 2547500000 10190000000\n"
    "r openai * 15285000000 61140000000\n"
    "r moonshot * 0 0\n"
    "s " H2 " " SPK1 " " MER " " CUS " chat active 0 openai 7\n"
    "s " H3 " " SPK2 " " MER " - - paused 1800000000 anthropic 0\n"
    "x " HEX64 " " SPK3 "\n"
    "a " SPK1 " m gpt-4o\n"
    "a " SPK1 " m claude-sonnet-4-5-20250929\n"
    "a " SPK1 " p openai\n"
    "a " SPK1 " q something-newer\n"
    "l " SPK1 " 10 5 daily 100 7 monthly 1000000 250000 1796601600"
    " 1796083200\n"
    "l " SPK2 " 0 0 - 0 0 total 5 0 0 0\n"
    "b lava:usage 1796661657123-4\n"
    "b lava:usage:{n2} 1796661650000-0\n"
    "p " MER "\n"
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


static int
load(snap_t *s, const char *text)
{
    char    *copy;
    size_t   size, len;

    memset(s, 0, sizeof(snap_t));
    len = strlen(text);

    copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);

    if (lava_authsnap_count(&s->ps, copy, len) != LAVA_AUTHSNAP_OK) {
        free(copy);
        return LAVA_AUTHSNAP_ERROR;
    }

    size = lava_authsnap_size(&s->ps);
    s->block = malloc(size);
    ck_assert_ptr_nonnull(s->block);

    s->snap = lava_authsnap_build(&s->ps, copy, len, s->block, size);
    free(copy);

    if (s->snap == NULL) {
        ck_assert_ptr_nonnull(s->ps.err);
        return LAVA_AUTHSNAP_ERROR;
    }

    ck_assert_uint_eq(s->snap->strings_len, s->ps.strings);

    return LAVA_AUTHSNAP_OK;
}


static void
unload(snap_t *s)
{
    free(s->block);
    s->block = NULL;
    s->snap = NULL;
}


static const lava_authsnap_spendkey_t *
spendkey(snap_t *s, const char *hex)
{
    unsigned char  h[LAVA_AUTHSNAP_HASH_LEN];

    hash_of(hex, h);
    return lava_authsnap_find_spendkey(s->snap, h);
}


static int
is(const char *p, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(p, want, len) == 0;
}


START_TEST(test_records)
{
    int64_t                          l[LAVA_AUTHSNAP_LIMIT_VALS];
    uint64_t                         ms, seq;
    const char                      *str;
    snap_t                           s;
    const lava_authsnap_spendkey_t  *k;

    ck_assert_int_eq(load(&s, spk_snapshot), LAVA_AUTHSNAP_OK);

    ck_assert_uint_eq(s.ps.spendkeys, 3);
    ck_assert_uint_eq(s.ps.revoked, 1);
    ck_assert_uint_eq(s.ps.models, 2);
    ck_assert_uint_eq(s.ps.providers, 1);
    ck_assert_uint_eq(s.ps.limits, 2);
    ck_assert_uint_eq(s.ps.marks, 2);
    ck_assert_uint_eq(s.ps.unpriced, 1);

    k = spendkey(&s, H2);
    ck_assert_ptr_nonnull(k);
    str = s.snap->strings + k->str;
    ck_assert(is(str, k->id_len, SPK1));
    ck_assert(is(str + k->id_len, k->mlen, MER));
    ck_assert(is(str + k->id_len + k->mlen, k->clen, CUS));
    ck_assert(is(str + k->id_len + k->mlen + k->clen, k->tlen, "chat"));
    ck_assert_int_eq(k->status, LAVA_AUTHSNAP_SPK_ACTIVE);
    ck_assert_int_eq(k->shape, LAVA_SPK_SHAPE_OPENAI);
    ck_assert_int_eq(k->flags, LAVA_SPK_F_ALL);
    ck_assert_int_eq(k->expires, 0);

    /* the merchant's own wallet: no customer, no meter */
    k = spendkey(&s, H3);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(k->clen, 0);
    ck_assert_int_eq(k->tlen, 0);
    ck_assert_int_eq(k->status, LAVA_AUTHSNAP_SPK_PAUSED);
    ck_assert_int_eq(k->shape, LAVA_SPK_SHAPE_ANTHROPIC);
    ck_assert_int_eq(k->expires, 1800000000);

    /* revoked: its id only */
    k = spendkey(&s, HEX64);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(k->status, LAVA_AUTHSNAP_SPK_REVOKED);
    ck_assert(is(s.snap->strings + k->str, k->id_len, SPK3));
    ck_assert_int_eq(k->mlen, 0);

    /* a secret key's hash is not a spend key's */
    ck_assert_ptr_null(spendkey(&s, H1));

    /* allow-lists, undated names */
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, SPK1, SPKLEN,
                                          "gpt-4o", 6, 1), 1);
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, SPK1, SPKLEN,
                                          "gpt-4o-2024-08-06", 17, 1), 1);
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, SPK1, SPKLEN,
                                          "gpt-4o-mini", 11, 1), 0);
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, SPK1, SPKLEN,
                                          "claude-sonnet-4-5", 17, 1), 0);
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, SPK1, SPKLEN,
                                          "claude-sonnet-4-5-20250929", 26,
                                          1), 1);
    /* another key's list is not this one's */
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, SPK2, SPKLEN,
                                          "gpt-4o", 6, 1), 0);
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->providers, SPK1,
                                          SPKLEN, "openai", 6, 0), 1);
    ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->providers, SPK1,
                                          SPKLEN, "anthropic", 9, 0), 0);

    /* limits */
    ck_assert_int_eq(lava_authsnap_limits(s.snap, SPK1, SPKLEN, l), 1);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_RPM], 10);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_BURST], 5);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_REQ_CYCLE], LAVA_SPK_CYCLE_DAILY);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_REQ_LIMIT], 100);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_REQ_USED], 7);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_SPEND_CYCLE], LAVA_SPK_CYCLE_MONTHLY);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_SPEND_LIMIT], 1000000);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_SPEND_USED], 250000);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_REQ_START], 1796601600);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_SPEND_START], 1796083200);
    ck_assert_int_eq(lava_authsnap_limits(s.snap, SPK2, SPKLEN, l), 1);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_REQ_CYCLE], LAVA_SPK_CYCLE_NONE);
    ck_assert_int_eq(l[LAVA_AUTHSNAP_L_SPEND_CYCLE], LAVA_SPK_CYCLE_TOTAL);
    ck_assert_int_eq(lava_authsnap_limits(s.snap, SPK3, SPKLEN, l), 0);

    /* watermarks, a hash-tagged stream key too */
    ck_assert_int_eq(lava_authsnap_mark(s.snap, "lava:usage", 10, &ms, &seq),
                     1);
    ck_assert_uint_eq(ms, 1796661657123ULL);
    ck_assert_uint_eq(seq, 4);
    ck_assert_int_eq(lava_authsnap_mark(s.snap, "lava:usage:{n2}", 15, &ms,
                                        &seq), 1);
    ck_assert_uint_eq(ms, 1796661650000ULL);
    ck_assert_int_eq(lava_authsnap_mark(s.snap, "lava:other", 10, &ms, &seq),
                     0);

    /* merchant setting, rates of their own */
    ck_assert_int_eq(lava_authsnap_unpriced(s.snap, MER, 28), 1);
    ck_assert_int_eq(lava_authsnap_unpriced(s.snap, "mer_x", 5), 0);
    ck_assert_int_eq(lava_authsnap_priced(s.snap, "openai", 6, "gpt-4o", 6),
                     1);
    ck_assert_int_eq(lava_authsnap_priced(s.snap, "openai", 6,
                                          "gpt-4o-2024-08-06", 17), 1);
    /* the provider's "*" bound is not a rate */
    ck_assert_int_eq(lava_authsnap_priced(s.snap, "openai", 6, "gpt-5", 5),
                     0);
    ck_assert_int_eq(lava_authsnap_priced(s.snap, "openai", 6, "*", 1), 0);
    ck_assert_int_eq(lava_authsnap_priced(s.snap, "anthropic", 9, "gpt-4o",
                                          6), 0);
    /* a provider billed on the meter alone: "r <provider> * 0 0" */
    ck_assert_int_eq(lava_authsnap_meter_only(s.snap, "moonshot", 8), 1);
    ck_assert_int_eq(lava_authsnap_meter_only(s.snap, "openai", 6), 0);
    ck_assert_int_eq(lava_authsnap_meter_only(s.snap, "anthropic", 9), 0);
    ck_assert_int_eq(lava_authsnap_priced(s.snap, "moonshot", 8,
                                          "kimi-k2-0905-preview", 20), 0);

    unload(&s);
}
END_TEST


/* a snapshot holding one extra line before "end" */
static int
load_with(snap_t *s, const char *line)
{
    char  text[4096];

    snprintf(text, sizeof(text), "lava-auth 1 3\nm " H1 " " MER
             " active\n%send\n", line);

    return load(s, text);
}


START_TEST(test_refused)
{
    size_t       i;
    snap_t       s;

    static const char  *bad[] = {
        /* s: every field wrong in turn */
        "s " H2 " " SPK1 " " MER " - - active 0 openai\n",
        "s " H2 " " SPK1 " " MER " - - active 0 openai 0 extra\n",
        "s 9F86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 "
            SPK1 " " MER " - - active 0 openai 0\n",
        "s " H2 " spk/1 " MER " - - active 0 openai 0\n",
        "s " H2 " " SPK1 " " MER " c@s - active 0 openai 0\n",
        "s " H2 " " SPK1 " " MER " - - revoked 0 openai 0\n",
        "s " H2 " " SPK1 " " MER " - - active -1 openai 0\n",
        "s " H2 " " SPK1 " " MER " - - active 0 google 0\n",
        "s " H2 " " SPK1 " " MER " - - active 0 openai x\n",
        "s " H2 " " SPK1 " " MER " - - active 0 openai -1\n",
        /* x */
        "x " H2 "\n",
        "x " H2 " " SPK1 " " MER "\n",
        /* a */
        "a " SPK1 " m\n",
        "a " SPK1 " mm gpt-4o\n",
        "a " SPK1 " m gpt 4o\n",
        "a " SPK1 " p open/ai\n",
        "a " SPK1 " 1 x\n",
        /* l */
        "l " SPK1 " 10 5 daily 100 7 monthly 1000000 250000 0\n",
        "l " SPK1 " 10 5 hourly 100 7 monthly 1000000 250000 0 0\n",
        "l " SPK1 " 10 5 daily 100 7 yearly 1000000 250000 0 0\n",
        "l " SPK1 " -10 5 daily 100 7 monthly 1000000 250000 0 0\n",
        "l " SPK1 " 10 5 daily 100 7 monthly 99999999999999999999 0 0 0\n",
        /* b */
        "b lava:usage 1796661657123\n",
        "b lava:usage -4\n",
        "b lava:usage 17-\n",
        "b lava:usage 1-2-3\n",
        "b lava:usage 18446744073709551615-0\n",
        /* p */
        "p\n",
        "p " MER " " MER "\n",
        /* duplicates */
        "s " H2 " " SPK1 " " MER " - - active 0 openai 0\n"
            "x " H2 " " SPK2 "\n",
        "a " SPK1 " m gpt-4o\na " SPK1 " m gpt-4o\n",
        "a " SPK1 " p openai\na " SPK1 " p openai\n",
        "l " SPK1 " 0 0 - 0 0 - 0 0 0 0\nl " SPK1 " 0 0 - 0 0 - 0 0 0 0\n",
        "b lava:usage 1-0\nb lava:usage 2-0\n",
        "p " MER "\np " MER "\n",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (load_with(&s, bad[i]) == LAVA_AUTHSNAP_OK) {
            ck_abort_msg("accepted: %s", bad[i]);
        }

        ck_assert_ptr_nonnull(s.ps.err);
        /* the reason never quotes the text */
        ck_assert_ptr_null(strstr(s.ps.err, "spk_"));
        unload(&s);
    }

    /* the same model allowed for two keys, one name as model and provider */
    ck_assert_int_eq(load_with(&s, "a " SPK1 " m gpt-4o\na " SPK2
                               " m gpt-4o\na " SPK1 " p gpt-4o\n"),
                     LAVA_AUTHSNAP_OK);
    unload(&s);
}
END_TEST


/* an older reader (or a newer record of ours) sees nothing it knows: the
 * m record is still found, the spend key records counted apart */
START_TEST(test_many_keys)
{
    int      i;
    char    *text, *p;
    size_t   cap;
    snap_t   s;
    int64_t  l[LAVA_AUTHSNAP_LIMIT_VALS];
    char     id[40], hex[65];
    unsigned char h[LAVA_AUTHSNAP_HASH_LEN];

    cap = 2000 * 300 + 1024;
    text = malloc(cap);
    ck_assert_ptr_nonnull(text);

    p = text + sprintf(text, "lava-auth 1 9\n");

    for (i = 0; i < 2000; i++) {
        snprintf(hex, sizeof(hex), "%064x", i + 1);
        p += sprintf(p, "s %s spk_%028d " MER " - - active 0 openai 2\n",
                     hex, i);
        p += sprintf(p, "a spk_%028d m gpt-4o\n", i);
        p += sprintf(p, "l spk_%028d %d 0 - 0 0 - 0 0 0 0\n", i, i);
    }

    p += sprintf(p, "end\n");

    ck_assert_int_eq(load(&s, text), LAVA_AUTHSNAP_OK);
    ck_assert_uint_eq(s.snap->spendkeys.n, 2000);

    for (i = 0; i < 2000; i += 97) {
        snprintf(hex, sizeof(hex), "%064x", i + 1);
        hash_of(hex, h);
        ck_assert_ptr_nonnull(lava_authsnap_find_spendkey(s.snap, h));
        snprintf(id, sizeof(id), "spk_%028d", i);
        ck_assert_int_eq(lava_authsnap_listed(s.snap, &s.snap->models, id,
                                              32, "gpt-4o", 6, 1), 1);
        ck_assert_int_eq(lava_authsnap_limits(s.snap, id, 32, l), 1);
        ck_assert_int_eq(l[LAVA_AUTHSNAP_L_RPM], i);
    }

    unload(&s);
    free(text);
}
END_TEST


Suite *
make_suite(void)
{
    Suite  *s;
    TCase  *tc;

    s = suite_create("spendkey");
    tc = tcase_create("core");
    tcase_add_test(tc, test_key_shape);
    tcase_add_test(tc, test_cycles);
    tcase_add_test(tc, test_bucket);
    tcase_add_test(tc, test_model_match);
    tcase_add_test(tc, test_records);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_many_keys);
    suite_add_tcase(s, tc);

    return s;
}
