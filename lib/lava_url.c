/*
 * Forward target URL (see lava_url.h).
 *
 * The result goes into the request line nginx sends to the provider, which
 * is sent verbatim: every byte of it is either checked against the RFC 3986
 * sets or percent-encoded, and nothing that could end or split the request
 * line (CR, LF, NUL, space) can get through, encoded once or twice.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lava_url.h"


#define LAVA_URL_HOST_MAX  253


typedef struct {
    char    *p;
    char    *end;
    int      err;
} lava_url_out_t;


typedef struct {
    const char  *p;
    size_t       len;
} lava_url_str_t;


static size_t lava_url_mask_name(const char *p, const char *end);


static int
lava_url_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* p[0] == '%': the byte of a valid %XX escape at p, or -1 */
static int
lava_url_escape(const char *p, const char *end)
{
    int  h, l;

    if (end - p < 3) {
        return -1;
    }

    h = lava_url_hex((unsigned char) p[1]);
    l = lava_url_hex((unsigned char) p[2]);

    return (h < 0 || l < 0) ? -1 : (h << 4) | l;
}


static int
lava_url_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}


/* unreserved / sub-delims / ":" / "@" */
static int
lava_url_is_pchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9'))
    {
        return 1;
    }

    return strchr("-._~!$&'()*+,;=:@", c) != NULL && c != '\0';
}


/* Percent-decodes p into out (which may be p itself); '+' stays '+'.
 * Returns the length, or -1 on a bad escape. */
static long
lava_url_decode(const char *p, size_t n, char *out)
{
    int          c;
    size_t       o;
    const char  *end;

    end = p + n;

    for (o = 0; p < end; p++) {
        if (*p == '%') {
            c = lava_url_escape(p, end);
            if (c < 0) {
                return -1;
            }

            out[o++] = (char) c;
            p += 2;
            continue;
        }

        out[o++] = *p;
    }

    return (long) o;
}


static void
lava_url_put(lava_url_out_t *w, const char *p, size_t n)
{
    if (w->err) {
        return;
    }

    if ((size_t) (w->end - w->p) < n) {
        w->err = LAVA_URL_TOO_LONG;
        return;
    }

    memcpy(w->p, p, n);
    w->p += n;
}


/*
 * Copies URL text (a path, or one query argument) to the output: valid %XX
 * escapes are kept unless they encode a control byte, a lone '%' and bytes
 * outside the set are encoded. Raw control bytes, spaces and '#' are refused.
 */
static void
lava_url_put_encoded(lava_url_out_t *w, const char *p, size_t n, int query)
{
    int                   c;
    char                  esc[3];
    const char           *end;
    unsigned char         b;
    static const char     hex[] = "0123456789ABCDEF";

    end = p + n;

    for ( /* void */ ; p < end && !w->err; p++) {
        b = (unsigned char) *p;

        if (lava_url_is_ctl(b) || b == ' ' || b == '#') {
            w->err = LAVA_URL_BAD_CHAR;
            return;
        }

        if (b == '%') {
            c = lava_url_escape(p, end);

            if (c >= 0) {
                if (lava_url_is_ctl((unsigned char) c)) {
                    w->err = LAVA_URL_BAD_CHAR;
                    return;
                }

                lava_url_put(w, p, 3);
                p += 2;
                continue;
            }
        }

        if (lava_url_is_pchar(b) || b == '/' || (query && b == '?')) {
            lava_url_put(w, p, 1);
            continue;
        }

        esc[0] = '%';
        esc[1] = hex[b >> 4];
        esc[2] = hex[b & 0xf];
        lava_url_put(w, esc, 3);
    }
}


/* the argument's name, percent-decoded, is `name` ("k%65y" is "key") */
static int
lava_url_arg_is(const char *a, size_t n, const char *name)
{
    char         tmp[24];
    long         len;
    const char  *eq;

    eq = memchr(a, '=', n);
    if (eq) {
        n = eq - a;
    }

    if (n > sizeof(tmp)) {
        return 0;
    }

    len = lava_url_decode(a, n, tmp);

    return len >= 0 && (size_t) len == strlen(name)
           && memcmp(tmp, name, len) == 0;
}


