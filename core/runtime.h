/* runtime: `docmill run`. The main thread runs a libuv loop that owns the
 * job queue (scans, leases, acks, lease heartbeats, signals, progress); N
 * worker threads each own a Lua state, a MuPDF context, a Tesseract engine
 * and an index connection, and run the Lua pipeline on the jobs handed to
 * them. Jobs cross to workers and results come back as copied plain data. */
#ifndef DOCMILL_RUNTIME_H
#define DOCMILL_RUNTIME_H

#include "common.h"
#include "policy.h"
#include "queue.h"

typedef struct runtime runtime;

typedef struct runtime_config {
    const char *source_dir;    /* folder to index, or NULL with queue_url */
    const char *queue_url;     /* an SQS queue: the queue is the source */
    int sqs_wait_seconds;      /* long poll; < 0: the policy's */
    int sqs_max_messages;      /* per receive, 1..10; < 0: the policy's */
    const char *index_uri;     /* sqlite:PATH */
    const char *queue_path;    /* the durable queue's SQLite file */
    const char *policy_path;   /* NULL = embedded default */
    int workers;               /* 0 = one per core */
    bool once;                 /* exit when every job has ended */
    int rescan_seconds;        /* watch mode: how often to rescan */
    bool progress_tty;         /* draw a progress line instead of per-file logs */
} runtime_config;

typedef struct run_summary {
    int64_t indexed, unchanged, deleted, skipped, failed, retried;
    int64_t pages, pages_ocr;
    int64_t elapsed_ms;
    double files_per_hour;
    int64_t peak_rss_bytes;
} run_summary;

typedef enum {
    OUTCOME_INDEXED,
    OUTCOME_UNCHANGED,
    OUTCOME_DELETED,
    OUTCOME_SKIPPED,
    OUTCOME_FAILED,   /* permanent: recorded, never retried */
    OUTCOME_RETRY,    /* transient: back to the queue with backoff */
    OUTCOME_POISON,   /* broke the pipeline (a bug or a bad policy): failed locally;
                         left for the dead-letter queue by SQS, never deleted */
} job_outcome;

typedef struct job_result {
    int64_t job_id;
    job_outcome outcome;
    char error[512];
    int pages, pages_ocr;
    int64_t elapsed_ms;
    int worker_id;
} job_result;

int runtime_run(const runtime_config *cfg, run_summary *sum, dm_err *err);

/* Worker side. Blocks up to timeout_ms for a job: 1 = got one (the caller
 * owns and frees its source and op strings), 0 = none yet, -1 = stop. */
int runtime_next_job(runtime *rt, int timeout_ms, queue_job *out);
/* The process's indexing buffer (bulk_buffer.h), for the workers. */
struct bulk_buffer *runtime_bulk(runtime *rt);
/* Bumped by each SIGUSR1 (thread-safe read). */
int runtime_cleanup_generation(runtime *rt);
/* Bumped by each successful SIGHUP reload (thread-safe read). */
int runtime_policy_generation(runtime *rt);
/* Thread-safe: hands a finished job back to the loop thread. */
void runtime_complete(runtime *rt, const job_result *r);
bool job_outcome_parse(const char *name, job_outcome *out);
const char *job_outcome_name(job_outcome o);

#endif
