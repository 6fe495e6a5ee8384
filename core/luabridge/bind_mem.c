/* mem_stats() -> {rss=, peak_rss=, lua_kb=, mupdf_bytes=, mupdf_peak=, ocr_engines=}
 * gc() -> full Lua collection in this state and MuPDF's store emptied */
#include "luabridge/bindings.h"
#include "luabridge/lstate.h"
#include "base/mem_stats.h"

static int l_mem_stats(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    mem_stats ms;
    mem_stats_read(&ms);
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, (lua_Number)ms.rss_bytes);
    lua_setfield(L, -2, "rss");
    lua_pushnumber(L, (lua_Number)ms.peak_rss_bytes);
    lua_setfield(L, -2, "peak_rss");
    lua_pushinteger(L, lua_gc(L, LUA_GCCOUNT, 0));
    lua_setfield(L, -2, "lua_kb");
    lua_pushnumber(L, env->docs ? (lua_Number)doc_ctx_allocated(env->docs) : 0);
    lua_setfield(L, -2, "mupdf_bytes");
    lua_pushnumber(L, env->docs ? (lua_Number)doc_ctx_peak(env->docs) : 0);
    lua_setfield(L, -2, "mupdf_peak");
    lua_pushinteger(L, env->ocr ? ocr_engine_loaded(env->ocr) : 0);
    lua_setfield(L, -2, "ocr_engines");
    return 1;
}

static int l_gc(lua_State *L)
{
    lstate_collect(L, NULL, NULL);
    return 0;
}

void bind_mem_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {{"mem_stats", l_mem_stats}, {"gc", l_gc}, {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
