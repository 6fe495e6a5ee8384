/* fetch(uri, {max_bytes=, multipart_threshold=, part_size=, parallel=})
 *     (only what the policy's fetch_allowed_buckets / fetch_allowed_urls allow)
 *     -> {path=, size=, mtime_ms=, temp=} | nil, err, permanent [, code]
 * release(path, temp)          removes a downloaded temp file
 * sha256_file(path) -> hex      | nil, err, permanent */
#include "luabridge/bindings.h"
#include "fetch/fetch.h"
#include "luabridge/lstate.h"
#include "luabridge/policy.h"

#include <string.h>
#include <unistd.h>

static int l_fetch(lua_State *L)
{
    const char *uri = luaL_checkstring(L, 1);
    fetch_options opt = {0};
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "max_bytes");
        opt.max_bytes = (int64_t)luaL_optnumber(L, -1, 0);
        lua_getfield(L, 2, "multipart_threshold");
        opt.multipart_threshold = (int64_t)luaL_optnumber(L, -1, 0);
        lua_getfield(L, 2, "part_size");
        opt.part_size = (int64_t)luaL_optnumber(L, -1, 0);
        lua_getfield(L, 2, "parallel");
        opt.parallel = (int)luaL_optinteger(L, -1, 1);
        lua_pop(L, 4);
    }
    /* The allow-lists of the policy in force, whatever the caller passed:
     * a job cannot talk its way past them. */
    lstate_env *env = lstate_get_env(L);
    if (env->policy) {
        opt.allowed_buckets = env->policy->s.fetch_allowed_buckets;
        opt.allowed_urls = env->policy->s.fetch_allowed_urls;
    }
    fetch_result res;
    dm_err err;
    if (fetch_uri(&opt, uri, &res, &err) != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, res.path);
    lua_setfield(L, -2, "path");
    lua_pushnumber(L, (lua_Number)res.size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (lua_Number)res.mtime_ms);
    lua_setfield(L, -2, "mtime_ms");
    lua_pushboolean(L, res.is_temp);
    lua_setfield(L, -2, "temp");
    /* The table holds a copy of the path; a temp file is removed by
     * release(), so the C result can go now. */
    res.is_temp = false;
    fetch_result_release(&res);
    return 1;
}

static int l_release(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (lua_toboolean(L, 2))
        unlink(path);
    return 0;
}

static int l_sha256_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char hex[65];
    dm_err err;
    if (dm_sha256_file(path, hex, &err) != 0)
        return bind_push_error(L, &err);
    lua_pushstring(L, hex);
    return 1;
}

void bind_fetch_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"fetch", l_fetch}, {"release", l_release}, {"sha256_file", l_sha256_file}, {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
