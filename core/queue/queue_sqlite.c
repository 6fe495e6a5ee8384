#include "queue/queue_sqlite.h"

#include "base/db.h"
#include "base/log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sqlite_queue {
    queue base;
    sqlite3 *db;
    char *owner;    /* "host:pid" */
    char host[128];
} sqlite_queue;

static sqlite_queue *SQ(queue *q)
{
    return (sqlite_queue *)q;
}

static void q_err(queue *q, dm_err *err, const char *what)
{
    dm_err_set(err, !dmdb_is_transient(sqlite3_errcode(SQ(q)->db)), "queue: %s: %s", what,
               sqlite3_errmsg(SQ(q)->db));
}

static void sq_close(queue *q)
{
    if (!q)
        return;
    sqlite3_close(SQ(q)->db);
    free(SQ(q)->owner);
    free(SQ(q));
}

/* Runs one statement with text/int64 arguments described by fmt ("t", "i"). */
static int run(queue *q, const char *sql, const char *fmt, dm_err *err, ...)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db, sql, -1, &st, NULL) != SQLITE_OK) {
        q_err(q, err, "prepare");
        return -1;
    }
    va_list ap;
    va_start(ap, err);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 't') {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i + 1);
        } else {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        q_err(q, err, "step");
        sqlite3_finalize(st);
        return -1;
    }
    int changes = sqlite3_changes(SQ(q)->db);
    sqlite3_finalize(st);
    return changes;
}

int queue_sqlite_enqueue(queue *q, const char *source, const char *op, int64_t size, int64_t mtime_ms,
                  dm_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db, "SELECT state, op, size, mtime_ms FROM jobs WHERE source=?1", -1,
                           &st, NULL) != SQLITE_OK) {
        q_err(q, err, "enqueue");
        return -1;
    }
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        const char *state = (const char *)sqlite3_column_text(st, 0);
        const char *old_op = (const char *)sqlite3_column_text(st, 1);
        bool same = strcmp(old_op, op) == 0 && sqlite3_column_int64(st, 2) == size &&
                    sqlite3_column_int64(st, 3) == mtime_ms;
        bool active = strcmp(state, "pending") == 0 || strcmp(state, "leased") == 0;
        sqlite3_finalize(st);
        /* A job still pending or leased keeps its place: its worker reads
         * the file as it is when the job runs. */
        if (active)
            return 2;
        if (same)
            return 0;
    } else {
        sqlite3_finalize(st);
    }
    int64_t now = dm_now_ms();
    int n = run(q,
                "INSERT INTO jobs(source, op, size, mtime_ms, state, attempts, enqueued_at, updated_at)"
                " VALUES(?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5)"
                " ON CONFLICT(source) DO UPDATE SET op=?2, size=?3, mtime_ms=?4, state='pending',"
                "   attempts=0, not_before=0, error=NULL, outcome=NULL, enqueued_at=?5, updated_at=?5",
                "ttiii", err, source, op, size, mtime_ms, now);
    return n < 0 ? -1 : 1;
}

