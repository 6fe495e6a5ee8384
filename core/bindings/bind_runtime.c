/* run(cfg) -> summary | nil, err, permanent         (the CLI's `docmill run`)
 *   cfg = {source=, index=, queue=, queue_url=, sqs_wait_seconds=, sqs_max_messages=,
 *          policy=, workers=, once=, rescan_seconds=, progress=, socket=, pid_file=,
 *          metrics=, emf=, control_optional=}
 * complete(job_id, outcome, error, {pages=, pages_ocr=, elapsed_ms=})
 *   (workers) outcome: indexed | unchanged | deleted | skipped | failed | retry
 * log(level, message), version(), now_ms(), mono_ms(), isatty(fd),
 * realpath(path) -> absolute path | nil, err, worker_id()
 * The REPL state only (raise elsewhere): rt_stats(), rt_workers(), rt_jobs(),
 * rt_policy(), rt_reload() -> true | nil, err, rt_pause(bool), rt_drain(),
 * rt_cleanup().
 * supervise() -> "child" | exit status: forks (see supervisor.h); the parent
 *   returns only once the worker process has ended for good. */
#include "bindings.h"
#include "log.h"
#include "lstate.h"
#include "health.h"
#include "policy.h"
#include "runtime.h"
#include "supervisor.h"
#include "worker.h"

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
    lua_getfield(L, 1, "control_optional");
    cfg.control_optional = lua_toboolean(L, -1);
    lua_pop(L, 5);
    cfg.socket_path = opt_field(L, 1, "socket");
    cfg.pid_file = opt_field(L, 1, "pid_file");
    cfg.metrics_listen = opt_field(L, 1, "metrics");
    cfg.emf_path = opt_field(L, 1, "emf");
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
    lua_createtable(L, 0, 5);
    for (int k = 0; k < 5; k++) {
        SETN(runtime_stage_names[k], sum.stage_seconds[k]);
    }
    lua_setfield(L, -2, "stage_seconds");
#undef SETN
    return 1;
}

void bind_read_stages(lua_State *L, int t, int64_t *stage_ms)
{
    for (int k = 0; k < STAGE_COUNT; k++) {
        lua_getfield(L, t, runtime_stage_names[k]);
        stage_ms[k] = (int64_t)luaL_optnumber(L, -1, 0);
        lua_pop(L, 1);
    }
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
        bind_read_stages(L, 4, r.stage_ms);
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

static int l_set_log_format(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    log_format f;
    if (log_parse_format(name, &f) != 0)
        return luaL_error(L, "unknown log format '%s' (json, text, auto)", name);
    log_set_format(f);
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

/* --- the REPL state's view of the running worker ------------------------ */

static runtime *need_control(lua_State *L, const char *fn)
{
    runtime *rt = lstate_get_env(L)->control_rt;
    if (!rt)
        luaL_error(L, "%s: only available in the REPL of a running worker", fn);
    return rt;
}

#define SETNUM(name, v)                    \
    do {                                   \
        lua_pushnumber(L, (lua_Number)(v)); \
        lua_setfield(L, -2, name);         \
    } while (0)
#define SETSTR(name, v)                    \
    do {                                   \
        lua_pushstring(L, v);              \
        lua_setfield(L, -2, name);         \
    } while (0)
#define SETBOOL(name, v)                   \
    do {                                   \
        lua_pushboolean(L, v);             \
        lua_setfield(L, -2, name);         \
    } while (0)

static int l_rt_stats(lua_State *L)
{
    runtime_stats st;
    runtime_get_stats(need_control(L, "stats"), &st);
    lua_createtable(L, 0, 32);
    SETNUM("uptime_s", (double)st.sum.elapsed_ms / 1000.0);
    SETNUM("indexed", st.sum.indexed);
    SETNUM("unchanged", st.sum.unchanged);
    SETNUM("deleted", st.sum.deleted);
    SETNUM("skipped", st.sum.skipped);
    SETNUM("failed", st.sum.failed);
    SETNUM("retried", st.sum.retried);
    SETNUM("pages", st.sum.pages);
    SETNUM("pages_ocr", st.sum.pages_ocr);
    SETNUM("files_per_hour", st.sum.files_per_hour);
    SETNUM("pages_per_second", st.pages_per_second);
    SETNUM("rss_mb", (double)st.rss_bytes / 1048576.0);
    SETNUM("peak_rss_mb", (double)st.sum.peak_rss_bytes / 1048576.0);
    SETNUM("in_flight", st.in_flight);
    SETNUM("waiting", st.waiting);
    SETNUM("workers", st.workers);
    SETBOOL("paused", st.paused);
    SETBOOL("health_paused", st.health_paused);
    SETBOOL("draining", st.draining);
    if (st.health_reason[0])
        SETSTR("health_reason", st.health_reason);
    SETNUM("reloads", st.reloads);
    SETNUM("reload_failures", st.reload_failures);
    SETNUM("policy_generation", st.policy_generation);
    SETSTR("policy", st.policy_source);
    if (st.queue_ok) {
        lua_createtable(L, 0, 4);
        SETNUM("pending", st.queue.pending);
        SETNUM("leased", st.queue.leased);
        SETNUM("done", st.queue.done);
        SETNUM("failed", st.queue.failed);
        lua_setfield(L, -2, "queue");
    }
    lua_createtable(L, 0, st.nreasons);
    for (int i = 0; i < st.nreasons; i++)
        SETNUM(st.reasons[i].reason, st.reasons[i].count);
    lua_setfield(L, -2, "failures");
    lua_createtable(L, 0, STAGE_COUNT);
    for (int k = 0; k < STAGE_COUNT; k++)
        SETNUM(runtime_stage_names[k], st.stage_seconds[k]);
    lua_setfield(L, -2, "stage_seconds");
    return 1;
}

static int l_rt_workers(lua_State *L)
{
    runtime *rt = need_control(L, "workers");
    worker_status ws[256];
    int n = runtime_get_workers(rt, ws, 256);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 8);
        SETNUM("id", ws[i].id);
        SETSTR("state", ws[i].state);
        if (ws[i].job_id) {
            SETNUM("job", ws[i].job_id);
            SETSTR("source", ws[i].source);
            SETNUM("elapsed_s", (double)ws[i].elapsed_ms / 1000.0);
        }
        SETNUM("jobs_done", ws[i].jobs_done);
        SETNUM("ranges_done", ws[i].ranges_done);
        SETNUM("lua_heap_kb", ws[i].lua_heap_kb);
        SETNUM("mupdf_kb", ws[i].mupdf_kb);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_rt_jobs(lua_State *L)
{
    runtime_job_info *jobs;
    int n = runtime_get_jobs(need_control(L, "jobs"), &jobs);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 6);
        SETNUM("id", jobs[i].id);
        SETSTR("source", jobs[i].source);
        SETNUM("attempts", jobs[i].attempts);
        SETSTR("state", jobs[i].state);
        if (jobs[i].worker >= 0) {
            SETNUM("worker", jobs[i].worker);
            SETNUM("elapsed_s", (double)jobs[i].elapsed_ms / 1000.0);
        }
        lua_rawseti(L, -2, i + 1);
    }
    free(jobs);
    return 1;
}

