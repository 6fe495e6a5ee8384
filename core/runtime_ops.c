/* runtime_ops: the operator's view of a running worker, on the loop
 * thread — introspection for the REPL, the health check that pauses and
 * resumes leasing, EC2 spot notices, and metrics (EMF, Prometheus). */
#include "runtime_internal.h"

#include "fetch.h"
#include "index.h"
#include "log.h"
#include "mem_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- introspection for the REPL (loop thread) -------------------------- */

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
    pthread_mutex_unlock(&rt->mu);
    out->workers = rt->nworkers;
    out->paused = rt->paused;
    out->health_paused = rt->health_paused;
    snprintf(out->health_reason, sizeof out->health_reason, "%s", rt->health_reason);
    out->reloads = rt->reloads;
    out->reload_failures = rt->reload_failures;
    out->policy_generation = atomic_load(&rt->policy_generation);
    snprintf(out->policy_source, sizeof out->policy_source, "%s",
             rt->cfg->policy_path ? rt->cfg->policy_path : "builtin:default");
    out->nreasons = rt->nreasons;
    memcpy(out->reasons, rt->reasons, sizeof out->reasons);
    for (int k = 0; k < STAGE_COUNT; k++)
        out->stage_seconds[k] = (double)rt->stage_ms[k] / 1000.0;
    out->queue_latency_ms_sum = rt->latency_ms_sum;
    out->queue_latency_count = rt->latency_n;
}

/* --- health: free memory and disk against the policy ------------------- */

int runtime_check_health(runtime *rt, health_report *out)
{
    health_thresholds t = {(int64_t)rt->settings.min_free_memory_mb,
                           (int64_t)rt->settings.min_free_disk_mb};
    /* Where we write: downloads, and the SQLite index and queue. */
    char dirs[3][4096];
    const char *paths[3];
    int n = 0;
    snprintf(dirs[n], sizeof dirs[n], "%s", fetch_temp_dir());
    paths[n] = dirs[n];
    n++;
    const char *files[2] = {index_sqlite_path(rt->cfg->index_uri),
                            rt->source_root ? rt->cfg->queue_path : NULL};
    for (int i = 0; i < 2; i++) {
        if (!files[i])
            continue;
        const char *slash = strrchr(files[i], '/');
        if (slash)
            snprintf(dirs[n], sizeof dirs[n], "%.*s", (int)(slash - files[i]) + (slash == files[i]),
                     files[i]);
        else
            snprintf(dirs[n], sizeof dirs[n], ".");
        paths[n] = dirs[n];
        n++;
    }
    dm_err err;
    if (health_check(&t, paths, n, &rt->health, &err) != 0) {
        /* Cannot tell: keep working rather than stop a fleet on a probe bug. */
        log_warn("health check failed: %s", err.msg);
        rt->health.healthy = true;
    }
    bool was = rt->health_paused;
    rt->health_paused = !rt->health.healthy;
    snprintf(rt->health_reason, sizeof rt->health_reason, "%s", rt->health.reason);
    if (rt->health_paused && !was) {
        log_warn("unhealthy: %s; not taking jobs until it recovers (jobs in progress go on)",
                 rt->health.reason);
        runtime_cleanup(rt);
    } else if (!rt->health_paused && was) {
        log_info("healthy again: taking jobs");
    }
    if (out)
        *out = rt->health;
    return rt->health_paused ? -1 : 0;
}

/* --- EC2 spot interruption notices -------------------------------------- */

static void spot_run(uv_work_t *req)
{
    runtime *rt = req->data;
    rt->spot_rc = spot_check(&rt->notice, &rt->spot_err);
}

