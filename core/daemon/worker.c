#include "daemon/worker.h"

#include "luabridge/bindings.h"
#include "index/bulk_buffer.h"
#include "queue/crash_journal.h"
#include "base/log.h"
#include "base/mem_stats.h"
#include "queue/content_claims.h"
#include "queue/page_board.h"

#include <lauxlib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPELINE_KEY "docmill.worker.pipeline"

/* What the pipeline's docmill.job module reaches (lstate_host). */
static void host_complete(void *ud, const job_result *r)
{
    runtime_complete(ud, r);
}

static struct bulk_buffer *host_bulk(void *ud)
{
    return runtime_bulk(ud);
}

static struct page_board *host_page_board(void *ud)
{
    return runtime_page_board(ud);
}

static struct content_claims *host_claims(void *ud)
{
    return runtime_claims(ud);
}

static const lstate_host WORKER_HOST = {host_complete, host_bulk, host_page_board, host_claims};

lua_State *worker_state_new(lstate_env *env, const char *policy_path, const char *index_uri,
                            int worker_id, runtime *rt, dm_err *err)
{
    memset(env, 0, sizeof *env);
    env->worker_id = worker_id;
    if (rt) {
        env->host = &WORKER_HOST;
        env->host_ud = rt;
    }
    lua_State *L = lstate_new(env, err);
    if (!L)
        return NULL;
    env->policy = dm_xcalloc(1, sizeof *env->policy);
    if (policy_load(L, policy_path, env->policy, err) != 0) {
        free(env->policy);
        env->policy = NULL;
        goto fail;
    }
    env->docs = doc_ctx_new((size_t)env->policy->s.mupdf_store_mb << 20, err);
    env->ocr = ocr_engine_new(NULL);
    if (!env->docs)
        goto fail;
    if (index_uri) {
        env->index = index_open(index_uri, err);
        if (!env->index)
            goto fail;
    }
    if (lstate_require(L, "docmill.pipeline", err) != 0)
        goto fail;
    lua_setfield(L, LUA_REGISTRYINDEX, PIPELINE_KEY);
    return L;
fail:
    lstate_close_env(L, env);
    return NULL;
}

/* Calls pipeline[fn](args...) through the one pcall wrapper. */
static int call_pipeline(lua_State *L, const char *fn, int nargs, dm_err *err)
{
    lua_getfield(L, LUA_REGISTRYINDEX, PIPELINE_KEY);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    if (nargs > 0)
        lua_insert(L, -(nargs + 1));
    return lstate_pcall(L, nargs, 0, err);
}

static void push_job(lua_State *L, const queue_job *j)
{
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, (lua_Number)j->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, j->source);
    lua_setfield(L, -2, "source");
    lua_pushstring(L, j->op);
    lua_setfield(L, -2, "op");
    lua_pushnumber(L, (lua_Number)j->size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (lua_Number)j->mtime_ms);
    lua_setfield(L, -2, "mtime_ms");
    lua_pushinteger(L, j->attempts);
    lua_setfield(L, -2, "attempts");
}

/* A pipeline call raised: a bug, not a property of the file. The job being
 * processed fails with the error so it is visible; any other job the
 * pipeline still holds goes back to the queue for a retry. */
static void recover_from_pipeline_error(worker *w, lstate_env *env,
                                        int64_t current, const dm_err *cause)
{
    job_result res = {.worker_id = w->id};
    if (current && lstate_env_close_job(env, current)) {
        res.job_id = current;
        res.outcome = OUTCOME_POISON;
        snprintf(res.error, sizeof res.error, "internal error: %.480s", cause->msg);
        runtime_complete(w->rt, &res);
    }
    while (env->nopen > 0) {
        res.job_id = env->open_jobs[env->nopen - 1];
        res.outcome = OUTCOME_RETRY;
        snprintf(res.error, sizeof res.error, "pipeline error while it was open: %.450s", cause->msg);
        lstate_env_close_job(env, res.job_id);
        runtime_complete(w->rt, &res);
    }
}

