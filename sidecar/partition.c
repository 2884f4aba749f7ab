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

/*
 * The value of name in a packed event (the `e` field of a version 2 entry,
 * docs/events.md: "<name>:<length>:<value>\n" per field); 0 when found.
 * Anything malformed: not found (the entry goes by its id, and its own
 * partition dead-letters it).
 */
int
partition_packed_field(const char *p, size_t n, const char *name, const char **v,
    size_t *vn)
{
    size_t namelen = strlen(name), i = 0, nstart, nlen, dstart, len;

    while (i < n) {
        nstart = i;
        while (i < n && p[i] != ':' && i - nstart <= 32) {
            i++;
        }
        nlen = i - nstart;
        if (i >= n || p[i] != ':' || nlen == 0 || nlen > 32) {
            return -1;
        }
        i++;
        dstart = i;
        len = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && i - dstart < 6) {
            len = len * 10 + (size_t) (p[i] - '0');
            i++;
        }
        if (i == dstart || i >= n || p[i] != ':') {
            return -1;
        }
        i++;
        if (len >= n - i || p[i + len] != '\n') {       /* the value, then "\n" */
            return -1;
        }
        if (nlen == namelen && memcmp(p + nstart, name, namelen) == 0) {
            *v = p + i;
            *vn = len;
            return 0;
        }
        i += len + 1;
    }
    return -1;
}

/* a non-empty value of name: a stream field (version 1) or packed in the
 * field e (version 2) */
static int
entry_value(const redisReply *f, const char *name, const char **v, size_t *vn)
{
    const redisReply *r = field(f, name);

    if (r != NULL && r->len > 0) {
        *v = r->str;
        *vn = r->len;
        return 0;
    }
    r = field(f, "e");
    if (r != NULL && partition_packed_field(r->str, r->len, name, v, vn) == 0 && *vn > 0) {
        return 0;
    }
    return -1;
}

int
partition_of(const redisReply *entry, int nparts)
{
    const char *v;
    size_t      vn;

    if (nparts <= 1) {
        return 0;
    }
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2
        || entry->element[0]->type != REDIS_REPLY_STRING)
    {
        return 0;       /* not an entry at all: the first partition acks it */
    }
    if (entry_value(entry->element[1], "customer_id", &v, &vn) != 0
        && entry_value(entry->element[1], "merchant_id", &v, &vn) != 0)
    {
        v = entry->element[0]->str;
        vn = entry->element[0]->len;
    }
    return (int) (partition_hash(v, vn) % (uint32_t) nparts);
}

int
partition_of_event(const char *e, size_t en, const char *id, size_t idn, int nparts)
{
    const char *v;
    size_t      vn;

    if (nparts <= 1) {
        return 0;
    }
    if ((partition_packed_field(e, en, "customer_id", &v, &vn) != 0 || vn == 0)
        && (partition_packed_field(e, en, "merchant_id", &v, &vn) != 0 || vn == 0))
    {
        v = id;
        vn = idn;
    }
    return (int) (partition_hash(v, vn) % (uint32_t) nparts);
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


char *
partition_sibling(const char *own, int part, int nparts, int p)
{
    char    suffix[32], *base, *g;
    size_t  n = strlen(own);

    if (nparts <= 1) {
        return strdup(own);
    }
    snprintf(suffix, sizeof(suffix), ".p%dof%d", part, nparts);
    if (n < strlen(suffix) || strcmp(own + n - strlen(suffix), suffix) != 0) {
        return NULL;
    }
    base = strndup(own, n - strlen(suffix));
    if (base == NULL) {
        return NULL;
    }
    g = partition_group(base, p, nparts);
    free(base);
    return g;
}
