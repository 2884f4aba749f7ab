/*
 * Version 2 stream entries: the payload codec (see lava_event_v2.h).
 */

#include <string.h>

#include "lava_event_v2.h"


/* the pairs that are fields of the entry itself, not of the payload */
static int
lava_event_v2_outside(const char *name, size_t len)
{
    return (len == 1 && name[0] == 'v')
           || (len == 10 && memcmp(name, "request_id", 10) == 0);
}


static size_t
lava_event_v2_digits(size_t n)
{
    size_t  d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }

    return d;
}


size_t
lava_event_v2_size(size_t argc, const char **argv, const size_t *argvlen)
{
    size_t  i, size = 0;

    for (i = 0; i + 1 < argc; i += 2) {
        if (argvlen[i + 1] == 0
            || lava_event_v2_outside(argv[i], argvlen[i]))
        {
            continue;
        }

        size += argvlen[i] + 1 + lava_event_v2_digits(argvlen[i + 1]) + 1
                + argvlen[i + 1] + 1;
    }

    return size;
}


size_t
lava_event_v2_pack(char *buf, size_t argc, const char **argv,
    const size_t *argvlen)
{
    char    digits[24];
    char   *p = buf;
    size_t  i, n, d;

    for (i = 0; i + 1 < argc; i += 2) {
        if (argvlen[i + 1] == 0
            || lava_event_v2_outside(argv[i], argvlen[i]))
        {
            continue;
        }

        memcpy(p, argv[i], argvlen[i]);
        p += argvlen[i];
        *p++ = ':';

        /* the length, most significant digit first */
        n = argvlen[i + 1];
        d = 0;

        do {
            digits[d++] = (char) ('0' + n % 10);
            n /= 10;
        } while (n);

        while (d) {
            *p++ = digits[--d];
        }

        *p++ = ':';
        memcpy(p, argv[i + 1], argvlen[i + 1]);
        p += argvlen[i + 1];
        *p++ = '\n';
    }

    return (size_t) (p - buf);
}


void
lava_event_v2_reader_init(lava_event_v2_reader_t *rd, const char *p, size_t n)
{
    rd->p = p;
    rd->end = p + n;
    rd->err = n > LAVA_EVENT_V2_MAX ? LAVA_EVENT_V2_TOO_LARGE
                                    : LAVA_EVENT_V2_OK;
}


static int
lava_event_v2_fail(lava_event_v2_reader_t *rd, lava_event_v2_err_e err)
{
    rd->err = err;
    return -1;
}


int
lava_event_v2_next(lava_event_v2_reader_t *rd, const char **name,
    size_t *name_len, const char **value, size_t *value_len)
{
    char        c;
    size_t      n, len;
    const char *p, *start;

    if (rd->err != LAVA_EVENT_V2_OK) {
        return -1;
    }

    p = rd->p;

    if (p == rd->end) {
        return 0;
    }

    /* name: [a-z0-9_]{1,32} then ':' */
    start = p;

    while (p < rd->end && *p != ':') {
        c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
            || p - start >= LAVA_EVENT_V2_NAME_MAX)
        {
            return lava_event_v2_fail(rd, LAVA_EVENT_V2_BAD_NAME);
        }

        p++;
    }

    if (p == start || p == rd->end) {
        return lava_event_v2_fail(rd, p == start ? LAVA_EVENT_V2_BAD_NAME
                                                 : LAVA_EVENT_V2_TRUNCATED);
    }

    *name = start;
    *name_len = (size_t) (p - start);
    p++;

    /* length: base-10 digits, no leading zero, then ':' */
    start = p;
    len = 0;

    while (p < rd->end && *p != ':') {
        if (*p < '0' || *p > '9' || p - start >= LAVA_EVENT_V2_LEN_DIGITS
            || (p > start && *start == '0'))
        {
            return lava_event_v2_fail(rd, LAVA_EVENT_V2_BAD_LENGTH);
        }

        len = len * 10 + (size_t) (*p - '0');
        p++;
    }

    if (p == rd->end || p == start) {
        return lava_event_v2_fail(rd, p == rd->end ? LAVA_EVENT_V2_TRUNCATED
                                                   : LAVA_EVENT_V2_BAD_LENGTH);
    }

    if (len > LAVA_EVENT_MAX_VALUE) {
        return lava_event_v2_fail(rd, LAVA_EVENT_V2_BAD_LENGTH);
    }

    p++;
    n = (size_t) (rd->end - p);

    if (len >= n) {
        /* the value and its "\n" must both be there */
        return lava_event_v2_fail(rd, LAVA_EVENT_V2_TRUNCATED);
    }

    if (p[len] != '\n') {
        return lava_event_v2_fail(rd, LAVA_EVENT_V2_BAD_END);
    }

    *value = p;
    *value_len = len;
    rd->p = p + len + 1;

    return 1;
}


const char *
lava_event_v2_strerror(lava_event_v2_err_e err)
{
    switch (err) {
    case LAVA_EVENT_V2_OK:
        return "ok";
    case LAVA_EVENT_V2_BAD_NAME:
        return "bad field name";
    case LAVA_EVENT_V2_BAD_LENGTH:
        return "bad value length";
    case LAVA_EVENT_V2_TRUNCATED:
        return "payload ends inside a field";
    case LAVA_EVENT_V2_BAD_END:
        return "value not followed by a newline";
    case LAVA_EVENT_V2_TOO_LARGE:
        return "payload too large";
    }

    return "unknown error";
}
