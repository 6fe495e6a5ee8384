/* Fuzzes the policy loader (policy.c) and the config loader
 * (lua/docmill/config.lua, which has no C entry point: it is called through
 * lstate_pcall as the CLI does) with the input as the Lua source of a policy
 * file and of a config file. Checks, beyond memory safety and UB: a load
 * either succeeds with every setting inside its declared range or fails
 * with a message and the Lua stack as it was; config.load returns a table or
 * nil and a message and never raises; and neither leaves anything behind in
 * the shared state — the standard libraries (string, math, table, os) that
 * the sandbox hands to policy code are still the ones the pipeline's own
 * Lua code relies on.
 *
 * The input is arbitrary code, so the harness bounds it the way the style
 * guide asks of policy code (STYLE.md 13): the JIT is off so that an
 * instruction-count hook fires, and an allocator wrapper caps the Lua heap.
 * policy_load runs inside lua_cpcall so that the cap, should it strike in
 * policy_load's own unprotected pushes, unwinds instead of panicking. */
#include "luabridge/lstate.h"
#include "base/log.h"
#include "luabridge/policy.h"

#include <lauxlib.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_require.h"

#define HOOK_EVERY 1000          /* VM instructions between two budget checks */
#define BUDGET_TICKS 2000        /* so 2 million instructions per load */
#define HEAP_CAP (64L << 20)     /* Lua bytes an input may hold at once */

static lua_State *L;
static lstate_env env = {.worker_id = -1};
static char input_dir[64];
static char input_path[96];

static long ticks_left;
static bool out_of_budget;       /* the hook raised: what follows may fail anyhow */
static lua_Alloc real_alloc;
static void *real_alloc_ud;
static long heap_used;           /* since the cap was installed */
static bool out_of_heap;

/* Past the budget, every instruction raises again (as the REPL's budget
 * does), so a pcall around a runaway loop cannot keep it going. */
