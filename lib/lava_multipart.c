/*
 * multipart/form-data: one field's value (see lava_multipart.h).
 */

#include <string.h>
#include <strings.h>

#include "lava_multipart.h"


enum {
    LAVA_MP_PREAMBLE = 0,     /* before the first delimiter */
    LAVA_MP_AFTER,            /* just after a delimiter */
    LAVA_MP_DASH,             /* "-" after a delimiter: the close one? */
    LAVA_MP_PAD,              /* transport padding before CRLF */
    LAVA_MP_LF,               /* CR seen, LF expected */
    LAVA_MP_HEADERS,          /* a part's header block */
    LAVA_MP_DATA,             /* a part's content */
    LAVA_MP_DONE              /* the close delimiter was seen */
};


static int
lava_mp_fail(lava_multipart_t *mp, const char *why)
{
    if (mp->error == NULL) {
        mp->error = why;
    }

    return -1;
}


/* media type ct (parameters ignored) is multipart/form-data */
int
lava_multipart_is(const char *ct, size_t len)
{
    static const char  mt[] = "multipart/form-data";

    while (len && (*ct == ' ' || *ct == '\t')) {
        ct++;
        len--;
    }

    return len >= sizeof(mt) - 1
           && strncasecmp(ct, mt, sizeof(mt) - 1) == 0
           && (len == sizeof(mt) - 1 || ct[sizeof(mt) - 1] == ';'
               || ct[sizeof(mt) - 1] == ' ' || ct[sizeof(mt) - 1] == '\t');
}


/* RFC 2046 bchars */
static int
lava_mp_bchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
           || strchr("'()+_,-./:=? ", c) != NULL;
}


/*
 * The value of parameter `param` in header value h[0..n): a token or a
 * quoted string (backslash escapes decoded) into out. 1 found, 0 absent,
 * -1 unreadable, too long, or given twice.
 */
static int
lava_mp_param(const char *h, size_t n, const char *param, char *out,
    size_t size, int *star)
{
    int          found;
    size_t       pl, o;
    const char  *p, *end;

    end = h + n;
    pl = strlen(param);
    found = 0;
    p = memchr(h, ';', n);

    while (p && p < end) {
        p++;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if ((size_t) (end - p) > pl && strncasecmp(p, param, pl) == 0
            && p[pl] == '*')
        {
            /* RFC 2231 extended form: parsers differ on it */
            *star = 1;
        }

        if ((size_t) (end - p) > pl && strncasecmp(p, param, pl) == 0
            && (p[pl] == '=' || p[pl] == ' '))
        {
            p += pl;

            while (p < end && *p == ' ') {
                p++;
            }

            if (p == end || *p != '=') {
                return -1;
            }

            p++;

            while (p < end && *p == ' ') {
                p++;
            }

            if (found++) {
                return -1;
            }

            o = 0;

            if (p < end && *p == '"') {
                for (p++; p < end && *p != '"'; p++) {
                    if (*p == '\\' && p + 1 < end) {
                        p++;
                    }

                    if (o + 1 >= size) {
                        return -1;
                    }

                    out[o++] = *p;
                }

                if (p == end) {
                    return -1;
                }

                p++;

            } else {
                for ( /* void */ ; p < end && *p != ';' && *p != ' '
                                    && *p != '\t'; p++)
                {
                    if (o + 1 >= size) {
                        return -1;
                    }

                    out[o++] = *p;
                }
            }

            out[o] = '\0';
            continue;
        }

        /* skip this parameter, quotes respected */
        for ( /* void */ ; p < end && *p != ';'; p++) {
            if (*p == '"') {
                for (p++; p < end && *p != '"'; p++) {
                    if (*p == '\\' && p + 1 < end) {
                        p++;
                    }
                }

                if (p == end) {
                    return -1;
                }
            }
        }
    }

    return found;
}


