#include "runtime_internal.h"

#include "crash_journal.h"
#include "sd_notify.h"
#include "supervisor.h"
#include "fetch.h"
#include "index.h"
#include "index_opensearch.h"
#include "log.h"
#include "lstate.h"
#include "mem_stats.h"
#include "pidfile.h"
#include "queue_sqlite.h"
#include "queue_sqs.h"

#include <errno.h>
#include <signal.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 100

const char *const runtime_stage_names[5] = {"fetch", "text", "render", "ocr", "index"};

static const char *const OUTCOME_NAMES[] = {"indexed", "unchanged", "deleted", "skipped",
                                            "failed",  "retry",     "poison"};

bool job_outcome_parse(const char *name, job_outcome *out)
{
    for (int i = 0; i < (int)(sizeof OUTCOME_NAMES / sizeof *OUTCOME_NAMES); i++)
        if (strcmp(name, OUTCOME_NAMES[i]) == 0) {
            *out = (job_outcome)i;
            return true;
        }
    return false;
}

const char *job_outcome_name(job_outcome o)
{
    return OUTCOME_NAMES[o];
}

/* --- the worker-facing channel --------------------------------------- */

/* The fast lane: the first fast_lane_workers workers take only jobs of a
 * known size up to fast_lane_max_mb, so small files never wait behind big
 * ones. The others take anything, in order. -1 when nothing fits. */
static int pick_job(runtime *rt, int worker_id)
{
    const policy_settings *s = &rt->settings;
    if (worker_id >= s->fast_lane_workers || worker_id < 0 ||
        s->fast_lane_workers >= rt->nworkers)
        return rt->chan_len > 0 ? 0 : -1;
    int64_t max = (int64_t)(s->fast_lane_max_mb * 1048576.0);
    for (int i = 0; i < rt->chan_len; i++)
        if (rt->chan[i].size >= 0 && rt->chan[i].size <= max &&
            strcmp(rt->chan[i].op, "index") == 0)
            return i;
    return -1;
}

int runtime_next_job(runtime *rt, int worker_id, int timeout_ms, queue_job *out)
{
    pthread_mutex_lock(&rt->mu);
    if (pick_job(rt, worker_id) < 0 && !rt->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)timeout_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&rt->cv, &rt->mu, &ts);
    }
    int r;
    int i = pick_job(rt, worker_id);
    if (i >= 0) {
        *out = rt->chan[i];
        memmove(rt->chan + i, rt->chan + i + 1, (size_t)(rt->chan_len - i - 1) * sizeof *rt->chan);
        rt->chan_len--;
        r = 1;
    } else {
        r = rt->stopping ? -1 : 0;
    }
    pthread_mutex_unlock(&rt->mu);
    return r;
}

static void complete_from_bulk(void *ud, const job_result *r)
{
    runtime_complete(ud, r);
}

bulk_buffer *runtime_bulk(runtime *rt)
{
    return rt->bulk;
}

page_board *runtime_page_board(runtime *rt)
{
    return rt->nworkers > 1 ? rt->pages : NULL;
}

bool runtime_helps_with_pages(runtime *rt, int worker_id)
{
    pthread_mutex_lock(&rt->mu);
    bool lane = worker_id < rt->settings.fast_lane_workers &&
                rt->settings.fast_lane_workers < rt->nworkers;
    pthread_mutex_unlock(&rt->mu);
    return !lane;
}

/* A batch of page ranges was posted: idle workers look now, not at their
 * next poll. */
