/* worker: one thread of the pool. Everything it touches it creates on its
 * own thread and frees there: the Lua state (pipeline + policy), the MuPDF
 * context, the Tesseract engine, the index connection. */
#ifndef DOCMILL_WORKER_H
#define DOCMILL_WORKER_H

#include "lstate.h"
#include "policy.h"
#include "runtime.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct worker {
    pthread_t thread;
    int id;
    runtime *rt;
    const runtime_config *cfg;
    /* Set by the thread once it has initialised (1) or failed (-1). */
    atomic_int ready;
    dm_err init_err;
    atomic_bool exited;
} worker;

int worker_start(worker *w, runtime *rt, int id, const runtime_config *cfg, dm_err *err);
void worker_join(worker *w);

/* Builds the state a worker runs the pipeline in: fresh C resources,
 * bindings, the policy (owned by env) and the pipeline module. Frees
 * everything on failure. */
lua_State *worker_state_new(lstate_env *env, const char *policy_path, const char *index_uri,
                            int worker_id, dm_err *err);

#endif
