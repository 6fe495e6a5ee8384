#include "luabridge/policy.h"

#include "base/log.h"
#include "extract/ocr.h"
#include "luabridge/lstate.h"

#include <lauxlib.h>
#include <luajit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const policy_hook_names[HOOK_COUNT] = {"route",     "needs_ocr", "dpi",
                                                    "languages", "retry",     "self_test"};

static int find_hook(const char *name)
{
    for (int i = 0; i < HOOK_COUNT; i++)
        if (strcmp(policy_hook_names[i], name) == 0)
            return i;
    return -1;
}

/* Suggests the closest setting or hook for a typo. */
static const char *closest_key(const char *name)
{
    const char *cands[96];
    int n = 0;
    for (const setting_spec *sp = settings_schema; sp->name && n < 90; sp++)
        cands[n++] = sp->name;
    for (int i = 0; i < HOOK_COUNT; i++)
        cands[n++] = policy_hook_names[i];
    return settings_closest(name, cands, n);
}

/* "path:LINE" where the policy file sets key, else "path". */
static void key_where(const char *source, const char *path, const char *key, char *out,
                      size_t outlen)
{
    int line = settings_key_line(path, key);
    if (line > 0)
        snprintf(out, outlen, "%s:%d", source, line);
    else
        snprintf(out, outlen, "%s", source);
}

static int set_value(lua_State *L, int idx, const setting_spec *sp, policy_settings *s,
                     const char *where, dm_err *err)
{
    int t = lua_type(L, idx);
    static const int want[] = {[SETTING_INT] = LUA_TNUMBER, [SETTING_NUM] = LUA_TNUMBER,
                               [SETTING_BOOL] = LUA_TBOOLEAN, [SETTING_STR] = LUA_TSTRING};
    static const char *const want_name[] = {[SETTING_INT] = "number", [SETTING_NUM] = "number",
                                            [SETTING_BOOL] = "boolean", [SETTING_STR] = "string"};
    if (t != want[sp->type]) {
        dm_err_set(err, true, "%s: '%s' must be a %s, got %s", where, sp->name,
                   want_name[sp->type], lua_typename(L, t));
        return -1;
    }
    switch (sp->type) {
    case SETTING_BOOL:
        return settings_set_bool(s, sp, lua_toboolean(L, idx));
    case SETTING_STR: {
        size_t len;
        const char *v = lua_tolstring(L, idx, &len);
        return settings_set_string(s, sp, v, len, where, err);
    }
    default:
        return settings_set_number(s, sp, lua_tonumber(L, idx), where, err);
    }
}

void policy_push_settings(lua_State *L, const policy_settings *s)
{
    const char *base = (const char *)s;
    lua_newtable(L);
    for (const setting_spec *sp = settings_schema; sp->name; sp++) {
        switch (sp->type) {
        case SETTING_BOOL:
            lua_pushboolean(L, *(const bool *)(base + sp->offset));
            break;
        case SETTING_STR:
            lua_pushstring(L, base + sp->offset);
            break;
        case SETTING_INT:
            lua_pushinteger(L, *(const int *)(base + sp->offset));
            break;
        case SETTING_NUM:
            lua_pushnumber(L, *(const double *)(base + sp->offset));
            break;
        }
        lua_setfield(L, -2, sp->name);
    }
}

static int policy_log(lua_State *L)
{
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    log_level lv = LOG_INFO;
    if (log_parse_level(level, &lv) != 0)
        return luaL_error(L, "log: unknown level '%s'", level);
    log_msg(lv, "policy: %s", msg);
    return 0;
}

