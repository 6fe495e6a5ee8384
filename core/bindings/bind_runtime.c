/* run(cfg) -> summary | nil, err, permanent         (the CLI's `docmill run`)
 *   cfg = {source=, index=, queue=, queue_url=, sqs_wait_seconds=, sqs_max_messages=,
 *          policy=, workers=, once=, rescan_seconds=, progress=}
 * complete(job_id, outcome, error, {pages=, pages_ocr=, elapsed_ms=})
 *   (workers) outcome: indexed | unchanged | deleted | skipped | failed | retry
 * log(level, message), version(), now_ms(), mono_ms(), isatty(fd),
 * realpath(path) -> absolute path | nil, err, worker_id() */
#include "bindings.h"
#include "log.h"
#include "lstate.h"
#include "runtime.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *opt_field(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return v;
}

static int l_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    runtime_config cfg = {0};
    cfg.source_dir = opt_field(L, 1, "source");
    cfg.index_uri = opt_field(L, 1, "index");
    cfg.queue_path = opt_field(L, 1, "queue");
    cfg.policy_path = opt_field(L, 1, "policy");
    cfg.queue_url = opt_field(L, 1, "queue_url");
    if (!cfg.index_uri || (!cfg.queue_url && (!cfg.source_dir || !cfg.queue_path)))
        return luaL_error(L, "run: index, and a queue_url or a source folder and queue, are required");
    lua_getfield(L, 1, "sqs_wait_seconds");
    cfg.sqs_wait_seconds = (int)luaL_optinteger(L, -1, -1);
    lua_getfield(L, 1, "sqs_max_messages");
    cfg.sqs_max_messages = (int)luaL_optinteger(L, -1, -1);
    lua_pop(L, 2);
    lua_getfield(L, 1, "workers");
    cfg.workers = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 1, "once");
    cfg.once = lua_toboolean(L, -1);
    lua_getfield(L, 1, "rescan_seconds");
    cfg.rescan_seconds = (int)luaL_optinteger(L, -1, 5);
    lua_getfield(L, 1, "progress");
    cfg.progress_tty = lua_toboolean(L, -1);
    lua_pop(L, 4);
    if (cfg.rescan_seconds < 1)
        cfg.rescan_seconds = 1;
    run_summary sum;
    dm_err err;
    if (runtime_run(&cfg, &sum, &err) != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, 0, 12);
#define SETN(name, v)                      \
    lua_pushnumber(L, (lua_Number)(v));    \
    lua_setfield(L, -2, name)
    SETN("indexed", sum.indexed);
    SETN("unchanged", sum.unchanged);
    SETN("deleted", sum.deleted);
    SETN("skipped", sum.skipped);
    SETN("failed", sum.failed);
    SETN("retried", sum.retried);
    SETN("pages", sum.pages);
    SETN("pages_ocr", sum.pages_ocr);
    SETN("elapsed_ms", sum.elapsed_ms);
    SETN("files_per_hour", sum.files_per_hour);
    SETN("peak_rss", sum.peak_rss_bytes);
#undef SETN
    return 1;
}

static int l_complete(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    if (!env->rt)
        return luaL_error(L, "complete: not running under the worker pool");
    job_result r = {.worker_id = env->worker_id};
    r.job_id = (int64_t)luaL_checknumber(L, 1);
    const char *outcome = luaL_checkstring(L, 2);
    if (!job_outcome_parse(outcome, &r.outcome))
        return luaL_error(L, "complete: unknown outcome '%s'", outcome);
    const char *msg = luaL_optstring(L, 3, "");
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "pages");
        r.pages = (int)luaL_optinteger(L, -1, 0);
        lua_getfield(L, 4, "pages_ocr");
        r.pages_ocr = (int)luaL_optinteger(L, -1, 0);
        lua_getfield(L, 4, "elapsed_ms");
        r.elapsed_ms = (int64_t)luaL_optnumber(L, -1, 0);
        lua_pop(L, 3);
    }
    /* Closed last: everything above may raise, and a job closed but never
     * reported would stay in flight forever. */
    if (!lstate_env_close_job(env, r.job_id))
        return luaL_error(L, "complete: job %f is not open in this worker (completed twice?)",
                          (double)r.job_id);
    snprintf(r.error, sizeof r.error, "%s", msg);
    runtime_complete(env->rt, &r);
    return 0;
}

static int l_log(lua_State *L)
{
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    log_level lv;
    if (log_parse_level(level, &lv) != 0)
        return luaL_error(L, "log: unknown level '%s'", level);
    log_msg(lv, "%s", msg);
    return 0;
}

static int l_set_log_level(lua_State *L)
{
    const char *level = luaL_checkstring(L, 1);
    log_level lv;
    if (log_parse_level(level, &lv) != 0)
        return luaL_error(L, "unknown log level '%s' (debug, info, warn, error)", level);
    log_set_level(lv);
    return 0;
}

static int l_version(lua_State *L)
{
    lua_pushstring(L, DOCMILL_VERSION);
    return 1;
}

static int l_now_ms(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)dm_now_ms());
    return 1;
}

static int l_mono_ms(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)dm_mono_ms());
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static int l_realpath(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    char buf[PATH_MAX];
    if (!realpath(p, buf)) {
        dm_err err;
        dm_err_set(&err, true, "%s: %s", p, strerror(errno));
        return bind_push_error(L, &err);
    }
    lua_pushstring(L, buf);
    return 1;
}

static int l_worker_id(lua_State *L)
{
    lua_pushinteger(L, lstate_get_env(L)->worker_id);
    return 1;
}

void bind_runtime_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"run", l_run},         {"complete", l_complete},       {"log", l_log},
        {"set_log_level", l_set_log_level},
        {"version", l_version}, {"now_ms", l_now_ms},           {"mono_ms", l_mono_ms},
        {"isatty", l_isatty},   {"realpath", l_realpath},       {"worker_id", l_worker_id},
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
