/* docmill.control: the REPL state's view of the running worker (loop thread
 * only), registered by the REPL alone, so no other state can reach it:
 * stats(), workers(), jobs(), policy(), reload() -> true | nil, err,
 * pause(bool), drain(), cleanup(), health(). */
#include "daemon/repl.h"

#include "daemon/runtime.h"
#include "daemon/worker.h"
#include "luabridge/bindings.h"
#include "luabridge/policy.h"
#include "ops/health.h"

#include <stdlib.h>
#include <string.h>

/* --- the REPL state's view of the running worker ------------------------ */

/* Every function of the module holds the runtime as its upvalue. */
static runtime *rt_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
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
    runtime_get_stats(rt_of(L), &st);
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
    SETNUM("pages_rotated", st.sum.pages_rotated);
    SETNUM("pages_vertical", st.sum.pages_vertical);
    SETNUM("pages_low_confidence", st.sum.pages_low_confidence);
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
    SETNUM("hook_errors", st.hook_errors);
    SETNUM("hook_fallbacks", st.hook_fallbacks);
    SETNUM("gc_runs", st.gc_runs);
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
        SETNUM(job_stage_names[k], st.stage_seconds[k]);
    lua_setfield(L, -2, "stage_seconds");
    return 1;
}

static int l_rt_workers(lua_State *L)
{
    runtime *rt = rt_of(L);
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
    int n = runtime_get_jobs(rt_of(L), &jobs);
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
    policy_push_settings(L, runtime_settings(rt_of(L)));
    return 1;
}

static int l_rt_reload(lua_State *L)
{
    dm_err err;
    if (runtime_reload(rt_of(L), &err) != 0)
        return bind_push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_rt_pause(lua_State *L)
{
    runtime_set_paused(rt_of(L), lua_toboolean(L, 1));
    return 0;
}

static int l_rt_drain(lua_State *L)
{
    runtime_drain(rt_of(L));
    return 0;
}

/* {healthy, reasons = {...}, mem_available_mb, mem_total_mb,
 *  disks = {{path, free_mb, low}}, paused, draining} */
static int l_rt_health(lua_State *L)
{
    runtime *rt = rt_of(L);
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
    runtime_cleanup(rt_of(L));
    return 0;
}

void bind_control_register(lua_State *L, runtime *rt)
{
    static const luaL_Reg fns[] = {
        {"stats", l_rt_stats},     {"workers", l_rt_workers}, {"jobs", l_rt_jobs},
        {"policy", l_rt_policy},   {"reload", l_rt_reload},   {"pause", l_rt_pause},
        {"drain", l_rt_drain},     {"cleanup", l_rt_cleanup}, {"health", l_rt_health},
        {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, rt);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    lstate_publish(L, "docmill.control");
}
