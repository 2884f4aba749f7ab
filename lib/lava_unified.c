/*
 * The unified endpoints' provider table: where each provider of
 * conf/providers.conf takes a chat request (its OpenAI-compatible base URL
 * as its API reference gives it, plus "/chat/completions"; Anthropic's
 * Messages API; Gemini's generateContent). docs/translation.md lists it.
 */

#include <string.h>

#include "lava_unified.h"


typedef struct {
    const char  *name;
    const char  *path;          /* Gemini: the prefix before the model */
    int          shape;
} lava_unified_row_t;


static const lava_unified_row_t  lava_unified_rows[] = {
    { "openai", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "anthropic", "/v1/messages", LAVA_UNIFIED_ANTHROPIC },
    { "google", "/v1beta/models/", LAVA_UNIFIED_GEMINI },
    { "xai", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "mistral", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "deepseek", "/chat/completions", LAVA_UNIFIED_OPENAI },
    { "cohere", "/compatibility/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "groq", "/openai/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "together", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "fireworks", "/inference/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "deepinfra", "/v1/openai/chat/completions", LAVA_UNIFIED_OPENAI },
    { "hyperbolic", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "cerebras", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "sambanova", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "nebius", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "gmi", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "inference", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "baseten", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "vercel", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "novita", "/v3/openai/chat/completions", LAVA_UNIFIED_OPENAI },
    { "kluster", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "parasail", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "chutes", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "targon", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "moonshot", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { "embercloud", "/v1/chat/completions", LAVA_UNIFIED_OPENAI },
    { NULL, NULL, 0 }
};


/* a Gemini model name is one path segment: no '/', '?', '%', ':' */
static int
lava_unified_gemini_model(const char *m, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = m[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
        {
            return 0;
        }
    }

    return 1;
}


int
lava_unified_url(const char *provider, size_t plen, const char *host,
    size_t hlen, const char *model, size_t mlen, int stream, char *buf,
    size_t size, int *shape)
{
    size_t                     need, n;
    const char                *tail;
    const lava_unified_row_t  *row;

    for (row = lava_unified_rows; row->name; row++) {
        if (strlen(row->name) == plen && memcmp(row->name, provider, plen) == 0)
        {
            break;
        }
    }

    if (row->name == NULL || hlen == 0) {
        return -1;
    }

    tail = "";
    need = sizeof("https://") - 1 + hlen + strlen(row->path);

    if (row->shape == LAVA_UNIFIED_GEMINI) {
        if (!lava_unified_gemini_model(model, mlen)) {
            return -1;
        }

        tail = stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
        need += mlen + strlen(tail);
    }

    if (need + 1 > size) {
        return -1;
    }

    n = 0;
    memcpy(buf + n, "https://", 8);
    n += 8;
    memcpy(buf + n, host, hlen);
    n += hlen;
    memcpy(buf + n, row->path, strlen(row->path));
    n += strlen(row->path);

    if (row->shape == LAVA_UNIFIED_GEMINI) {
        memcpy(buf + n, model, mlen);
        n += mlen;
        memcpy(buf + n, tail, strlen(tail));
        n += strlen(tail);
    }

    buf[n] = '\0';
    *shape = row->shape;

    return (int) n;
}


int
lava_unified_split(const char *model, size_t len,
    int (*is_provider)(void *data, const char *p, size_t plen), void *data,
    size_t *plen, const char **m, size_t *mlen)
{
    const char  *slash;

    slash = memchr(model, '/', len);
    if (slash == NULL || slash == model || slash + 1 == model + len) {
        return 0;
    }

    if (!is_provider(data, model, (size_t) (slash - model))) {
        return 0;
    }

    *plen = (size_t) (slash - model);
    *m = slash + 1;
    *mlen = len - *plen - 1;

    return 1;
}
