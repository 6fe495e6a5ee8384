/* queue: the durable local job queue, a SQLite table with leases. A job is
 * leased (invisible to other takers until lease_until), then acked (done),
 * failed (recorded, never retried) or released for a retry with backoff. A
 * process killed mid-run leaves leases that the next start reclaims, so no
 * job is lost. SQS will be a second implementation of the same verbs. */
#ifndef DOCMILL_QUEUE_H
#define DOCMILL_QUEUE_H

#include "common.h"

typedef struct queue queue;

typedef struct queue_job {
    int64_t id;
    char *source;
    char *op;           /* "index" or "delete" */
    int64_t size;
    int64_t mtime_ms;
    int attempts;       /* including this one */
} queue_job;

typedef struct queue_counts {
    int64_t pending, leased, done, failed;
} queue_counts;

typedef struct queue_failure {
    char *source;
    char *error;
} queue_failure;

queue *queue_open(const char *path, const char *owner, dm_err *err);
void queue_close(queue *q);

/* Returns 1 when the job was (re)queued, 2 when it is already pending or
 * leased, 0 when an identical job (same op, size and mtime) is done or
 * failed — the cheap "unchanged" test that spares re-reading a file. */
int queue_enqueue(queue *q, const char *source, const char *op, int64_t size, int64_t mtime_ms,
                  dm_err *err);
int queue_lease(queue *q, int max, int64_t lease_ms, queue_job **jobs, int *n, dm_err *err);
int queue_ack(queue *q, int64_t id, const char *outcome, dm_err *err);
int queue_fail(queue *q, int64_t id, const char *reason, dm_err *err);
/* Back to pending, visible again after delay_ms. */
int queue_retry(queue *q, int64_t id, const char *reason, int64_t delay_ms, dm_err *err);
/* Returns a job that was leased but never started; its attempt is undone. */
int queue_release(queue *q, int64_t id, dm_err *err);
int queue_extend(queue *q, const int64_t *ids, int n, int64_t lease_ms, dm_err *err);
/* Leases of owners that are gone (a dead pid on this host, or an expired
 * lease anywhere) become pending again. Returns how many. */
int queue_recover(queue *q, dm_err *err);
int queue_get_counts(queue *q, queue_counts *c, dm_err *err);
int queue_get_failures(queue *q, int limit, queue_failure **out, int *n, dm_err *err);
void queue_failures_free(queue_failure *f, int n);
/* Sources with op "index" under prefix that are not in the seen set are
 * queued for deletion. seen is sorted (strcmp). Returns how many. */
int queue_enqueue_deletions(queue *q, const char *prefix, char **seen, size_t nseen, dm_err *err);
void queue_jobs_free(queue_job *jobs, int n);

#endif