static lava_url_str_t
lava_url_arg_value(const char *a, size_t n)
{
    lava_url_str_t  v;
    const char     *eq;

    eq = memchr(a, '=', n);

    if (eq == NULL) {
        v.p = a + n;
        v.len = 0;

    } else {
        v.p = eq + 1;
        v.len = n - (eq + 1 - a);
    }

    return v;
}


/* "." or ".." as a path segment, also written with %2e */
static int
lava_url_is_dot_segment(const char *s, size_t n)
{
    size_t  i, dots;

    dots = 0;

    for (i = 0; i < n; ) {
        if (s[i] == '.') {
            i++;

        } else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2'
                   && (s[i + 2] == 'e' || s[i + 2] == 'E'))
        {
            i += 3;

        } else {
            return 0;
        }

        dots++;
    }

    return dots == 1 || dots == 2;
}


static int
lava_url_check_dots(const char *path, size_t n)
{
    const char  *seg, *slash, *end;

    end = path + n;

    for (seg = path; seg < end; seg = slash + 1) {
        slash = memchr(seg, '/', end - seg);
        if (slash == NULL) {
            slash = end;
        }

        if (lava_url_is_dot_segment(seg, slash - seg)) {
            return LAVA_URL_DOT_SEGMENT;
        }
    }

    return LAVA_URL_OK;
}


/*
 * The authority of the decoded u: host names of letters, digits, '-' and
 * '.', or a bracketed IP literal; no userinfo; no port but 443.
 */
