/* db: docmill's SQLite database (the index and the job queue in one file). */
#ifndef DOCMILL_DB_H
#define DOCMILL_DB_H

#include "base/common.h"

#include <sqlite3.h>

/* Opens (creating when needed) the database with the schema, WAL mode and a
 * busy timeout. Shared by the index sink and the job queue. */
sqlite3 *dmdb_open(const char *path, bool readonly, dm_err *err);
int dmdb_exec(sqlite3 *db, const char *sql, dm_err *err);
/* Busy, locked, full disk and I/O errors can clear up (retry the job); a
 * constraint or schema problem will not. */
bool dmdb_is_transient(int sqlite_code);


#endif