static int sq_lease(queue *q, int max, int64_t lease_ms, queue_job **jobs, int *n, dm_err *err)
{
    *jobs = NULL;
    *n = 0;
    int64_t now = dm_now_ms();
    if (dmdb_exec(SQ(q)->db, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db,
                           "UPDATE jobs SET state='leased', attempts=attempts+1, lease_until=?1,"
                           " lease_owner=?2, updated_at=?3"
                           " WHERE id IN (SELECT id FROM jobs WHERE state='pending' AND not_before<=?3"
                           "              ORDER BY not_before, id LIMIT ?4)"
                           " RETURNING id, source, op, size, mtime_ms, attempts,"
                           "           max(coalesce(enqueued_at, 0), not_before)",
                           -1, &st, NULL) != SQLITE_OK) {
        q_err(q, err, "lease");
        sqlite3_exec(SQ(q)->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_bind_int64(st, 1, now + lease_ms);
    sqlite3_bind_text(st, 2, SQ(q)->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, max);
    queue_job *out = dm_xcalloc((size_t)(max > 0 ? max : 1), sizeof *out);
    int count = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < max) {
        queue_job *j = &out[count++];
        j->id = sqlite3_column_int64(st, 0);
        j->source = dm_xstrdup((const char *)sqlite3_column_text(st, 1));
        j->op = dm_xstrdup((const char *)sqlite3_column_text(st, 2));
        j->size = sqlite3_column_int64(st, 3);
        j->mtime_ms = sqlite3_column_int64(st, 4);
        j->attempts = sqlite3_column_int(st, 5);
        j->available_ms = sqlite3_column_int64(st, 6);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        q_err(q, err, "lease");
        sqlite3_finalize(st);
        sqlite3_exec(SQ(q)->db, "ROLLBACK", NULL, NULL, NULL);
        queue_jobs_free(out, count);
        return -1;
    }
    sqlite3_finalize(st);
    if (dmdb_exec(SQ(q)->db, "COMMIT", err) != 0) {
        sqlite3_exec(SQ(q)->db, "ROLLBACK", NULL, NULL, NULL);
        queue_jobs_free(out, count);
        return -1;
    }
    *jobs = out;
    *n = count;
    return 0;
}

void queue_jobs_free(queue_job *jobs, int n)
{
    if (!jobs)
        return;
    for (int i = 0; i < n; i++) {
        free(jobs[i].source);
        free(jobs[i].op);
    }
    free(jobs);
}

/* Ends a lease this process holds. A lease that was lost (it expired and
 * another taker reclaimed the job) is left to its new holder: the job will be
 * processed again, idempotently, instead of our late result overwriting
 * theirs. */
static int finish_lease(queue *q, int64_t id, const char *set_sql, const char *what,
                        const char *text, int64_t delay_ms, dm_err *err)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE jobs SET %s, lease_until=NULL, lease_owner=NULL, updated_at=?3"
             " WHERE id=?1 AND state='leased' AND lease_owner=?4",
             set_sql);
    int64_t now = dm_now_ms();
    int n = run(q, sql, "ititi", err, id, text, now, SQ(q)->owner, now + delay_ms);
    if (n == 0)
        log_warn("job %lld: lease lost before it could be %s; another taker has it",
                 (long long)id, what);
    return n < 0 ? -1 : 0;
}

static int sq_ack(queue *q, int64_t id, const char *outcome, dm_err *err)
{
    return finish_lease(q, id, "state='done', error=NULL, outcome=?2", "acknowledged", outcome, 0,
                        err);
}

static int sq_fail(queue *q, int64_t id, const char *reason, dm_err *err)
{
    return finish_lease(q, id, "state='failed', error=?2, outcome='failed'", "failed", reason, 0,
                        err);
}

static int sq_retry(queue *q, int64_t id, const char *reason, int64_t delay_ms, dm_err *err)
{
    return finish_lease(q, id, "state='pending', error=?2, not_before=?5", "retried", reason,
                        delay_ms, err);
}

static int sq_release(queue *q, int64_t id, dm_err *err)
{
    return finish_lease(q, id, "state='pending', attempts=max(attempts-1, 0), error=?2",
                        "released", NULL, 0, err);
}

static int sq_extend(queue *q, const int64_t *ids, int n, int64_t lease_ms, dm_err *err)
{
    int64_t until = dm_now_ms() + lease_ms;
    for (int i = 0; i < n; i++)
        if (run(q, "UPDATE jobs SET lease_until=?2 WHERE id=?1 AND state='leased' AND lease_owner=?3",
                "iit", err, ids[i], until, SQ(q)->owner) < 0)
            return -1;
    return 0;
}

