/*
 * The provider key file reader (see lava_keys.h).
 */

#include <string.h>

#include "lava_keys.h"


int
lava_keys_init(lava_keys_t *k, const char *p, size_t n)
{
    k->pos = p;
    k->end = p + n;
    k->line = 0;
    k->err = 0;

    if (n > LAVA_KEYS_FILE_MAX) {
        k->pos = k->end;
        k->err = LAVA_KEYS_TOO_LARGE;
    }

    return k->err ? k->err : LAVA_KEYS_OK;
}


int
lava_keys_next(lava_keys_t *k, lava_keys_entry_t *e)
{
    size_t       i;
    const char  *line, *eol, *last, *sp;

    if (k->err) {
        return k->err;
    }

    while (k->pos < k->end) {
        line = k->pos;
        k->line++;

        eol = memchr(line, '\n', (size_t) (k->end - line));
        if (eol == NULL) {
            eol = k->end;
        }

        k->pos = (eol < k->end) ? eol + 1 : k->end;

        while (line < eol && (*line == ' ' || *line == '\t')) {
            line++;
        }

        last = eol;
        while (last > line
               && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\r'))
        {
            last--;
        }

        if (line == last || *line == '#') {
            continue;
        }

        sp = line;
        while (sp < last && *sp != ' ' && *sp != '\t') {
            sp++;
        }

        e->name = line;
        e->name_len = (size_t) (sp - line);

        while (sp < last && (*sp == ' ' || *sp == '\t')) {
            sp++;
        }

        e->key = sp;
        e->key_len = (size_t) (last - sp);
        e->line = k->line;

        for (i = 0; i < e->key_len; i++) {
            if ((unsigned char) e->key[i] <= 0x20
                || (unsigned char) e->key[i] >= 0x7f)
            {
                break;
            }
        }

        if (e->key_len == 0 || i != e->key_len) {
            e->key = NULL;
            e->key_len = 0;
            k->err = LAVA_KEYS_BAD_LINE;
            return k->err;
        }

        return LAVA_KEYS_OK;
    }

    return LAVA_KEYS_DONE;
}


int
lava_keys_name_valid(const char *p, size_t n)
{
    size_t  i;
    char    c;

    if (n == 0 || n > LAVA_KEYS_NAME_MAX || p[0] < 'a' || p[0] > 'z') {
        return 0;
    }

    for (i = 1; i < n; i++) {
        c = p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_'))
        {
            return 0;
        }
    }

    return 1;
}
