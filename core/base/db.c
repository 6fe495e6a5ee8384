/* db: the SQLite file a local run keeps: the index's documents and pages
 * and the job queue's jobs live in one database, so one commit can record a
 * document and its job together. Opening it creates the schema. */
#include "base/db.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* user_version tracks the schema so a later release can migrate in place. */
#define SCHEMA_VERSION 3

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS documents ("
    "  id TEXT PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  size INTEGER, mtime_ms INTEGER, sha256 TEXT, mime TEXT,"
    "  page_count INTEGER, pages_indexed INTEGER, pages_ocr INTEGER,"
    "  methods TEXT,"          /* one letter per page: t = text layer, o = OCR */
    "  extract_ms INTEGER, note TEXT, indexed_at INTEGER,"
    "  title TEXT, meta TEXT,"      /* since version 2 */
    "  parent TEXT, members INTEGER);"  /* since version 3: members of zips and mails */
    "CREATE INDEX IF NOT EXISTS documents_source ON documents(source);"
    "CREATE INDEX IF NOT EXISTS documents_parent ON documents(parent);"
    /* Copies of one file in other folders are found by content. */
    "CREATE INDEX IF NOT EXISTS documents_sha256 ON documents(sha256);"
    "CREATE TABLE IF NOT EXISTS pages ("
    "  rowid INTEGER PRIMARY KEY,"
    "  doc_id TEXT NOT NULL, page INTEGER NOT NULL, method TEXT NOT NULL, dpi INTEGER,"
    "  UNIQUE(doc_id, page));"
    /* The trigram tokenizer gives substring search in any script, which is
     * what Japanese needs (no word boundaries), and folds ASCII case. */
    "CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(text, tokenize='trigram');"
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL UNIQUE,"
    "  op TEXT NOT NULL DEFAULT 'index',"
    "  size INTEGER, mtime_ms INTEGER,"
    "  state TEXT NOT NULL,"    /* pending, leased, done, failed */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  crashes INTEGER NOT NULL DEFAULT 0,"     /* leases lost to a dying worker */
    "  not_before INTEGER NOT NULL DEFAULT 0,"
    "  lease_until INTEGER, lease_owner TEXT,"
    "  error TEXT, outcome TEXT, enqueued_at INTEGER, updated_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(state, not_before);";

bool dmdb_is_transient(int code)
{
    return code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_FULL ||
           code == SQLITE_IOERR;
}

int dmdb_exec(sqlite3 *db, const char *sql, dm_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        dm_err_set(err, !dmdb_is_transient(sqlite3_errcode(db)), "sqlite: %s",
                   msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

sqlite3 *dmdb_open(const char *path, bool readonly, dm_err *err)
{
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;  /* one connection per thread */
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        dm_err_set(err, false, "cannot open index %s: %s", path,
                   db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    /* Workers and the loop thread write through separate connections; a
     * generous busy timeout turns contention into waiting, not failure. */
    sqlite3_busy_timeout(db, 30000);
    if (readonly)
        return db;
    /* Switching a new database to WAL takes an exclusive lock and does not
     * wait on the busy handler: when several workers open a fresh index at
     * once, the losers retry for a while instead of failing. */
    int rc = -1;
    for (int attempt = 0; attempt < 100 && rc != 0; attempt++) {
        rc = dmdb_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
        if (rc != 0 && sqlite3_errcode(db) != SQLITE_BUSY && sqlite3_errcode(db) != SQLITE_LOCKED)
            break;
        if (rc != 0)
            usleep(50000);
    }
    if (rc != 0 || dmdb_exec(db, "BEGIN IMMEDIATE", err) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    int version = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION) {
        dm_err_set(err, true, "index %s has schema version %d; this docmill knows up to %d", path,
                   version, SCHEMA_VERSION);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        return NULL;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", SCHEMA_VERSION);
    /* Version 1 (before metadata): the documents table gains its columns;
     * its rows keep working, with no title until they are indexed again. */
    bool migration_failed = (version == 1 && dmdb_exec(db,
                                               "ALTER TABLE documents ADD COLUMN title TEXT;"
                                               "ALTER TABLE documents ADD COLUMN meta TEXT;",
                                               err) != 0) ||
                    /* Version 2 (before containers): no row is anybody's member. */
                    ((version == 1 || version == 2) &&
                     dmdb_exec(db,
                               "ALTER TABLE documents ADD COLUMN parent TEXT;"
                               "ALTER TABLE documents ADD COLUMN members INTEGER;",
                               err) != 0);
    if (migration_failed) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        return NULL;
    }
    if (dmdb_exec(db, SCHEMA, err) != 0 || dmdb_exec(db, pragma, err) != 0 ||
        dmdb_exec(db, "COMMIT", err) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}
