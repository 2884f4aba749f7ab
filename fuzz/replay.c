/*
 * Corpus replay without libFuzzer: runs LLVMFuzzerTestOneInput once on every
 * file named on the command line (directories are walked one level deep), so
 * `make test` checks the committed corpus with the ordinary compiler.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
    FILE           *f;
    unsigned char  *buf;
    long            n;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        perror(path);
        if (f) {
            fclose(f);
        }
        return -1;
    }

    /* exactly n bytes, so a read past the input is a real overrun */
    buf = malloc(n ? (size_t) n : 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        perror(path);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);

    LLVMFuzzerTestOneInput(buf, (size_t) n);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    struct stat     st;
    struct dirent  *de;
    DIR            *d;
    char            path[4096];
    int             i;
    unsigned long   files = 0;

    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0) {
                return 1;
            }
            files++;
            continue;
        }
        d = opendir(argv[i]);
        if (d == NULL) {
            perror(argv[i]);
            return 1;
        }
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                continue;
            }
            if (run_file(path) != 0) {
                closedir(d);
                return 1;
            }
            files++;
        }
        closedir(d);
    }

    printf("%s: %lu inputs replayed\n", argv[0], files);
    return 0;
}