static void wake_workers(void *ud)
{
    runtime *rt = ud;
    pthread_mutex_lock(&rt->mu);
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

void runtime_complete(runtime *rt, const job_result *r)
{
    pthread_mutex_lock(&rt->mu);
    if (rt->nresults == rt->results_cap) {
        rt->results_cap = rt->results_cap ? rt->results_cap * 2 : 64;
        rt->results = dm_xrealloc(rt->results, (size_t)rt->results_cap * sizeof *rt->results);
    }
    rt->results[rt->nresults++] = *r;
    pthread_mutex_unlock(&rt->mu);
    uv_async_send(&rt->wake);
}

/* --- loop thread -------------------------------------------------------- */

static inflight *flight_find(runtime *rt, int64_t id)
{
    for (int i = 0; i < rt->nflight; i++)
        if (rt->flight[i].id == id)
            return &rt->flight[i];
    return NULL;
}

static void flight_remove(runtime *rt, int64_t id)
{
    for (int i = 0; i < rt->nflight; i++) {
        if (rt->flight[i].id == id) {
            free(rt->flight[i].source);
            rt->flight[i] = rt->flight[--rt->nflight];
            return;
        }
    }
}

static void set_fatal(runtime *rt, const dm_err *err)
{
    if (!rt->fatal) {
        rt->fatal = true;
        rt->fatal_err = *err;
        log_error("%s", err->msg);
    }
}

static void apply_results(runtime *rt);

/* Exits without unwinding (workers may be mid-job): only the files that
 * would mislead the next start or `docmill reload` are removed. */
static void leave_now(runtime *rt, int code)
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
    apply_results(rt);
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
    leave_now(rt, 0);
}

static void begin_stop(runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    if (rt->stopping) {
        pthread_mutex_unlock(&rt->mu);
        return;
    }
    rt->stopping = true;
    sd_notify_send("STOPPING=1\nSTATUS=draining");
    /* Jobs nobody started go back to the queue untouched. */
    queue_job *left = rt->chan;
    int nleft = rt->chan_len;
    rt->chan = NULL;
    rt->chan_len = rt->chan_cap = 0;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    dm_err err;
    for (int i = 0; i < nleft; i++) {
        if (queue_release(rt->q, left[i].id, &err) != 0)
            log_warn("cannot release job %lld: %s", (long long)left[i].id, err.msg);
        flight_remove(rt, left[i].id);
    }
    queue_jobs_free(left, nleft);
}

static void log_job(runtime *rt, const job_result *r, const inflight *f)
{
    const char *src = f ? f->source : "?";
    log_fields lf = {"job",    r->job_id, src, job_outcome_name(r->outcome), r->elapsed_ms,
                     r->pages, r->pages_ocr, r->worker_id};
    if (r->outcome == OUTCOME_FAILED || r->outcome == OUTCOME_POISON)
        log_fields_msg(LOG_WARN, &lf, "failed %s: %s", src, r->error);
    else if (r->outcome == OUTCOME_RETRY)
        log_fields_msg(LOG_WARN, &lf, "will retry %s: %s", src, r->error);
    else if (!rt->cfg->progress_tty)
        log_fields_msg(LOG_INFO, &lf, "%s %s (%d pages, %d OCR) in %lld ms",
                       job_outcome_name(r->outcome), src, r->pages, r->pages_ocr,
                       (long long)r->elapsed_ms);
}

/* "unsupported type: ..." -> "unsupported type": few distinct reasons, so
 * `stats()` can say what fails most. */
static void count_failure(runtime *rt, const char *error)
{
    char reason[64];
    size_t n = strcspn(error, ":");
    if (n >= sizeof reason)
        n = sizeof reason - 1;
    memcpy(reason, error, n);
    reason[n] = '\0';
    if (!reason[0])
        snprintf(reason, sizeof reason, "unknown");
    int i;
    for (i = 0; i < rt->nreasons; i++)
        if (strcmp(rt->reasons[i].reason, reason) == 0)
            break;
    if (i == rt->nreasons) {
        if (rt->nreasons == RUNTIME_MAX_REASONS) {
            i = RUNTIME_MAX_REASONS - 1;
            snprintf(rt->reasons[i].reason, sizeof rt->reasons[i].reason, "other");
        } else {
            snprintf(rt->reasons[rt->nreasons++].reason, sizeof reason, "%s", reason);
        }
    }
    rt->reasons[i].count++;
}

