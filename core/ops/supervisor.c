#include "ops/supervisor.h"

#include "queue/crash_journal.h"
#include "base/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t stopping;

/* Signals for the worker go straight on to it; kill() is async-signal-safe. */
static void forward(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        stopping = 1;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};
#define NFORWARDED ((int)(sizeof forwarded / sizeof forwarded[0]))

void ignore_reload_signals(void)
{
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
}

static void set_handlers(void (*fn)(int))
{
    for (int i = 0; i < NFORWARDED; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = fn;
        sigemptyset(&sa.sa_mask);
        sigaction(forwarded[i], &sa, NULL);
    }
}

/* The supervisor's dispositions once it is done: a late reload (say
 * `systemctl reload` racing the exit) must not change its exit status. */
static void settle(void)
{
    set_handlers(SIG_DFL);
    ignore_reload_signals();
}

/* Unlike dm_sleep_ms, a stop request cuts the wait short. */
static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stopping) {
    }
}

/* A child that must not outlive its supervisor (kill -9 of the parent
 * takes the worker with it, as it did before there was a supervisor). */
static int become_child(pid_t parent, const sigset_t *old)
{
    set_handlers(SIG_DFL);
    ignore_reload_signals();
    sigprocmask(SIG_SETMASK, old, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);
    return -1;
}

int supervise(const supervisor_opts *opts, int *restarts, dm_err *err)
{
    supervisor_opts o = {1000, 30000, 60000};
    if (opts)
        o = *opts;
    if (restarts)
        *restarts = 0;
    pid_t parent = getpid();
    int crashes_in_row = 0;
    stopping = 0;
    set_handlers(forward);
    for (;;) {
        /* Whatever the parent buffered must not be written twice. */
        fflush(NULL);
        int64_t started = dm_mono_ms();
        /* A signal that comes while the child is being made waits until
         * child_pid names it, so it is passed on, not lost. */
        sigset_t block, old;
        sigemptyset(&block);
        for (int i = 0; i < NFORWARDED; i++)
            sigaddset(&block, forwarded[i]);
        sigprocmask(SIG_BLOCK, &block, &old);
        pid_t pid = fork();
        if (pid < 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            settle();
            dm_err_set(err, false, "cannot start the worker process: %s", strerror(errno));
            return 1;
        }
        if (pid == 0)
            return become_child(parent, &old);
        child_pid = pid;
        sigprocmask(SIG_SETMASK, &old, NULL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        child_pid = 0;
        bool crashed = WIFSIGNALED(status) ||
                       (WIFEXITED(status) && WEXITSTATUS(status) == DOCMILL_EXIT_STUCK);
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        /* A child ended by the signal the operator sent is a clean stop. */
        if (!crashed || (stopping && (sig == SIGTERM || sig == SIGINT))) {
            settle();
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + sig;
        }
        int64_t lived = dm_mono_ms() - started;
        if (lived >= o.healthy_ms)
            crashes_in_row = 0;
        int64_t backoff = dm_backoff_ms(++crashes_in_row, o.backoff_min_ms, o.backoff_max_ms);
        if (restarts)
            (*restarts)++;
        if (sig)
            log_error("the worker process %d died of signal %d (%s) after %.1f s: restarting it in "
                      "%.1f s; its jobs in flight count a crash",
                      (int)pid, sig, strsignal(sig), (double)lived / 1000, (double)backoff / 1000);
        else
            log_error("the worker process %d exited stuck after %.1f s: restarting it in %.1f s; "
                      "its jobs in flight count a crash",
                      (int)pid, (double)lived / 1000, (double)backoff / 1000);
        /* The next worker process says how this one died when it
         * quarantines a job (a SIGKILL leaves no crash journal). */
        char last[128];
        crash_describe(sig, last, sizeof last);
        setenv("DOCMILL_LAST_CRASH", last, 1);
        sleep_ms(backoff);
        if (stopping) {
            settle();
            return 0;
        }
    }
}
