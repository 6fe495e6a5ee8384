/* docmill's entry point: make sure the process environment is right for
 * Tesseract, build the CLI's Lua state, and hand argv to lua/docmill/cli.lua,
 * which parses commands and calls the C primitives. */
#include "cli/bind_cli.h"
#include "extract/doc.h"
#include "net/http.h"
#include "base/log.h"
#include "luabridge/lstate.h"
#include "extract/ocr.h"
#include "luabridge/policy.h"
#include "ops/supervisor.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Debian's Tesseract opens an OpenMP team at every LSTM step; with one
 * worker thread per core that oversubscribes the machine about 6x.
 * libgomp reads OMP_THREAD_LIMIT once, when it is loaded — before main() —
 * so setting it here needs a re-exec of ourselves. */
static void ensure_single_threaded_openmp(char **argv)
{
    if (getenv("OMP_THREAD_LIMIT"))
        return;
    setenv("OMP_THREAD_LIMIT", "1", 1);
    execv("/proc/self/exe", argv);
    /* If re-exec is impossible, run anyway: slower, still correct. */
    fprintf(stderr, "docmill: warning: could not re-exec with OMP_THREAD_LIMIT=1; OCR will be slow\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        ignore_reload_signals();  /* until the runtime handles them */
    ensure_single_threaded_openmp(argv);
    http_global_init();
    log_format lf;
    const char *fmt = getenv("DOCMILL_LOG_FORMAT");
    if (log_parse_format(fmt && *fmt ? fmt : "auto", &lf) == 0)
        log_set_format(lf);
    if (getenv("DOCMILL_LOG_LEVEL")) {
        log_level lv;
        if (log_parse_level(getenv("DOCMILL_LOG_LEVEL"), &lv) == 0)
            log_set_level(lv);
    }
    lstate_env env = {.worker_id = -1};
    dm_err err;
    env.docs = doc_ctx_new(16u << 20, &err);
    if (!env.docs) {
        fprintf(stderr, "docmill: %s\n", err.msg);
        return 2;
    }
    env.ocr = ocr_engine_new(NULL);
    lua_State *L = lstate_new(&env, &err);
    if (!L) {
        fprintf(stderr, "docmill: %s\n", err.msg);
        return 2;
    }
    bind_cli_register(L);
    int status = 2;
    if (lstate_require(L, "docmill.cli", &err) == 0) {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        if (lstate_pcall(L, 1, 1, &err) == 0) {
            status = (int)luaL_optinteger(L, -1, 0);
        } else {
            fprintf(stderr, "docmill: internal error: %s\n", err.msg);
            status = 70;
        }
    } else {
        fprintf(stderr, "docmill: %s\n", err.msg);
    }
    lstate_close_env(L, &env);
    fflush(stdout);
    return status;
}