static void apply_results(runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    job_result *res = rt->results;
    int n = rt->nresults;
    rt->results = NULL;
    rt->nresults = rt->results_cap = 0;
    pthread_mutex_unlock(&rt->mu);
    dm_err err;
    for (int i = 0; i < n; i++) {
        job_result *r = &res[i];
        inflight *f = flight_find(rt, r->job_id);
        log_job(rt, r, f);
        int rc = 0;
        switch (r->outcome) {
        case OUTCOME_INDEXED:
        case OUTCOME_UNCHANGED:
        case OUTCOME_DELETED:
        case OUTCOME_SKIPPED:
            rc = queue_ack(rt->q, r->job_id, job_outcome_name(r->outcome), &err);
            break;
        case OUTCOME_FAILED:
            rc = queue_fail(rt->q, r->job_id, r->error, &err);
            break;
        case OUTCOME_POISON:
            rc = queue_poison(rt->q, r->job_id, r->error, &err);
            break;
        case OUTCOME_RETRY: {
            /* Transient means it can succeed later (the index is down, S3
             * answered 503): retried until it does, never turned into a
             * failure — an outage must lose nothing. Exponential backoff up
             * to retry_max_ms (the shift kept small). */
            int attempts = f ? f->attempts : 1;
            int shift = attempts - 1 < 20 ? (attempts > 0 ? attempts - 1 : 0) : 20;
            int64_t delay = (int64_t)rt->settings.retry_base_ms << shift;
            if (delay > rt->settings.retry_max_ms)
                delay = rt->settings.retry_max_ms;
            rc = queue_retry(rt->q, r->job_id, r->error, delay, &err);
            rt->sum.retried++;
            break;
        }
        }
        if (rc != 0) {
            /* The job stays leased and comes back after its lease: nothing
             * is lost, it may be processed once more. */
            log_error("cannot record the result of job %lld: %s", (long long)r->job_id, err.msg);
        }
        switch (r->outcome) {
        case OUTCOME_INDEXED: rt->sum.indexed++; break;
        case OUTCOME_UNCHANGED: rt->sum.unchanged++; break;
        case OUTCOME_DELETED: rt->sum.deleted++; break;
        case OUTCOME_SKIPPED: rt->sum.skipped++; break;
        case OUTCOME_FAILED:
        case OUTCOME_POISON:
            rt->sum.failed++;
            count_failure(rt, r->error);
            break;
        case OUTCOME_RETRY: break;
        }
        for (int k = 0; k < STAGE_COUNT; k++)
            rt->stage_ms[k] += r->stage_ms[k];
        if (r->outcome != OUTCOME_RETRY)
            rt->finished++;
        rt->sum.pages += r->pages;
        rt->sum.pages_ocr += r->pages_ocr;
        flight_remove(rt, r->job_id);
    }
    free(res);
    dm_err ferr;
    if (n > 0 && queue_flush(rt->q, &ferr) != 0)
        log_warn("cannot flush queue acknowledgements: %s", ferr.msg);
}

/* Puts freshly leased jobs in flight and in the channel. */
static void dispatch(runtime *rt, queue_job *jobs, int n)
{
    int64_t now = dm_now_ms();
    for (int i = 0; i < n; i++) {
        if (jobs[i].available_ms > 0 && jobs[i].available_ms <= now) {
            rt->latency_ms_sum += (double)(now - jobs[i].available_ms);
            rt->latency_n++;
        }
        if (rt->nflight == rt->flight_cap) {
            rt->flight_cap = rt->flight_cap ? rt->flight_cap * 2 : 64;
            rt->flight = dm_xrealloc(rt->flight, (size_t)rt->flight_cap * sizeof *rt->flight);
        }
        rt->flight[rt->nflight++] = (inflight){jobs[i].id, jobs[i].attempts, dm_xstrdup(jobs[i].source)};
    }
    if (!rt->source_root)
        rt->total_known += n;  /* a queue source has no scan to count ahead */
    pthread_mutex_lock(&rt->mu);
    if (rt->chan_len + n > rt->chan_cap) {
        rt->chan_cap = rt->chan_len + n + 16;
        rt->chan = dm_xrealloc(rt->chan, (size_t)rt->chan_cap * sizeof *rt->chan);
    }
    memcpy(rt->chan + rt->chan_len, jobs, (size_t)n * sizeof *jobs);
    rt->chan_len += n;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    free(jobs);  /* the strings now belong to the channel entries */
}

static void lease_run(uv_work_t *req)
{
    runtime *rt = req->data;
    rt->lease_rc = queue_lease(rt->q, rt->lease_want, rt->lease_ms,
                               &rt->leased, &rt->nleased, &rt->lease_err);
}

