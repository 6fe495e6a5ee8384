/* lstate: the one function that builds every Lua state (CLI, workers,
 * validation), the one pcall wrapper every C→Lua call goes through, and the
 * per-state environment the bindings reach: the C resources this state's
 * thread owns. Lua never frees those; C does, after lstate_close. */
#ifndef DOCMILL_LSTATE_H
#define DOCMILL_LSTATE_H

#include "base/common.h"
#include "extract/doc.h"
#include "index/index.h"
#include "queue/job.h"
#include "extract/ocr.h"

#include <lauxlib.h>
#include <lua.h>

typedef struct embedded_module {
    const char *name;
    const unsigned char *code;
    const unsigned long *size;
} embedded_module;

/* Generated at build time from lua/ and policies/default.lua. */
extern const embedded_module embedded_modules[];

struct policy;
struct bulk_buffer;
struct page_board;
struct content_claims;

/* What a worker's pipeline reaches of the process it runs in, set by the
 * worker (daemon/worker.c) before the state is built: the bindings call
 * these verbs and never include the runtime. Thread-safe. */
typedef struct lstate_host {
    /* Hands a finished job back (to the runtime's loop thread). */
    void (*complete)(void *ud, const job_result *r);
    /* The process's indexing buffer. */
    struct bulk_buffer *(*bulk)(void *ud);
    /* The board of page ranges shared between workers; NULL when alone. */
    struct page_board *(*page_board)(void *ud);
    /* Which content hashes the workers are extracting now. */
    struct content_claims *(*claims)(void *ud);
} lstate_host;

/* Everything here is owned by the env and freed by lstate_close_env. */
typedef struct lstate_env {
    int worker_id;           /* -1 outside the worker pool */
    doc_ctx *docs;
    ocr_engine *ocr;         /* Tesseract instances load lazily inside */
    index_sink *index;       /* NULL until opened */
    struct policy *policy;   /* NULL until loaded; heap-allocated */
    /* A worker's host; NULL outside `docmill run`, where the state has no
     * docmill.job module. */
    const lstate_host *host;
    void *host_ud;
    /* Jobs handed to this state's pipeline and not completed yet: what a
     * worker hands back for retry when the pipeline breaks. */
    int64_t *open_jobs;
    int nopen, open_cap;
} lstate_env;

/* The one constructor of every Lua state: the standard libraries, cjson,
 * the embedded modules (as package.preload entries), docmill.core (the
 * primitives) and, when env->host is set, docmill.job (the worker's verbs).
 * Layers above add their own modules to the states they own (the REPL's
 * docmill.control, the CLI's docmill.cli.core). */
lua_State *lstate_new(lstate_env *env, dm_err *err);
void lstate_close(lua_State *L);
/* Closes the state (running the __gc of documents and
 * rasters, which still need the MuPDF context), then frees the env's C
 * resources. L may be NULL. */
void lstate_close_env(lua_State *L, lstate_env *env);
void lstate_env_open_job(lstate_env *env, int64_t id);
/* False when the job was not open (already completed). */
bool lstate_env_close_job(lstate_env *env, int64_t id);
lstate_env *lstate_get_env(lua_State *L);
/* Calls the function below nargs arguments with a traceback handler. On
 * error the message (with traceback) is in err, the stack is restored to
 * what it was below the function, and -1 is returned. */
int lstate_pcall(lua_State *L, int nargs, int nresults, dm_err *err);
/* lstate_pcall under a time budget (Redis's count hook): past budget_ms the
 * call raises "stopped: ran longer than N ms", and keeps raising at every
 * instruction so a pcall inside cannot keep it going. only_source, when not
 * NULL, limits that to functions of that chunk (the REPL's own code must
 * still format the error). Count hooks do not fire in compiled traces: code
 * meant to be bounded is kept out of the JIT (policy files are; the REPL
 * state runs interpreted). */
int lstate_pcall_bounded(lua_State *L, int nargs, int nresults, int budget_ms,
                         const char *only_source, dm_err *err);
/* The one full collection: Lua's GC and MuPDF's store emptied; what the
 * state held before and after, in KB. */
void lstate_collect(lua_State *L, int *before_kb, int *after_kb);
/* package.loaded[name] = the table on top of the stack, which is popped. */
void lstate_publish(lua_State *L, const char *name);
/* Registers fns as module `name` (require-able, in package.loaded). */
void lstate_register_module(lua_State *L, const char *name, const luaL_Reg *fns);
/* require(name), leaving the module on the stack. */
int lstate_require(lua_State *L, const char *name, dm_err *err);
const embedded_module *lstate_find_embedded(const char *name);

#endif
