#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"

uint32_t
partition_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t   i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char) p[i];
        h *= 16777619u;
    }
    return h;
}

/* the value of field name, or NULL (fields malformed, or no such field) */
static const redisReply *
field(const redisReply *f, const char *name)
{
    size_t i, len = strlen(name);

    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0) {
        return NULL;
    }
    for (i = 0; i < f->elements; i += 2) {
        if (f->element[i]->type != REDIS_REPLY_STRING
            || f->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            return NULL;
        }
    }
    for (i = 0; i < f->elements; i += 2) {
        if (f->element[i]->len == len && memcmp(f->element[i]->str, name, len) == 0) {
            return f->element[i + 1];
        }
    }
    return NULL;
}

int
partition_of(const redisReply *entry, int nparts)
{
    const redisReply *v = NULL;

    if (nparts <= 1) {
        return 0;
    }
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2
        || entry->element[0]->type != REDIS_REPLY_STRING)
    {
        return 0;       /* not an entry at all: the first partition acks it */
    }
    v = field(entry->element[1], "customer_id");
    if (v == NULL || v->len == 0) {
        v = field(entry->element[1], "merchant_id");
    }
    if (v == NULL || v->len == 0) {
        v = entry->element[0];
    }
    return (int) (partition_hash(v->str, v->len) % (uint32_t) nparts);
}

char *
partition_group(const char *group, int part, int nparts)
{
    size_t  n = strlen(group) + 32;
    char   *g = malloc(n);

    if (g == NULL) {
        return NULL;
    }
    if (nparts <= 1) {
        snprintf(g, n, "%s", group);
    } else {
        snprintf(g, n, "%s.p%dof%d", group, part, nparts);
    }
    return g;
}
