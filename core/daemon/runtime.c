/* runtime: the loop of `docmill run` — its tick, wake-ups, signals, the
 * graceful drain with its deadline, the --once end, and shutdown. What the
 * loop does on each is in the files named in runtime.h. */
#include "daemon/runtime_internal.h"

#include "daemon/decide.h"

#include "queue/crash_journal.h"
#include "ops/sd_notify.h"
#include "ops/supervisor.h"
#include "fetch/fetch.h"
#include "index/index.h"
#include "index/index_opensearch.h"
#include "base/log.h"
#include "luabridge/lstate.h"
#include "base/mem_stats.h"
#include "ops/pidfile.h"
#include "queue/queue_sqlite.h"
#include "queue/queue_sqs.h"

#include <errno.h>
#include <signal.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 100

void runtime_set_fatal(runtime *rt, const dm_err *err)
{
    if (!rt->fatal) {
        rt->fatal = true;
        rt->fatal_err = *err;
        log_error("%s", err->msg);
    }
}

/* Exits without unwinding (workers may be mid-job): only the files that
 * would mislead the next start or `docmill reload` are removed. */
void runtime_leave_now(runtime *rt, int code)
{
    if (rt->control && rt->cfg->socket_path)
        unlink(rt->cfg->socket_path);
    if (rt->pid_fd >= 0)
        unlink(rt->cfg->pid_file);
    _exit(code);
}

/* The drain deadline passed: what is still running goes back to the queue
 * (an SQS message becomes visible at once; a local job pending), and we
 * leave. The workers' threads die with the process. */
static void on_drain_deadline(uv_timer_t *t)
{
    runtime *rt = t->data;
    runtime_apply_results(rt);
    dm_err err;
    log_warn("drain deadline (%d s) passed: returning %d running jobs to the queue and exiting",
             rt->settings.drain_seconds, rt->nflight);
    for (int i = 0; i < rt->nflight; i++)
        if (queue_release(rt->q, rt->flight[i].id, &err) != 0)
            log_warn("cannot release job %lld: %s (its lease will expire)",
                     (long long)rt->flight[i].id, err.msg);
    if (queue_flush(rt->q, &err) != 0)
        log_warn("cannot flush the queue: %s", err.msg);
    fflush(stdout);
    runtime_leave_now(rt, 0);
}

static bool all_workers_exited(runtime *rt)
{
    for (int i = 0; i < rt->nworkers; i++)
        if (!atomic_load(&rt->workers[i].exited))
            return false;
    return true;
}

/* The end of a run, advanced at every tick and whenever a result or a
 * worker's exit wakes the loop, so a run ends as soon as it can (not a tick
 * or two later). Stopping: once every worker has exited and the indexer has
 * finished what they handed over, the loop ends. --once: the stop begins
 * when nothing is in flight and the queue is empty. True while stopping. */
static bool advance_stop(runtime *rt)
{
    if (rt->fatal)
        runtime_begin_stop(rt);
    if (rt->stopping) {
        /* Jobs still running while we drain keep their leases. */
        runtime_heartbeat(rt);
        if (all_workers_exited(rt) && !rt->leasing) {
            /* The indexer finishes the documents the workers handed over
             * while the heartbeat still keeps their leases. */
            if (bulk_buffer_pending(rt->bulk) > 0) {
                bulk_buffer_nudge(rt->bulk);
                return true;
            }
            runtime_apply_results(rt);
            uv_stop(&rt->loop);
        }
        return true;
    }
    /* Checked before leasing again: with a long-polling queue a lease is
     * almost always under way otherwise. */
    once_state once = {rt->scanned_once, rt->scanning, rt->leasing, rt->nflight,
                       rt->empty_leases, rt->q->lease_blocks};
    if (rt->cfg->once && decide_once_may_finish(&once)) {
        queue_counts c;
        dm_err err;
        if (queue_get_counts(rt->q, &c, &err) == 0 && c.pending == 0 && c.leased == 0) {
            runtime_begin_stop(rt);
            return true;
        }
    }
    return false;
}

