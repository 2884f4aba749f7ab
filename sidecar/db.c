#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"

PGconn *
db_connect(const char *conninfo)
{
    /* Later keywords override the conninfo's: the encoding must be UTF8. */
    const char *keys[] = { "connect_timeout", "application_name", "dbname",
                           "client_encoding", NULL };
    const char *vals[] = { "5", "lava-sidecar", conninfo, "UTF8", NULL };
    PGconn     *conn;

    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL) {
        slog(SLOG_ERROR, "postgres connect failed: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        slog(SLOG_ERROR, "postgres connect failed: %s", db_error(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

void
db_close(PGconn **conn)
{
    if (*conn != NULL) {
        PQfinish(*conn);
        *conn = NULL;
    }
}

int
db_command(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    int       ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok) {
        slog(SLOG_ERROR, "postgres %s failed: %s", what, db_error(conn));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

int
db_refused(PGconn *conn, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (PQstatus(conn) != CONNECTION_OK || state == NULL) {
        return 0;
    }
    return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0
           || strncmp(state, "P0", 2) == 0;
}

const char *
db_error(PGconn *conn)
{
    static char buf[512];
    const char *m = conn != NULL ? PQerrorMessage(conn) : "no connection";
    size_t      i, j = 0;

    /* one line: line breaks and tabs of multi-line messages become one space */
    for (i = 0; m[i] != '\0' && j + 1 < sizeof(buf); i++) {
        char c = (m[i] == '\n' || m[i] == '\r' || m[i] == '\t') ? ' ' : m[i];

        if (c == ' ' && (j == 0 || buf[j - 1] == ' ')) {
            continue;
        }
        buf[j++] = c;
    }
    while (j > 0 && buf[j - 1] == ' ') {
        j--;
    }
    buf[j] = '\0';
    return buf;
}
