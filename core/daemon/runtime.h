/* runtime: `docmill run`. The main thread runs a libuv loop that owns the
 * job queue (scans, leases, acks, lease heartbeats, signals, progress); N
 * worker threads (worker.c) each own a Lua state, a MuPDF context, a
 * Tesseract engine and an index connection, and run the Lua pipeline on
 * the jobs handed to them. Jobs cross to workers and results come back as
 * copied plain data. The runtime is split by concern:
 *   runtime.c   the loop: ticks, signals, drain, --once end, shutdown
 *   startup.c   from config to running workers (queue, recovery, buffer)
 *   dispatch.c  the job channel, fast lane, leases, results and retries
 *   reload.c    SIGHUP (config and policy) and SIGUSR1 (cleanup)
 *   monitors.c  watchdog, heartbeats, health, spot notices, metrics, progress
 *   scan.c      the folder source's scans
 *   stats.c     what the REPL and metrics read
 *   decide.c    the pure decisions, unit-tested without a loop
 * and beside it worker.c (a worker thread), repl.c with bind_control.c (the
 * REPL's state and its docmill.control). */
#ifndef DOCMILL_RUNTIME_H
#define DOCMILL_RUNTIME_H

#include "base/common.h"
#include "ops/run_stats.h"
#include "queue/job.h"
#include "queue/queue.h"
#include "settings/settings.h"

typedef struct runtime runtime;

typedef struct runtime_config {
    const char *source_dir;    /* folder to index, or NULL with queue_url */
    const char *queue_url;     /* an SQS queue: the queue is the source */
    int sqs_wait_seconds;      /* long poll; < 0: the policy's */
    int sqs_max_messages;      /* per receive, 1..10; < 0: the policy's */
    const char *index_uri;     /* sqlite:PATH */
    const char *queue_path;    /* the durable queue's SQLite file */
    const char *policy_path;   /* NULL = embedded default */
    /* The config file the run started from (NULL = the embedded one), read
     * again on SIGHUP; pinned names its keys that command-line flags (or
     * the environment) set, which a changed file does not override. */
    const char *config_path;
    const char *pinned;        /* "policy,workers,...", may be NULL */
    /* The config file as the command line read it (NULL without one). */
    const struct config_snapshot *config_start;
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

int runtime_run(const runtime_config *cfg, run_summary *sum, dm_err *err);

/* --- introspection and control, for the REPL (loop thread only) ------- */

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
/* What SIGHUP does: read and validate the config file and the policy, then
 * switch (or keep everything as it is, err set). */
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

/* --- the worker side (thread-safe) ------------------------------------ */

/* Blocks up to timeout_ms for a job: 1 = got one (the caller owns and
 * frees its source and op strings), 0 = none yet, -1 = stop. */
int runtime_next_job(runtime *rt, int worker_id, int timeout_ms, queue_job *out);
struct page_board;
/* The board of page ranges shared out for page-parallel extraction. */
struct page_board *runtime_page_board(runtime *rt);
struct content_claims;
/* Which content hashes the workers are extracting now (copies wait). */
struct content_claims *runtime_claims(runtime *rt);
/* False for fast-lane workers: they keep to small files. */
bool runtime_helps_with_pages(runtime *rt, int worker_id);
/* The process's indexing buffer (bulk_buffer.h), for the workers. */
struct bulk_buffer *runtime_bulk(runtime *rt);
/* Bumped by each SIGUSR1. */
int runtime_cleanup_generation(runtime *rt);
/* Bumped by each successful SIGHUP reload. */
int runtime_policy_generation(runtime *rt);
/* The policy file workers load (NULL into out[0] = "" = the embedded one). */
void runtime_policy_path(runtime *rt, char *out, size_t outlen);
/* Hands a finished job back to the loop thread. */
void runtime_complete(runtime *rt, const job_result *r);
/* Wakes the loop thread (a worker has exited: the run may end now). */
void runtime_wake_loop(runtime *rt);
/* A worker counts what its policy hooks and GC did (for stats()). */
void runtime_count_worker(runtime *rt, int64_t hook_errors, int64_t hook_fallbacks,
                          int64_t gc_runs);

#endif
