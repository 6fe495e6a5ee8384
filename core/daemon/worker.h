/* worker: one thread of the pool. Everything it touches it creates on its
 * own thread and frees there: the Lua state (pipeline + policy), the MuPDF
 * context, the Tesseract engine, the index connection. */
#ifndef DOCMILL_WORKER_H
#define DOCMILL_WORKER_H

#include "luabridge/lstate.h"
#include "luabridge/policy.h"
#include "daemon/runtime.h"

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
    /* What the worker is doing, for the REPL and metrics: written by the
     * worker at job boundaries, read by the loop thread, under mu. */
    pthread_mutex_t mu;
    int64_t job_id;          /* 0 = idle */
    char job_source[512];
    int64_t job_started_ms;  /* monotonic */
    int64_t jobs_done;
    int64_t ranges_done;     /* page ranges of other workers' documents */
    int64_t lua_heap_kb;
    int64_t mupdf_kb;
    /* The worker's MuPDF context, for the watchdog to read its deadline
     * (NULL before init and after exit). */
    doc_ctx *docs;
    /* Time at work (a job, or a range of another worker's pages) for the
     * run's summary: where a run's wall time goes besides the work itself.
     * Written by the worker only; read once it has been joined. */
    int64_t busy_ms;
    int64_t first_work_ms, last_work_ms;   /* monotonic; 0 = no work yet */
} worker;

/* Loop thread: aborts the worker's current page when its deadline has
 * passed; true when the worker is still on it long after (stuck in code
 * that never checks), which only a process restart can end. */
bool worker_is_stuck(worker *w, int64_t now_ms, int64_t grace_ms);

typedef struct worker_status {
    int id;
    const char *state;       /* "starting", "idle", "busy", "exited" */
    int64_t job_id;
    char source[512];
    int64_t elapsed_ms;
    int64_t jobs_done, ranges_done, lua_heap_kb, mupdf_kb;
} worker_status;

/* Loop thread: a consistent copy of what w is doing. */
void worker_get_status(worker *w, worker_status *out);

int worker_start(worker *w, runtime *rt, int id, const runtime_config *cfg, dm_err *err);
void worker_join(worker *w);

/* Builds the state a worker runs the pipeline in: fresh C resources,
 * bindings (docmill.job reaching rt, when not NULL), the policy (owned by
 * env) and the pipeline module. Frees everything on failure. */
lua_State *worker_state_new(lstate_env *env, const char *policy_path, const char *index_uri,
                            int worker_id, runtime *rt, dm_err *err);

#endif
