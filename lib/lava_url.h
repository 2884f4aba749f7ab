/*
 * Target URL of a forward request, from what real SDKs send:
 *   /v1/forward/chat/completions?u=https%3A%2F%2Fapi.openai.com%2Fv1
 *   /v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages
 *   /v1/forward?u=https://api.openai.com/v1/chat/completions
 *   /v1/forward?u=https%3A%2F%2Fapi.openai.com%2Fv1/chat/completions
 * `u` is decoded as a URI component; the extra path (after the location
 * prefix) is appended to its path; the other query arguments (raw u tails,
 * &limit=2, ...) are appended to its query, except `key`, which is handed back
 * separately (it may carry the forward token), and the other credential
 * arguments (`api_key`, `apikey`, `api-key`, `access_token`, `token`), which
 * are dropped. No I/O; output in caller buffer.
 *
 * Rules: '+' is not a space. `key` is removed from the arguments and from the
 * query inside u, and so is every argument lava_url_mask_keys would mask
 * (the name key in any case or encoding, "KEY=", "key%3D..."): no secret in
 * the upstream URL, which nginx writes into its error lines. Refused: control bytes, DEL and spaces after decoding u
 * (so %0d%0a too), a '#' fragment, escapes inside the decoded URL that
 * encode control bytes, "." and ".." path segments (also as %2e), userinfo,
 * ports other than 443 (":443" is dropped). The output keeps valid %XX
 * escapes of the URL as they are and percent-encodes every other byte
 * outside the RFC 3986 path/query sets (a lone '%' becomes %25).
 */
#ifndef LAVA_URL_H
#define LAVA_URL_H

#include <stddef.h>

#define LAVA_URL_MAX  8192

enum {
    LAVA_URL_OK = 0,
    LAVA_URL_MISSING_U,        /* no u argument, or empty */
    LAVA_URL_BAD_ESCAPE,       /* bad %XX */
    LAVA_URL_NOT_HTTPS,
    LAVA_URL_USERINFO,         /* '@' in the authority */
    LAVA_URL_BAD_HOST,         /* empty, bad characters, '\\' */
    LAVA_URL_BAD_PORT,         /* anything but :443 */
    LAVA_URL_BAD_CHAR,         /* control characters, CR, LF, NUL, DEL */
    LAVA_URL_DOT_SEGMENT,      /* "/../" or "/./" in the path */
    LAVA_URL_TOO_LONG,
    LAVA_URL_DUPLICATE         /* u or key given twice */
};

typedef struct {
    const char *host;  size_t host_len;     /* lower case, no port */
    const char *path;  size_t path_len;     /* starts with '/', no query */
    const char *uri;   size_t uri_len;      /* path[?query], re-encoded, for the request line */
    const char *key;   size_t key_len;      /* decoded ?key= value, NULL if absent */
} lava_target_t;

/*
 * extra: request path after the location prefix, still percent-encoded
 * ("" or "/chat/completions"); args: raw query string without '?'.
 * buf of size >= 3 * (extra_len + args_len) + 16 is always enough.
 */
int lava_url_parse(const char *extra, size_t extra_len, const char *args,
    size_t args_len, char *buf, size_t size, lava_target_t *t);
const char *lava_url_strerror(int rc);

/*
 * Overwrites with '*', in place, the value of every credential argument
 * (`key`, `api_key`, `apikey`, `api-key`, `access_token`, `token`) of a raw
 * query string, at every level of percent-encoding: "key=<v>" at the top,
 * "?key=<v>" in a raw u, "%3Fkey%3D<v>" in an encoded u, names and '=' with
 * their letters escaped once or more ("k%65y", "k%2565y"). A value runs to
 * the next '&' of its own level or an outer one ("%26" ends it inside an
 * encoded u, a raw '&' everywhere). For the copies that nginx logs ($request,
 * "request:" in error lines, $args): the target is read before. Works on any
 * bytes, valid or not, so refused requests are masked too. Returns the
 * number of bytes overwritten; with write == 0 only counts them.
 */
size_t lava_url_mask_keys(char *args, size_t len, int write);

#endif