/* Hands the policy's hook errors and fallbacks to the runtime (for
 * stats()) and starts counting again. */
static void report_counts(worker *w, lstate_env *env)
{
    policy *p = env->policy;
    if (p && (p->hook_errors || p->hook_fallbacks)) {
        runtime_count_worker(w->rt, p->hook_errors, p->hook_fallbacks, 0);
        p->hook_errors = p->hook_fallbacks = 0;
    }
}

/* gc_every_jobs, after every job whatever its outcome (Redis's luaGC after
 * calls): a full collection and MuPDF's store emptied. */
static void gc_cadence(worker *w, lua_State *L, lstate_env *env, int *jobs_since_gc)
{
    int every = env->policy ? env->policy->s.gc_every_jobs : 0;
    if (every <= 0 || ++*jobs_since_gc < every)
        return;
    *jobs_since_gc = 0;
    int before, after;
    lstate_collect(L, &before, &after);
    runtime_count_worker(w->rt, 0, 0, 1);
    log_debug("worker %d: gc_every_jobs (%d): Lua heap %d KB -> %d KB", w->id, every, before,
              after);
}

/* Loads the policy file again into this state and switches to it. The loop
 * thread validated it already; if it fails here anyway (edited again in
 * between), the running policy stays. */
static void swap_policy(worker *w, lua_State *L, lstate_env *env)
{
    policy *fresh = dm_xcalloc(1, sizeof *fresh);
    dm_err err;
    char path[1024];
    runtime_policy_path(w->rt, path, sizeof path);
    if (policy_load(L, path[0] ? path : NULL, fresh, &err) != 0) {
        log_error("worker %d: policy reload failed, keeping the running policy: %s", w->id,
                  err.msg);
        free(fresh);
        return;
    }
    report_counts(w, env);
    policy_unload(L, env->policy);
    free(env->policy);
    env->policy = fresh;
    if (call_pipeline(L, "reset", 0, &err) != 0)
        log_error("worker %d: pipeline reset failed: %s", w->id, err.msg);
    log_debug("worker %d: switched to the reloaded policy", w->id);
}

static void status_job_begin(worker *w, const queue_job *job)
{
    pthread_mutex_lock(&w->mu);
    w->job_id = job->id;
    snprintf(w->job_source, sizeof w->job_source, "%s", job->source);
    w->job_started_ms = dm_mono_ms();
    pthread_mutex_unlock(&w->mu);
}

static void status_job_end(worker *w, lua_State *L, lstate_env *env)
{
    int64_t heap = lua_gc(L, LUA_GCCOUNT, 0);
    int64_t mupdf = (int64_t)(doc_ctx_allocated(env->docs) / 1024);
    pthread_mutex_lock(&w->mu);
    w->job_id = 0;
    w->job_source[0] = '\0';
    w->jobs_done++;
    w->lua_heap_kb = heap;
    w->mupdf_kb = mupdf;
    pthread_mutex_unlock(&w->mu);
}

void worker_get_status(worker *w, worker_status *out)
{
    memset(out, 0, sizeof *out);
    out->id = w->id;
    int ready = atomic_load(&w->ready);
    pthread_mutex_lock(&w->mu);
    out->job_id = w->job_id;
    snprintf(out->source, sizeof out->source, "%s", w->job_source);
    out->elapsed_ms = w->job_id ? dm_mono_ms() - w->job_started_ms : 0;
    out->jobs_done = w->jobs_done;
    out->ranges_done = w->ranges_done;
    out->lua_heap_kb = w->lua_heap_kb;
    out->mupdf_kb = w->mupdf_kb;
    pthread_mutex_unlock(&w->mu);
    out->state = atomic_load(&w->exited) ? "exited"
                 : ready == 0            ? "starting"
                 : out->job_id           ? "busy"
                                         : "idle";
}

