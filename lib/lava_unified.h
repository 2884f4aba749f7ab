/*
 * The unified endpoints (POST /v1/chat/completions, POST /v1/messages): the
 * model a client names picks the provider, and this table says where that
 * provider takes a chat request. Pure C, no I/O, output in caller buffers.
 *
 * A model is "provider/model" (the part before the first '/' a provider
 * name the caller knows: "anthropic/claude-sonnet-4-5",
 * "together/meta-llama/Llama-3.3-70B") or a bare model name, which the
 * caller looks up in the rate table of the auth snapshot.
 */
#ifndef LAVA_UNIFIED_H
#define LAVA_UNIFIED_H

#include <stddef.h>

#define LAVA_UNIFIED_URL_MAX  1024

/* the request shape of a provider's chat endpoint (lava_fmt_e values) */
#define LAVA_UNIFIED_OPENAI     0
#define LAVA_UNIFIED_ANTHROPIC  1
#define LAVA_UNIFIED_GEMINI     2

/*
 * The chat URL of provider (its table name) on host: "https://<host><path>"
 * into buf (NUL-terminated). Gemini's path names the model and whether the
 * answer streams. Returns the length, or -1: no chat endpoint known for
 * the provider, a model Gemini's path cannot carry, or buf too small.
 * *shape gets the request shape the endpoint takes (LAVA_UNIFIED_*).
 */
int lava_unified_url(const char *provider, size_t plen, const char *host,
    size_t hlen, const char *model, size_t mlen, int stream, char *buf,
    size_t size, int *shape);

/*
 * Splits "provider/model" where the part before the first '/' is one of
 * the names is_provider() accepts: returns 1 with *p, *m set; 0 a bare
 * model name (or an empty part on either side).
 */
int lava_unified_split(const char *model, size_t len,
    int (*is_provider)(void *data, const char *p, size_t plen), void *data,
    size_t *plen, const char **m, size_t *mlen);

#endif /* LAVA_UNIFIED_H */
