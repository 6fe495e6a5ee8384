/* supervisor: crash isolation for `docmill run`. The process forks; the
 * child runs the runtime (its worker threads, each with its own Lua state);
 * the parent, which holds nothing but this loop, forwards signals to it and
 * starts a fresh child when one dies of a signal (SIGSEGV, abort, the OOM
 * killer's SIGKILL) or exits with DOCMILL_EXIT_STUCK. The new child's
 * queue recovery reclaims the dead child's jobs and counts a crash against
 * each, so a file that kills the process twice is quarantined (max_crashes)
 * instead of crash-looping. Any other exit ends the supervisor with the
 * same status. */
#ifndef DOCMILL_SUPERVISOR_H
#define DOCMILL_SUPERVISOR_H

#include "base/common.h"

/* The exit status of a worker process whose watchdog found a worker stuck
 * past its page deadline: restarted as a crashed one is (EX_SOFTWARE). */
#define DOCMILL_EXIT_STUCK 70

typedef struct supervisor_opts {
    int backoff_min_ms;  /* first restart delay; doubles per crash in a row */
    int backoff_max_ms;
    int healthy_ms;      /* a child that lived this long resets the backoff */
} supervisor_opts;

/* `docmill run` is reloaded (SIGHUP) and cleaned (SIGUSR1, SIGUSR2) by
 * signals that kill by default. Wherever the runtime is not handling them
 * (before it starts, while libuv closes its handles, once it is done, in
 * the supervisor after its child ended) they are ignored: a reload that
 * comes at such a moment has nothing to do but must not kill. */
void ignore_reload_signals(void);

/* Returns -1 in the child (go on and run), or, in the parent, the exit
 * status to end with once the child ended for good. restarts (may be NULL)
 * counts the crashes survived. */
int supervise(const supervisor_opts *opts, int *restarts, dm_err *err);

#endif
