/*
 * Reads one form field (the model) out of a multipart/form-data request
 * body (RFC 7578), fed in pieces as they come from memory or the temporary
 * file: the audio endpoints (OpenAI transcriptions and translations,
 * ElevenLabs speech-to-text) name their model in a form field, not in JSON.
 *
 * Modelled on hiredis read.c: fed bytes, explicit limits, a sticky error,
 * no I/O, no allocation. File parts are scanned for the next delimiter and
 * otherwise skipped; only the wanted field's value is kept.
 */
#ifndef LAVA_MULTIPART_H
#define LAVA_MULTIPART_H

#include <stddef.h>

#define LAVA_MULTIPART_BOUNDARY_MAX  70     /* RFC 2046 */
#define LAVA_MULTIPART_HEADERS_MAX   2048   /* one part's header block */
#define LAVA_MULTIPART_NAME_MAX      32     /* the wanted field's name */
#define LAVA_MULTIPART_VALUE_MAX     128    /* its value, NUL included */


typedef struct {
    int          state;
    const char  *error;                  /* sticky; NULL none */

    /* "\r\n--" boundary: the delimiter before every part */
    char         delim[4 + LAVA_MULTIPART_BOUNDARY_MAX];
    size_t       dlen;
    size_t       match;                  /* delimiter bytes matched */

    char         hdr[LAVA_MULTIPART_HEADERS_MAX];
    size_t       hlen;

    char         name[LAVA_MULTIPART_NAME_MAX];
    int          capture;                /* in the wanted field's value */
    char         cur[LAVA_MULTIPART_VALUE_MAX];
    size_t       cur_len;                /* may pass the buffer: too long */

    unsigned     parts;
    unsigned     found;                  /* wanted fields seen */
    char         value[LAVA_MULTIPART_VALUE_MAX];  /* NUL-terminated;
                                                      "" none */
} lava_multipart_t;

/*
 * Starts reading a body of Content-Type ct (len bytes) for the field
 * `name`. 0 ready; -1 not multipart/form-data with a usable boundary
 * (mp->error says why).
 */
int lava_multipart_init(lava_multipart_t *mp, const char *ct, size_t len,
    const char *name);

/* 1 when ct is multipart/form-data (whatever its parameters) */
int lava_multipart_is(const char *ct, size_t len);

/* Feeds the next n bytes of the body. 0 fine, -1 error (sticky). */
int lava_multipart_feed(lava_multipart_t *mp, const char *p, size_t n);

/*
 * The body has ended. 0 a complete body (closing delimiter seen);
 * -1 truncated or in error (mp->error). The field's value is then
 * mp->value: a field given twice with different values, or one too long,
 * is an error, not a guess.
 */
int lava_multipart_finish(lava_multipart_t *mp);

#endif
