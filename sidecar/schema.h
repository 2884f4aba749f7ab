/*
 * The schema check: before the sidecar books anything on a Postgres
 * connection, the ledger must be the one it was built for. lava-migrate
 * records every SQL file it applied in lava.schema_migrations (its path
 * under sql/); the build lists the files of this version's sql/ tree
 * (schema/NN_name.sql, every functions/ file, views.sql), and:
 *
 *   no lava.schema_migrations         SCHEMA_NOT_MIGRATED  run lava-migrate
 *   a file of this version missing    SCHEMA_OLDER         run lava-migrate
 *   a schema/ file this version lacks SCHEMA_NEWER         upgrade the sidecar
 *
 * Only names are compared: a function file whose content changed is
 * applied again by lava-migrate and does not stop an older sidecar (a
 * rolling upgrade runs old and new sidecars on one ledger for a while);
 * a new numbered schema file is a change of tables, which an older
 * sidecar does not know how to book into.
 */
#ifndef SIDECAR_SCHEMA_H
#define SIDECAR_SCHEMA_H

#include <stddef.h>

#include <libpq-fe.h>

typedef enum {
    SCHEMA_OK = 0,
    SCHEMA_DB_FAILED,          /* the query failed: a connection problem, retry */
    SCHEMA_NOT_MIGRATED,
    SCHEMA_OLDER,
    SCHEMA_NEWER
} schema_rc_e;

/*
 * Compares the ledger with files[0..nfiles), the files of this build's sql/
 * tree as lava-migrate names them (LAVA_SQL_FILES, made by the build). On anything but SCHEMA_OK,
 * why holds one line for the log naming the first file that differs and
 * what to run.
 */
schema_rc_e schema_check(PGconn *db, const char *const *files, size_t nfiles,
    char *why, size_t whysize);

#endif
