#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "schema.h"

static int
listed(const char *file, const char *const *files, size_t nfiles)
{
    size_t i;

    for (i = 0; i < nfiles; i++) {
        if (strcmp(file, files[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

schema_rc_e
schema_check(PGconn *db, const char *const *files, size_t nfiles, char *why,
    size_t whysize)
{
    PGresult    *res;
    schema_rc_e  rc = SCHEMA_OK;
    const char  *f;
    int          i, n;
    size_t       k;

    why[0] = '\0';

    /* to_regclass: NULL, not an error, when the table does not exist */
    res = PQexec(db, "SELECT to_regclass('lava.schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        slog(SLOG_ERROR, "postgres schema check failed: %s", db_error(db));
        PQclear(res);
        return SCHEMA_DB_FAILED;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        PQclear(res);
        snprintf(why, whysize, "database not migrated (no lava.schema_migrations):"
                 " run lava-migrate");
        return SCHEMA_NOT_MIGRATED;
    }
    PQclear(res);

    res = PQexec(db, "SELECT file FROM lava.schema_migrations ORDER BY file");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        slog(SLOG_ERROR, "postgres schema check failed: %s", db_error(db));
        PQclear(res);
        return SCHEMA_DB_FAILED;
    }
    n = PQntuples(res);

    /* a newer schema first: running this version's lava-migrate cannot help */
    for (i = 0; i < n; i++) {
        f = PQgetvalue(res, i, 0);
        if (strncmp(f, "schema/", 7) == 0 && !listed(f, files, nfiles)) {
            snprintf(why, whysize, "database schema is newer than this sidecar"
                     " understands (%.128s applied): upgrade lava-sidecar", f);
            rc = SCHEMA_NEWER;
            goto done;
        }
    }

    for (k = 0; k < nfiles; k++) {
        for (i = 0; i < n; i++) {
            if (strcmp(files[k], PQgetvalue(res, i, 0)) == 0) {
                break;
            }
        }
        if (i == n) {
            snprintf(why, whysize, "database not migrated to this version"
                     " (%.128s not applied): run lava-migrate", files[k]);
            rc = n == 0 ? SCHEMA_NOT_MIGRATED : SCHEMA_OLDER;
            goto done;
        }
    }

done:
    PQclear(res);
    return rc;
}