static void note_work(worker *w, int64_t t0)
{
    int64_t now = dm_mono_ms();
    w->busy_ms += now - t0;
    if (!w->first_work_ms)
        w->first_work_ms = t0;
    w->last_work_ms = now;
}

/* Extracts a range of another worker's document and hands the pages in.
 * Whatever happens, the range is handed in: its owner is waiting for it. */
static void run_page_task(worker *w, lua_State *L, page_board *board, const page_task *task)
{
    lua_getfield(L, LUA_REGISTRYINDEX, PIPELINE_KEY);
    lua_getfield(L, -1, "page_task");
    lua_remove(L, -2);
    bind_pages_push_task(L, task);
    dm_err err;
    page_range_result r;
    if (lstate_pcall(L, 1, 1, &err) == 0) {
        bind_pages_read_result(L, -1, &r);
        lua_pop(L, 1);
    } else {
        memset(&r, 0, sizeof r);
        sbuf e;
        sbuf_init(&e);
        sbuf_appendf(&e, "pages %d-%d: internal error: %.400s", task->first, task->last, err.msg);
        for (char *p = e.data; *p; p++)
            if (*p == '\n')
                *p = ' ';
        r.errors = sbuf_take(&e);
        log_error("worker %d: %s", w->id, r.errors);
    }
    page_board_done(board, task, &r);
    pthread_mutex_lock(&w->mu);
    w->ranges_done++;
    pthread_mutex_unlock(&w->mu);
}

/* Fault injection for the tests: DOCMILL_FAULT_ABORT_ON=TEXT makes the
 * worker abort() on a job whose source contains TEXT, on its own thread, as
 * a bug in a decoder would. */
static void inject_fault(const char *source)
{
    const char *want = getenv("DOCMILL_FAULT_ABORT_ON");
    if (want && *want && strstr(source, want)) {
        log_error("worker: DOCMILL_FAULT_ABORT_ON matches %s: aborting", source);
        abort();
    }
}

/* What the worker does next: 1 = a job (*job), 2 = another worker's page
 * range (*task), 0 = nothing yet, -1 = stop. Ranges of a document already
 * in flight come before new jobs when its first page has settled their
 * languages and DPI and its owner keeps a range of its own; otherwise a new
 * job comes first (a range read too early may be read with a model it does
 * not need; a batch's last range taken leaves its owner waiting idle for
 * it), and such a range only beats idling. */
