/*
 * The two id formats of the gateway, in one place:
 *
 *  - request ids: "req_" + 26 Crockford base32 characters (digits and upper
 *    case letters without I L O U): 48 bits of Unix time in ms, then 80
 *    random bits, so ids sort by time and never collide in practice. The
 *    module makes them (x-lava-request-id, $lava_request_id, the event's
 *    request_id, the ledger key); the sidecar checks and scans them.
 *  - ids and slugs (merchant and customer ids, meter slugs, metadata keys):
 *    1 to LAVA_ID_MAX characters of [A-Za-z0-9_.:-].
 *
 * Header only (static inline): the module, the sidecar, the unit tests and
 * the fuzz targets include it without linking anything. No I/O; the caller
 * brings the time and the randomness.
 */
#ifndef LAVA_ID_H
#define LAVA_ID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LAVA_ID_MAX             64      /* bytes of an id or slug */
/* what an id is, as error messages say it (LAVA_ID_MAX spelt out) */
#define LAVA_ID_PATTERN         "[A-Za-z0-9_.:-]{1,64}"

#define LAVA_REQID_PREFIX       "req_"
#define LAVA_REQID_PREFIX_LEN   4
#define LAVA_REQID_CHARS        26      /* base32 characters after "req_" */
#define LAVA_REQID_LEN          30      /* LAVA_REQID_PREFIX_LEN + CHARS */

/* Crockford's base32 alphabet, value order */
#define LAVA_REQID_ALPHABET     "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


/* [A-Za-z0-9_.:-] */
static inline int
lava_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
           || c == '-';
}


/* 1: p[0..n) is an id or slug */
static inline int
lava_id_valid(const char *p, size_t n)
{
    size_t  i;

    if (n == 0 || n > LAVA_ID_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!lava_id_char((unsigned char) p[i])) {
            return 0;
        }
    }

    return 1;
}


/* a character of LAVA_REQID_ALPHABET (upper case only) */
static inline int
lava_reqid_char(unsigned char c)
{
    return (c >= '0' && c <= '9')
           || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O'
               && c != 'U');
}


/* 1: p[0..n) is a request id, exactly */
static inline int
lava_reqid_valid(const char *p, size_t n)
{
    size_t  i;

    if (n != LAVA_REQID_LEN
        || memcmp(p, LAVA_REQID_PREFIX, LAVA_REQID_PREFIX_LEN) != 0)
    {
        return 0;
    }

    for (i = LAVA_REQID_PREFIX_LEN; i < n; i++) {
        if (!lava_reqid_char((unsigned char) p[i])) {
            return 0;
        }
    }

    return 1;
}


/*
 * Writes LAVA_REQID_LEN characters and a NUL to out (LAVA_REQID_LEN + 1
 * bytes). now_ms is the Unix time in ms (48 bits kept); rnd1..rnd3 are three
 * draws of the caller's generator: 2 bits of rnd1 complete the first 10
 * characters, 60 bits of rnd2 and 20 of rnd3 make the other 16.
 */
static inline void
lava_reqid_make(char *out, uint64_t now_ms, uint64_t rnd1, uint64_t rnd2,
    uint64_t rnd3)
{
    static const char  b32[] = LAVA_REQID_ALPHABET;

    int       i;
    uint64_t  v;

    memcpy(out, LAVA_REQID_PREFIX, LAVA_REQID_PREFIX_LEN);
    out += LAVA_REQID_PREFIX_LEN;

    /* 48 time bits + 2 random bits = 50 bits = 10 characters */
    v = ((now_ms & 0xffffffffffffULL) << 2) | (rnd1 >> 62);
    for (i = 9; i >= 0; i--) {
        out[i] = b32[v & 31];
        v >>= 5;
    }

    /* 80 random bits, 16 characters */
    v = rnd2;
    for (i = 15; i >= 4; i--) {
        out[10 + i] = b32[v & 31];
        v >>= 5;
    }

    v = rnd3;
    for (i = 3; i >= 0; i--) {
        out[10 + i] = b32[v & 31];
        v >>= 5;
    }

    out[LAVA_REQID_CHARS] = '\0';
}

#endif