static int load_chunk(lua_State *L, const char *path, dm_err *err)
{
    if (path) {
        if (luaL_loadfile(L, path) != 0) {
            dm_err_set(err, true, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return -1;
        }
    } else {
        const embedded_module *m = lstate_find_embedded("docmill.policy.default");
        if (!m ||
            luaL_loadbuffer(L, (const char *)m->code, *m->size, "=policies/default.lua") != 0) {
            dm_err_set(err, true, "the embedded default policy is missing");
            if (m)
                lua_pop(L, 1);
            return -1;
        }
    }
    /* Policy code is never compiled: the instruction-count hook that bounds
     * every hook call does not fire in compiled traces. Policy code is a
     * few comparisons per page; the interpreter is plenty. */
    luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    return 0;
}

/* The sandbox's environment for policy code (sandbox.policy), with log(). */
static int push_policy_env(lua_State *L, dm_err *err)
{
    if (lstate_require(L, "docmill.sandbox", err) != 0)
        return -1;
    lua_getfield(L, -1, "policy");
    lua_remove(L, -2);
    lua_pushcfunction(L, policy_log);
    return lstate_pcall(L, 1, 1, err);
}

/* A policy file runs when it is loaded — on the loop thread for a SIGHUP
 * check — so `while true do end` must not hang the worker. */
#define POLICY_LOAD_BUDGET_MS 2000

/* What no single setting's range can say: the models are installed, and
 * dpi_min is not above dpi_max. The error names the key's line. */
static int check_together(const policy_settings *s, const char *where, const char *path,
                          dm_err *err)
{
    const char *key = NULL;
    if (!ocr_languages_available(NULL, s->languages, err))
        key = "languages";
    else if (s->first_page_languages[0] &&
             !ocr_languages_available(NULL, s->first_page_languages, err))
        key = "first_page_languages";
    else if (s->dpi_min > s->dpi_max) {
        dm_err_set(err, true, "%d is above dpi_max (%d)", s->dpi_min, s->dpi_max);
        key = "dpi_min";
    }
    if (!key)
        return 0;
    char at[300];
    key_where(where, path, key, at, sizeof at);
    dm_err_prefix(err, true, "%s: %s: ", at, key);
    return -1;
}

int policy_load(lua_State *L, const char *path, policy *out, dm_err *err)
{
    int top = lua_gettop(L);
    policy p;
    memset(&p, 0, sizeof p);
    settings_defaults(&p.s);
    for (int i = 0; i < HOOK_COUNT; i++)
        p.hook_ref[i] = LUA_NOREF;
    snprintf(p.source, sizeof p.source, "%s", path ? path : "builtin:default");
    const char *where = p.source;

    if (load_chunk(L, path, err) != 0)
        return -1;
    if (push_policy_env(L, err) != 0) {
        lua_settop(L, top);
        return -1;
    }
    lua_setfenv(L, -2);
    if (lstate_pcall_bounded(L, 0, 1, POLICY_LOAD_BUDGET_MS, NULL, err) != 0) {
        lua_settop(L, top);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        dm_err_set(err, true, "%s: a policy must return a table of settings and hooks, got %s",
                   where, luaL_typename(L, -1));
        lua_settop(L, top);
        return -1;
    }
    int tbl = lua_gettop(L);
    int rc = 0;
    lua_pushnil(L);
    while (rc == 0 && lua_next(L, tbl) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            dm_err_set(err, true, "%s: policy keys must be names", where);
            rc = -1;
            lua_pop(L, 2);
            break;
        }
        const char *key = lua_tostring(L, -2);
        const setting_spec *sp = settings_find(key);
        int hook = find_hook(key);
        /* dpi and languages are both: a value, or a hook that decides per
         * page / per document. */
        if (hook >= 0 && lua_isfunction(L, -1)) {
            /* resolved below */
        } else if (sp) {
            rc = set_value(L, -1, sp, &p.s, "", err);
        } else if (hook >= 0) {
            dm_err_set(err, true, ": hook '%s' must be a function, got %s", key,
                       luaL_typename(L, -1));
            rc = -1;
        } else {
            const char *near = closest_key(key);
            if (near)
                dm_err_set(err, true, ": unknown policy key '%s' (did you mean '%s'?)", key, near);
            else
                dm_err_set(err, true, ": unknown policy key '%s'", key);
            rc = -1;
        }
        if (rc != 0) {
            /* Only now is the file read for the key's line. */
            char at[300];
            key_where(where, path, key, at, sizeof at);
            dm_err_prefix(err, true, "%s", at);
        }
        lua_pop(L, 1);
    }
    if (rc == 0)
        rc = settings_apply_env(&p.s, err);
    if (rc == 0)
        rc = settings_resolve_mapping(&p.s, path, where, err);
    if (rc == 0)
        rc = check_together(&p.s, where, path, err);
    if (rc != 0) {
        lua_settop(L, top);
        return -1;
    }
    for (int i = 0; i < HOOK_COUNT; i++) {
        lua_getfield(L, tbl, policy_hook_names[i]);
        if (lua_isfunction(L, -1))
            p.hook_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
    }
    lua_settop(L, top);
    if (p.hook_ref[HOOK_SELF_TEST] != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p.hook_ref[HOOK_SELF_TEST]);
        policy_push_settings(L, &p.s);
        if (lstate_pcall_bounded(L, 1, 0, POLICY_LOAD_BUDGET_MS, NULL, err) != 0) {
            dm_err_prefix(err, true, "%s: self_test failed: ", where);
            policy_unload(L, &p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

int policy_check(const char *path, policy_settings *out, dm_err *err)
{
    lstate_env env = {.worker_id = -1};
    lua_State *L = lstate_new(&env, err);
    if (!L)
        return -1;
    policy p;
    int rc = policy_load(L, path, &p, err);
    if (rc == 0 && out)
        *out = p.s;
    lstate_close(L);
    return rc;
}

void policy_unload(lua_State *L, policy *p)
{
    for (int i = 0; i < HOOK_COUNT; i++) {
        if (p->hook_ref[i] != LUA_NOREF && p->hook_ref[i] != LUA_REFNIL)
            luaL_unref(L, LUA_REGISTRYINDEX, p->hook_ref[i]);
        p->hook_ref[i] = LUA_NOREF;
    }
}

/* Calls hook with the value at arg (and at arg2 unless 0) under the
 * policy's time budget; leaves one result on the stack and returns true, or
 * logs, counts and returns false (nothing pushed). */
static bool call_hook2(lua_State *L, policy *p, policy_hook h, int arg, int arg2)
{
    if (p->hook_ref[h] == LUA_NOREF)
        return false;
    arg = arg < 0 ? lua_gettop(L) + arg + 1 : arg;
    arg2 = arg2 < 0 ? lua_gettop(L) + arg2 + 1 : arg2;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->hook_ref[h]);
    lua_pushvalue(L, arg);
    if (arg2)
        lua_pushvalue(L, arg2);
    dm_err err;
    if (lstate_pcall_bounded(L, arg2 ? 2 : 1, 1, p->s.hook_budget_ms, NULL, &err) != 0) {
        p->hook_errors++;
        log_warn("policy hook %s failed, using the default: %s", policy_hook_names[h], err.msg);
        return false;
    }
    return true;
}

static bool call_hook(lua_State *L, policy *p, policy_hook h, int arg)
{
    return call_hook2(L, p, h, arg, 0);
}

static void fallback(policy *p, policy_hook h, const char *why)
{
    p->hook_fallbacks++;
    log_warn("policy hook %s returned %s; using the default", policy_hook_names[h], why);
}

const char *policy_route(lua_State *L, policy *p, int arg)
{
    if (!call_hook(L, p, HOOK_ROUTE, arg))
        return "extract";
    const char *r = lua_tostring(L, -1);
    const char *out = "extract";
    if (r && strcmp(r, "skip") == 0)
        out = "skip";
    else if (!r || strcmp(r, "extract") != 0)
        fallback(p, HOOK_ROUTE, "something other than \"extract\" or \"skip\"");
    lua_pop(L, 1);
    return out;
}

static double table_number(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    return v;
}

bool policy_needs_ocr(lua_State *L, policy *p, int arg)
{
    arg = arg < 0 ? lua_gettop(L) + arg + 1 : arg;
    bool dflt = table_number(L, arg, "chars") < p->s.text_min_chars ||
                table_number(L, arg, "bad_ratio") > p->s.max_bad_char_ratio;
    if (!call_hook(L, p, HOOK_NEEDS_OCR, arg))
        return dflt;
    bool out = dflt;
    if (lua_isboolean(L, -1))
        out = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        fallback(p, HOOK_NEEDS_OCR, "a non-boolean");
    lua_pop(L, 1);
    return out;
}

int policy_dpi(lua_State *L, policy *p, int arg)
{
    if (!call_hook(L, p, HOOK_DPI, arg))
        return p->s.dpi;
    int out = p->s.dpi;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        double v = lua_tonumber(L, -1);
        if (isnan(v)) {
            fallback(p, HOOK_DPI, "NaN");
        } else if (v < 72 || v > 600) {
            /* Clamped, not refused: a DPI of 9000 is a typo for "high". */
            out = v < 72 ? 72 : 600;
            fallback(p, HOOK_DPI, v < 72 ? "a DPI below 72 (clamped)" : "a DPI above 600 (clamped)");
        } else {
            out = (int)v;
        }
    } else if (!lua_isnil(L, -1)) {
        fallback(p, HOOK_DPI, "a non-number");
    }
    lua_pop(L, 1);
    return out;
}

/* Without a languages hook (or when it fails). Before a document's first
 * OCR'd page: first_page_languages when narrower than the setting (*flag
 * "trial"), else the setting. After it, from what it held: a trial
 * reading not kept gives the setting and "again" (read that page again
 * with it, then ask once more); otherwise the set for the rest. */
static void builtin_languages(lua_State *L, policy *p, int arg, char out[64], const char **flag)
{
    const policy_settings *s = &p->s;
    snprintf(out, 64, "%s", s->languages);
    if (!lua_istable(L, arg))
        return;
    lua_getfield(L, arg, "first_page");
    if (!lua_istable(L, -1)) {
        if (ocr_languages_narrower(s->first_page_languages, s->languages)) {
            snprintf(out, 64, "%s", s->first_page_languages);
            *flag = "trial";
        }
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, -1, "languages");
    lua_getfield(L, -2, "cjk");
    lua_getfield(L, -3, "latin");
    lua_getfield(L, -4, "trial");
    const char *used = lua_tostring(L, -4);
    long cjk = (long)lua_tointeger(L, -3), latin = (long)lua_tointeger(L, -2);
    if (lua_toboolean(L, -1) && !ocr_trial_kept(cjk, latin, s->first_page_max_latin_per_cjk))
        *flag = "again";
    else if (used)
        ocr_languages_refine(used, cjk, latin, s->jpn_alone_max_latin_per_cjk, s->languages, out);
    lua_pop(L, 5);
}

void policy_languages(lua_State *L, policy *p, int arg, char out[64], const char **flag)
{
    arg = arg < 0 ? lua_gettop(L) + arg + 1 : arg;
    snprintf(out, 64, "%s", p->s.languages);
    *flag = NULL;
    if (!call_hook(L, p, HOOK_LANGUAGES, arg)) {
        builtin_languages(L, p, arg, out, flag);
        return;
    }
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    dm_err err;
    if (v && ocr_languages_available(NULL, v, &err))
        snprintf(out, 64, "%s", v);
    else if (v)
        fallback(p, HOOK_LANGUAGES, err.msg);
    else if (!lua_isnil(L, -1))
        fallback(p, HOOK_LANGUAGES, "a non-string");
    lua_pop(L, 1);
}

static bool table_bool(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

void policy_look_page(lua_State *L, int page, int first, look_page *out)
{
    page = page < 0 ? lua_gettop(L) + page + 1 : page;
    first = first < 0 ? lua_gettop(L) + first + 1 : first;
    memset(out, 0, sizeof *out);
    out->confidence = (int)table_number(L, first, "confidence");
    out->chars = (int)table_number(L, first, "chars");
    out->cjk_symbols = (int)table_number(L, first, "cjk_symbols");
    out->cjk_gap = table_number(L, first, "cjk_gap");
    out->ttb_chars = (int)table_number(L, first, "ttb_chars");
    out->ttb_confidence = (int)table_number(L, first, "ttb_confidence");
    out->ltr_chars = (int)table_number(L, first, "ltr_chars");
    out->ltr_confidence = (int)table_number(L, first, "ltr_confidence");
    out->best_confidence = (int)table_number(L, page, "confidence");
    out->vertical_model = table_bool(L, page, "vertical_model");
    lua_getfield(L, page, "tried");
    if (lua_istable(L, -1))
        for (int a = 0; a < LOOK_COUNT; a++)
            if (table_bool(L, -1, look_action_names[a]))
                out->tried |= 1u << a;
    lua_pop(L, 1);
    lua_getfield(L, page, "osd");
    if (lua_istable(L, -1)) {
        out->osd_found = true;
        out->osd_degrees = (int)table_number(L, -1, "degrees");
        out->osd_confidence = table_number(L, -1, "confidence");
        lua_getfield(L, -1, "script");
        const char *script = lua_tostring(L, -1);
        /* What Tesseract's script detection calls Japanese text. */
        static const char *const japanese[] = {"Japanese", "Han", "Hiragana", "Katakana"};
        for (size_t i = 0; script && i < sizeof japanese / sizeof japanese[0]; i++)
            out->osd_japanese |= strcmp(script, japanese[i]) == 0;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

look_limits policy_look_limits(const policy *p)
{
    return (look_limits){.check_below = p->s.orientation_check_below,
                         .min_osd_confidence = p->s.orientation_min_confidence,
                         .min_cjk_gap = p->s.vertical_min_cjk_gap};
}

/* A hook's answer as a step: "accept", "orientation", "vertical", "mixed",
 * {rotate = N} or {deskew = D}. */
static bool step_of(lua_State *L, int idx, look_step *out)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *v = lua_tostring(L, idx);
        for (int a = 0; a < LOOK_COUNT; a++)
            if (a != LOOK_ROTATE && a != LOOK_DESKEW && strcmp(v, look_action_names[a]) == 0) {
                *out = (look_step){.action = (look_action)a};
                return true;
            }
        return false;
    }
    if (!lua_istable(L, idx))
        return false;
    static const look_action with_angle[] = {LOOK_ROTATE, LOOK_DESKEW};
    int found = 0;
    for (size_t i = 0; i < sizeof with_angle / sizeof with_angle[0]; i++) {
        lua_getfield(L, idx, look_action_names[with_angle[i]]);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            *out = (look_step){.action = with_angle[i], .degrees = lua_tonumber(L, -1)};
            found++;
        }
        lua_pop(L, 1);
    }
    return found == 1;
}

look_step policy_retry(lua_State *L, policy *p, int page, int first)
{
    page = page < 0 ? lua_gettop(L) + page + 1 : page;
    first = first < 0 ? lua_gettop(L) + first + 1 : first;
    look_page pg;
    policy_look_page(L, page, first, &pg);
    look_limits lim = policy_look_limits(p);
    look_step dflt = second_look_next(&pg, &lim);
    /* The cap holds for a hook too: a page is never read without end. */
    if (__builtin_popcount(pg.tried) >= LOOK_MAX_STEPS)
        return (look_step){.action = LOOK_ACCEPT};
    if (!call_hook2(L, p, HOOK_RETRY, page, first))
        return dflt;
    look_step s = dflt;
    const char *why = "something other than a step (\"accept\", \"orientation\", \"vertical\", "
                      "\"mixed\", {rotate = N}, {deskew = D})";
    if (lua_isnil(L, -1)) {
        /* nil: the built-in step. */
    } else if (step_of(L, -1, &s) && second_look_valid(&pg, s, &why)) {
        /* taken as it is */
    } else {
        s = dflt;
        fallback(p, HOOK_RETRY, why);
    }
    lua_pop(L, 1);
    return s;
}
