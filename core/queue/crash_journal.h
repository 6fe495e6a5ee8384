/* crash_journal: which job a dying worker process was on. Each worker
 * thread says what job it works on; a fatal signal (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGABRT) writes that job's id to a small file before the process
 * dies, and the watchdog writes the stuck job's. The next process reads it
 * when it recovers the dead process's leases: only the named jobs count a
 * crash, the others go back to the queue uncharged. When nothing was
 * written (SIGKILL from the OOM killer) every job in flight counts one. */
#ifndef DOCMILL_CRASH_JOURNAL_H
#define DOCMILL_CRASH_JOURNAL_H

#include "base/common.h"

#define CRASH_JOURNAL_MAX 16

/* Opens (creating, mode 0600) the journal and installs the handlers; NULL
 * path = only track jobs. Call once, before the worker threads start. */
int crash_journal_open(const char *path, dm_err *err);
void crash_journal_close(void);
/* The calling thread's current job (0 = none). */
void crash_journal_set_job(int64_t job_id);
int64_t crash_journal_job(void);
/* Records a job as the culprit now, with the fatal signal (0 = stuck);
 * async-signal-safe. */
void crash_journal_note(int64_t job_id, int sig);
/* How a worker process died, as a quarantine reason reads it after "its
 * worker ": signal > 0, or 0 for stuck past its page deadline. */
void crash_describe(int sig, char *buf, size_t cap);
/* Reads and removes the journal: the culprits' ids (at most max), and in
 * *sig the last one's signal (0 = stuck, -1 = nothing recorded). */
int crash_journal_take(const char *path, int64_t *ids, int max, int *sig);
/* (No alternate signal stack: a real stack overflow dies unrecorded, and
 * then every job in flight counts the crash.) */

#endif