/* A reclaimed job goes back to pending — unless its workers have died or
 * stalled on it max_crashes times: a file that crashes or hangs the process
 * every time must end as a recorded failure (quarantine), not loop forever.
 * ?1 owner, ?2 max crashes, ?3 now, ?4 how the owner died. */
#define RECLAIM                                                                              \
    "UPDATE jobs SET lease_until=NULL, lease_owner=NULL, updated_at=?3, crashes=crashes+1,"  \
    " state = CASE WHEN crashes + 1 >= ?2 THEN 'failed' ELSE 'pending' END,"                \
    " outcome = CASE WHEN crashes + 1 >= ?2 THEN 'failed' ELSE outcome END,"                \
    " error = CASE WHEN crashes + 1 >= ?2 THEN 'quarantined: its worker ' || ?4 ||"         \
    " ' while processing it (' || (crashes + 1) || ' times)' ELSE error END"                \
    " WHERE state='leased' AND "

static bool process_alive(pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
        return false;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* "pid (comm) S ...": comm may hold spaces and parentheses. */
    const char *close = strrchr(buf, ')');
    return !(close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X'));
}

static int sq_recover(queue *q, queue_recovery *r, dm_err *err)
{
    int64_t max_crashes = r->max_crashes;
    int64_t now = dm_now_ms();
    const char *cause = r->cause ? r->cause : "died or stalled";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db,
                           "SELECT DISTINCT lease_owner FROM jobs WHERE state='leased'", -1, &st,
                           NULL) != SQLITE_OK) {
        q_err(q, err, "recover");
        return -1;
    }
    int total = 0;
    char **dead = NULL;
    int ndead = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *owner = (const char *)sqlite3_column_text(st, 0);
        if (!owner)
            continue;
        const char *colon = strrchr(owner, ':');
        if (!colon || strncmp(owner, SQ(q)->host, (size_t)(colon - owner)) != 0 ||
            strlen(SQ(q)->host) != (size_t)(colon - owner))
            continue;
        pid_t pid = (pid_t)atoi(colon + 1);
        if (strcmp(owner, SQ(q)->owner) == 0 || process_alive(pid))
            continue;
        dead = dm_xrealloc(dead, (size_t)(ndead + 1) * sizeof *dead);
        dead[ndead++] = dm_xstrdup(owner);
    }
    sqlite3_finalize(st);
    int rc = 0;
    for (int i = 0; i < ndead && rc == 0; i++) {
        /* The jobs the dead process's crash journal names count the crash;
         * its other jobs go back uncharged. None named: all count it. */
        int n = 0;
        if (r->nculprits == 0) {
            n = run(q, RECLAIM "lease_owner=?1", "tiit", err, dead[i], max_crashes, now, cause);
        } else {
            for (int k = 0; k < r->nculprits && n >= 0; k++) {
                int m = run(q, RECLAIM "lease_owner=?1 AND id=?5", "tiiti", err, dead[i],
                            max_crashes, now, cause, r->culprits[k]);
                n = m < 0 ? -1 : n + m;
            }
            int m = n < 0 ? -1
                          : run(q,
                                "UPDATE jobs SET lease_until=NULL, lease_owner=NULL, updated_at=?2,"
                                " state='pending' WHERE state='leased' AND lease_owner=?1",
                                "ti", err, dead[i], now);
            n = m < 0 ? -1 : n + m;
        }
        if (n < 0)
            rc = -1;
        else
            total += n;
    }
    for (int i = 0; i < ndead; i++)
        free(dead[i]);
    free(dead);
    if (rc != 0)
        return -1;
    int n = run(q, RECLAIM "lease_until < ?3", "tiit", err, "", max_crashes, now,
                "stalled (its lease ran out)");
    if (n < 0)
        return -1;
    sqlite3_stmt *st2 = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db,
                           "SELECT count(*) FROM jobs WHERE state='failed' AND updated_at=?1"
                           " AND error LIKE 'quarantined:%'",
                           -1, &st2, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st2, 1, now);
        if (sqlite3_step(st2) == SQLITE_ROW)
            r->quarantined = sqlite3_column_int(st2, 0);
    }
    sqlite3_finalize(st2);
    return total + n;
}

