/*
 * Provider key file (lib/lava_keys.c): lava_provider_keys as an operator or
 * a deployment tool wrote it. Read from an exact-size copy to the end or
 * the first refused line. Every entry must lie inside the file, on the line
 * it says, with a name free of spaces and tabs and a key of printable ASCII;
 * a refusal must stick.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lava_keys.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc;
    char               *file;
    size_t              i, line, last, scanned;
    lava_keys_t         k;
    lava_keys_entry_t   e;

    file = malloc(size ? size : 1);
    FUZZ_CHECK(file != NULL, "malloc");
    memcpy(file, data, size);

    rc = lava_keys_init(&k, file, size);
    FUZZ_CHECK((rc == LAVA_KEYS_OK) == (size <= LAVA_KEYS_FILE_MAX),
               "size bound");

    last = 0;
    line = 1;
    scanned = 0;

    while (rc == LAVA_KEYS_OK) {
        rc = lava_keys_next(&k, &e);

        if (rc != LAVA_KEYS_OK) {
            break;
        }

        FUZZ_CHECK(e.name >= file && e.name_len > 0
                   && e.name + e.name_len <= file + size, "name inside");
        FUZZ_CHECK(e.key > e.name + e.name_len && e.key_len > 0
                   && e.key + e.key_len <= file + size, "key after the name");
        FUZZ_CHECK(e.line > last && e.line == k.line, "line numbers grow");
        last = e.line;

        for ( /* void */ ; file + scanned < e.name; scanned++) {
            line += (file[scanned] == '\n');
        }
        FUZZ_CHECK(line == e.line, "the entry is on its line");

        for (i = 0; i < e.name_len; i++) {
            FUZZ_CHECK(e.name[i] != ' ' && e.name[i] != '\t'
                       && e.name[i] != '\n', "name bytes");
        }

        FUZZ_CHECK(e.name[0] != '#', "not a comment");

        for (i = 0; i < e.key_len; i++) {
            FUZZ_CHECK((unsigned char) e.key[i] > 0x20
                       && (unsigned char) e.key[i] < 0x7f, "key bytes");
        }
    }

    FUZZ_CHECK(rc == LAVA_KEYS_DONE || rc == LAVA_KEYS_BAD_LINE
               || rc == LAVA_KEYS_TOO_LARGE, "end of the file");

    if (rc != LAVA_KEYS_DONE) {
        FUZZ_CHECK(k.err == rc && lava_keys_next(&k, &e) == rc,
                   "sticky error");
    }

    free(file);
    return 0;
}
