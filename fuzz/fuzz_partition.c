/*
 * The partition of a stream entry (sidecar/partition.c): the field/value
 * strings of one Redis Stream entry, which anyone able to XADD to the
 * stream controls, version 1 (fields) or 2 (packed in `e`). Input: the
 * strings one after another, each ended by a NUL byte (the last one by the
 * end of the input), as fuzz_event.c reads them; an odd string out is kept
 * (a malformed entry). The partition is always one of 0..n-1, the same for
 * the same entry, and a packed value found lies inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "partition.h"

#define MAXSTR  256

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static redisReply   str[MAXSTR], *pstr[MAXSTR];
    redisReply          id, fields, entry, *top[2];
    const char         *p = (const char *) data, *end = p + size, *z, *v;
    size_t              n = 0, vn;
    int                 parts, a, b;

    while (p < end && n < MAXSTR) {
        z = memchr(p, '\0', end - p);
        memset(&str[n], 0, sizeof(str[n]));
        str[n].type = REDIS_REPLY_STRING;
        str[n].str = (char *) p;
        str[n].len = z ? (size_t) (z - p) : (size_t) (end - p);
        pstr[n] = &str[n];
        n++;
        p = z ? z + 1 : end;
    }
    memset(&id, 0, sizeof(id));
    id.type = REDIS_REPLY_STRING;
    id.str = (char *) "1700000000000-0";
    id.len = strlen(id.str);
    memset(&fields, 0, sizeof(fields));
    fields.type = REDIS_REPLY_ARRAY;
    fields.elements = n;
    fields.element = pstr;
    top[0] = &id;
    top[1] = &fields;
    memset(&entry, 0, sizeof(entry));
    entry.type = REDIS_REPLY_ARRAY;
    entry.elements = 2;
    entry.element = top;

    for (parts = 1; parts <= 5; parts++) {
        a = partition_of(&entry, parts);
        b = partition_of(&entry, parts);
        if (a < 0 || a >= parts || a != b) {
            abort();
        }
    }
    if (partition_packed_field((const char *) data, size, "customer_id", &v, &vn) == 0
        && (v < (const char *) data || v + vn > (const char *) data + size))
    {
        abort();
    }
    return 0;
}