static void lease_done(uv_work_t *req, int status)
{
    runtime *rt = req->data;
    (void)status;
    rt->leasing = false;
    queue_job *jobs = rt->leased;
    int n = rt->lease_rc == 0 ? rt->nleased : 0;
    rt->leased = NULL;
    rt->nleased = 0;
    if (rt->lease_rc != 0) {
        log_warn("cannot lease jobs: %s", rt->lease_err.msg);
        rt->lease_pause_until = dm_mono_ms() + 2000;
    }
    if (rt->stopping) {
        /* Leased during the drain: straight back to the queue. */
        dm_err err;
        for (int i = 0; i < n; i++)
            if (queue_release(rt->q, jobs[i].id, &err) != 0)
                log_warn("cannot release job %lld: %s", (long long)jobs[i].id, err.msg);
        queue_jobs_free(jobs, n);
        return;
    }
    if (n == 0) {
        if (rt->lease_rc == 0)
            rt->empty_leases++;
        free(jobs);
        return;
    }
    rt->empty_leases = 0;
    dispatch(rt, jobs, n);
}

static void fill_channel(runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    int want = rt->nworkers * 2 - rt->chan_len;
    /* An idle fast lane with nothing it may take: lease past the usual cap
     * (up to 16 more) to reach small files queued behind big ones. */
    if (want <= 0 && rt->settings.fast_lane_workers > 0 &&
        rt->settings.fast_lane_workers < rt->nworkers && pick_job(rt, 0) < 0 &&
        rt->chan_len < rt->nworkers * 2 + 16)
        want = 4;
    bool stopping = rt->stopping;
    pthread_mutex_unlock(&rt->mu);
    if (stopping || want <= 0 || rt->leasing || rt->paused || rt->health_paused ||
        dm_mono_ms() < rt->lease_pause_until)
        return;
    if (rt->q->lease_blocks) {
        /* A long poll must not stall the loop (signals, results, leases). */
        rt->leasing = true;
        rt->lease_want = want;
        /* The pool thread must not read settings a reload may rewrite. */
        rt->lease_ms = (int64_t)rt->settings.lease_seconds * 1000;
        rt->lease_work.data = rt;
        uv_queue_work(&rt->loop, &rt->lease_work, lease_run, lease_done);
        return;
    }
    queue_job *jobs = NULL;
    int n = 0;
    dm_err err;
    if (queue_lease(rt->q, want, (int64_t)rt->settings.lease_seconds * 1000, &jobs, &n, &err) != 0) {
        log_warn("cannot lease jobs: %s", err.msg);
        rt->lease_pause_until = dm_mono_ms() + 2000;
        return;
    }
    if (n == 0) {
        rt->empty_leases++;
        free(jobs);
        return;
    }
    rt->empty_leases = 0;
    dispatch(rt, jobs, n);
}

/* A page past its deadline by this much is in code that never looks at the
 * abort flag (a decoder's inner loop): the thread cannot be stopped, so
 * the process exits and the supervisor starts a fresh one; the job counts a
 * crash and is quarantined at max_crashes. */
#define STUCK_GRACE_MS 60000

static void watchdog(runtime *rt, int64_t now)
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

static void heartbeat(runtime *rt)
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

static void scan_run(uv_work_t *req)
{
    runtime *rt = req->data;
    queue *q = queue_sqlite_open(rt->cfg->queue_path, NULL, &rt->scan_err);
    if (!q) {
        rt->scan_rc = -1;
        return;
    }
    rt->scan_rc = source_dir_scan(q, rt->source_root, (const char *const *)rt->exclude,
                                  rt->nexclude, &rt->scan, &rt->scan_err);
    queue_close(q);
}

