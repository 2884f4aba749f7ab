/*
 * The managed provider key file (lava_provider_keys): one "<provider> <key>"
 * per line, '#' comments and blank lines, read at configuration time. The
 * file holds secrets: pure C, no I/O, explicit limits, and nothing here
 * copies a byte of it into an error (a refused line is named by its number).
 *
 * Lines end with '\n'; spaces and tabs around a line, and a '\r' at its
 * end, are ignored. The provider name runs to the first space or tab; the
 * key, after the spaces and tabs that follow, is the rest of the line and
 * must be printable ASCII without spaces (0x21-0x7e). The name is not
 * checked here: the caller matches it against its provider table, and
 * names an unknown one in its error only when lava_keys_name_valid().
 *
 * Modelled on hiredis read.c: the caller hands in the whole file and takes
 * one entry at a time; the entries point into the caller's bytes; a refused
 * line stops the reader for good (sticky error).
 */

#ifndef LAVA_KEYS_H
#define LAVA_KEYS_H

#include <stddef.h>

#define LAVA_KEYS_FILE_MAX   (1024 * 1024)        /* bytes of the file */

/*
 * Provider names (lava_provider <name>, the first field of a line): a
 * lower-case letter, then lower-case letters, digits, '-' and '_', 24 bytes
 * at most. Short and plain on purpose: a first field outside it may be a key
 * written first by mistake, and is never copied into a log line.
 */
#define LAVA_KEYS_NAME_MAX   24

enum {
    LAVA_KEYS_OK = 0,             /* an entry */
    LAVA_KEYS_DONE,               /* no more lines */
    LAVA_KEYS_BAD_LINE,           /* no key, or a key with other bytes */
    LAVA_KEYS_TOO_LARGE           /* the file is over LAVA_KEYS_FILE_MAX */
};

typedef struct {
    const char  *pos;             /* next line */
    const char  *end;
    size_t       line;            /* number of the last line read, from 1 */
    int          err;             /* sticky: BAD_LINE or TOO_LARGE; 0 none */
} lava_keys_t;

typedef struct {
    const char  *name;            /* not NUL-terminated */
    size_t       name_len;
    const char  *key;             /* not NUL-terminated; a secret */
    size_t       key_len;
    size_t       line;
} lava_keys_entry_t;

/* p: the file's n bytes, kept by the caller while entries are in use */
int lava_keys_init(lava_keys_t *k, const char *p, size_t n);

/* LAVA_KEYS_OK (e set), LAVA_KEYS_DONE, or the sticky error */
int lava_keys_next(lava_keys_t *k, lava_keys_entry_t *e);

/* 1: p[0..n) is in the provider-name charset (LAVA_KEYS_NAME_MAX) */
int lava_keys_name_valid(const char *p, size_t n);

#endif /* LAVA_KEYS_H */
