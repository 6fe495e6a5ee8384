/* Policy loading and hook validation (policy.c), through a real Lua state. */
#include "check.h"
#include "luabridge/lstate.h"
#include "luabridge/policy.h"

#include <lauxlib.h>
#include <luajit.h>

static lua_State *L;
static lstate_env env = {.worker_id = -1};

static const char *write_policy(const char *name, const char *body)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(path, "w");
    fputs(body, f);
    fclose(f);
    return path;
}

static int load(const char *body, policy *p, dm_err *err)
{
    return policy_load(L, write_policy("p.lua", body), p, err);
}

/* Sets arg 1's first_page: what a document's first OCR'd page held. */
static void push_first_page(const char *used, long cjk, long latin, bool trial)
{
    lua_newtable(L);
    lua_pushstring(L, used);
    lua_setfield(L, -2, "languages");
    lua_pushinteger(L, cjk);
    lua_setfield(L, -2, "cjk");
    lua_pushinteger(L, latin);
    lua_setfield(L, -2, "latin");
    lua_pushboolean(L, trial);
    lua_setfield(L, -2, "trial");
    lua_setfield(L, 1, "first_page");
}

static void test_builtin_default(void)
{
    policy p;
    dm_err err;
    CHECK_INT(policy_load(L, NULL, &p, &err), 0);
    policy_settings d;
    settings_defaults(&d);
    /* policies/default.lua is the empty table: the schema's defaults and
     * C's built-in decisions (languages too) are the default policy. */
    CHECK(memcmp(&p.s, &d, sizeof d) == 0);
    CHECK(p.hook_ref[HOOK_NEEDS_OCR] == LUA_NOREF);
    CHECK(p.hook_ref[HOOK_ROUTE] == LUA_NOREF);
    CHECK(p.hook_ref[HOOK_LANGUAGES] == LUA_NOREF);
    CHECK(p.hook_ref[HOOK_DPI] == LUA_NOREF);
    CHECK_STR(p.source, "builtin:default");
    /* Without a hook: a trial with jpn (first_page_languages) first. */
    char langs[64];
    const char *flag = NULL;
    lua_newtable(L);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn");
    CHECK_STR(flag, "trial");
    lua_settop(L, 0);
    policy_unload(L, &p);
    /* With the trial off: the setting, then the built-in choice after
     * page 1. */
    dm_err err2;
    CHECK_INT(load("return { first_page_languages = '' }", &p, &err2), 0);
    lua_newtable(L);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn+eng");
    CHECK(flag == NULL);
    push_first_page("jpn+eng", 0, 1449, false);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "eng");
    lua_settop(L, 0);
    policy_unload(L, &p);
    CHECK_INT(load("return { first_page_languages = 'jpn' }", &p, &err2), 0);
    lua_newtable(L);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn");
    CHECK_STR(flag, "trial");
    /* Japanese full of English words read by the trial: kept, jpn goes on. */
    push_first_page("jpn", 1414, 560, true);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn");
    CHECK(flag == NULL);
    /* English paragraphs between Japanese ones: kept, both models go on. */
    push_first_page("jpn", 344, 723, true);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn+eng");
    CHECK(flag == NULL);
    /* English (a stray character): read again with the setting. */
    push_first_page("jpn", 1, 1449, true);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn+eng");
    CHECK_STR(flag, "again");
    /* ...after which English alone reads the rest. */
    push_first_page("jpn+eng", 0, 1449, false);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "eng");
    CHECK(flag == NULL);
    push_first_page("jpn+eng", 1414, 560, false);
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn");
    lua_settop(L, 0);
    policy_unload(L, &p);
}

static void test_needs_ocr_default_without_hook(void)
{
    policy p;
    dm_err err;
    CHECK_INT(load("return { text_min_chars = 10, max_bad_char_ratio = 0.5 }", &p, &err), 0);
    struct {
        int chars;
        double bad;
        bool ocr;
    } cases[] = {{0, 0, true}, {9, 0, true}, {10, 0, false}, {500, 0.4, false}, {500, 0.6, true}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        lua_newtable(L);
        lua_pushinteger(L, cases[i].chars);
        lua_setfield(L, 1, "chars");
        lua_pushnumber(L, cases[i].bad);
        lua_setfield(L, 1, "bad_ratio");
        CHECK(policy_needs_ocr(L, &p, 1) == cases[i].ocr);
        lua_settop(L, 0);
    }
    policy_unload(L, &p);
}

