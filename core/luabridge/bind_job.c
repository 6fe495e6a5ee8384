/* docmill.job: a worker's verbs, reaching the process through the host the
 * worker set (lstate_host), never the runtime itself.
 * complete(job_id, outcome, error, {pages=, pages_ocr=, elapsed_ms=, fetch=, text=, ...})
 *   outcome: indexed | unchanged | deleted | skipped | failed | retry | poison
 * index_submit(job_id, doc, {pages=, pages_ocr=, started_ms=, fetch=, failure=, ...})
 *   hands the document to the process's indexing buffer; the job completes
 *   when its bulk result is known. The job is no longer the worker's.
 *   doc.children (a container's member documents) go with it, in the same
 *   request; with failure, the job fails with it once they are indexed.
 * find_copy(sha256, exclude_id) -> a document with that content still waiting in
 *   the indexing buffer (index_find_copy's shape) | false
 * claim_content(sha256) -> true: this worker extracts that content now (the
 *   claim ends with the job) | false: another worker is extracting it
 * await_content(sha256, ms) -> true once no other worker holds the claim |
 *   false after ms
 * worker_id() -> this worker's number
 * (pages_*: bind_pages.c) */
#include "luabridge/bindings.h"

#include "index/bulk_buffer.h"
#include "queue/content_claims.h"
#include "luabridge/lstate.h"

#include <stdlib.h>
#include <string.h>

void bind_read_stages(lua_State *L, int t, int64_t *stage_ms)
{
    for (int k = 0; k < STAGE_COUNT; k++) {
        lua_getfield(L, t, job_stage_names[k]);
        stage_ms[k] = (int64_t)luaL_optnumber(L, -1, 0);
        lua_pop(L, 1);
    }
}

/* {pages=, pages_ocr=, pages_rotated=, pages_vertical=, pages_low_confidence=,
 * <stage>=ms...} at t (missing = 0); raises on misuse. */
static void read_figures(lua_State *L, int t, int *pages, int *pages_ocr, ocr_looks *looks,
                         int64_t *stage_ms)
{
    lua_getfield(L, t, "pages");
    *pages = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, t, "pages_ocr");
    *pages_ocr = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, t, "pages_rotated");
    looks->rotated = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, t, "pages_vertical");
    looks->vertical = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, t, "pages_low_confidence");
    looks->low_confidence = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 5);
    bind_read_stages(L, t, stage_ms);
}

static int l_complete(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    job_result r = {.worker_id = env->worker_id};
    r.job_id = (int64_t)luaL_checknumber(L, 1);
    const char *outcome = luaL_checkstring(L, 2);
    if (!job_outcome_parse(outcome, &r.outcome))
        return luaL_error(L, "complete: unknown outcome '%s'", outcome);
    const char *msg = luaL_optstring(L, 3, "");
    if (lua_istable(L, 4)) {
        read_figures(L, 4, &r.pages, &r.pages_ocr, &r.looks, r.stage_ms);
        lua_getfield(L, 4, "elapsed_ms");
        r.elapsed_ms = (int64_t)luaL_optnumber(L, -1, 0);
        lua_pop(L, 1);
    }
    /* Closed last: everything above may raise, and a job closed but never
     * reported would stay in flight forever. */
    if (!lstate_env_close_job(env, r.job_id))
        return luaL_error(L, "complete: job %f is not open in this worker (completed twice?)",
                          (double)r.job_id);
    snprintf(r.error, sizeof r.error, "%s", msg);
    env->host->complete(env->host_ud, &r);
    return 0;
}

static int l_index_submit(lua_State *L)
{
    int64_t job_id = (int64_t)luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lstate_env *env = lstate_get_env(L);
    bulk_job_stats stats = {.worker_id = env->worker_id};
    if (lua_istable(L, 3)) {
        read_figures(L, 3, &stats.pages, &stats.pages_ocr, &stats.looks, stats.stage_ms);
        lua_getfield(L, 3, "started_ms");
        stats.started_ms = (int64_t)luaL_optnumber(L, -1, (lua_Number)dm_mono_ms());
        lua_pop(L, 1);
    }
    const char *failure = NULL;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "failure");
        /* a string, not a number lua_tostring would convert on the stack */
        failure = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        lua_pop(L, 1);   /* the string stays alive in the table */
    }
    lua_getfield(L, 2, "children");
    int children = lua_gettop(L);
    int n = 1 + (lua_istable(L, children) ? (int)lua_objlen(L, children) : 0);
    if (!lstate_env_close_job(env, job_id))
        return luaL_error(L, "index_submit: job %f is not open in this worker", (double)job_id);
    /* Nothing below raises until everything is freed. */
    index_doc *docs = calloc((size_t)n, sizeof *docs);
    const char *bad = docs ? NULL : "out of memory";
    for (int k = 0; k < n && !bad; k++) {
        if (k == 0) {
            bind_read_doc(L, 2, &docs[0], &bad);
            continue;
        }
        lua_rawgeti(L, children, k);
        if (lua_istable(L, -1))
            bind_read_doc(L, lua_gettop(L), &docs[k], &bad);
        else
            bad = "children[]";
        lua_pop(L, 1);
    }
    if (!bad)
        bulk_buffer_submit_family(env->host->bulk(env->host_ud), job_id, docs, n, &stats,
                                  failure);
    for (int k = 0; docs && k < n; k++)
        free((void *)docs[k].pages);
    free(docs);
    if (bad) {
        /* The job was closed: hand it back so it is not lost. */
        job_result r = {.job_id = job_id, .outcome = OUTCOME_POISON, .worker_id = env->worker_id};
        snprintf(r.error, sizeof r.error, "internal error: document field '%s' is malformed", bad);
        env->host->complete(env->host_ud, &r);
        return luaL_error(L, "index_submit: field '%s' is missing or has the wrong type", bad);
    }
    return 0;
}

static int l_find_copy(lua_State *L)
{
    const char *sha = luaL_checkstring(L, 1);
    const char *exclude = luaL_checkstring(L, 2);
    lstate_env *env = lstate_get_env(L);
    index_doc d;
    if (!bulk_buffer_find_copy(env->host->bulk(env->host_ud), sha, exclude, &d))
        return (lua_pushboolean(L, 0), 1);
    bind_push_doc(L, &d);
    index_doc_free(&d);
    return 1;
}

static struct content_claims *claims_of(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    return env->host->claims ? env->host->claims(env->host_ud) : NULL;
}

static int l_claim_content(lua_State *L)
{
    const char *sha = luaL_checkstring(L, 1);
    struct content_claims *c = claims_of(L);
    lua_pushboolean(L, !c || content_claims_take(c, sha, lstate_get_env(L)->worker_id));
    return 1;
}

static int l_await_content(lua_State *L)
{
    const char *sha = luaL_checkstring(L, 1);
    int ms = (int)luaL_checkinteger(L, 2);
    struct content_claims *c = claims_of(L);
    lua_pushboolean(L, !c || content_claims_wait(c, sha, lstate_get_env(L)->worker_id, ms));
    return 1;
}

static int l_worker_id(lua_State *L)
{
    lua_pushinteger(L, lstate_get_env(L)->worker_id);
    return 1;
}

void bind_job_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {{"complete", l_complete},
                                   {"index_submit", l_index_submit},
                                   {"worker_id", l_worker_id},
                                   {"find_copy", l_find_copy},
                                   {"claim_content", l_claim_content},
                                   {"await_content", l_await_content},
                                   {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
