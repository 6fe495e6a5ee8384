/* monitors: what the loop checks on every tick besides jobs — the watchdog
 * (a worker stuck past its page deadline), lease heartbeats and recovery,
 * free memory and disk (pausing leases), EC2 spot notices (draining), the
 * metrics (EMF lines, Prometheus) and the TTY progress line. */
#include "daemon/runtime_internal.h"

#include "base/log.h"
#include "fetch/fetch.h"
#include "index/index.h"
#include "ops/supervisor.h"
#include "queue/crash_journal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A page past its deadline by this much is in code that never looks at the
 * abort flag (a decoder's inner loop): the thread cannot be stopped, so
 * the process exits and the supervisor starts a fresh one; the job counts a
 * crash and is quarantined at max_crashes. */
#define STUCK_GRACE_MS 60000

void runtime_watchdog(runtime *rt, int64_t now)
{
    for (int i = 0; i < rt->nworkers; i++) {
        if (!worker_is_stuck(&rt->workers[i], now, STUCK_GRACE_MS))
            continue;
        worker_status st;
        worker_get_status(&rt->workers[i], &st);
        log_error("worker %d is stuck on job %lld (%s) %lld s past its page deadline: exiting "
                  "so the supervisor restarts the process",
                  i, (long long)st.job_id, st.source, (long long)(STUCK_GRACE_MS / 1000));
        crash_journal_note(st.job_id, 0);
        _exit(DOCMILL_EXIT_STUCK);
    }
}

void runtime_heartbeat(runtime *rt)
{
    int64_t now = dm_mono_ms();
    int64_t lease_ms = (int64_t)rt->settings.lease_seconds * 1000;
    if (now - rt->last_heartbeat_ms < lease_ms / 3)
        return;
    rt->last_heartbeat_ms = now;
    dm_err err;
    /* Another process on this host may have died since we started, or a
     * lease held elsewhere may have run out: take those jobs back. */
    queue_recovery rec = {.max_crashes = rt->settings.max_crashes};
    int recovered = queue_recover(rt->q, &rec, &err);
    if (recovered > 0)
        log_info("reclaimed %d jobs from workers that are gone", recovered);
    rt->sum.failed += rec.quarantined;
    if (rt->nflight == 0)
        return;
    int64_t *ids = dm_xmalloc((size_t)rt->nflight * sizeof *ids);
    for (int i = 0; i < rt->nflight; i++)
        ids[i] = rt->flight[i].id;
    if (queue_extend(rt->q, ids, rt->nflight, lease_ms, &err) != 0)
        log_warn("cannot extend leases: %s", err.msg);
    free(ids);
}

void runtime_progress(runtime *rt)
{
    if (!rt->cfg->progress_tty)
        return;
    int64_t now = dm_mono_ms();
    if (now - rt->last_progress_ms < 250)
        return;
    rt->last_progress_ms = now;
    double secs = (double)(now - rt->started_ms) / 1000.0;
    double pps = secs > 0 ? (double)rt->sum.pages / secs : 0;
    int64_t done = rt->finished;
    int64_t total = rt->total_known > done ? rt->total_known : done;
    char eta[32] = "--:--";
    if (done > 0 && total > done) {
        int64_t left = (int64_t)((double)(total - done) * secs / (double)done);
        snprintf(eta, sizeof eta, "%lld:%02lld", (long long)(left / 60), (long long)(left % 60));
    } else if (total == done && done > 0) {
        snprintf(eta, sizeof eta, "0:00");
    }
    fprintf(stderr, "\r\033[K[%lld/%lld files] %lld pages, %.1f pages/s, %lld failed, ETA %s",
            (long long)done, (long long)total, (long long)rt->sum.pages, pps,
            (long long)rt->sum.failed, eta);
    fflush(stderr);
    log_set_progress_active(1);
}

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
    /* Until IMDS has answered once, each failure doubles the interval. */
    int64_t every = (int64_t)(rt->settings.spot_check_seconds * 1000);
    int64_t interval =
        dm_backoff_ms(1 + (rt->spot_answered ? 0 : rt->spot_failures), every, every * 64);
    if (rt->spot_off || rt->spot_running || rt->settings.spot_check_seconds <= 0 ||
        now - rt->last_spot_ms < interval)
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
