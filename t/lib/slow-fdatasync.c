/*
 * A slow disk for t/91-spool-sync.t, loaded into nginx with LD_PRELOAD:
 * every fdatasync() takes LAVA_SLOW_SYNC_MS longer than the disk's own and
 * appends "<pid> <tid>" to LAVA_SLOW_SYNC_LOG, so that the test sees which
 * thread of which process waited for it. nginx clears the environment of its
 * workers, so both are read once, when the master loads this library.
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char  log_path[4096];
static long  delay_ms;

__attribute__((constructor))
static void
slow_sync_init(void)
{
    const char  *p;

    p = getenv("LAVA_SLOW_SYNC_LOG");
    if (p != NULL) {
        snprintf(log_path, sizeof(log_path), "%s", p);
    }

    p = getenv("LAVA_SLOW_SYNC_MS");
    delay_ms = p ? atol(p) : 0;
}

int
fdatasync(int fd)
{
    int              lfd, n;
    char             line[64];
    struct timespec  ts;

    if (log_path[0]) {
        n = snprintf(line, sizeof(line), "%ld %ld\n", (long) getpid(),
                     (long) syscall(SYS_gettid));
        lfd = open(log_path, O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, 0644);
        if (lfd >= 0) {
            if (write(lfd, line, n) != n) {
                /* the test counts lines: a short one is simply not read */
            }
            close(lfd);
        }
    }

    ts.tv_sec = delay_ms / 1000;
    ts.tv_nsec = (delay_ms % 1000) * 1000000;
    nanosleep(&ts, NULL);

    return (int) syscall(SYS_fdatasync, fd);
}
