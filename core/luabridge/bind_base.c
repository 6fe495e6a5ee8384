/* The process, for every state:
 * log(level, message), set_log_level(level), set_log_format("json"|"text"|"auto"),
 * version(), now_ms(), mono_ms(), isatty(fd), realpath(path) -> absolute path | nil, err */
#include "luabridge/bindings.h"

#include "base/log.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void bind_base_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"log", l_log},           {"set_log_level", l_set_log_level},
        {"set_log_format", l_set_log_format}, {"version", l_version},
        {"now_ms", l_now_ms},     {"mono_ms", l_mono_ms},
        {"isatty", l_isatty},     {"realpath", l_realpath},
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
