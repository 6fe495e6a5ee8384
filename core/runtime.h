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
    const char *socket_path;   /* the control socket (REPL); NULL = none */
    const char *pid_file;      /* NULL = none */
    /* The socket and pid file are the run directory's defaults, shared by
     * every run of this user: when another run holds them, go on without
     * both rather than fail. */
    bool control_optional;
    const char *metrics_listen; /* Prometheus text on HOST:PORT; NULL = off */
    const char *emf_path;      /* CloudWatch EMF lines ("-" = stdout); NULL = off */
} runtime_config;

typedef struct run_summary {
    int64_t indexed, unchanged, deleted, skipped, failed, retried;
    int64_t pages, pages_ocr;
    int64_t elapsed_ms;
    double files_per_hour;
    int64_t peak_rss_bytes;
    double stage_seconds[5];   /* fetch, text, render, ocr, index: all workers */
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

typedef enum { STAGE_FETCH, STAGE_TEXT, STAGE_RENDER, STAGE_OCR, STAGE_INDEX, STAGE_COUNT } job_stage;

typedef struct job_result {
    int64_t job_id;
    job_outcome outcome;
    char error[512];
    int pages, pages_ocr;
    int64_t elapsed_ms;
    int64_t stage_ms[STAGE_COUNT];
    int worker_id;
} job_result;

int runtime_run(const runtime_config *cfg, run_summary *sum, dm_err *err);

/* The exit status of a process whose watchdog found a worker stuck past
 * its page deadline: the supervisor restarts such a process as it does a
 * crashed one (EX_SOFTWARE). */
#define DOCMILL_EXIT_STUCK 70

/* --- introspection and control, for the REPL (loop thread only) ------- */

#define RUNTIME_MAX_REASONS 16

typedef struct runtime_stats {
    run_summary sum;            /* counters so far; elapsed_ms = uptime */
    double pages_per_second;
    int64_t rss_bytes;
    bool queue_ok;              /* queue counts could be read */
    queue_counts queue;
    int in_flight, waiting;     /* leased; of which not yet with a worker */
    int workers;
    bool paused, health_paused, draining;
    char health_reason[512];
    int64_t reloads, reload_failures;
    int policy_generation;
    char policy_source[256];
    /* Permanent failures by reason (the error up to its first ':'). */
    int nreasons;
    struct {
        char reason[64];
        int64_t count;
    } reasons[RUNTIME_MAX_REASONS];
    /* Seconds spent per stage, summed over every job (all workers). */
    double stage_seconds[5];    /* fetch, text, render, ocr, index */
    /* Time jobs waited in the queue once available, summed, and how many. */
    double queue_latency_ms_sum;
    int64_t queue_latency_count;
} runtime_stats;

extern const char *const runtime_stage_names[5];

typedef struct runtime_job_info {
    int64_t id;
    char source[512];
    int attempts;
    int worker;                 /* -1 when not with a worker */
    const char *state;          /* "waiting", "running", "indexing" */
    int64_t elapsed_ms;         /* running: since the worker started it */
} runtime_job_info;

struct worker_status;
void runtime_get_stats(runtime *rt, runtime_stats *out);
int runtime_get_workers(runtime *rt, struct worker_status *out, int max);
/* *out is malloc'd; returns the count. */
int runtime_get_jobs(runtime *rt, runtime_job_info **out);
const policy_settings *runtime_settings(runtime *rt);
/* What SIGHUP does: validate, then switch (or keep the old one, err set). */
int runtime_reload(runtime *rt, dm_err *err);
void runtime_set_paused(runtime *rt, bool paused);
/* What SIGTERM does. */
void runtime_drain(runtime *rt);
/* What SIGUSR1 does. */
void runtime_cleanup(runtime *rt);
struct health_report;
/* Checks free memory and disk now (pausing or resuming the leases as
 * the on_tick check does); 0 = healthy. out may be NULL. */
int runtime_check_health(runtime *rt, struct health_report *out);

/* Worker side. Blocks up to timeout_ms for a job: 1 = got one (the caller
 * owns and frees its source and op strings), 0 = none yet, -1 = stop. */
int runtime_next_job(runtime *rt, int worker_id, int timeout_ms, queue_job *out);
struct page_board;
/* The board of page ranges shared out for page-parallel extraction. */
struct page_board *runtime_page_board(runtime *rt);
/* False for fast-lane workers: they keep to small files. */
bool runtime_helps_with_pages(runtime *rt, int worker_id);
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
