/*
 * Log lines to stderr: "<UTC time> lava-sidecar[<pid>] <level>: <message>".
 * Messages are lower case, say what failed, and never carry secrets
 * (connection strings, keys): callers log host and port, not URLs.
 */
#ifndef SIDECAR_LOG_H
#define SIDECAR_LOG_H

enum {
    SLOG_ERROR = 0,
    SLOG_WARN,
    SLOG_INFO,
    SLOG_DEBUG
};

extern int slog_level;   /* lines above this level are dropped; SLOG_INFO by default */

void slog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
