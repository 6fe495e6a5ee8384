/* dispatch: jobs from the queue to the workers and their results back.
 * Leases fill a channel the workers take from (the fast lane picks small
 * files first); a worker's result is applied on the loop thread: the job
 * acknowledged, failed, or retried with backoff, and counted. */
#include "daemon/runtime_internal.h"

#include "daemon/decide.h"

#include "base/log.h"
#include "ops/sd_notify.h"

#include <stdlib.h>
#include <string.h>

/* The fast lane: the first fast_lane_workers workers take only jobs of a
 * known size up to fast_lane_max_mb, so small files never wait behind big
 * ones. The others take anything, in order. -1 when nothing fits. */
static int pick_job(runtime *rt, int worker_id)
{
    return decide_pick_job(&rt->settings, rt->nworkers, worker_id, rt->chan, rt->chan_len);
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

void runtime_complete_from_bulk(void *ud, const job_result *r)
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

content_claims *runtime_claims(runtime *rt)
{
    return rt->claims;
}

bool runtime_helps_with_pages(runtime *rt, int worker_id)
{
    pthread_mutex_lock(&rt->mu);
    bool lane = decide_in_fast_lane(&rt->settings, rt->nworkers, worker_id);
    pthread_mutex_unlock(&rt->mu);
    return !lane;
}

/* A batch of page ranges was posted: idle workers look now, not at their
 * next poll. */
void runtime_wake_workers(void *ud)
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

void runtime_wake_loop(runtime *rt)
{
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

void runtime_begin_stop(runtime *rt)
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
    decide_failure_reason(error, reason, sizeof reason);
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

void runtime_apply_results(runtime *rt)
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
             * failure — an outage must lose nothing. */
            int attempts = f ? f->attempts : 1;
            int64_t delay = decide_retry_delay_ms(&rt->settings, attempts);
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
        rt->sum.pages_rotated += r->looks.rotated;
        rt->sum.pages_vertical += r->looks.vertical;
        rt->sum.pages_low_confidence += r->looks.low_confidence;
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

void runtime_fill_channel(runtime *rt)
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
