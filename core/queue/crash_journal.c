#include "queue/crash_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int journal_fd = -1;
static __thread int64_t current_job;

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NFATAL ((int)(sizeof fatal_signals / sizeof fatal_signals[0]))

void crash_journal_set_job(int64_t job_id) { current_job = job_id; }
int64_t crash_journal_job(void) { return current_job; }

void crash_journal_note(int64_t job_id, int sig)
{
    if (journal_fd < 0 || job_id <= 0)
        return;
    /* No stdio here: this runs inside a signal handler. "ID SIG\n". */
    char buf[40];
    int n = sizeof buf;
    buf[--n] = '\n';
    unsigned s = sig > 0 ? (unsigned)sig : 0;
    do {
        buf[--n] = (char)('0' + s % 10);
        s /= 10;
    } while (s && n > 0);
    buf[--n] = ' ';
    uint64_t v = (uint64_t)job_id;
    do {
        buf[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n > 0);
    ssize_t w = write(journal_fd, buf + n, (size_t)(sizeof buf - (size_t)n));
    (void)w;
}

static void on_fatal(int sig)
{
    crash_journal_note(current_job, sig);
    /* SA_RESETHAND put the default action back: die of the same signal,
     * so the supervisor sees what happened. */
    raise(sig);
}

int crash_journal_open(const char *path, dm_err *err)
{
    if (path) {
        journal_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (journal_fd < 0) {
            dm_err_set(err, false, "cannot open the crash journal %s: %s", path, strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < NFATAL; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal;
        sa.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
    return 0;
}

void crash_journal_close(void)
{
    if (journal_fd >= 0)
        close(journal_fd);
    journal_fd = -1;
}

void crash_describe(int sig, char *buf, size_t cap)
{
    if (sig > 0)
        snprintf(buf, cap, "process died of signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(buf, cap, "was stuck past its page deadline");
}

int crash_journal_take(const char *path, int64_t *ids, int max, int *sig)
{
    *sig = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    long long v;
    int s;
    while (n < max && fscanf(f, "%lld %d", &v, &s) == 2) {
        if (v > 0) {
            ids[n++] = (int64_t)v;
            *sig = s;
        }
    }
    fclose(f);
    unlink(path);
    return n;
}
