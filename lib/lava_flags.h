/*
 * Flag bits written as their names, comma-separated: the tap_flags of an
 * event (lava_tap_flags_str() and lava_meter_flags_str() each own a table of
 * their bits and names; this is the writing both share).
 *
 * Header only (static inline), once per request at log time. No allocation,
 * no I/O.
 */
#ifndef LAVA_FLAGS_H
#define LAVA_FLAGS_H

#include <stddef.h>
#include <string.h>

typedef struct {
    unsigned     flag;
    const char  *name;
} lava_flag_name_t;


/*
 * Appends the names of the bits of flags found in names[0..n), in table
 * order, to buf, which holds len bytes already (a list to go on, or 0), and
 * NUL-terminates it; size is buf's size. Whole names only: a name that does
 * not fit with its comma and the NUL ends the list. Returns the new length
 * (len unchanged when size is 0 or len leaves no room).
 */
static inline size_t
lava_flags_names(const lava_flag_name_t *names, size_t n, unsigned flags,
    char *buf, size_t len, size_t size)
{
    size_t  i, nlen;

    if (size == 0 || len >= size) {
        return len;
    }

    for (i = 0; i < n; i++) {
        if (!(flags & names[i].flag)) {
            continue;
        }

        nlen = strlen(names[i].name);

        if (len + (len ? 1 : 0) + nlen >= size) {
            break;
        }

        if (len) {
            buf[len++] = ',';
        }

        memcpy(buf + len, names[i].name, nlen);
        len += nlen;
    }

    buf[len] = '\0';

    return len;
}

#endif