static int l_rt_policy(lua_State *L)
{
    policy_push_settings(L, runtime_settings(need_control(L, "policy")));
    return 1;
}

static int l_rt_reload(lua_State *L)
{
    dm_err err;
    if (runtime_reload(need_control(L, "reload"), &err) != 0)
        return bind_push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_rt_pause(lua_State *L)
{
    runtime_set_paused(need_control(L, "pause"), lua_toboolean(L, 1));
    return 0;
}

static int l_rt_drain(lua_State *L)
{
    runtime_drain(need_control(L, "drain"));
    return 0;
}

/* {healthy, reasons = {...}, mem_available_mb, mem_total_mb,
 *  disks = {{path, free_mb, low}}, paused, draining} */
static int l_rt_health(lua_State *L)
{
    runtime *rt = need_control(L, "health");
    health_report h;
    runtime_check_health(rt, &h);
    runtime_stats st;
    runtime_get_stats(rt, &st);
    lua_createtable(L, 0, 8);
    SETBOOL("healthy", h.healthy && !st.draining);
    lua_newtable(L);
    int nr = 0;
    if (h.reason[0]) {
        /* "a; b" -> {"a", "b"} */
        const char *p = h.reason;
        while (*p) {
            const char *e = strstr(p, "; ");
            size_t len = e ? (size_t)(e - p) : strlen(p);
            lua_pushlstring(L, p, len);
            lua_rawseti(L, -2, ++nr);
            p += len + (e ? 2 : 0);
        }
    }
    if (st.draining) {
        lua_pushstring(L, "draining: exiting after the jobs in progress");
        lua_rawseti(L, -2, ++nr);
    }
    lua_setfield(L, -2, "reasons");
    SETNUM("mem_available_mb", h.mem_available_mb);
    SETNUM("mem_total_mb", h.mem_total_mb);
    lua_createtable(L, h.ndisks, 0);
    for (int i = 0; i < h.ndisks; i++) {
        lua_createtable(L, 0, 3);
        SETSTR("path", h.disks[i].path);
        SETNUM("free_mb", h.disks[i].free_mb);
        SETBOOL("low", h.disks[i].low);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "disks");
    SETBOOL("paused", st.paused);
    SETBOOL("draining", st.draining);
    return 1;
}

static int l_rt_cleanup(lua_State *L)
{
    runtime_cleanup(need_control(L, "gc"));
    return 0;
}

static int l_supervise(lua_State *L)
{
    dm_err err;
    dm_err_clear(&err);
    int status = supervise(NULL, NULL, &err);
    if (status < 0) {
        lua_pushliteral(L, "child");
        return 1;
    }
    if (status == 1 && err.msg[0])
        log_error("%s", err.msg);
    lua_pushinteger(L, status);
    return 1;
}

void bind_runtime_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"run", l_run},         {"complete", l_complete},       {"log", l_log},
        {"set_log_level", l_set_log_level}, {"set_log_format", l_set_log_format},
        {"version", l_version}, {"now_ms", l_now_ms},           {"mono_ms", l_mono_ms},
        {"isatty", l_isatty},   {"realpath", l_realpath},       {"worker_id", l_worker_id},
        {"rt_stats", l_rt_stats}, {"rt_workers", l_rt_workers}, {"rt_jobs", l_rt_jobs},
        {"rt_policy", l_rt_policy}, {"rt_reload", l_rt_reload}, {"rt_pause", l_rt_pause},
        {"rt_drain", l_rt_drain}, {"rt_cleanup", l_rt_cleanup}, {"rt_health", l_rt_health},
        {"supervise", l_supervise},
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