static void spot_done(uv_work_t *req, int status)
{
    runtime *rt = req->data;
    (void)status;
    rt->spot_running = false;
    if (rt->spot_rc == SPOT_UNAVAILABLE) {
        /* Not on EC2 (or IMDS disabled): stop asking after a few tries a
         * growing interval apart. Once IMDS has answered, a failure is
         * only a blip. */
        rt->spot_failures++;
        if (!rt->spot_answered && (rt->spot_failures >= 3 || imds_disabled())) {
            rt->spot_off = true;
            log_info("no EC2 instance metadata (%s): spot interruption polling off",
                     rt->spot_err.msg);
        } else {
            log_debug("spot check: %s", rt->spot_err.msg);
        }
        return;
    }
    rt->spot_failures = 0;
    rt->spot_answered = true;
    if (rt->spot_rc == SPOT_NOTICE && !rt->stopping) {
        log_warn("EC2 spot interruption notice (%s at %s): draining", rt->notice.action,
                 rt->notice.time[0] ? rt->notice.time : "unknown time");
        runtime_start_drain(rt);
    }
}

void runtime_poll_spot(runtime *rt, int64_t now)
{
    int backoff = rt->spot_answered ? 0 : rt->spot_failures;
    if (rt->spot_off || rt->spot_running || rt->settings.spot_check_seconds <= 0 ||
        now - rt->last_spot_ms < ((int64_t)(rt->settings.spot_check_seconds * 1000) << backoff))
        return;
    rt->last_spot_ms = now;
    rt->spot_running = true;
    rt->spot_work.data = rt;
    uv_queue_work(&rt->loop, &rt->spot_work, spot_run, spot_done);
}

/* --- metrics ------------------------------------------------------------ */

static void metrics_sample(runtime *rt, metrics_point *p)
{
    runtime_get_stats(rt, &p->st);
    p->cpu_seconds = metrics_process_cpu_seconds();
    p->mono_ms = dm_mono_ms();
}

static void render_prometheus(void *ud, sbuf *out)
{
    runtime *rt = ud;
    metrics_point p;
    metrics_sample(rt, &p);
    metrics_prometheus(&p, &rt->mctx, out);
}

void runtime_write_emf(runtime *rt, int64_t now)
{
    if (!rt->emf ||
        now - rt->last_emf_ms < (int64_t)(rt->settings.metrics_interval_seconds * 1000))
        return;
    rt->last_emf_ms = now;
    metrics_point p;
    metrics_sample(rt, &p);
    sbuf line;
    sbuf_init(&line);
    metrics_emf_line(&rt->emf_prev, &p, &rt->mctx, dm_now_ms(), &line);
    if (fwrite(line.data, 1, line.len, rt->emf) != line.len || fflush(rt->emf) != 0)
        log_warn("cannot write EMF metrics: %s", strerror(errno));
    sbuf_free(&line);
    rt->emf_prev = p;
}

void runtime_start_metrics(runtime *rt)
{
    const char *it = getenv("DOCMILL_INSTANCE_TYPE");
    dm_err err;
    if (it && *it)
        snprintf(rt->instance_type, sizeof rt->instance_type, "%s", it);
    else if (rt->cfg->emf_path && aws_instance_type(rt->instance_type, &err) != 0)
        snprintf(rt->instance_type, sizeof rt->instance_type, "local");
    rt->mctx.instance_type = rt->instance_type;
    rt->mctx.ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int64_t avail;
    if (health_read_memory(&avail, &rt->mctx.mem_total_bytes, &err) != 0)
        rt->mctx.mem_total_bytes = 0;
    if (rt->cfg->emf_path) {
        if (strcmp(rt->cfg->emf_path, "-") == 0)
            rt->emf = stdout;
        else if (!(rt->emf = fopen(rt->cfg->emf_path, "ae")))
            log_warn("EMF metrics off: cannot open %s: %s", rt->cfg->emf_path, strerror(errno));
        metrics_sample(rt, &rt->emf_prev);
        rt->last_emf_ms = dm_mono_ms();
    }
    if (rt->cfg->metrics_listen) {
        rt->metrics = metrics_serve(&rt->loop, rt->cfg->metrics_listen, render_prometheus, rt, &err);
        if (!rt->metrics)
            log_warn("Prometheus metrics off: %s", err.msg);
        else
            log_info("Prometheus metrics on %s (port %d): GET /metrics", rt->cfg->metrics_listen,
                     metrics_server_port(rt->metrics));
    }
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

