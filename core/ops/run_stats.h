/* run_stats: what a `docmill run` counts, as plain data — the summary it
 * prints at the end and the live snapshot the REPL, metrics and health
 * report from. */
#ifndef DOCMILL_RUN_STATS_H
#define DOCMILL_RUN_STATS_H

#include "base/common.h"
#include "queue/job.h"
#include "queue/queue.h"

typedef struct run_summary {
    int64_t indexed, unchanged, deleted, skipped, failed, retried;
    int64_t pages, pages_ocr;
    int64_t pages_rotated, pages_vertical, pages_low_confidence;   /* see ocr_looks */
    int64_t elapsed_ms;
    double files_per_hour;
    int64_t peak_rss_bytes;
    double stage_seconds[STAGE_COUNT];   /* all workers */
    /* The workers' time, summed over them: at work (a job or another
     * worker's pages), idle from the start to their first work, and idle
     * from their last work to the end. The rest of workers x elapsed is
     * idle between works. */
    double busy_seconds, idle_before_seconds, idle_after_seconds;
} run_summary;

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
    char policy_source[1024];
    int64_t hook_errors;        /* policy hooks that raised or ran over budget */
    int64_t hook_fallbacks;     /* hook results replaced by the default */
    int64_t gc_runs;            /* full collections by gc_every_jobs */
    /* Permanent failures by reason (the error up to its first ':'). */
    int nreasons;
    struct {
        char reason[64];
        int64_t count;
    } reasons[RUNTIME_MAX_REASONS];
    /* Seconds spent per stage, summed over every job (all workers). */
    double stage_seconds[STAGE_COUNT];
    /* Time jobs waited in the queue once available, summed, and how many. */
    double queue_latency_ms_sum;
    int64_t queue_latency_count;
} runtime_stats;

#endif
