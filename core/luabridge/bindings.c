#include "luabridge/bindings.h"

#include "luabridge/lstate.h"

#include <lauxlib.h>

int bind_push_error(lua_State *L, const dm_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    lua_pushboolean(L, err->permanent);
    if (!err->code)
        return 3;
    lua_pushstring(L, err->code);
    return 4;
}

void bind_set_funcs(lua_State *L, int module, const luaL_Reg *fns)
{
    for (; fns->name; fns++) {
        lua_pushcfunction(L, fns->func);
        lua_setfield(L, module, fns->name);
    }
}

void bindings_register(lua_State *L)
{
    lua_newtable(L);
    int module = lua_gettop(L);
    bind_fetch_register(L, module);
    bind_doc_register(L, module);
    bind_container_register(L, module);
    bind_ocr_register(L, module);
    bind_index_register(L, module);
    bind_mem_register(L, module);
    bind_policy_register(L, module);
    bind_aws_register(L, module);
    bind_base_register(L, module);
    lstate_publish(L, "docmill.core");
}

void bindings_register_job(lua_State *L)
{
    lua_newtable(L);
    int module = lua_gettop(L);
    bind_job_register(L, module);
    bind_pages_register(L, module);
    lstate_publish(L, "docmill.job");
}