static void count_hook(lua_State *Ls, lua_Debug *ar)
{
    (void)ar;
    if (--ticks_left >= 0)
        return;
    if (!out_of_budget) {
        out_of_budget = true;
        lua_sethook(Ls, count_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(Ls, "fuzz: instruction budget spent");
}

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    long before = ptr ? (long)osize : 0;
    if (nsize > 0 && (long)nsize > before && heap_used + ((long)nsize - before) > HEAP_CAP) {
        out_of_heap = true;
        return NULL;
    }
    void *p = real_alloc(real_alloc_ud, ptr, osize, nsize);
    if (p || nsize == 0)
        heap_used += (long)nsize - before;
    return p;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Snapshots the libraries policy code can reach, and checks them against
 * the snapshot: returns the first entry that changed, or nothing. */
static const char *LIBS_GUARD =
    "local libs = {'string', 'math', 'table', 'os'}\n"
    "local snap = {}\n"
    "for _, name in ipairs(libs) do\n"
    "  local t, copy = _G[name], {}\n"
    "  for k, v in pairs(t) do copy[k] = v end\n"
    "  snap[name] = {t = t, copy = copy}\n"
    "end\n"
    "local globals = {}\n"
    "for k, v in pairs(_G) do globals[k] = v end\n"
    "return function()\n"
    "  for k, v in pairs(globals) do\n"
    "    if rawget(_G, k) ~= v then return 'global ' .. tostring(k) end\n"
    "  end\n"
    "  for k in pairs(_G) do\n"
    "    if globals[k] == nil then return 'new global ' .. tostring(k) end\n"
    "  end\n"
    "  for name, s in pairs(snap) do\n"
    "    for k, v in pairs(s.copy) do\n"
    "      if rawget(s.t, k) ~= v then return name .. '.' .. tostring(k) end\n"
    "    end\n"
    "    for k in pairs(s.t) do\n"
    "      if s.copy[k] == nil then return name .. '.' .. tostring(k) .. ' (new)' end\n"
    "    end\n"
    "  end\n"
    "end\n";
static int guard_ref = LUA_NOREF;
static int config_ref = LUA_NOREF;

/* At exit, so that LeakSanitizer sees the state's C allocations freed. */
static void close_state(void)
{
    unlink(input_path);
    rmdir(input_dir);
    lstate_close(L);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);  /* hook warnings and policy log() calls */
    dm_err err;
    L = lstate_new(&env, &err);
    if (!L) {
        fprintf(stderr, "lstate_new: %s\n", err.msg);
        abort();
    }
    /* config.load needs the module loaded once, outside any budget. */
    if (lstate_require(L, "docmill.config", &err) != 0) {
        fprintf(stderr, "require docmill.config: %s\n", err.msg);
        abort();
    }
    lua_getfield(L, -1, "load");
    config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushstring(L, "docmill.default_config");
    lua_call(L, 1, 0);
    REQUIRE(luaL_loadstring(L, LIBS_GUARD) == 0);
    lua_call(L, 0, 1);
    guard_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    REQUIRE(lua_gettop(L) == 0);

    lua_gc(L, LUA_GCCOLLECT, 0);
    real_alloc = lua_getallocf(L, &real_alloc_ud);
    lua_setallocf(L, capped_alloc, NULL);

    /* The input goes to a file of its own folder (tmpfs when there is
     * one), where a relative opensearch_mapping_file finds nothing. */
    snprintf(input_dir, sizeof input_dir, "%s/docmill-fuzz-policy-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(input_dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(input_path, sizeof input_path, "%s/policy.lua", input_dir);
    atexit(close_state);
    return 0;
}

static void write_input(const unsigned char *data, size_t size)
{
    FILE *f = fopen(input_path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, size, f) == size);
    REQUIRE(fclose(f) == 0);
}

typedef struct load_call {
    policy p;
    dm_err err;
    int rc;
} load_call;

static int run_policy_load(lua_State *Ls)
{
    load_call *c = lua_touserdata(Ls, 1);
    lua_pop(Ls, 1);
    c->rc = policy_load(Ls, input_path, &c->p, &c->err);
    REQUIRE(lua_gettop(Ls) == 0);  /* success or failure, the stack as it was */
    return 0;
}

static void check_settings(const policy_settings *s)
{
    const char *base = (const char *)s;
    for (const setting_spec *sp = settings_schema; sp->name; sp++) {
        double v;
        switch (sp->type) {
        case SETTING_INT:
            v = *(const int *)(base + sp->offset);
            break;
        case SETTING_NUM:
            v = *(const double *)(base + sp->offset);
            break;
        case SETTING_BOOL:
            continue;
        case SETTING_STR:
            v = (double)strlen(base + sp->offset);
            break;
        default:
            abort();
        }
        if (!(v >= sp->min && v <= sp->max)) {
            fprintf(stderr, "setting %s = %g is outside %g..%g\n", sp->name, v, sp->min, sp->max);
            abort();
        }
    }
}

static void arm(void)
{
    /* Again each time: policy_load switches the JIT back on after the
     * chunk it bounds itself. */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    ticks_left = BUDGET_TICKS;
    out_of_budget = false;
    out_of_heap = false;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

static void disarm(void)
{
    lua_sethook(L, NULL, 0, 0);
}

static void load_policy(void)
{
    load_call c;
    memset(&c, 0, sizeof c);
    c.rc = -2;
    arm();
    int status = lua_cpcall(L, run_policy_load, &c);
    disarm();
    if (status != 0) {
        /* Only the harness's own bounds may unwind policy_load. */
        if (!out_of_heap && !out_of_budget) {
            fprintf(stderr, "policy_load raised: %s\n", lua_tostring(L, -1));
            abort();
        }
        lua_pop(L, 1);
        return;
    }
    REQUIRE(c.rc == 0 || c.rc == -1);
    if (c.rc == 0) {
        check_settings(&c.p.s);
        for (int i = 0; i < HOOK_COUNT; i++)
            REQUIRE(c.p.hook_ref[i] == LUA_NOREF || c.p.hook_ref[i] > 0);
        policy_unload(L, &c.p);
    } else {
        REQUIRE(c.err.msg[0] != '\0');
    }
}

static void load_config(void)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, config_ref);
    lua_pushstring(L, input_path);
    dm_err err;
    arm();
    int rc = lstate_pcall(L, 1, 2, &err);
    disarm();
    if (rc != 0) {
        if (!out_of_heap && !out_of_budget) {
            fprintf(stderr, "config.load raised: %s\n", err.msg);
            abort();
        }
        return;
    }
    if (lua_isnil(L, -2))
        REQUIRE(lua_type(L, -1) == LUA_TSTRING || out_of_heap || out_of_budget);
    else
        REQUIRE(lua_istable(L, -2));
    lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    write_input(data, size);
    load_policy();
    REQUIRE(lua_gettop(L) == 0);
    load_config();
    REQUIRE(lua_gettop(L) == 0);

    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, guard_ref);
    dm_err err;
    if (lstate_pcall(L, 0, 1, &err) != 0) {
        fprintf(stderr, "the state check failed: %s\n", err.msg);
        abort();
    }
    if (!lua_isnil(L, -1)) {
        fprintf(stderr, "the input changed the shared Lua state: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pop(L, 1);
    return 0;
}
