/*
 * JSON white space (RFC 8259: space, tab, CR, LF), for the parsers that look
 * into JSON text without a JSON library: the tap's key search, the usage
 * chunk sniffer, the request and usage scanners.
 *
 * Header only (static inline): these run per byte, and stay a compare each.
 */
#ifndef LAVA_JSON_H
#define LAVA_JSON_H

static inline int
lava_json_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* the first byte at or after p that is not white space, or end */
static inline const char *
lava_json_ws(const char *p, const char *end)
{
    while (p < end && lava_json_is_ws(*p)) {
        p++;
    }

    return p;
}

#endif
