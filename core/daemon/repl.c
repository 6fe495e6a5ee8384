#include "daemon/repl.h"

#include "base/log.h"
#include "luabridge/lstate.h"

#include <lauxlib.h>
#include <luajit.h>
#include <stdlib.h>
#include <string.h>

#define REPL_MODULE_KEY "docmill.repl.module"

struct repl {
    lua_State *L;
    lstate_env env;
};

repl *repl_new(struct runtime *rt, dm_err *err)
{
    repl *r = dm_xcalloc(1, sizeof *r);
    r->env.worker_id = -1;
    r->L = lstate_new(&r->env, err);
    if (!r->L) {
        free(r);
        return NULL;
    }
    /* Only this state can reach the runtime. */
    bind_control_register(r->L, rt);
    /* Compiled traces do not run count hooks: interpret everything so the
     * budget holds. REPL code is small; speed does not matter here. */
    luaJIT_setmode(r->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    if (lstate_require(r->L, "docmill.repl", err) != 0) {
        lstate_close_env(r->L, &r->env);
        free(r);
        return NULL;
    }
    lua_setfield(r->L, LUA_REGISTRYINDEX, REPL_MODULE_KEY);
    return r;
}

/* The command as one log line: newlines shown as \n, long code cut. */
static void log_command(int session, const char *code, size_t len)
{
    char line[400];
    size_t o = 0;
    for (size_t i = 0; i < len && o < sizeof line - 8; i++) {
        if (code[i] == '\n') {
            line[o++] = '\\';
            line[o++] = 'n';
        } else {
            line[o++] = code[i];
        }
    }
    if (o >= sizeof line - 8)
        memcpy(line + o, "...", 3), o += 3;
    line[o] = '\0';
    log_info("repl session %d: %s", session, line);
}

control_status repl_eval(repl *r, int session, const char *code, size_t len, sbuf *reply)
{
    lua_State *L = r->L;
    log_command(session, code, len);
    lua_getfield(L, LUA_REGISTRYINDEX, REPL_MODULE_KEY);
    lua_getfield(L, -1, "eval");
    lua_remove(L, -2);
    lua_pushinteger(L, session);
    lua_pushlstring(L, code, len);
    dm_err err;
    /* Only the operator's chunk is stopped: repl.lua must still format the
     * error it raised. */
    int rc = lstate_pcall_bounded(L, 2, 2, REPL_BUDGET_MS, "=repl", &err);
    control_status st = CONTROL_ERROR;
    if (rc != 0) {
        /* repl.eval catches the code's own errors; this is repl.lua's. */
        sbuf_appendf(reply, "internal REPL error: %s", err.msg);
    } else {
        const char *status = lua_tostring(L, -2);
        size_t n = 0;
        const char *text = lua_tolstring(L, -1, &n);
        if (status && strcmp(status, "ok") == 0)
            st = CONTROL_OK;
        else if (status && strcmp(status, "incomplete") == 0)
            st = CONTROL_INCOMPLETE;
        /* The client refuses frames over CONTROL_MAX_FRAME. */
        static const char cut[] = "\n... (truncated: the reply is over 1 MiB)";
        if (text && n > CONTROL_MAX_FRAME - sizeof cut) {
            sbuf_append(reply, text, CONTROL_MAX_FRAME - sizeof cut);
            sbuf_append(reply, cut, sizeof cut - 1);
        } else if (text) {
            sbuf_append(reply, text, n);
        }
        lua_pop(L, 2);
    }
    /* Whatever the code allocated must not pile up on the loop thread. */
    lua_gc(L, LUA_GCSTEP, 200);
    return st;
}

void repl_session_end(repl *r, int session)
{
    if (!r)
        return;
    lua_State *L = r->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REPL_MODULE_KEY);
    lua_getfield(L, -1, "close");
    lua_remove(L, -2);
    lua_pushinteger(L, session);
    dm_err err;
    if (lstate_pcall(L, 1, 0, &err) != 0)
        log_warn("repl: closing session %d: %s", session, err.msg);
}

void repl_free(repl *r)
{
    if (!r)
        return;
    lstate_close_env(r->L, &r->env);
    free(r);
}
