/* The policy as the pipeline sees it. Hooks are called by C, which checks
 * what they return:
 * policy_route(job) -> "extract" | "skip"
 * policy_needs_ocr(page_info) -> boolean
 * policy_dpi(page_info) -> integer 72..600
 * policy_languages(doc_info) -> installed language set[, "trial" | "again"]
 * policy_retry(page, first) -> step, degrees: a page's next second-look step
 *     ("accept" | "orientation" | "rotate" | "vertical" | "mixed" | "deskew")
 * layout_turn(first) -> 270 when Tesseract read the page turned back by itself, else 0
 * settings() -> the validated settings of this state's policy
 * policy_load(path|nil) -> true | nil, err   (states without a policy yet)
 * policy_check(path) -> true | nil, err      (in a throwaway state)
 * policy_schema() -> {{name=, type=, min=, max=, doc=, live=}}, defaults, {hook names}
 * key_line(path, key) -> the line of a Lua file where `key = ...` is set, or 0 */
#include "luabridge/bindings.h"
#include "luabridge/lstate.h"
#include "luabridge/policy.h"

#include <stdlib.h>

static policy *need_policy(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    if (!env->policy)
        luaL_error(L, "no policy is loaded in this state");
    return env->policy;
}

static int l_route(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushstring(L, policy_route(L, need_policy(L), 1));
    return 1;
}

static int l_needs_ocr(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushboolean(L, policy_needs_ocr(L, need_policy(L), 1));
    return 1;
}

static int l_dpi(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushinteger(L, policy_dpi(L, need_policy(L), 1));
    return 1;
}

static int l_languages(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    char langs[64];
    const char *flag = NULL;
    policy_languages(L, need_policy(L), 1, langs, &flag);
    lua_pushstring(L, langs);
    if (!flag)
        return 1;
    lua_pushstring(L, flag);
    return 2;
}

static int l_retry(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    look_step s = policy_retry(L, need_policy(L), 1, 2);
    lua_pushstring(L, look_action_names[s.action]);
    lua_pushnumber(L, s.degrees);
    return 2;
}

static int l_layout_turn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_newtable(L);
    look_page pg;
    policy_look_page(L, -1, 1, &pg);
    lua_pop(L, 1);
    look_limits lim = policy_look_limits(need_policy(L));
    lua_pushinteger(L, second_look_layout_turn(&pg, &lim));
    return 1;
}

static int l_settings(lua_State *L)
{
    policy *p = need_policy(L);
    policy_push_settings(L, &p->s);
    lua_pushstring(L, p->source);
    lua_setfield(L, -2, "source");
    return 1;
}

static int l_policy_load(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    lstate_env *env = lstate_get_env(L);
    policy *p = malloc(sizeof *p);
    dm_err err;
    if (!p || policy_load(L, path, p, &err) != 0) {
        free(p);
        if (!p)
            return luaL_error(L, "out of memory");
        return bind_push_error(L, &err);
    }
    /* The env owns its (heap-allocated) policy: the previous one goes. */
    if (env->policy) {
        policy_unload(L, env->policy);
        free(env->policy);
    }
    env->policy = p;
    return (lua_pushboolean(L, 1), 1);
}

static int l_policy_check(lua_State *L)
{
    dm_err err;
    if (policy_check(luaL_optstring(L, 1, NULL), NULL, &err) != 0)
        return bind_push_error(L, &err);
    return (lua_pushboolean(L, 1), 1);
}

static int l_key_line(lua_State *L)
{
    lua_pushinteger(L, settings_key_line(luaL_checkstring(L, 1), luaL_checkstring(L, 2)));
    return 1;
}

static int l_policy_schema(lua_State *L)
{
    static const char *types[] = {"integer", "number", "boolean", "string"};
    policy_settings d;
    settings_defaults(&d);
    lua_newtable(L);
    int i = 1;
    for (const setting_spec *sp = settings_schema; sp->name; sp++, i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, sp->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, types[sp->type]);
        lua_setfield(L, -2, "type");
        lua_pushnumber(L, sp->min);
        lua_setfield(L, -2, "min");
        lua_pushnumber(L, sp->max);
        lua_setfield(L, -2, "max");
        lua_pushstring(L, sp->doc);
        lua_setfield(L, -2, "doc");
        lua_pushboolean(L, !sp->start_only);
        lua_setfield(L, -2, "live");
        lua_rawseti(L, -2, i);
    }
    policy_push_settings(L, &d);
    lua_newtable(L);
    for (int h = 0; h < HOOK_COUNT; h++) {
        lua_pushstring(L, policy_hook_names[h]);
        lua_rawseti(L, -2, h + 1);
    }
    return 3;
}

void bind_policy_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"policy_route", l_route},         {"policy_needs_ocr", l_needs_ocr},
        {"policy_retry", l_retry},         {"layout_turn", l_layout_turn},
        {"policy_dpi", l_dpi},             {"policy_languages", l_languages},
        {"settings", l_settings},          {"policy_load", l_policy_load},
        {"policy_check", l_policy_check},  {"policy_schema", l_policy_schema},
        {"key_line", l_key_line},
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