static void test_errors_are_precise(void)
{
    policy p;
    dm_err err;
    CHECK_INT(load("return { dpii = 200 }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "unknown policy key 'dpii' (did you mean 'dpi'?)");
    CHECK_INT(load("return { dpi = 9000 }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "'dpi' = 9000 is out of range");
    CHECK_INT(load("return { batch_size = 'ten' }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "'batch_size' must be a number");
    CHECK_INT(load("return { route = 5 }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "hook 'route' must be a function");
    CHECK_INT(load("return {\n dpi = 200,,\n}", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "p.lua:2:");
    CHECK_INT(load("x = 1\nreturn {}", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "policy sets global 'x'");
    CHECK_INT(load("return { languages = 'klingon' }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "not installed");
    CHECK_INT(load("return {\n first_page_languages = 'jnp',\n}", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "p.lua:2: first_page_languages: OCR language 'jnp' is not installed");
    CHECK_INT(load("return { dpi_min = 400 }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "dpi_min: 400 is above dpi_max (200)");
    CHECK_INT(load("return 42", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "must return a table");
    CHECK_INT(load("return { self_test = function() error('bad state') end }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "self_test failed");
    CHECK_INT(load("return { opensearch_mapping_file = 'nope.json' }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "opensearch_mapping_file: cannot open");
    write_policy("bad.json", "{\"settings\":{}}");
    CHECK_INT(load("return { opensearch_mapping_file = 'bad.json' }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "is not a JSON object with \"mappings\"");
    write_policy("good.json", "{\"mappings\":{\"properties\":{}}}");
    CHECK_INT(load("return { opensearch_mapping_file = 'good.json' }", &p, &err), 0);
    CHECK_CONTAINS(p.s.opensearch_mapping_file, "/good.json");
    CHECK(p.s.opensearch_mapping_file[0] == '/');  /* resolved next to the policy */
    policy_unload(L, &p);
    CHECK_INT(policy_load(L, "/nonexistent/policy.lua", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "cannot open");
    CHECK_INT(lua_gettop(L), 0);  /* failures leave the stack as it was */
}

static void test_endless_policy_is_stopped(void)
{
    policy p;
    dm_err err;
    int64_t t0 = dm_mono_ms();
    CHECK_INT(load("while true do end", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "ran longer than");
    /* A pcall around the loop cannot keep it going. */
    CHECK_INT(load("while true do pcall(function() while true do end end) end", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "ran longer than");
    CHECK_INT(load("return { self_test = function() while true do end end }", &p, &err), -1);
    CHECK_CONTAINS(err.msg, "ran longer than");
    CHECK(dm_mono_ms() - t0 < 12000);
    /* The state is usable (and JIT-enabled) after. */
    CHECK_INT(load("return { dpi = 150 }", &p, &err), 0);
    CHECK_INT(p.s.dpi, 150);
    policy_unload(L, &p);
}

static void test_hooks_are_bounded(void)
{
    policy p;
    dm_err err;
    CHECK_INT(load("return {\n"
                   "  hook_budget_ms = 100,\n"
                   "  needs_ocr = function(page) while true do end end,\n"
                   "  route = function(job)\n"
                   "    while true do pcall(function() while true do end end) end\n"
                   "  end,\n"
                   "  dpi = function(page) local n = 0 for i = 1, 1e5 do n = n + i end return 150 end,\n"
                   "}\n",
                   &p, &err),
              0);
    int64_t t0 = dm_mono_ms();
    lua_newtable(L);
    lua_pushinteger(L, 5);
    lua_setfield(L, 1, "chars");
    /* Over budget: the default decides (5 < text_min_chars: OCR). */
    CHECK(policy_needs_ocr(L, &p, 1));
    CHECK_STR(policy_route(L, &p, 1), "extract");
    CHECK(p.hook_errors == 2);
    /* A hook that finishes in time is not disturbed, and the state goes on. */
    CHECK_INT(policy_dpi(L, &p, 1), 150);
    CHECK(p.hook_errors == 2);
    int64_t took = dm_mono_ms() - t0;
    CHECK(took >= 200 && took < 5000);
    lua_settop(L, 0);
    policy_unload(L, &p);
}

static void test_bounded_calls_nest(void)
{
    /* The outer budget (300 ms, this chunk only) holds across an inner
     * bounded call: policy_check loads a policy under its own budget. */
    const char *path = write_policy("ok.lua", "return { dpi = 150 }\n");
    char code[900];
    snprintf(code, sizeof code,
             "local core = require 'docmill.core'\n"
             "assert(core.policy_check('%s'))\n"
             "local t = os.clock() while os.clock() - t < 10 do end\n",
             path);
    CHECK_INT(luaL_loadbuffer(L, code, strlen(code), "=t"), 0);
    /* Bounded code is kept out of the JIT, as policy files are. */
    luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    dm_err err;
    int64_t t0 = dm_mono_ms();
    CHECK_INT(lstate_pcall_bounded(L, 0, 0, 300, "=t", &err), -1);
    CHECK_CONTAINS(err.msg, "ran longer than 300 ms");
    CHECK(dm_mono_ms() - t0 < 1500);
    CHECK_INT(lua_gettop(L), 0);
}

static void test_value_errors_name_their_line(void)
{
    policy p;
    dm_err err;
    const char *path = write_policy("c5.xlarge.lua", "-- workers = 1\n"
                                                     "return {\n"
                                                     "  dpi = 200,\n"
                                                     "  workers = 3000,\n"
                                                     "}\n");
    CHECK_INT(policy_load(L, path, &p, &err), -1);
    char want[700];
    snprintf(want, sizeof want, "%s:4: 'workers' = 3000 is out of range (integer 0..256)", path);
    CHECK_STR(err.msg, want);
    path = write_policy("typo.lua", "return {\n  dpi = 200,\n  dpii = 300,\n}\n");
    CHECK_INT(policy_load(L, path, &p, &err), -1);
    snprintf(want, sizeof want, "%s:3: unknown policy key 'dpii' (did you mean 'dpi'?)", path);
    CHECK_STR(err.msg, want);
    path = write_policy("type.lua", "return { dpi = 200, ocr_skip_inverted = 'yes' }\n");
    CHECK_INT(policy_load(L, path, &p, &err), -1);
    CHECK_CONTAINS(err.msg, "type.lua:1: 'ocr_skip_inverted' must be a boolean, got string");
}

static void test_hooks_are_validated(void)
{
    policy p;
    dm_err err;
    int rc = load("local n = 0\n"
                  "return {\n"
                  "  dpi = function(page) if page.big then return 9000 end return 150 end,\n"
                  "  needs_ocr = function(page) if page.chars == 1 then return 'yes' end\n"
                  "                             if page.chars == 2 then return undefined_global end\n"
                  "                             return page.chars < 5 end,\n"
                  "  route = function(job) if job.size > 10 then return 'skip' end return 'teleport' end,\n"
                  "  languages = function(doc) return doc.want end,\n"
                  "  self_test = function(s) assert(s.batch_size == 100) end,\n"
                  "}\n",
                  &p, &err);
    CHECK_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    lua_newtable(L);
    CHECK_INT(policy_dpi(L, &p, 1), 150);
    lua_pushboolean(L, 1);
    lua_setfield(L, 1, "big");
    CHECK_INT(policy_dpi(L, &p, 1), 600);  /* clamped */
    CHECK_INT(p.hook_fallbacks, 1);
    lua_settop(L, 0);

    lua_newtable(L);
    lua_pushinteger(L, 3);
    lua_setfield(L, 1, "chars");
    CHECK(policy_needs_ocr(L, &p, 1));
    lua_pushinteger(L, 1);
    lua_setfield(L, 1, "chars");
    int64_t fallbacks_before = p.hook_fallbacks;
    /* 'yes' is not a boolean: the default, 1 < text_min_chars */
    CHECK(policy_needs_ocr(L, &p, 1));
    CHECK_INT(p.hook_fallbacks, fallbacks_before + 1);
    lua_pushinteger(L, 2);
    lua_setfield(L, 1, "chars");
    int64_t errors_before = p.hook_errors;
    CHECK(policy_needs_ocr(L, &p, 1));    /* raised: default */
    CHECK_INT(p.hook_errors, errors_before + 1);
    lua_settop(L, 0);

    lua_newtable(L);
    lua_pushinteger(L, 11);
    lua_setfield(L, 1, "size");
    CHECK_STR(policy_route(L, &p, 1), "skip");
    lua_pushinteger(L, 1);
    lua_setfield(L, 1, "size");
    CHECK_STR(policy_route(L, &p, 1), "extract");
    lua_settop(L, 0);

    char langs[64];
    lua_newtable(L);
    lua_pushstring(L, "eng");
    lua_setfield(L, 1, "want");
    const char *flag = "unset";
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "eng");
    CHECK(flag == NULL); /* a hook's answer is never a trial */
    lua_pushstring(L, "notalanguage");
    lua_setfield(L, 1, "want");
    policy_languages(L, &p, 1, langs, &flag);
    CHECK_STR(langs, "jpn+eng");
    lua_settop(L, 0);
    CHECK_INT(lua_gettop(L), 0);
    policy_unload(L, &p);
}

/* Pushes a first reading's figures and a page's progress for policy_retry. */
static void push_look(int confidence, const char *tried)
{
    lua_newtable(L);   /* page */
    lua_pushinteger(L, confidence);
    lua_setfield(L, -2, "confidence");
    lua_newtable(L);
    if (tried) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, tried);
    }
    lua_setfield(L, -2, "tried");
    lua_newtable(L);   /* first */
    lua_pushinteger(L, confidence);
    lua_setfield(L, -2, "confidence");
    lua_pushinteger(L, 400);
    lua_setfield(L, -2, "chars");
}

static void test_retry_hook_is_validated(void)
{
    policy p;
    dm_err err;
    /* Without a hook: the built-in step (a page read at 30: detect). */
    CHECK_INT(policy_load(L, NULL, &p, &err), 0);
    push_look(30, NULL);
    look_step s = policy_retry(L, &p, 1, 2);
    CHECK_STR(look_action_names[s.action], "orientation");
    lua_settop(L, 0);
    policy_unload(L, &p);

    int rc = load("return { retry = function(page, first)\n"
                  "  if first.confidence == 10 then return { rotate = 90 } end\n"
                  "  if first.confidence == 11 then return { deskew = 2.5 } end\n"
                  "  if first.confidence == 12 then return { rotate = 45 } end\n"
                  "  if first.confidence == 13 then return 'sideways' end\n"
                  "  if first.confidence == 14 then error('boom') end\n"
                  "  if first.confidence == 15 then return nil end\n"
                  "  return 'mixed' end }\n",
                  &p, &err);
    CHECK_INT(rc, 0);
    if (rc != 0)
        return;
    push_look(10, NULL);
    s = policy_retry(L, &p, 1, 2);
    CHECK_INT(s.action, LOOK_ROTATE);
    CHECK_INT(s.degrees, 90);
    lua_settop(L, 0);
    push_look(11, NULL);
    s = policy_retry(L, &p, 1, 2);
    CHECK_INT(s.action, LOOK_DESKEW);
    CHECK(s.degrees == 2.5);
    lua_settop(L, 0);
    int64_t fallbacks = p.hook_fallbacks, errors = p.hook_errors;
    push_look(12, NULL);   /* not a quarter turn */
    CHECK_INT(policy_retry(L, &p, 1, 2).action, LOOK_ORIENTATION);
    lua_settop(L, 0);
    push_look(13, NULL);   /* not a step */
    CHECK_INT(policy_retry(L, &p, 1, 2).action, LOOK_ORIENTATION);
    lua_settop(L, 0);
    push_look(16, "mixed");   /* a step already taken */
    CHECK_INT(policy_retry(L, &p, 1, 2).action, LOOK_ORIENTATION);
    lua_settop(L, 0);
    CHECK_INT(p.hook_fallbacks, fallbacks + 3);
    push_look(14, NULL);   /* raised */
    CHECK_INT(policy_retry(L, &p, 1, 2).action, LOOK_ORIENTATION);
    CHECK_INT(p.hook_errors, errors + 1);
    lua_settop(L, 0);
    push_look(15, NULL);   /* nil: the built-in step, no fallback counted */
    CHECK_INT(policy_retry(L, &p, 1, 2).action, LOOK_ORIENTATION);
    CHECK_INT(p.hook_fallbacks, fallbacks + 3);
    lua_settop(L, 0);
    push_look(16, NULL);
    CHECK_INT(policy_retry(L, &p, 1, 2).action, LOOK_MIXED);
    lua_settop(L, 0);
    CHECK_INT(lua_gettop(L), 0);
    policy_unload(L, &p);
}

int main(void)
{
    dm_err err;
    L = lstate_new(&env, &err);
    if (!L) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    static const check_case cases[] = {
        {"the built-in default policy loads and matches the C defaults", test_builtin_default},
        {"needs_ocr default from text_min_chars and max_bad_char_ratio", test_needs_ocr_default_without_hook},
        {"typos, bad types, ranges, syntax and globals fail with precise messages", test_errors_are_precise},
        {"hook results are validated: clamped, or the default with a count", test_hooks_are_validated},
        {"the retry hook's steps are checked; nil, nonsense or an error: the built-in step", test_retry_hook_is_validated},
        {"an endless policy file is stopped at load, even inside pcall", test_endless_policy_is_stopped},
        {"every hook call is bounded by hook_budget_ms; over it, the default", test_hooks_are_bounded},
        {"value errors name the file and line of the key", test_value_errors_name_their_line},
        {"a bounded call keeps its budget across an inner one", test_bounded_calls_nest},
        {NULL, NULL}};
    int rc = check_run(cases);
    lstate_close(L);
    return rc;
}