static int sq_counts(queue *q, queue_counts *c, dm_err *err)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db, "SELECT state, count(*) FROM jobs GROUP BY state", -1, &st,
                           NULL) != SQLITE_OK) {
        q_err(q, err, "counts");
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        if (strcmp(state, "pending") == 0)
            c->pending = n;
        else if (strcmp(state, "leased") == 0)
            c->leased = n;
        else if (strcmp(state, "done") == 0)
            c->done = n;
        else if (strcmp(state, "failed") == 0)
            c->failed = n;
    }
    sqlite3_finalize(st);
    return 0;
}

int queue_sqlite_failures(queue *q, int limit, queue_failure **out, int *n, dm_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db,
                           "SELECT source, error FROM jobs WHERE state='failed'"
                           " ORDER BY updated_at DESC, id LIMIT ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        q_err(q, err, "failures");
        return -1;
    }
    sqlite3_bind_int(st, 1, limit);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = dm_xrealloc(*out, (size_t)cap * sizeof **out);
        }
        const unsigned char *e = sqlite3_column_text(st, 1);
        (*out)[*n].source = dm_xstrdup((const char *)sqlite3_column_text(st, 0));
        (*out)[*n].error = dm_xstrdup(e ? (const char *)e : "");
        (*n)++;
    }
    sqlite3_finalize(st);
    return 0;
}

void queue_failures_free(queue_failure *f, int n)
{
    for (int i = 0; i < n; i++) {
        free(f[i].source);
        free(f[i].error);
    }
    free(f);
}


int queue_sqlite_enqueue_deletions(queue *q, const char *prefix, char **seen, size_t nseen, dm_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(SQ(q)->db,
                           "SELECT source FROM jobs WHERE op='index' AND state IN ('done','failed')"
                           " AND substr(source, 1, length(?1)) = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        q_err(q, err, "scan for deletions");
        return -1;
    }
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    char **gone = NULL;
    int ngone = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *src = (const char *)sqlite3_column_text(st, 0);
        if (!bsearch(&src, seen, nseen, sizeof *seen, dm_strcmp_ptr)) {
            gone = dm_xrealloc(gone, (size_t)(ngone + 1) * sizeof *gone);
            gone[ngone++] = dm_xstrdup(src);
        }
    }
    sqlite3_finalize(st);
    int rc = 0;
    for (int i = 0; i < ngone; i++) {
        if (rc == 0 && run(q,
                           "UPDATE jobs SET op='delete', state='pending', attempts=0, not_before=0,"
                           " error=NULL, outcome=NULL, updated_at=?2 WHERE source=?1",
                           "ti", err, gone[i], dm_now_ms()) < 0)
            rc = -1;
        free(gone[i]);
    }
    free(gone);
    return rc == 0 ? ngone : -1;
}

static const queue_ops SQLITE_QUEUE_OPS = {sq_lease,   sq_ack,     sq_fail,   sq_retry,
                                           sq_release, sq_extend,  sq_recover, sq_counts,
                                           NULL,       NULL,       sq_close};

queue *queue_sqlite_open(const char *path, const char *owner, dm_err *err)
{
    sqlite3 *db = dmdb_open(path, false, err);
    if (!db)
        return NULL;
    sqlite_queue *sq = dm_xcalloc(1, sizeof *sq);
    sq->base.ops = &SQLITE_QUEUE_OPS;
    sq->db = db;
    gethostname(sq->host, sizeof sq->host - 1);
    if (owner) {
        sq->owner = dm_xstrdup(owner);
    } else {
        char buf[200];
        snprintf(buf, sizeof buf, "%s:%d", sq->host, (int)getpid());
        sq->owner = dm_xstrdup(buf);
    }
    return &sq->base;
}
