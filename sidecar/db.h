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

/*
 * Why a statement failed, from its SQLSTATE: 1 when Postgres refused the
 * data itself (class 22 data exception, 23 integrity constraint, P0 raised
 * by a plpgsql function such as book_batch): retrying cannot help. 0 for
 * trouble with the server or the connection (no SQLSTATE, connection
 * lost, any other class): retrying can. res may be NULL.
 */
int db_refused(PGconn *conn, const PGresult *res);

/* libpq's last error on one line. */
const char *db_error(PGconn *conn);

#endif
