/*
 * Spend key arithmetic (see lava_spendkey.h): key shape, UTC cycles, the
 * token bucket of the rate limit, allow-list matching.
 */

#include <string.h>

#include "lava_reserve.h"
#include "lava_spendkey.h"


#define LAVA_SPK_DAY_S   86400


int
lava_spk_key_prefixed(const char *s, size_t len)
{
    return len >= LAVA_SPK_PREFIX_LEN
           && memcmp(s, LAVA_SPK_PREFIX, LAVA_SPK_PREFIX_LEN) == 0;
}


int
lava_spk_key_valid(const char *s, size_t len)
{
    size_t  i;
    char    ch;

    if (len != LAVA_SPK_KEY_LEN || !lava_spk_key_prefixed(s, len)) {
        return 0;
    }

    for (i = LAVA_SPK_PREFIX_LEN; i < len; i++) {
        ch = s[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


static const char  *lava_spk_cycles[] = {
    "-", "daily", "weekly", "monthly", "total"
};


int
lava_spk_cycle_parse(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(lava_spk_cycles) / sizeof(lava_spk_cycles[0]); i++)
    {
        if (strlen(lava_spk_cycles[i]) == len
            && memcmp(lava_spk_cycles[i], s, len) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


const char *
lava_spk_cycle_name(lava_spk_cycle_e c)
{
    return ((size_t) c < sizeof(lava_spk_cycles) / sizeof(lava_spk_cycles[0]))
           ? lava_spk_cycles[c] : "-";
}


/* floor division for the days before 1970 */
static int64_t
lava_spk_floor_div(int64_t a, int64_t b)
{
    int64_t  q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}


/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's
 * civil calendar algorithms): no timegm(), no time zone, no libc state.
 */
static int64_t
lava_spk_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = lava_spk_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static void
lava_spk_civil_from_days(int64_t z, int64_t *y, int64_t *m)
{
    int64_t  era, doe, yoe, doy, mp;

    z += 719468;
    era = lava_spk_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}


int64_t
lava_spk_cycle_start(lava_spk_cycle_e c, int64_t now_s)
{
    int64_t  days, y, m;

    days = lava_spk_floor_div(now_s, LAVA_SPK_DAY_S);

    switch (c) {

    case LAVA_SPK_CYCLE_DAILY:
        return days * LAVA_SPK_DAY_S;

    case LAVA_SPK_CYCLE_WEEKLY:
        /* 1970-01-01 was a Thursday: Monday is 0 */
        return (days - (((days + 3) % 7) + 7) % 7) * LAVA_SPK_DAY_S;

    case LAVA_SPK_CYCLE_MONTHLY:
        lava_spk_civil_from_days(days, &y, &m);
        return lava_spk_days_from_civil(y, m, 1) * LAVA_SPK_DAY_S;

    default:
        return 0;
    }
}


/* the bucket refilled to now_ms (units, capped at rpm + burst tokens) */
static int64_t
lava_spk_bucket_units(const lava_spk_bucket_t *b, int64_t rpm, int64_t burst,
    int64_t now_ms)
{
    int64_t  cap, elapsed, units;

    cap = (rpm + burst) * LAVA_SPK_UNITS_PER_TOKEN;

    if (b->last_ms == 0) {
        return cap;                     /* never used: full */
    }

    elapsed = now_ms - b->last_ms;

    if (elapsed <= 0) {
        return b->units < cap ? b->units : cap;
    }

    /* beyond the time to fill it all, full (and no overflow) */
    if (elapsed >= cap / rpm + 1) {
        return cap;
    }

    units = b->units + elapsed * rpm;

    return units < cap ? units : cap;
}


static int64_t
lava_spk_ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}


int
lava_spk_bucket_take(lava_spk_bucket_t *b, int64_t rpm, int64_t burst,
    int64_t now_ms, int commit, lava_spk_take_t *out)
{
    int      taken;
    int64_t  units, cap;

    if (rpm <= 0) {
        if (out) {
            out->remaining = 0;
            out->retry_after_ms = 0;
            out->reset_ms = 0;
        }

        return 1;                       /* no rate limit */
    }

    if (burst < 0) {
        burst = 0;
    }

    cap = (rpm + burst) * LAVA_SPK_UNITS_PER_TOKEN;
    units = lava_spk_bucket_units(b, rpm, burst, now_ms);

    taken = (units >= LAVA_SPK_UNITS_PER_TOKEN);

    if (taken) {
        units -= LAVA_SPK_UNITS_PER_TOKEN;
    }

    if (out) {
        out->remaining = units / LAVA_SPK_UNITS_PER_TOKEN;
        out->retry_after_ms = taken ? 0
                              : lava_spk_ceil_div(LAVA_SPK_UNITS_PER_TOKEN
                                                  - units, rpm);
        out->reset_ms = lava_spk_ceil_div(cap - units, rpm);
    }

    if (commit && taken) {
        b->units = units;
        b->last_ms = now_ms;
    }

    return taken;
}


int64_t
lava_spk_bucket_level(const lava_spk_bucket_t *b, int64_t rpm, int64_t burst,
    int64_t now_ms)
{
    if (rpm <= 0) {
        return 0;
    }

    return lava_spk_bucket_units(b, rpm, burst < 0 ? 0 : burst, now_ms)
           / LAVA_SPK_UNITS_PER_TOKEN;
}


int
lava_spk_model_match(const char *name, size_t nlen, const char *model,
    size_t mlen)
{
    size_t  ulen;

    if (nlen == mlen && memcmp(name, model, mlen) == 0) {
        return 1;
    }

    ulen = lava_reserve_undated(model, mlen);

    return ulen != mlen && ulen == nlen && memcmp(name, model, ulen) == 0;
}
