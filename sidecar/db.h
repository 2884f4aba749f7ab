/*
 * Postgres connections (libpq, blocking). The conninfo may hold a
 * password: it is never logged; errors are logged with libpq's message,
 * which names host and port only.
 */
#ifndef SIDECAR_DB_H
#define SIDECAR_DB_H

#include <libpq-fe.h>

/* Connects with client_encoding UTF8; NULL on failure (logged). */
PGconn *db_connect(const char *conninfo);
void db_close(PGconn **conn);

/* A statement without parameters or rows; 0, or -1 (logged with what). */
int db_command(PGconn *conn, const char *sql, const char *what);

/* libpq's last error on one line. */
const char *db_error(PGconn *conn);

#endif
