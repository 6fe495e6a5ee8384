/* The runtime's state, shared by the files of the runtime (runtime.h lists
 * them). Nothing outside daemon/ includes it. */
#ifndef DOCMILL_RUNTIME_INTERNAL_H
#define DOCMILL_RUNTIME_INTERNAL_H

#include "net/imds.h"
#include "net/spot.h"
#include "index/bulk_buffer.h"
#include "ops/control.h"
#include "daemon/repl.h"
#include "ops/health.h"
#include "ops/metrics.h"
#include "queue/content_claims.h"
#include "queue/page_board.h"
#include "daemon/repl.h"
#include "daemon/config_snapshot.h"
#include "daemon/runtime.h"
#include "queue/source_dir.h"
#include "daemon/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <uv.h>

typedef struct inflight {
    int64_t id;
    int attempts;
    char *source;
} inflight;

struct runtime {
    const runtime_config *cfg;
    policy_settings settings;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t drain;         /* the deadline of a graceful stop */
    uv_async_t wake;
    uv_signal_t sigint, sigterm, sighup, sigusr1;
    /* Bumped by SIGUSR1: workers run a full cleanup at their next boundary. */
    atomic_int cleanup_generation;
    /* Bumped by a successful SIGHUP reload; workers swap their policy at
     * their next job boundary when theirs is older. */
    atomic_int policy_generation;
    int64_t reloads, reload_failures;
    /* The policy file workers load ("" = the embedded one): a config
     * reload may point it elsewhere; workers copy it under mu. */
    char policy_path[1024];
    /* The config file as last read (start or SIGHUP), to tell what a
     * reload changes. */
    config_snapshot config;
    bool have_config;
    int rescan_seconds;       /* live: the config's */
    int64_t hook_errors, hook_fallbacks, gc_runs;  /* reported by workers, under mu */
    bool control_wanted;
    bool paused;              /* by the operator (REPL pause()) */
    bool health_paused;       /* by the resource check */
    char health_reason[512];
    control_server *control;
    repl *repl;
    int pid_fd;
    /* Permanent failures by reason, and time per stage (loop thread). */
    int nreasons;
    struct {
        char reason[64];
        int64_t count;
    } reasons[RUNTIME_MAX_REASONS];
    int64_t stage_ms[STAGE_COUNT];
    double latency_ms_sum;
    int64_t latency_n;
    /* Health, spot notices and metrics (loop thread). */
    int64_t last_health_ms, last_spot_ms, last_emf_ms;
    health_report health;
    uv_work_t spot_work;
    bool spot_running, spot_answered, spot_off;
    int spot_failures;        /* in a row */
    /* Queue depth of a network queue (SQS), refreshed on the pool: the
     * loop must not wait for GetQueueAttributes. */
    uv_work_t counts_work;
    bool counts_running;
    queue_counts counts;
    int counts_rc;
    int64_t counts_at_ms;
    spot_status spot_rc;
    spot_notice notice;
    dm_err spot_err;
    metrics_server *metrics;
    FILE *emf;
    metrics_point emf_prev;
    metrics_context mctx;
    char instance_type[64];
    uv_work_t scan_work;
    uv_work_t lease_work;     /* blocking leases (SQS long polls) run here */
    queue *q;
    char *source_root;
    char *crash_journal;     /* NULL for SQS (no local queue) */
    char *exclude[2];
    int nexclude;

    worker *workers;
    int nworkers;
    bulk_buffer *bulk;
    page_board *pages;
    content_claims *claims;

    /* Jobs leased and waiting for a worker: guarded by mu, signalled by cv. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    queue_job *chan;
    int chan_len, chan_cap;
    bool stopping;

    /* Results from workers, guarded by mu. */
    job_result *results;
    int nresults, results_cap;

    /* Loop-thread only below. */
    inflight *flight;        /* leased: in the channel or with a worker */
    int nflight, flight_cap;
    bool scanning, scanned_once;
    bool leasing;             /* a lease_work is in flight */
    int lease_want;
    int64_t lease_ms;         /* for lease_work: a copy of the setting */
    queue_job *leased;        /* its result, handed over in lease_done */
    int nleased;
    dm_err lease_err;
    int lease_rc;
    int64_t lease_pause_until;  /* after a failed lease: back off */
    int empty_leases;           /* consecutive leases that found nothing */
    int64_t last_scan_ms, last_heartbeat_ms, started_ms, last_progress_ms;
    int signals;
    int64_t total_known;     /* jobs this run expects to finish */
    int64_t finished;
    bool fatal;
    dm_err fatal_err;
    run_summary sum;
    scan_counts scan;
    dm_err scan_err;
    int scan_rc;
};

/* runtime.c */
void runtime_start_drain(runtime *rt);
void runtime_set_fatal(runtime *rt, const dm_err *err);
/* Exits at once, without unwinding: workers may be mid-job. */
void runtime_leave_now(runtime *rt, int code);

/* startup.c */
int runtime_start(runtime *rt, dm_err *err);
void runtime_free(runtime *rt);

/* dispatch.c */
void runtime_fill_channel(runtime *rt);
void runtime_apply_results(runtime *rt);
/* Stops handing out jobs: those nobody started go back to the queue. */
void runtime_begin_stop(runtime *rt);
void runtime_wake_workers(void *ud);
void runtime_complete_from_bulk(void *ud, const job_result *r);

/* scan.c */
void runtime_start_scan(runtime *rt);

/* reload.c */
int runtime_validate_policy(runtime *rt, policy_settings *out, dm_err *err);
/* Reads the config file the run started from (if any) into rt->config. */
int runtime_read_config(runtime *rt, dm_err *err);
void runtime_on_sighup(uv_signal_t *s, int signum);
void runtime_on_sigusr1(uv_signal_t *s, int signum);

/* monitors.c */
void runtime_watchdog(runtime *rt, int64_t now);
void runtime_heartbeat(runtime *rt);
void runtime_progress(runtime *rt);
void runtime_start_metrics(runtime *rt);
void runtime_poll_spot(runtime *rt, int64_t now);
void runtime_write_emf(runtime *rt, int64_t now);

/* stats.c */
void runtime_start_control(runtime *rt);

#endif