static void scan_done(uv_work_t *req, int status)
{
    runtime *rt = req->data;
    (void)status;
    bool first = !rt->scanned_once;
    rt->scanning = false;
    rt->scanned_once = true;
    rt->last_scan_ms = dm_mono_ms();
    if (rt->scan_rc != 0) {
        if (rt->cfg->once)
            set_fatal(rt, &rt->scan_err);
        else
            log_error("scan failed: %s", rt->scan_err.msg);
        return;
    }
    /* Rescans in watch mode see the same unchanged files again: count
     * them once. */
    if (first)
        rt->sum.unchanged += rt->scan.unchanged;
    rt->total_known += rt->scan.queued + rt->scan.deleted;
    if (first || rt->scan.queued || rt->scan.deleted)
        log_info("scan of %s: %lld files, %lld new or changed, %lld unchanged, %lld removed",
                 rt->source_root, (long long)rt->scan.files, (long long)rt->scan.queued,
                 (long long)rt->scan.unchanged, (long long)rt->scan.deleted);
    /* New jobs: lease now rather than at the next tick. */
    fill_channel(rt);
}

static void start_scan(runtime *rt)
{
    if (rt->scanning)
        return;
    rt->scanning = true;
    rt->scan_work.data = rt;
    uv_queue_work(&rt->loop, &rt->scan_work, scan_run, scan_done);
}

static void progress(runtime *rt)
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

static bool all_workers_exited(runtime *rt)
{
    for (int i = 0; i < rt->nworkers; i++)
        if (!atomic_load(&rt->workers[i].exited))
            return false;
    return true;
}

static void on_tick(uv_timer_t *t)
{
    runtime *rt = t->data;
    apply_results(rt);
    if (rt->fatal)
        begin_stop(rt);
    if (rt->stopping) {
        /* Jobs still running while we drain keep their leases. */
        heartbeat(rt);
        if (all_workers_exited(rt) && !rt->leasing) {
            /* The indexer finishes the documents the workers handed over
             * while the heartbeat still keeps their leases. */
            if (bulk_buffer_pending(rt->bulk) > 0) {
                bulk_buffer_nudge(rt->bulk);
                return;
            }
            apply_results(rt);
            uv_stop(&rt->loop);
        }
        return;
    }
    int64_t now = dm_mono_ms();
    watchdog(rt, now);
    if (rt->source_root && !rt->cfg->once && rt->scanned_once && !rt->scanning &&
        now - rt->last_scan_ms >= (int64_t)rt->cfg->rescan_seconds * 1000)
        start_scan(rt);
    /* --once ends when nothing is in flight and the queue is empty. Check
     * before leasing again: with a long-polling queue a lease is almost
     * always under way otherwise. */
    /* SQS counts are approximate (a message just made visible again may not
     * be counted yet): also require two leases in a row that found nothing. */
    if (rt->cfg->once && rt->scanned_once && !rt->scanning && !rt->leasing && rt->nflight == 0 &&
        rt->empty_leases >= (rt->q->lease_blocks ? 2 : 1)) {
        queue_counts c;
        dm_err err;
        if (queue_get_counts(rt->q, &c, &err) == 0 && c.pending == 0 && c.leased == 0) {
            begin_stop(rt);
            return;
        }
    }
    if (now - rt->last_health_ms >= (int64_t)(rt->settings.health_check_seconds * 1000)) {
        rt->last_health_ms = now;
        runtime_check_health(rt, NULL);
    }
    runtime_poll_spot(rt, now);
    runtime_write_emf(rt, now);
    fill_channel(rt);
    heartbeat(rt);
    progress(rt);
}

static void on_wake(uv_async_t *a)
{
    runtime *rt = a->data;
    apply_results(rt);
    fill_channel(rt);
}

void runtime_start_drain(runtime *rt)
{
    begin_stop(rt);
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
        leave_now(rt, 130);
    }
    log_info("signal %d: finishing jobs in progress (at most %d s), then exiting (again to quit "
             "at once)",
             signum, rt->settings.drain_seconds);
    runtime_start_drain(rt);
}

/* Loads and validates the policy in a throwaway state: before any worker
 * starts (a typo is one clear error, not N), and on every SIGHUP. */
static int validate_policy(runtime *rt, policy_settings *out, dm_err *err)
{
    lstate_env env = {.worker_id = -1};
    lua_State *L = lstate_new(&env, err);
    if (!L)
        return -1;
    policy pol;
    int rc = policy_load(L, rt->cfg->policy_path, &pol, err);
    if (rc == 0) {
        *out = pol.s;
        policy_unload(L, &pol);
    }
    lstate_close(L);
    return rc;
}

static int load_settings(runtime *rt, dm_err *err)
{
    return validate_policy(rt, &rt->settings, err);
}