static int next_work(worker *w, page_board *board, queue_job *job, page_task *task)
{
    bool helps = board && runtime_helps_with_pages(w->rt, w->id);
    if (helps && page_board_take_spare(board, w->id, task))
        return 2;
    int r = runtime_next_job(w->rt, w->id, 0, job);
    if (r != 0)
        return r;
    if (helps && page_board_take(board, -1, w->id, task))
        return 2;
    /* Nothing to do at once: the indexer should not wait for a batch that
     * will not fill (at the end of a run, this is the last flush). */
    bulk_buffer_nudge(runtime_bulk(w->rt));
    return runtime_next_job(w->rt, w->id, 200, job);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    lstate_env env;
    char path[1024];
    runtime_policy_path(w->rt, path, sizeof path);
    lua_State *L = worker_state_new(&env, path[0] ? path : NULL, w->cfg->index_uri, w->id, w->rt,
                                    &w->init_err);
    if (!L) {
        atomic_store(&w->ready, -1);
        atomic_store(&w->exited, true);
        return NULL;
    }
    pthread_mutex_lock(&w->mu);
    w->lua_heap_kb = lua_gc(L, LUA_GCCOUNT, 0);
    w->docs = env.docs;
    pthread_mutex_unlock(&w->mu);
    int generation = runtime_policy_generation(w->rt);
    int cleanup = runtime_cleanup_generation(w->rt);
    int jobs_since_gc = 0;
    atomic_store(&w->ready, 1);

    for (;;) {
        page_task task;
        page_board *board = runtime_page_board(w->rt);
        queue_job job;
        int r = next_work(w, board, &job, &task);
        if (r == 2) {
            /* A crash on another worker's pages is that document's. */
            int64_t t0 = dm_mono_ms();
            crash_journal_set_job(task.job_id);
            run_page_task(w, L, board, &task);
            note_work(w, t0);
            crash_journal_set_job(0);
            doc_ctx_set_deadline(env.docs, 0);
            continue;
        }
        if (r < 0)
            break;
        if (runtime_cleanup_generation(w->rt) != cleanup) {
            cleanup = runtime_cleanup_generation(w->rt);
            int before, after;
            lstate_collect(L, &before, &after);
            /* What the GC just freed sits in this thread's malloc arena;
             * hand it back to the system now. */
            malloc_trim(0);
            mem_stats ms;
            mem_stats_read(&ms);
            log_info("worker %d: cleanup: Lua heap %d KB -> %d KB, MuPDF holds %zu KB; process RSS "
                     "%.0f MB",
                     w->id, before, after, doc_ctx_allocated(env.docs) / 1024,
                     (double)ms.rss_bytes / 1048576.0);
        }
        if (r == 0)
            continue;
        if (runtime_policy_generation(w->rt) != generation) {
            /* A job boundary: take the reloaded policy. */
            generation = runtime_policy_generation(w->rt);
            swap_policy(w, L, &env);
        }
        int64_t t0 = dm_mono_ms();
        status_job_begin(w, &job);
        crash_journal_set_job(job.id);
        inject_fault(job.source);
        lstate_env_open_job(&env, job.id);
        push_job(L, &job);
        dm_err err;
        if (call_pipeline(L, "process", 1, &err) != 0) {
            log_error("worker %d: pipeline error on %s: %s", w->id, job.source, err.msg);
            recover_from_pipeline_error(w, &env, job.id, &err);
        } else if (lstate_env_close_job(&env, job.id)) {
            /* process() returned without completing or handing over the
             * job: a pipeline bug. The job must not stay in flight. */
            job_result res = {.job_id = job.id, .outcome = OUTCOME_POISON, .worker_id = w->id};
            snprintf(res.error, sizeof res.error, "internal error: the pipeline dropped the job");
            runtime_complete(w->rt, &res);
        }
        /* A claim on content never outlives its job, whichever way the
         * job ended: the workers waiting for it go on. */
        content_claims_release_all(runtime_claims(w->rt), w->id);
        doc_ctx_set_deadline(env.docs, 0);
        crash_journal_set_job(0);
        gc_cadence(w, L, &env, &jobs_since_gc);
        report_counts(w, &env);
        status_job_end(w, L, &env);
        note_work(w, t0);
        free(job.source);
        free(job.op);
    }
    report_counts(w, &env);
    pthread_mutex_lock(&w->mu);
    w->docs = NULL;
    pthread_mutex_unlock(&w->mu);
    lstate_close_env(L, &env);
    atomic_store(&w->exited, true);
    runtime_wake_loop(w->rt);
    return NULL;
}

bool worker_is_stuck(worker *w, int64_t now_ms, int64_t grace_ms)
{
    bool stuck = false;
    pthread_mutex_lock(&w->mu);
    if (w->docs) {
        int64_t deadline = doc_ctx_deadline(w->docs);
        /* MuPDF polls the abort flag between operators; this sets it even
         * when the page allocates nothing that would notice. */
        doc_ctx_abort_if_late(w->docs, now_ms);
        stuck = deadline > 0 && now_ms > deadline + grace_ms;
    }
    pthread_mutex_unlock(&w->mu);
    return stuck;
}

int worker_start(worker *w, runtime *rt, int id, const runtime_config *cfg, dm_err *err)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    w->id = id;
    w->rt = rt;
    w->cfg = cfg;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        dm_err_set(err, false, "cannot start worker thread %d", id);
        return -1;
    }
    return 0;
}

void worker_join(worker *w)
{
    pthread_join(w->thread, NULL);
}
