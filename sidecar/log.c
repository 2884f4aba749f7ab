#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int slog_level = SLOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
slog(int level, const char *fmt, ...)
{
    char            ts[32], msg[2048];
    struct timespec now;
    struct tm       tm;
    va_list         ap;

    if (level > slog_level) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* one fprintf per line, so lines of concurrent writers do not mix */
    fprintf(stderr, "%s.%03ldZ lava-sidecar[%d] %s: %s\n", ts,
            now.tv_nsec / 1000000, (int) getpid(), level_names[level], msg);
}
