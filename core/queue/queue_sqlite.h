/* The durable local queue: a `jobs` table in the index database. Besides
 * the queue interface it offers what only a local queue can: the folder
 * source enqueues into it, and `status` reads its failures. */
#ifndef DOCMILL_QUEUE_SQLITE_H
#define DOCMILL_QUEUE_SQLITE_H

#include "queue/queue.h"

typedef struct queue_failure {
    char *source;
    char *error;
} queue_failure;

/* owner NULL means "host:pid" of this process (what recovery checks). */
queue *queue_sqlite_open(const char *path, const char *owner, dm_err *err);

/* Returns 1 when the job was (re)queued, 2 when it is already pending or
 * leased, 0 when an identical job (same op, size and mtime) is done or
 * failed — the cheap "unchanged" test that spares re-reading a file. */
int queue_sqlite_enqueue(queue *q, const char *source, const char *op, int64_t size,
                         int64_t mtime_ms, dm_err *err);
/* Sources with op "index" under prefix that are not in the seen set are
 * queued for deletion. seen is sorted (strcmp). Returns how many. */
int queue_sqlite_enqueue_deletions(queue *q, const char *prefix, char **seen, size_t nseen,
                                   dm_err *err);
int queue_sqlite_failures(queue *q, int limit, queue_failure **out, int *n, dm_err *err);
void queue_failures_free(queue_failure *f, int n);

#endif
