/* queue: the job queue's verbs, with two implementations — the durable
 * local queue (queue_sqlite.c: a SQLite table with leases) and SQS
 * (queue_sqs.c: visibility timeouts, a redrive policy for the DLQ). A job is
 * leased (invisible to other takers until its lease ends), then acked
 * (done), failed (recorded, never retried) or released for a retry with
 * backoff. A process killed mid-run leaves leases that the next start
 * reclaims (SQS makes them visible again), so no job is lost. */
#ifndef DOCMILL_QUEUE_H
#define DOCMILL_QUEUE_H

#include "base/common.h"

typedef struct queue queue;

typedef struct queue_job {
    int64_t id;
    char *source;
    char *op;           /* "index" or "delete" */
    int64_t size;
    int64_t mtime_ms;
    int attempts;       /* including this one */
    int64_t available_ms; /* since when it could be taken (wall clock; 0 = unknown):
                             the queue latency metric */
} queue_job;

typedef struct queue_counts {
    int64_t pending, leased, done, failed;
} queue_counts;

/* What recovery knows about the process that died: the jobs its crash
 * journal names (only they count a crash; none named = every job it held
 * counts one), and, out, how many jobs reached max_crashes. */
typedef struct queue_recovery {
    int max_crashes;
    const int64_t *culprits;
    int nculprits;
    /* How the owner died, for the quarantine reason ("died of signal 11
     * (Segmentation fault)"); NULL = "died or stalled". */
    const char *cause;
    int quarantined;         /* out */
} queue_recovery;

/* One implementation per kind of queue: SQLite today (queue_sqlite.c), SQS
 * next. A job id is the implementation's own handle for a leased job. */
typedef struct queue_ops {
    int (*lease)(queue *q, int max, int64_t lease_ms, queue_job **jobs, int *n, dm_err *err);
    int (*ack)(queue *q, int64_t id, const char *outcome, dm_err *err);
    int (*fail)(queue *q, int64_t id, const char *reason, dm_err *err);
    int (*retry)(queue *q, int64_t id, const char *reason, int64_t delay_ms, dm_err *err);
    int (*release)(queue *q, int64_t id, dm_err *err);
    int (*extend)(queue *q, const int64_t *ids, int n, int64_t lease_ms, dm_err *err);
    int (*recover)(queue *q, queue_recovery *r, dm_err *err);
    int (*counts)(queue *q, queue_counts *c, dm_err *err);
    /* The job broke the pipeline (a bug, a bad policy): not the file's
     * fault, so a shared queue keeps it for its dead-letter queue; NULL
     * means fail. */
    int (*poison)(queue *q, int64_t id, const char *reason, dm_err *err);
    /* Sends what the implementation batches (SQS deletes); may be NULL. */
    int (*flush)(queue *q, dm_err *err);
    void (*close)(queue *q);
} queue_ops;

struct queue {
    const queue_ops *ops;
    /* lease may block (a long poll): the runtime then calls it on a pool
     * thread, concurrently with the other operations on the loop thread,
     * and the implementation must allow that. */
    bool lease_blocks;
};

/* Leases up to max jobs, invisible to other takers for lease_ms. */
static inline int queue_lease(queue *q, int max, int64_t lease_ms, queue_job **jobs, int *n,
                              dm_err *err)
{
    return q->ops->lease(q, max, lease_ms, jobs, n, err);
}
/* Done: the document is durably indexed (or deleted, or skipped). */
static inline int queue_ack(queue *q, int64_t id, const char *outcome, dm_err *err)
{
    return q->ops->ack(q, id, outcome, err);
}
/* Permanent failure: recorded with its reason, never retried. */
static inline int queue_fail(queue *q, int64_t id, const char *reason, dm_err *err)
{
    return q->ops->fail(q, id, reason, err);
}
/* Transient failure: back to the queue, visible again after delay_ms. */
static inline int queue_retry(queue *q, int64_t id, const char *reason, int64_t delay_ms,
                              dm_err *err)
{
    return q->ops->retry(q, id, reason, delay_ms, err);
}
/* Returns a job that was leased but never started; its attempt is undone. */
static inline int queue_release(queue *q, int64_t id, dm_err *err)
{
    return q->ops->release(q, id, err);
}
static inline int queue_extend(queue *q, const int64_t *ids, int n, int64_t lease_ms, dm_err *err)
{
    return q->ops->extend(q, ids, n, lease_ms, err);
}
/* Leases of owners that are gone (a dead pid on this host, or an expired
 * lease anywhere) become pending again — or failed (quarantined) once the
 * job has been held by a dying worker max_crashes times. Returns how many
 * were reclaimed. */
static inline int queue_recover(queue *q, queue_recovery *r, dm_err *err)
{
    r->quarantined = 0;
    return q->ops->recover(q, r, err);
}
static inline int queue_get_counts(queue *q, queue_counts *c, dm_err *err)
{
    return q->ops->counts(q, c, err);
}
static inline int queue_poison(queue *q, int64_t id, const char *reason, dm_err *err)
{
    return q->ops->poison ? q->ops->poison(q, id, reason, err) : q->ops->fail(q, id, reason, err);
}
static inline int queue_flush(queue *q, dm_err *err)
{
    return q->ops->flush ? q->ops->flush(q, err) : 0;
}
static inline void queue_close(queue *q)
{
    if (q)
        q->ops->close(q);
}

void queue_jobs_free(queue_job *jobs, int n);

#endif
