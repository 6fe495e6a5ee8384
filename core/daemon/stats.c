/* stats: what operators see of a running worker, on the loop thread — the
 * snapshot behind the REPL's stats()/workers()/jobs() and the metrics —
 * and the control socket the REPL answers on. */
#include "daemon/runtime_internal.h"

#include "base/log.h"
#include "base/mem_stats.h"

#include <stdlib.h>
#include <string.h>

static void counts_run(uv_work_t *req)
{
    runtime *rt = req->data;
    dm_err err;
    rt->counts_rc = queue_get_counts(rt->q, &rt->counts, &err);
}

static void counts_done(uv_work_t *req, int status)
{
    runtime *rt = req->data;
    (void)status;
    rt->counts_running = false;
    rt->counts_at_ms = dm_mono_ms();
}

/* A local queue answers at once; a network one from a copy at most 5 s
 * old, refreshed on the thread pool. */
static void runtime_queue_counts(runtime *rt, runtime_stats *out)
{
    if (!rt->q->lease_blocks) {
        dm_err err;
        out->queue_ok = queue_get_counts(rt->q, &out->queue, &err) == 0;
        return;
    }
    if (!rt->counts_running && dm_mono_ms() - rt->counts_at_ms > 5000) {
        rt->counts_running = true;
        rt->counts_work.data = rt;
        uv_queue_work(&rt->loop, &rt->counts_work, counts_run, counts_done);
    }
    out->queue_ok = rt->counts_at_ms > 0 && rt->counts_rc == 0;
    out->queue = rt->counts;
}

const policy_settings *runtime_settings(runtime *rt)
{
    return &rt->settings;
}

void runtime_set_paused(runtime *rt, bool paused)
{
    if (rt->paused != paused)
        log_info("%s taking new jobs (operator)", paused ? "paused:" : "resumed:");
    rt->paused = paused;
}

void runtime_get_stats(runtime *rt, runtime_stats *out)
{
    memset(out, 0, sizeof *out);
    out->sum = rt->sum;
    out->sum.elapsed_ms = dm_mono_ms() - rt->started_ms;
    double secs = (double)out->sum.elapsed_ms / 1000.0;
    int64_t files = rt->sum.indexed + rt->sum.failed + rt->sum.deleted + rt->sum.skipped;
    out->sum.files_per_hour = secs > 0 ? (double)files * 3600.0 / secs : 0;
    out->pages_per_second = secs > 0 ? (double)rt->sum.pages / secs : 0;
    mem_stats ms;
    if (mem_stats_read(&ms) == 0) {
        out->rss_bytes = ms.rss_bytes;
        out->sum.peak_rss_bytes = ms.peak_rss_bytes;
    }
    runtime_queue_counts(rt, out);
    out->in_flight = rt->nflight;
    pthread_mutex_lock(&rt->mu);
    out->waiting = rt->chan_len;
    out->draining = rt->stopping;
    out->hook_errors = rt->hook_errors;
    out->hook_fallbacks = rt->hook_fallbacks;
    out->gc_runs = rt->gc_runs;
    snprintf(out->policy_source, sizeof out->policy_source, "%s",
             rt->policy_path[0] ? rt->policy_path : "builtin:default");
    pthread_mutex_unlock(&rt->mu);
    out->workers = rt->nworkers;
    out->paused = rt->paused;
    out->health_paused = rt->health_paused;
    snprintf(out->health_reason, sizeof out->health_reason, "%s", rt->health_reason);
    out->reloads = rt->reloads;
    out->reload_failures = rt->reload_failures;
    out->policy_generation = atomic_load(&rt->policy_generation);
    out->nreasons = rt->nreasons;
    memcpy(out->reasons, rt->reasons, sizeof out->reasons);
    for (int k = 0; k < STAGE_COUNT; k++)
        out->stage_seconds[k] = (double)rt->stage_ms[k] / 1000.0;
    out->queue_latency_ms_sum = rt->latency_ms_sum;
    out->queue_latency_count = rt->latency_n;
}

int runtime_get_workers(runtime *rt, worker_status *out, int max)
{
    int n = rt->nworkers < max ? rt->nworkers : max;
    for (int i = 0; i < n; i++)
        worker_get_status(&rt->workers[i], &out[i]);
    return n;
}

int runtime_get_jobs(runtime *rt, runtime_job_info **out)
{
    runtime_job_info *jobs = dm_xcalloc((size_t)rt->nflight + 1, sizeof *jobs);
    worker_status *ws = dm_xcalloc((size_t)rt->nworkers, sizeof *ws);
    int nw = runtime_get_workers(rt, ws, rt->nworkers);
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < rt->nflight; i++) {
        runtime_job_info *j = &jobs[i];
        j->id = rt->flight[i].id;
        snprintf(j->source, sizeof j->source, "%s", rt->flight[i].source);
        j->attempts = rt->flight[i].attempts;
        j->worker = -1;
        j->state = "indexing";  /* handed to the indexing buffer */
        for (int k = 0; k < rt->chan_len; k++)
            if (rt->chan[k].id == j->id)
                j->state = "waiting";
        for (int k = 0; k < nw; k++)
            if (ws[k].job_id == j->id) {
                j->state = "running";
                j->worker = ws[k].id;
                j->elapsed_ms = ws[k].elapsed_ms;
            }
    }
    pthread_mutex_unlock(&rt->mu);
    free(ws);
    *out = jobs;
    return rt->nflight;
}

static control_status on_control(void *ud, int session, const char *code, size_t len,
                                 sbuf *reply)
{
    runtime *rt = ud;
    return repl_eval(rt->repl, session, code, len, reply);
}

static void on_control_end(void *ud, int session)
{
    runtime *rt = ud;
    repl_session_end(rt->repl, session);
}

/* The REPL's Lua state and the socket it answers on. A socket that cannot
 * be opened costs the REPL, not the run. */
void runtime_start_control(runtime *rt)
{
    dm_err err;
    rt->repl = repl_new(rt, &err);
    if (!rt->repl) {
        log_warn("REPL unavailable: %s", err.msg);
        return;
    }
    rt->control = control_listen(&rt->loop, rt->cfg->socket_path, on_control, on_control_end, rt,
                                 &err);
    if (!rt->control)
        log_warn("REPL unavailable: %s", err.msg);
    else
        log_info("control socket %s (docmill repl --socket %s)", rt->cfg->socket_path,
                 rt->cfg->socket_path);
}

void runtime_count_worker(runtime *rt, int64_t hook_errors, int64_t hook_fallbacks,
                          int64_t gc_runs)
{
    pthread_mutex_lock(&rt->mu);
    rt->hook_errors += hook_errors;
    rt->hook_fallbacks += hook_fallbacks;
    rt->gc_runs += gc_runs;
    pthread_mutex_unlock(&rt->mu);
}
