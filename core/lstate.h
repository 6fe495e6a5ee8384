/* lstate: the one function that builds every Lua state (CLI, workers,
 * validation), the one pcall wrapper every C→Lua call goes through, and the
 * per-state environment the bindings reach: the C resources this state's
 * thread owns. Lua never frees those; C does, after lstate_close. */
#ifndef DOCMILL_LSTATE_H
#define DOCMILL_LSTATE_H

#include "common.h"
#include "doc.h"
#include "index.h"
#include "ocr.h"

#include <lua.h>

typedef struct embedded_module {
    const char *name;
    const unsigned char *code;
    const unsigned long *size;
} embedded_module;

/* Generated at build time from lua/ and policies/default.lua. */
extern const embedded_module embedded_modules[];

struct policy;
struct runtime;

/* Everything here is owned by the env and freed by lstate_close_env. */
typedef struct lstate_env {
    int worker_id;           /* -1 outside the worker pool */
    doc_ctx *docs;
    ocr_engine *ocr;         /* Tesseract instances load lazily inside */
    index_sink *index;       /* NULL until opened */
    struct policy *policy;   /* NULL until loaded; heap-allocated */
    struct runtime *rt;      /* a worker's runtime; NULL outside `docmill run` */
    /* The REPL state on the loop thread: may read and steer the runtime
     * (stats, pause, reload...). NULL in every other state. */
    struct runtime *control_rt;
    /* Jobs handed to this state's pipeline and not completed yet: what a
     * worker hands back for retry when the pipeline breaks. */
    int64_t *open_jobs;
    int nopen, open_cap;
} lstate_env;

/* Opens the standard libraries, cjson, the docmill primitives, and the
 * embedded modules (as package.preload entries). */
lua_State *lstate_new(lstate_env *env, dm_err *err);
void lstate_close(lua_State *L);
/* Unloads the policy, closes the state (running the __gc of documents and
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
/* require(name), leaving the module on the stack. */
int lstate_require(lua_State *L, const char *name, dm_err *err);
const embedded_module *lstate_find_embedded(const char *name);

#endif