int
lava_multipart_init(lava_multipart_t *mp, const char *ct, size_t len,
    const char *name)
{
    int     rc, star;
    size_t  i, bl;
    char    b[LAVA_MULTIPART_BOUNDARY_MAX + 2];

    memset(mp, 0, sizeof(lava_multipart_t));

    if (!lava_multipart_is(ct, len)) {
        return lava_mp_fail(mp, "multipart body: not multipart/form-data");
    }

    if (strlen(name) >= sizeof(mp->name)) {
        return lava_mp_fail(mp, "multipart body: field name too long");
    }

    strcpy(mp->name, name);

    star = 0;
    rc = lava_mp_param(ct, len, "boundary", b, sizeof(b), &star);
    if (rc != 1 || star) {
        return lava_mp_fail(mp, "multipart body: no usable boundary");
    }

    bl = strlen(b);
    if (bl == 0 || bl > LAVA_MULTIPART_BOUNDARY_MAX || b[bl - 1] == ' ') {
        return lava_mp_fail(mp, "multipart body: bad boundary");
    }

    for (i = 0; i < bl; i++) {
        if (!lava_mp_bchar((unsigned char) b[i])) {
            return lava_mp_fail(mp, "multipart body: bad boundary");
        }
    }

    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, b, bl);
    mp->dlen = 4 + bl;

    /* the first delimiter may open the body: as if a CRLF came before */
    mp->match = 2;
    mp->state = LAVA_MP_PREAMBLE;

    return 0;
}


/* a part's header block is complete: is it the wanted field? */
static int
lava_mp_headers(lava_multipart_t *mp)
{
    int          cd, star, rc;
    size_t       n;
    const char  *line, *eol, *end, *v;
    char         name[LAVA_MULTIPART_NAME_MAX + 1];

    cd = 0;
    mp->capture = 0;
    mp->cur_len = 0;
    name[0] = '\0';
    star = 0;

    end = mp->hdr + mp->hlen;

    for (line = mp->hdr; line < end; line = eol + 2) {
        eol = line;

        while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n')) {
            eol++;
        }

        if (eol + 1 >= end) {
            break;
        }

        n = eol - line;
        if (n == 0) {
            break;
        }

        v = memchr(line, ':', n);
        if (v == NULL) {
            return lava_mp_fail(mp, "multipart body: bad part header");
        }

#define LAVA_MP_HDR(s)  ((size_t) (v - line) == sizeof(s) - 1                \
                         && strncasecmp(line, s, sizeof(s) - 1) == 0)

        if (LAVA_MP_HDR("content-disposition")) {
            if (cd++) {
                return lava_mp_fail(mp, "multipart body: "
                                       "two content-disposition headers");
            }

            rc = lava_mp_param(v + 1, eol - v - 1, "name", name,
                               sizeof(name), &star);
            if (rc < 0 || star) {
                return lava_mp_fail(mp, "multipart body: "
                                       "bad content-disposition");
            }

            if (rc == 0) {
                name[0] = '\0';
            }

        } else if (LAVA_MP_HDR("content-transfer-encoding")) {
            /* an encoded value would be read differently by each parser */
            mp->capture = -1;
        }

#undef LAVA_MP_HDR
    }

    if (strcmp(name, mp->name) != 0) {
        mp->capture = 0;
        return 0;
    }

    if (mp->capture == -1) {
        return lava_mp_fail(mp, "multipart body: "
                               "the field has a content-transfer-encoding");
    }

    mp->capture = 1;

    return 0;
}


static int
lava_mp_part_end(lava_multipart_t *mp)
{
    if (!mp->capture) {
        return 0;
    }

    mp->capture = 0;

    if (mp->cur_len >= sizeof(mp->cur)) {
        return lava_mp_fail(mp, "multipart body: field value too long");
    }

    mp->cur[mp->cur_len] = '\0';

    if (mp->found++ && strcmp(mp->value, mp->cur) != 0) {
        return lava_mp_fail(mp, "multipart body: "
                               "the field is given twice, with "
                               "different values");
    }

    memcpy(mp->value, mp->cur, mp->cur_len + 1);

    return 0;
}


