/* policy: a Lua policy file, loaded. A policy file is a Lua chunk that
 * returns a table of settings and hooks. It runs in the locked sandbox
 * (lua/docmill/sandbox.lua: reading or writing an undeclared global is an
 * error); every key is checked against the settings schema
 * (settings/settings.h: an unknown key is a typo and fails the load, a value
 * out of range names its file:line); the hooks are resolved once into
 * registry references. Every hook call is bounded (hook_budget_ms) and
 * every value a hook returns is validated: a hook that raises, runs over
 * budget or returns nonsense falls back to the default, counted and logged. */
#ifndef DOCMILL_POLICY_H
#define DOCMILL_POLICY_H

#include "base/common.h"
#include "extract/second_look.h"
#include "settings/settings.h"

#include <lua.h>

typedef enum {
    HOOK_ROUTE,
    HOOK_NEEDS_OCR,
    HOOK_DPI,
    HOOK_LANGUAGES,
    HOOK_RETRY,
    HOOK_SELF_TEST,
    HOOK_COUNT
} policy_hook;

typedef struct policy {
    policy_settings s;
    int hook_ref[HOOK_COUNT];   /* LUA_NOREF when the policy leaves it out */
    char source[256];           /* file path, or "builtin:default" */
    int64_t hook_errors;        /* hooks that raised or ran over their budget */
    int64_t hook_fallbacks;     /* hook results replaced by the default */
} policy;

extern const char *const policy_hook_names[HOOK_COUNT];

/* path NULL loads the embedded policies/default.lua. Returns -1 with a
 * precise message (file:line for syntax, runtime and value errors) on
 * failure; the state is left as it was. */
int policy_load(lua_State *L, const char *path, policy *out, dm_err *err);
void policy_unload(lua_State *L, policy *p);
/* Loads path (NULL: the embedded default) in a throwaway state, as a
 * worker would, and gives its settings (out may be NULL): a check that
 * touches no running state (`docmill policy check`, start-up, SIGHUP). */
int policy_check(const char *path, policy_settings *out, dm_err *err);
/* Pushes the settings as a plain Lua table. */
void policy_push_settings(lua_State *L, const policy_settings *s);

/* Hook calls. arg is a stack index of the table handed to the hook; each
 * returns a validated value, the default when the hook is missing, raised,
 * ran over budget or returned nonsense. */
const char *policy_route(lua_State *L, policy *p, int arg);
/* The default: fewer than text_min_chars characters, or a share of
 * replacement/control characters above max_bad_char_ratio (the table's
 * `chars` and `bad_ratio`). */
bool policy_needs_ocr(lua_State *L, policy *p, int arg);
int policy_dpi(lua_State *L, policy *p, int arg);
/* *flag: "trial" (read the first page with out, then ask with first_page.trial
 * set), "again" (read that page again with out, then ask once more) or NULL. */
void policy_languages(lua_State *L, policy *p, int arg, char out[64], const char **flag);
/* The next step of a page's second look (extract/second_look.h): the
 * retry hook's answer, checked, or the built-in one. page (stack index) is
 * {confidence (the best reading's), tried = {action = true}, osd =
 * {degrees, confidence, script} | nil, vertical_model}, first is the first
 * reading's figures {confidence, chars, cjk_symbols, cjk_gap, ttb_chars,
 * ttb_confidence, ltr_chars, ltr_confidence}. */
look_step policy_retry(lua_State *L, policy *p, int page, int first);
/* Reads those two tables into the decision's plain form. */
void policy_look_page(lua_State *L, int page, int first, look_page *out);
look_limits policy_look_limits(const policy *p);

#endif
