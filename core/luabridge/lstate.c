#include "luabridge/lstate.h"

#include "luabridge/bindings.h"
#include "base/log.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#define ENV_KEY "docmill.env"

int luaopen_cjson(lua_State *L);

const embedded_module *lstate_find_embedded(const char *name)
{
    for (const embedded_module *m = embedded_modules; m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static int preload_embedded(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const embedded_module *m = lstate_find_embedded(name);
    if (!m)
        return luaL_error(L, "no embedded module %s", name);
    if (luaL_loadbuffer(L, (const char *)m->code, *m->size, name) != 0)
        return lua_error(L);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    return 1;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int lstate_pcall(lua_State *L, int nargs, int nresults, dm_err *err)
{
    int base = lua_gettop(L) - nargs;  /* the function's slot */
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != 0) {
        const char *msg = lua_tostring(L, -1);
        dm_err_set(err, false, "%s", msg ? msg : "unknown Lua error");
        if (rc == LUA_ERRMEM)
            dm_err_set(err, false, "Lua state out of memory");
        lua_settop(L, base - 1);
        return -1;
    }
    return 0;
}

/* One bounded call at a time per thread (a state belongs to one thread). */
static __thread int64_t budget_deadline_ms;
static __thread int budget_ms_now;
static __thread const char *budget_only_source;

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    if (dm_mono_ms() <= budget_deadline_ms)
        return;
    /* From now on every instruction: the first one back in bounded code
     * after a pcall raises again. */
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    if (budget_only_source &&
        (!lua_getinfo(L, "S", ar) || strcmp(ar->source, budget_only_source) != 0))
        return;
    luaL_error(L, "stopped: ran longer than %d ms (an endless loop?)", budget_ms_now);
}

int lstate_pcall_bounded(lua_State *L, int nargs, int nresults, int budget_ms,
                         const char *only_source, dm_err *err)
{
    /* Bounded calls nest (the REPL's reload() validates a policy in a state
     * of its own): the outer call's budget and hook come back after. */
    int64_t outer_deadline = budget_deadline_ms;
    int outer_ms = budget_ms_now;
    const char *outer_source = budget_only_source;
    lua_Hook outer_hook = lua_gethook(L);
    int outer_mask = lua_gethookmask(L), outer_count = lua_gethookcount(L);
    budget_deadline_ms = dm_mono_ms() + budget_ms;
    budget_ms_now = budget_ms;
    budget_only_source = only_source;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1000);
    int rc = lstate_pcall(L, nargs, nresults, err);
    lua_sethook(L, outer_hook, outer_mask, outer_count);
    budget_deadline_ms = outer_deadline;
    budget_ms_now = outer_ms;
    budget_only_source = outer_source;
    return rc;
}

void lstate_collect(lua_State *L, int *before_kb, int *after_kb)
{
    lstate_env *env = lstate_get_env(L);
    if (before_kb)
        *before_kb = lua_gc(L, LUA_GCCOUNT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    if (env && env->docs)
        doc_ctx_shrink_store(env->docs);
    if (after_kb)
        *after_kb = lua_gc(L, LUA_GCCOUNT, 0);
}

void lstate_publish(lua_State *L, const char *name)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, name);
    lua_pop(L, 3);
}

void lstate_register_module(lua_State *L, const char *name, const luaL_Reg *fns)
{
    lua_newtable(L);
    bind_set_funcs(L, lua_gettop(L), fns);
    lstate_publish(L, name);
}

int lstate_require(lua_State *L, const char *name, dm_err *err)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    return lstate_pcall(L, 1, 1, err);
}

lstate_env *lstate_get_env(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lstate_env *env = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return env;
}

static int open_state(lua_State *L)
{
    lstate_env *env = lua_touserdata(L, 1);
    luaL_openlibs(L);
    lua_pushlightuserdata(L, env);
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    for (const embedded_module *m = embedded_modules; m->name; m++) {
        lua_pushcfunction(L, preload_embedded);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 2);
    /* Only the embedded library and cjson are reachable through require;
     * nothing is loaded from the file system behind the operator's back. */
    lua_getglobal(L, "package");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    bindings_register(L);
    if (env->host)
        bindings_register_job(L);
    return 0;
}

lua_State *lstate_new(lstate_env *env, dm_err *err)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        dm_err_set(err, false, "cannot create a Lua state (out of memory)");
        return NULL;
    }
    lua_pushcfunction(L, open_state);
    lua_pushlightuserdata(L, env);
    if (lstate_pcall(L, 1, 0, err) != 0) {
        lua_close(L);
        return NULL;
    }
    return L;
}

void lstate_close(lua_State *L)
{
    if (L)
        lua_close(L);
}

void lstate_close_env(lua_State *L, lstate_env *env)
{
    /* The policy's registry references go with the state. */
    lstate_close(L);
    free(env->policy);
    index_close(env->index);
    ocr_engine_free(env->ocr);
    doc_ctx_free(env->docs);
    free(env->open_jobs);
    memset(env, 0, sizeof *env);
}

void lstate_env_open_job(lstate_env *env, int64_t id)
{
    if (env->nopen == env->open_cap) {
        env->open_cap = env->open_cap ? env->open_cap * 2 : 32;
        env->open_jobs = dm_xrealloc(env->open_jobs, (size_t)env->open_cap * sizeof *env->open_jobs);
    }
    env->open_jobs[env->nopen++] = id;
}

bool lstate_env_close_job(lstate_env *env, int64_t id)
{
    for (int i = 0; i < env->nopen; i++) {
        if (env->open_jobs[i] == id) {
            env->open_jobs[i] = env->open_jobs[--env->nopen];
            return true;
        }
    }
    return false;
}
