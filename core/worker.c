#include "worker.h"

#include "log.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define PIPELINE_KEY "docmill.worker.pipeline"

lua_State *worker_state_new(lstate_env *env, const char *policy_path, policy *pol,
                            const char *index_uri, int worker_id, dm_err *err)
{
    memset(env, 0, sizeof *env);
    env->worker_id = worker_id;
    lua_State *L = lstate_new(env, err);
    if (!L)
        return NULL;
    if (policy_load(L, policy_path, pol, err) != 0) {
        lstate_close(L);
        return NULL;
    }
    env->policy = pol;
    env->docs = doc_ctx_new((size_t)pol->s.mupdf_store_mb << 20, err);
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
    worker_state_free(L, env, pol);
    return NULL;
}

void worker_state_free(lua_State *L, lstate_env *env, policy *pol)
{
    if (L) {
        if (pol)
            policy_unload(L, pol);
        /* Closing the state runs the __gc of documents and rasters, which
         * still need the MuPDF context: free C resources after. */
        lstate_close(L);
    }
    index_close(env->index);
    ocr_engine_free(env->ocr);
    doc_ctx_free(env->docs);
    memset(env, 0, sizeof *env);
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

static void *worker_main(void *arg)
{
    worker *w = arg;
    lstate_env env;
    policy pol;
    lua_State *L = worker_state_new(&env, w->cfg->policy_path, &pol, w->cfg->index_uri, w->id,
                                    &w->init_err);
    if (!L) {
        atomic_store(&w->ready, -1);
        atomic_store(&w->exited, true);
        return NULL;
    }
    env.rt = w->rt;
    atomic_store(&w->ready, 1);

    dm_err err;
    for (;;) {
        queue_job job;
        int r = runtime_next_job(w->rt, 200, &job);
        if (r < 0)
            break;
        if (r == 0) {
            /* Idle: push out whatever the pipeline is batching so nothing
             * waits on a batch that will not fill. */
            if (call_pipeline(L, "flush", 0, &err) != 0)
                log_error("worker %d: pipeline flush failed: %s", w->id, err.msg);
            continue;
        }
        atomic_store(&w->current_job, job.id);
        push_job(L, &job);
        if (call_pipeline(L, "process", 1, &err) != 0) {
            /* A bug in the pipeline, not in the file: record it against the
             * job so it is visible, and keep the worker alive. */
            log_error("worker %d: pipeline error on %s: %s", w->id, job.source, err.msg);
            job_result res = {.job_id = job.id, .outcome = OUTCOME_FAILED, .worker_id = w->id};
            snprintf(res.error, sizeof res.error, "internal error: %.480s", err.msg);
            runtime_complete(w->rt, &res);
        }
        atomic_store(&w->current_job, 0);
        atomic_fetch_add(&w->jobs_done, 1);
        atomic_store(&w->lua_kb, lua_gc(L, LUA_GCCOUNT, 0));
        atomic_store(&w->mupdf_bytes, (long long)doc_ctx_allocated(env.docs));
        free(job.source);
        free(job.op);
    }
    if (call_pipeline(L, "flush", 0, &err) != 0)
        log_error("worker %d: final flush failed: %s", w->id, err.msg);
    worker_state_free(L, &env, &pol);
    atomic_store(&w->exited, true);
    return NULL;
}

int worker_start(worker *w, runtime *rt, int id, const runtime_config *cfg, dm_err *err)
{
    memset(w, 0, sizeof *w);
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
