/*
 * Spool records (lib/lava_spool_record.c): a spool file as a worker reads
 * it back, written by another process, perhaps cut short by a crash or
 * damaged on disk. Records are read one after the other from an exact-size
 * copy of the input (after the magic when it has one), as the spool does,
 * until one is refused or more bytes are needed. Every record accepted must
 * encode back to exactly its bytes, its strings must lie inside it, and any
 * shorter view of it must ask for more bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lava_spool_record.h"

static const char     *argv[LAVA_SPOOL_ARGS_MAX];
static size_t          argvlen[LAVA_SPOOL_ARGS_MAX];
static const char     *argv2[LAVA_SPOOL_ARGS_MAX];
static size_t          argvlen2[LAVA_SPOOL_ARGS_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    size_t          off, need, need2, argc, argc2, i, cut;
    uint32_t        seed;
    unsigned char  *file, *enc;

    file = malloc(size ? size : 1);
    FUZZ_CHECK(file != NULL, "malloc");
    memcpy(file, data, size);

    off = lava_spool_magic_ok(file, size) ? LAVA_SPOOL_MAGIC_LEN : 0;
    seed = (uint32_t) size;

    while (off < size) {
        rc = lava_spool_record_parse(file + off, size - off, &need, &argc,
                                     argv, argvlen);

        if (rc == LAVA_SPOOL_REC_AGAIN) {
            FUZZ_CHECK(need > size - off && need >= LAVA_SPOOL_REC_HDR
                       && need <= LAVA_SPOOL_REC_HDR + LAVA_SPOOL_RECORD_MAX,
                       "more bytes asked for");
            break;
        }

        if (rc != LAVA_SPOOL_REC_OK) {
            FUZZ_CHECK(rc == LAVA_SPOOL_REC_TORN
                       || rc == LAVA_SPOOL_REC_BAD_LENGTH
                       || rc == LAVA_SPOOL_REC_BAD_CHECKSUM
                       || rc == LAVA_SPOOL_REC_BAD_RECORD, "a known refusal");
            FUZZ_CHECK(argc == 0, "a refused record has no strings");
            break;
        }

        FUZZ_CHECK(need <= size - off && need >= LAVA_SPOOL_REC_HDR + 4,
                   "record inside the input");
        FUZZ_CHECK(argc <= LAVA_SPOOL_ARGS_MAX && argc % 2 == 0, "argc");

        for (i = 0; i < argc; i++) {
            FUZZ_CHECK((const unsigned char *) argv[i] >= file + off
                       && (const unsigned char *) argv[i] + argvlen[i]
                          <= file + off + need, "string inside the record");
        }

        /* what the writer makes of the strings is the record itself */
        FUZZ_CHECK(lava_spool_record_size(argc, argvlen) == need,
                   "size of the strings");
        enc = malloc(need);
        FUZZ_CHECK(enc != NULL, "malloc");
        FUZZ_CHECK(lava_spool_record_encode(enc, argc, argv, argvlen) == need
                   && memcmp(enc, file + off, need) == 0, "encodes back");
        free(enc);

        /* a view cut anywhere inside the record asks for more */
        seed = seed * 1103515245u + 12345u;
        cut = (seed >> 8) % need;
        rc = lava_spool_record_parse(file + off, cut, &need2, &argc2, argv2,
                                     argvlen2);
        FUZZ_CHECK(rc == LAVA_SPOOL_REC_AGAIN
                   && need2 == (cut < LAVA_SPOOL_REC_HDR ? LAVA_SPOOL_REC_HDR
                                                         : need),
                   "a cut record asks for the rest");

        off += need;
    }

    free(file);
    return 0;
}