static void on_tick(uv_timer_t *t)
{
    runtime *rt = t->data;
    runtime_apply_results(rt);
    if (advance_stop(rt))
        return;
    int64_t now = dm_mono_ms();
    runtime_watchdog(rt, now);
    if (rt->source_root && !rt->cfg->once && rt->scanned_once && !rt->scanning &&
        now - rt->last_scan_ms >= (int64_t)rt->rescan_seconds * 1000)
        runtime_start_scan(rt);
    if (now - rt->last_health_ms >= (int64_t)(rt->settings.health_check_seconds * 1000)) {
        rt->last_health_ms = now;
        runtime_check_health(rt, NULL);
    }
    runtime_poll_spot(rt, now);
    runtime_write_emf(rt, now);
    runtime_fill_channel(rt);
    runtime_heartbeat(rt);
    runtime_progress(rt);
}

static void on_wake(uv_async_t *a)
{
    runtime *rt = a->data;
    runtime_apply_results(rt);
    if (advance_stop(rt))
        return;
    runtime_fill_channel(rt);
}

void runtime_start_drain(runtime *rt)
{
    runtime_begin_stop(rt);
    if (!uv_is_active((uv_handle_t *)&rt->drain))
        uv_timer_start(&rt->drain, on_drain_deadline,
                       (uint64_t)rt->settings.drain_seconds * 1000, 0);
}

void runtime_drain(runtime *rt)
{
    log_info("drain requested: finishing jobs in progress (at most %d s), then exiting",
             rt->settings.drain_seconds);
    runtime_start_drain(rt);
}