int runtime_cleanup_generation(runtime *rt)
{
    return atomic_load(&rt->cleanup_generation);
}

/* SIGUSR1: a full Lua GC and an emptied MuPDF store in every worker at its
 * next boundary, malloc_trim here, and a sweep of our leftover temp files;
 * memory is logged before and after. */
void runtime_cleanup(runtime *rt)
{
    mem_stats before, after;
    mem_stats_read(&before);
    atomic_fetch_add(&rt->cleanup_generation, 1);
    int swept = fetch_sweep_temp_files();
    malloc_trim(0);
    mem_stats_read(&after);
    log_info("cleanup: RSS %.0f MB before, %.0f MB after malloc_trim; %d stale temp files removed;"
             " workers collect at their next job",
             (double)before.rss_bytes / 1048576.0, (double)after.rss_bytes / 1048576.0, swept);
}

static void on_cleanup(uv_signal_t *s, int signum)
{
    (void)signum;
    runtime_cleanup(s->data);
}

int runtime_policy_generation(runtime *rt)
{
    return atomic_load(&rt->policy_generation);
}

/* SIGHUP: validate the policy file beside the running one; on success the
 * workers swap at their next job boundary (jobs in progress finish under
 * the policy they started with); on failure the old one keeps running. */
int runtime_reload(runtime *rt, dm_err *err)
{
    policy_settings fresh;
    const char *path = rt->cfg->policy_path ? rt->cfg->policy_path : "builtin:default";
    if (validate_policy(rt, &fresh, err) != 0) {
        rt->reload_failures++;
        log_error("policy reload failed, the running policy stays: %s", err->msg);
        return -1;
    }
    /* What was fixed at start cannot change live: say so, don't ignore it. */
    const policy_settings *old = &rt->settings;
    struct {
        const char *name;
        bool changed;
    } fixed[] = {
        {"mupdf_store_mb", fresh.mupdf_store_mb != old->mupdf_store_mb},
        {"workers", fresh.workers != old->workers},
        {"batch_size", fresh.batch_size != old->batch_size},
        {"batch_max_mb", fresh.batch_max_mb != old->batch_max_mb},
        {"batch_max_age_seconds", fresh.batch_max_age_seconds != old->batch_max_age_seconds},
        {"sqs_wait_seconds", fresh.sqs_wait_seconds != old->sqs_wait_seconds},
        {"sqs_max_messages", fresh.sqs_max_messages != old->sqs_max_messages},
        {"opensearch_mapping_file",
         strcmp(fresh.opensearch_mapping_file, old->opensearch_mapping_file) != 0},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (fixed[i].changed)
            log_warn("policy reload: %s changed; it needs a restart to take effect", fixed[i].name);
    /* Lease, retry, crash and lane settings apply now (workers read the
     * lane settings under mu). */
    pthread_mutex_lock(&rt->mu);
    rt->settings = fresh;
    pthread_mutex_unlock(&rt->mu);
    rt->reloads++;
    int gen = atomic_fetch_add(&rt->policy_generation, 1) + 1;
    log_info("policy reloaded from %s (generation %d); workers switch at their next job", path,
             gen);
    sd_notify_send("READY=1\nSTATUS=processing jobs (policy reloaded)");
    return 0;
}

static void on_reload(uv_signal_t *s, int signum)
{
    (void)signum;
    dm_err err;
    runtime_reload(s->data, &err);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int runtime_run(const runtime_config *cfg, run_summary *sum, dm_err *err)
{
    memset(sum, 0, sizeof *sum);
    runtime *rt = dm_xcalloc(1, sizeof *rt);
    rt->cfg = cfg;
    rt->pid_fd = -1;
    int rc = -1;
    sbuf root;
    sbuf_init(&root);
    if (load_settings(rt, err) != 0)
        goto out;
    bool control = cfg->socket_path != NULL;
    if (cfg->pid_file) {
        rt->pid_fd = pidfile_create(cfg->pid_file, err);
        if (rt->pid_fd < 0 && !cfg->control_optional)
            goto out;
        if (rt->pid_fd < 0) {
            /* The CLI checked too, but another run may have started since. */
            log_warn("%s: this run has no control socket or pid file", err->msg);
            control = false;
        }
    }
    if (cfg->queue_url) {
        /* The queue is the source: nothing to scan. */
        /* The policy decides; the config and SQS_WAIT_TIME/SQS_MAX_MESSAGES
         * override it. */
        queue_sqs_options qo = {
            cfg->sqs_wait_seconds >= 0 ? cfg->sqs_wait_seconds : rt->settings.sqs_wait_seconds,
            cfg->sqs_max_messages >= 0 ? cfg->sqs_max_messages : rt->settings.sqs_max_messages};
        rt->q = queue_sqs_open(cfg->queue_url, &qo, err);
        if (!rt->q)
            goto out;
        rt->scanned_once = true;
    } else {
        if (source_dir_resolve(cfg->source_dir, &root, err) != 0)
            goto out;
        rt->source_root = sbuf_take(&root);
        rt->q = queue_sqlite_open(cfg->queue_path, NULL, err);
        if (!rt->q)
            goto out;
        /* The database may live inside the folder it indexes. */
        char real[4096];
        const char *index_path = index_sqlite_path(cfg->index_uri);
        if (realpath(cfg->queue_path, real))
            rt->exclude[rt->nexclude++] = dm_xstrdup(real);
        if (index_path && realpath(index_path, real) &&
            (rt->nexclude == 0 || strcmp(real, rt->exclude[0]) != 0))
            rt->exclude[rt->nexclude++] = dm_xstrdup(real);
    }
    /* The crash journal of the process that held these leases, if it
     * died: it names the jobs to blame (the queue's own folder keeps it). */
    int64_t culprits[CRASH_JOURNAL_MAX];
    int nculprits = 0, sig = -1;
    if (cfg->queue_path && !cfg->queue_url) {
        rt->crash_journal = dm_xmalloc(strlen(cfg->queue_path) + 16);
        sprintf(rt->crash_journal, "%s-crashes", cfg->queue_path);
        nculprits = crash_journal_take(rt->crash_journal, culprits, CRASH_JOURNAL_MAX, &sig);
    }
    /* How the last worker process died, for the quarantine reason: its
     * journal, else what the supervisor saw (SIGKILL leaves no journal). */
    char cause[128];
    const char *last = getenv("DOCMILL_LAST_CRASH");
    if (sig >= 0)
        crash_describe(sig, cause, sizeof cause);
    else if (last && *last)
        snprintf(cause, sizeof cause, "%s", last);
    else
        snprintf(cause, sizeof cause, "died or stalled");
    queue_recovery rec = {rt->settings.max_crashes, culprits, nculprits, cause, 0};
    int recovered = queue_recover(rt->q, &rec, err);
    if (recovered < 0)
        goto out;
    if (recovered > 0)
        log_info("resuming %d jobs left in flight by an earlier run%s", recovered,
                 nculprits ? " (the crash is blamed on the job its journal names)" : "");
    if (rec.quarantined > 0)
        log_error("quarantined %d jobs: their worker process died on them max_crashes (%d) times",
                  rec.quarantined, rt->settings.max_crashes);
    rt->sum.failed += rec.quarantined;
    if (crash_journal_open(rt->crash_journal, err) != 0)
        goto out;
    queue_counts c;
    if (queue_get_counts(rt->q, &c, err) != 0) {
        /* A queue that answers "no such queue" is a setup error; one that
         * is briefly unwell (SQS 5xx, throttling) must not stop the start. */
        if (err->permanent)
            goto out;
        log_warn("queue counts not available yet (%s): going on", err->msg);
        memset(&c, 0, sizeof c);
    }
    if (rt->source_root)
        rt->total_known = c.pending;

    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    rt->pages = page_board_new(wake_workers, rt);
    if (rt->settings.opensearch_mapping_file[0]) {
        char *json = policy_read_mapping(rt->settings.opensearch_mapping_file, err);
        if (!json)
            goto out;
        index_opensearch_set_create_body(json);
        free(json);
    }
    bulk_limits limits = {rt->settings.batch_size, (int64_t)(rt->settings.batch_max_mb * 1048576),
                          (int64_t)(rt->settings.batch_max_age_seconds * 1000)};
    rt->bulk = bulk_buffer_start(cfg->index_uri, &limits, complete_from_bulk, rt, err);
    if (!rt->bulk)
        goto out;
    uv_loop_init(&rt->loop);
    /* The config (or MAX_WORKERS, or --workers) wins; else the policy's
     * (per instance type); else one per core. */
    rt->nworkers = cfg->workers > 0           ? cfg->workers
                   : rt->settings.workers > 0 ? rt->settings.workers
                                              : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (rt->nworkers < 1)
        rt->nworkers = 1;
    rt->workers = dm_xcalloc((size_t)rt->nworkers, sizeof *rt->workers);
    int started = 0;
    for (int i = 0; i < rt->nworkers; i++) {
        if (worker_start(&rt->workers[i], rt, i, cfg, err) != 0)
            break;
        started++;
    }
    /* Wait until every worker has built its state (or failed to). */
    bool init_failed = started < rt->nworkers;
    for (int i = 0; i < started; i++) {
        while (atomic_load(&rt->workers[i].ready) == 0)
            usleep(2000);
        if (atomic_load(&rt->workers[i].ready) < 0 && !init_failed) {
            *err = rt->workers[i].init_err;
            init_failed = true;
        }
    }
    if (init_failed) {
        pthread_mutex_lock(&rt->mu);
        rt->stopping = true;
        pthread_cond_broadcast(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        for (int i = 0; i < started; i++)
            worker_join(&rt->workers[i]);
        uv_loop_close(&rt->loop);
        bulk_buffer_stop(rt->bulk);
        rt->bulk = NULL;
        goto out;
    }
    log_info("docmill %s: %d workers, source %s, index %s, policy %s", DOCMILL_VERSION,
             rt->nworkers, rt->source_root ? rt->source_root : cfg->queue_url, cfg->index_uri,
             cfg->policy_path ? cfg->policy_path : "builtin:default");

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
    uv_signal_start(&rt->sighup, on_reload, SIGHUP);
    uv_signal_init(&rt->loop, &rt->sigusr1);
    rt->sigusr1.data = rt;
    uv_signal_start(&rt->sigusr1, on_cleanup, SIGUSR1);
    uv_signal_start(&rt->sigint, on_signal, SIGINT);
    uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
    if (rt->source_root)
        start_scan(rt);
    if (control)
        runtime_start_control(rt);
    runtime_start_metrics(rt);
    /* Healthy before the first lease, or not taking any. */
    rt->last_health_ms = dm_mono_ms();
    runtime_check_health(rt, NULL);

    uv_run(&rt->loop, UV_RUN_DEFAULT);
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
    apply_results(rt);
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
    if (cfg->progress_tty) {
        fprintf(stderr, "\r\033[K");
        log_set_progress_active(0);
    }
    rt->sum.elapsed_ms = dm_mono_ms() - rt->started_ms;
    int64_t files = rt->sum.indexed + rt->sum.failed + rt->sum.deleted + rt->sum.skipped;
    rt->sum.files_per_hour =
        rt->sum.elapsed_ms > 0 ? (double)files * 3600000.0 / (double)rt->sum.elapsed_ms : 0;
    mem_stats ms;
    if (mem_stats_read(&ms) == 0)
        rt->sum.peak_rss_bytes = ms.peak_rss_bytes;
    for (int k = 0; k < STAGE_COUNT; k++)
        rt->sum.stage_seconds[k] = (double)rt->stage_ms[k] / 1000.0;
    *sum = rt->sum;
    if (rt->fatal) {
        *err = rt->fatal_err;
        goto out;
    }
    rc = 0;
out:
    pidfile_remove(cfg->pid_file, rt->pid_fd);
    sbuf_free(&root);
    if (rt->chan)
        queue_jobs_free(rt->chan, rt->chan_len);
    for (int i = 0; i < rt->nflight; i++)
        free(rt->flight[i].source);
    free(rt->flight);
    free(rt->results);
    free(rt->workers);
    for (int i = 0; i < rt->nexclude; i++)
        free(rt->exclude[i]);
    free(rt->source_root);
    crash_journal_close();
    free(rt->crash_journal);
    queue_close(rt->q);
    page_board_free(rt->pages);
    free(rt);
    return rc;
}