static int
lava_url_host(const char *a, size_t n, lava_url_out_t *w, lava_target_t *t)
{
    size_t       i, hlen;
    const char  *port, *end, *rb;
    char         c;

    end = a + n;

    if (memchr(a, '@', n)) {
        return LAVA_URL_USERINFO;
    }

    if (n && a[0] == '[') {
        rb = memchr(a, ']', n);
        if (rb == NULL) {
            return LAVA_URL_BAD_HOST;
        }

        for (i = 1; a + i < rb; i++) {
            if (lava_url_hex((unsigned char) a[i]) < 0 && a[i] != ':'
                && a[i] != '.')
            {
                return LAVA_URL_BAD_HOST;
            }
        }

        if (rb == a + 1) {
            return LAVA_URL_BAD_HOST;
        }

        hlen = rb + 1 - a;
        port = (rb + 1 < end) ? rb + 1 : NULL;

        if (port && *port != ':') {
            return LAVA_URL_BAD_HOST;
        }

    } else {
        port = memchr(a, ':', n);
        hlen = port ? (size_t) (port - a) : n;

        for (i = 0; i < hlen; i++) {
            c = a[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            {
                return LAVA_URL_BAD_HOST;
            }

            /* empty labels: ".host", "a..b" */
            if (c == '.' && (i == 0 || a[i - 1] == '.')) {
                return LAVA_URL_BAD_HOST;
            }
        }
    }

    if (hlen == 0 || hlen > LAVA_URL_HOST_MAX) {
        return LAVA_URL_BAD_HOST;
    }

    if (port && !((size_t) (end - port) == 4 && memcmp(port, ":443", 4) == 0))
    {
        return LAVA_URL_BAD_PORT;
    }

    t->host = w->p;
    t->host_len = hlen;

    lava_url_put(w, a, hlen);
    if (w->err) {
        return w->err;
    }

    for (i = 0; i < hlen; i++) {
        c = ((char *) t->host)[i];
        if (c >= 'A' && c <= 'Z') {
            ((char *) t->host)[i] = (char) (c | 0x20);
        }
    }

    return LAVA_URL_OK;
}


/* Decodes a key value into the output; the token decoder checks the rest. */
static int
lava_url_key(const char *p, size_t n, lava_url_out_t *w, lava_target_t *t)
{
    long    len;
    size_t  i;

    if (t->key) {
        return LAVA_URL_DUPLICATE;
    }

    if ((size_t) (w->end - w->p) < n) {
        return LAVA_URL_TOO_LONG;
    }

    len = lava_url_decode(p, n, w->p);
    if (len < 0) {
        return LAVA_URL_BAD_ESCAPE;
    }

    for (i = 0; i < (size_t) len; i++) {
        if (lava_url_is_ctl((unsigned char) w->p[i])) {
            return LAVA_URL_BAD_CHAR;
        }
    }

    t->key = w->p;
    t->key_len = (size_t) len;
    w->p += len;

    return LAVA_URL_OK;
}


/* The key arguments of the arguments a..end, decoded into t->key. */
static int
lava_url_keys(const char *a, const char *end, lava_url_out_t *w,
    lava_target_t *t)
{
    int              rc;
    const char      *amp, *aend;
    lava_url_str_t   v;

    for ( /* void */ ; a < end; a = amp + 1) {
        amp = memchr(a, '&', end - a);
        aend = amp ? amp : end;

        if (lava_url_arg_is(a, aend - a, "key")) {
            v = lava_url_arg_value(a, aend - a);
            rc = lava_url_key(v.p, v.len, w, t);
            if (rc != LAVA_URL_OK) {
                return rc;
            }
        }

        if (amp == NULL) {
            break;
        }
    }

    return LAVA_URL_OK;
}


/*
 * Copies the arguments a..end to the query, but empty ones, key, and u when
 * skip_u; *first is 1 while nothing was copied yet ('?' then, else '&').
 */
static void
lava_url_put_args(lava_url_out_t *w, const char *a, const char *end,
    int skip_u, int *first)
{
    size_t       n;
    const char  *amp, *aend;

    for ( /* void */ ; a < end; a = amp + 1) {
        amp = memchr(a, '&', end - a);
        aend = amp ? amp : end;
        n = aend - a;

        if (n && !lava_url_arg_is(a, n, "key")
            && !(skip_u && lava_url_arg_is(a, n, "u"))
            && lava_url_mask_name(a, aend) == 0)
        {
            lava_url_put(w, *first ? "?" : "&", 1);
            lava_url_put_encoded(w, a, n, 1);
            *first = 0;
        }

        if (amp == NULL) {
            break;
        }
    }
}


static int
lava_url_build(const char *u, size_t ulen, const char *extra,
    size_t extra_len, const char *args, size_t args_len, lava_url_out_t *w,
    lava_target_t *t)
{
    int          rc, first;
    size_t       i, base_len;
    const char  *auth, *path, *query, *end;

    end = u + ulen;

    for (i = 0; i < ulen; i++) {
        if (lava_url_is_ctl((unsigned char) u[i]) || u[i] == ' ') {
            return LAVA_URL_BAD_CHAR;
        }

        if (u[i] == '#') {
            /* never sent to a server by a client: refused, not dropped */
            return LAVA_URL_BAD_CHAR;
        }
    }

    if (ulen < 8 || strncasecmp(u, "https://", 8) != 0) {
        return LAVA_URL_NOT_HTTPS;
    }

    auth = u + 8;

    for (path = auth; path < end && *path != '/' && *path != '?'; path++) {
        /* void */
    }

    rc = lava_url_host(auth, path - auth, w, t);
    if (rc != LAVA_URL_OK) {
        return rc;
    }

    query = memchr(path, '?', end - path);
    base_len = (query ? query : end) - path;

    /* the key of a raw u's own query first: it may be the token */
    if (query) {
        rc = lava_url_keys(query + 1, end, w, t);
        if (rc != LAVA_URL_OK) {
            return rc;
        }
    }

    rc = lava_url_keys(args, args + args_len, w, t);
    if (rc != LAVA_URL_OK) {
        return rc;
    }

    /* path: u's path, then the extra path without a doubled slash */
    t->uri = w->p;
    t->path = w->p;

    if (base_len == 0) {
        if (extra_len == 0 || extra[0] != '/') {
            lava_url_put(w, "/", 1);
        }

    } else {
        if (extra_len && extra[0] == '/' && path[base_len - 1] == '/') {
            base_len--;
        }

        lava_url_put_encoded(w, path, base_len, 0);

        if (extra_len && extra[0] != '/' && path[base_len - 1] != '/') {
            lava_url_put(w, "/", 1);
        }
    }

    if (extra_len) {
        /* the request's own path: raw, so a lone '%' is an error */
        for (i = 0; i < extra_len; i++) {
            if (extra[i] == '%' && lava_url_escape(extra + i, extra + extra_len)
                                   < 0)
            {
                return LAVA_URL_BAD_ESCAPE;
            }
        }

        lava_url_put_encoded(w, extra, extra_len, 0);
    }

    if (w->err) {
        return w->err;
    }

    t->path_len = w->p - t->path;

    rc = lava_url_check_dots(t->path, t->path_len);
    if (rc != LAVA_URL_OK) {
        return rc;
    }

    /* query: u's own arguments, then the request's, key and u left out, and
     * whatever the masker takes for a key (KEY=, key%3D...): nothing that
     * may be a secret reaches the upstream URL, which nginx logs */
    first = 1;

    if (query) {
        lava_url_put_args(w, query + 1, end, 0, &first);
    }

    lava_url_put_args(w, args, args + args_len, 1, &first);

    if (w->err) {
        return w->err;
    }

    t->uri_len = w->p - t->uri;

    return LAVA_URL_OK;
}


int
lava_url_parse(const char *extra, size_t extra_len, const char *args,
    size_t args_len, char *buf, size_t size, lava_target_t *t)
{
    int             rc;
    long            ulen;
    char           *u;
    const char     *a, *amp, *aend;
    lava_url_out_t  w;
    lava_url_str_t  uv;

    memset(t, 0, sizeof(lava_target_t));

    if (extra_len > LAVA_URL_MAX || args_len > LAVA_URL_MAX
        || extra_len + args_len > LAVA_URL_MAX)
    {
        return LAVA_URL_TOO_LONG;
    }

    uv.p = NULL;
    uv.len = 0;

    for (a = args; a < args + args_len; a = amp + 1) {
        amp = memchr(a, '&', args + args_len - a);
        aend = amp ? amp : args + args_len;

        if (lava_url_arg_is(a, aend - a, "u")) {
            if (uv.p) {
                /* which one would the provider see? neither */
                return LAVA_URL_DUPLICATE;
            }

            uv = lava_url_arg_value(a, aend - a);
        }

        if (amp == NULL) {
            break;
        }
    }

    if (uv.p == NULL || uv.len == 0) {
        return LAVA_URL_MISSING_U;
    }

    u = malloc(uv.len);
    if (u == NULL) {
        return LAVA_URL_TOO_LONG;
    }

    ulen = lava_url_decode(uv.p, uv.len, u);
    if (ulen < 0) {
        free(u);
        return LAVA_URL_BAD_ESCAPE;
    }

    w.p = buf;
    w.end = buf + size;
    w.err = 0;

    rc = lava_url_build(u, (size_t) ulen, extra, extra_len, args, args_len,
                        &w, t);

    free(u);

    if (rc != LAVA_URL_OK) {
        memset(t, 0, sizeof(lava_target_t));
    }

    return rc;
}


/* levels of percent-encoding the masker looks through ("%252525...") */
#define LAVA_URL_MASK_DEPTH  4


typedef struct {
    int     c;          /* the byte, fully decoded */
    int     depth;      /* times it was encoded: 0 raw, 1 "%3D", 2 "%253D" */
    size_t  len;        /* raw bytes it takes */
} lava_url_char_t;


/*
 * One character of p, decoded through every level: an escape that decodes
 * to '%' followed by two (decoded) hex digits is one escape deeper. Invalid
 * escapes are taken as they are; the depth is bounded, so is the length.
 */
static lava_url_char_t
lava_url_peel(const char *p, const char *end, int level)
{
    int              c, h, l;
    lava_url_char_t  r, hc, lc;

    r.c = (unsigned char) p[0];
    r.depth = 0;
    r.len = 1;

    if (p[0] != '%' || (c = lava_url_escape(p, end)) < 0) {
        return r;
    }

    r.c = c;
    r.depth = 1;
    r.len = 3;

    while (r.c == '%' && level < LAVA_URL_MASK_DEPTH && p + r.len < end) {
        hc = lava_url_peel(p + r.len, end, level + 1);
        if (p + r.len + hc.len >= end) {
            break;
        }

        lc = lava_url_peel(p + r.len + hc.len, end, level + 1);

        h = lava_url_hex((unsigned char) hc.c);
        l = lava_url_hex((unsigned char) lc.c);
        if (h < 0 || l < 0) {
            break;
        }

        r.c = (h << 4) | l;
        r.depth = 1 + (r.depth > hc.depth
                       ? (r.depth > lc.depth ? r.depth : lc.depth)
                       : (hc.depth > lc.depth ? hc.depth : lc.depth));
        r.len += hc.len + lc.len;
        level++;
    }

    return r;
}


/*
 * The names of query arguments that carry a credential, for every provider:
 * "key" (Google, and the gateway's own token carrier), "api_key", "apikey",
 * "api-key", "access_token" (OAuth bearer tokens, Google among others) and
 * "token". They are masked in every logged copy of the request and never
 * forwarded: no provider of the table takes a non-secret argument of these
 * names (Google's pagination argument is "pageToken"), and a credential in
 * the upstream URL would be written into nginx's upstream error lines.
 */
static const char  *lava_url_secret_names[] = {
    "key=", "api_key=", "apikey=", "api-key=", "access_token=", "token=", NULL
};


/* p starts with name ("key="...), letters in any case, each byte encoded or
 * not; the length of that name and '=', or 0 */
static size_t
lava_url_mask_one(const char *p, const char *end, const char *name)
{
    size_t           n;
    const char      *q;
    lava_url_char_t  ch;

    q = p;

    for ( /* void */ ; *name; name++) {
        if (q >= end) {
            return 0;
        }

        ch = lava_url_peel(q, end, 0);

        n = (ch.c >= 'A' && ch.c <= 'Z') ? (size_t) (ch.c | 0x20)
                                         : (size_t) ch.c;
        if (n != (size_t) (unsigned char) *name) {
            return 0;
        }

        q += ch.len;
    }

    return (size_t) (q - p);
}


/* p starts one of the credential names and '=' (lava_url_secret_names), in
 * any case and encoding; the length of that name and '=', or 0 */
static size_t
lava_url_mask_name(const char *p, const char *end)
{
    size_t        n;
    const char  **name;

    for (name = lava_url_secret_names; *name; name++) {
        n = lava_url_mask_one(p, end, *name);
        if (n) {
            return n;
        }
    }

    return 0;
}


size_t
lava_url_mask_keys(char *args, size_t len, int write)
{
    int              depth, at_start;
    char            *p, *v, *end;
    size_t           n, masked;
    lava_url_char_t  ch;

    p = args;
    end = args + len;
    masked = 0;
    at_start = 1;
    depth = 0;

    while (p < end) {

        if (at_start && (n = lava_url_mask_name(p, end)) != 0) {
            /* the value, up to a '&' of this argument's level or an outer one */
            for (v = p + n; v < end; v += ch.len) {
                ch = lava_url_peel(v, end, 0);
                if (ch.c == '&' && ch.depth <= depth) {
                    break;
                }
            }

            for (p += n; p < v; p++) {
                if (*p != '*') {
                    masked++;
                    if (write) {
                        *p = '*';
                    }
                }
            }

            at_start = 0;
            continue;
        }

        ch = lava_url_peel(p, end, 0);

        /* an argument starts after '&', and after the '?' of a URL in u */
        at_start = (ch.c == '&' || ch.c == '?');
        if (at_start) {
            depth = ch.depth;
        }

        p += ch.len;
    }

    return masked;
}


const char *
lava_url_strerror(int rc)
{
    switch (rc) {
    case LAVA_URL_OK:
        return "ok";
    case LAVA_URL_MISSING_U:
        return "the \"u\" query parameter with the provider URL is required";
    case LAVA_URL_BAD_ESCAPE:
        return "the provider URL has an invalid percent escape";
    case LAVA_URL_NOT_HTTPS:
        return "the provider URL must start with https://";
    case LAVA_URL_USERINFO:
        return "the provider URL must not contain user information";
    case LAVA_URL_BAD_HOST:
        return "the provider URL has an invalid host";
    case LAVA_URL_BAD_PORT:
        return "the provider URL must use the default https port";
    case LAVA_URL_BAD_CHAR:
        return "the provider URL contains a forbidden character";
    case LAVA_URL_DOT_SEGMENT:
        return "the provider URL path contains a dot segment";
    case LAVA_URL_TOO_LONG:
        return "the provider URL is too long";
    case LAVA_URL_DUPLICATE:
        return "the \"u\" or \"key\" query parameter is given twice";
    default:
        return "the provider URL is invalid";
    }
}