static void on_signal(uv_signal_t *s, int signum)
{
    runtime *rt = s->data;
    if (++rt->signals > 1) {
        /* Second signal: leave now. Leased jobs stay leased by this pid and
         * are reclaimed on the next start, so nothing is lost. */
        log_warn("second signal: exiting without draining");
        runtime_leave_now(rt, 130);
    }
    log_info("signal %d: finishing jobs in progress (at most %d s), then exiting (again to quit "
             "at once)",
             signum, rt->settings.drain_seconds);
    runtime_start_drain(rt);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The loop's handles: tick, wake-ups, signals; then the first scan, the
 * control socket and the metrics. */
static void open_loop(runtime *rt)
{
    rt->started_ms = dm_mono_ms();
    /* systemd (Type=notify): the workers are up. */
    sd_notify_send("READY=1\nSTATUS=processing jobs");
    uv_async_init(&rt->loop, &rt->wake, on_wake);
    rt->wake.data = rt;
    uv_timer_init(&rt->loop, &rt->tick);
    rt->tick.data = rt;
    uv_timer_init(&rt->loop, &rt->drain);
    rt->drain.data = rt;
    uv_timer_start(&rt->tick, on_tick, 0, TICK_MS);
    uv_signal_init(&rt->loop, &rt->sigint);
    uv_signal_init(&rt->loop, &rt->sigterm);
    uv_signal_init(&rt->loop, &rt->sighup);
    rt->sigint.data = rt->sigterm.data = rt->sighup.data = rt;
    uv_signal_start(&rt->sighup, runtime_on_sighup, SIGHUP);
    uv_signal_init(&rt->loop, &rt->sigusr1);
    rt->sigusr1.data = rt;
    uv_signal_start(&rt->sigusr1, runtime_on_sigusr1, SIGUSR1);
    uv_signal_start(&rt->sigint, on_signal, SIGINT);
    uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
    if (rt->source_root)
        runtime_start_scan(rt);
    if (rt->control_wanted)
        runtime_start_control(rt);
    runtime_start_metrics(rt);
    /* Healthy before the first lease, or not taking any. */
    rt->last_health_ms = dm_mono_ms();
    runtime_check_health(rt, NULL);

}

/* After the loop: the workers joined, what they handed over indexed and
 * recorded, what is still leased released, the handles closed. */
static void shut_down(runtime *rt)
{
    control_close(rt->control);
    rt->control = NULL;
    metrics_server_close(rt->metrics);
    rt->metrics = NULL;
    if (rt->emf) {
        /* The last interval too, so short runs report something. */
        rt->last_emf_ms = 0;
        runtime_write_emf(rt, dm_mono_ms());
        if (rt->emf != stdout)
            fclose(rt->emf);
        rt->emf = NULL;
    }

    for (int i = 0; i < rt->nworkers; i++)
        worker_join(&rt->workers[i]);
    /* Index what the workers handed over, and record those results. */
    bulk_buffer_stop(rt->bulk);
    rt->bulk = NULL;
    runtime_apply_results(rt);
    /* Whatever a worker held when it stopped (a batch it could not flush)
     * returns to the queue for the next run. */
    for (int i = 0; i < rt->nflight; i++) {
        dm_err e2;
        queue_release(rt->q, rt->flight[i].id, &e2);
    }
    /* libuv puts SIG_DFL back as it closes its signal handles: a reload
     * or cleanup signal in the last moments must not kill the process (its
     * supervisor would take that for a crash). Held back on this thread
     * while the handles close, then ignored (which drops a pending one). */
    sigset_t quiet, old_mask;
    sigemptyset(&quiet);
    sigaddset(&quiet, SIGHUP);
    sigaddset(&quiet, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &quiet, &old_mask);
    uv_walk(&rt->loop, close_handle, NULL);
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    uv_loop_close(&rt->loop);
    ignore_reload_signals();
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    repl_free(rt->repl);
    rt->repl = NULL;
    if (rt->cfg->progress_tty) {
        fprintf(stderr, "\r\033[K");
        log_set_progress_active(0);
    }
}

/* The workers' time (they have been joined): at work, and idle before
 * their first and after their last work. */
static void sum_worker_time(runtime *rt, int64_t end_ms)
{
    int64_t busy = 0, before = 0, after = 0;
    for (int i = 0; i < rt->nworkers; i++) {
        const worker *w = &rt->workers[i];
        busy += w->busy_ms;
        if (!w->first_work_ms) {
            before += end_ms - rt->started_ms;
            continue;
        }
        before += w->first_work_ms > rt->started_ms ? w->first_work_ms - rt->started_ms : 0;
        after += end_ms > w->last_work_ms ? end_ms - w->last_work_ms : 0;
    }
    rt->sum.busy_seconds = (double)busy / 1000.0;
    rt->sum.idle_before_seconds = (double)before / 1000.0;
    rt->sum.idle_after_seconds = (double)after / 1000.0;
}

static void summarize(runtime *rt, run_summary *sum)
{
    int64_t end_ms = dm_mono_ms();
    rt->sum.elapsed_ms = end_ms - rt->started_ms;
    sum_worker_time(rt, end_ms);
    int64_t files = rt->sum.indexed + rt->sum.failed + rt->sum.deleted + rt->sum.skipped;
    rt->sum.files_per_hour =
        rt->sum.elapsed_ms > 0 ? (double)files * 3600000.0 / (double)rt->sum.elapsed_ms : 0;
    mem_stats ms;
    if (mem_stats_read(&ms) == 0)
        rt->sum.peak_rss_bytes = ms.peak_rss_bytes;
    for (int k = 0; k < STAGE_COUNT; k++)
        rt->sum.stage_seconds[k] = (double)rt->stage_ms[k] / 1000.0;
    *sum = rt->sum;
}

int runtime_run(const runtime_config *cfg, run_summary *sum, dm_err *err)
{
    memset(sum, 0, sizeof *sum);
    runtime *rt = dm_xcalloc(1, sizeof *rt);
    rt->cfg = cfg;
    rt->pid_fd = -1;
    int rc = -1;
    if (runtime_start(rt, err) != 0)
        goto out;
    log_info("docmill %s: %d workers, source %s, index %s, policy %s", DOCMILL_VERSION,
             rt->nworkers, rt->source_root ? rt->source_root : cfg->queue_url, cfg->index_uri,
             rt->policy_path[0] ? rt->policy_path : "builtin:default");
    open_loop(rt);
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    shut_down(rt);
    summarize(rt, sum);
    if (rt->fatal) {
        *err = rt->fatal_err;
        goto out;
    }
    rc = 0;
out:
    runtime_free(rt);
    return rc;
}