static void
lava_mp_keep(lava_multipart_t *mp, const char *p, size_t n)
{
    size_t  room;

    if (mp->state != LAVA_MP_DATA || !mp->capture) {
        return;
    }

    room = sizeof(mp->cur) - 1;

    if (mp->cur_len < room) {
        memcpy(mp->cur + mp->cur_len, p,
               n < room - mp->cur_len ? n : room - mp->cur_len);
    }

    /* counts on past the buffer: too long is an error at the part's end */
    mp->cur_len = (mp->cur_len + n > room + 1) ? room + 1 : mp->cur_len + n;
}


int
lava_multipart_feed(lava_multipart_t *mp, const char *p, size_t n)
{
    char         c;
    const char  *end, *cr;

    if (mp->error) {
        return -1;
    }

    end = p + n;

    while (p < end) {

        switch (mp->state) {

        case LAVA_MP_PREAMBLE:
        case LAVA_MP_DATA:
            if (mp->match == 0) {
                /* skip to the next CR: content is never looked at */
                cr = memchr(p, '\r', end - p);
                if (cr == NULL) {
                    lava_mp_keep(mp, p, end - p);
                    return 0;
                }

                lava_mp_keep(mp, p, cr - p);
                p = cr;
            }

            c = *p++;

            if (c == mp->delim[mp->match]) {
                if (++mp->match < mp->dlen) {
                    break;
                }

                mp->match = 0;

                if (mp->state == LAVA_MP_DATA && lava_mp_part_end(mp) != 0) {
                    return -1;
                }

                mp->state = LAVA_MP_AFTER;
                break;
            }

            /* what looked like a delimiter was content; a CR may start
             * one again (the boundary holds no CR) */
            lava_mp_keep(mp, mp->delim, mp->match);
            mp->match = 0;

            if (c == '\r') {
                mp->match = 1;
            } else {
                lava_mp_keep(mp, &c, 1);
            }

            break;

        case LAVA_MP_AFTER:
            c = *p++;

            if (c == '-') {
                mp->state = LAVA_MP_DASH;
            } else if (c == ' ' || c == '\t') {
                mp->state = LAVA_MP_PAD;
            } else if (c == '\r') {
                mp->state = LAVA_MP_LF;
            } else {
                return lava_mp_fail(mp, "multipart body: bad delimiter line");
            }

            break;

        case LAVA_MP_DASH:
            if (*p++ != '-') {
                return lava_mp_fail(mp, "multipart body: bad delimiter line");
            }

            mp->state = LAVA_MP_DONE;
            break;

        case LAVA_MP_PAD:
            c = *p++;

            if (c == '\r') {
                mp->state = LAVA_MP_LF;
            } else if (c != ' ' && c != '\t') {
                return lava_mp_fail(mp, "multipart body: bad delimiter line");
            }

            break;

        case LAVA_MP_LF:
            if (*p++ != '\n') {
                return lava_mp_fail(mp, "multipart body: bad delimiter line");
            }

            if (++mp->parts > 1000) {
                return lava_mp_fail(mp, "multipart body: too many parts");
            }

            mp->state = LAVA_MP_HEADERS;
            mp->hlen = 0;
            break;

        case LAVA_MP_HEADERS:
            if (mp->hlen == sizeof(mp->hdr)) {
                return lava_mp_fail(mp, "multipart body: "
                                       "part headers too long");
            }

            mp->hdr[mp->hlen++] = *p++;

            if ((mp->hlen == 2 && memcmp(mp->hdr, "\r\n", 2) == 0)
                || (mp->hlen >= 4
                    && memcmp(mp->hdr + mp->hlen - 4, "\r\n\r\n", 4) == 0))
            {
                if (lava_mp_headers(mp) != 0) {
                    return -1;
                }

                mp->state = LAVA_MP_DATA;
                mp->match = 0;
            }

            break;

        default:
            /* the epilogue after the close delimiter is ignored */
            return 0;
        }
    }

    return 0;
}


int
lava_multipart_finish(lava_multipart_t *mp)
{
    if (mp->error) {
        return -1;
    }

    if (mp->state != LAVA_MP_DONE) {
        return lava_mp_fail(mp, "multipart body: "
                               "the body ends before its close delimiter");
    }

    return 0;
}
