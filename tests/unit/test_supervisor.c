/* The supervisor (restart on crash, pass signals on, propagate the exit
 * status) and the watchdog's view of a worker past its page deadline. */
#include "check.h"
#include "extract/doc.h"
#include "daemon/runtime.h"
#include "ops/supervisor.h"
#include "daemon/worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const supervisor_opts fast = {10, 40, 60000};

/* The child's run number, kept in a file (each run is a fresh process). */
static int next_run(const char *path)
{
    int n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = 0;
        fclose(f);
    }
    f = fopen(path, "w");
    fprintf(f, "%d\n", n + 1);
    fclose(f);
    return n + 1;
}

static void test_clean_exit_is_propagated(void)
{
    int restarts = -1;
    dm_err err;
    int rc = supervise(&fast, &restarts, &err);
    if (rc < 0)
        _exit(3);  /* the child: "some files failed" */
    CHECK_INT(rc, 3);
    CHECK_INT(restarts, 0);
}

static void test_crashes_restart_until_a_clean_exit(void)
{
    char path[] = "/tmp/docmill-test-supervisor-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    int restarts = -1;
    dm_err err;
    int rc = supervise(&fast, &restarts, &err);
    if (rc < 0) {
        int run = next_run(path);
        if (run == 1)
            abort();                    /* a crash (SIGABRT: ASan leaves it alone) */
        if (run == 2)
            _exit(DOCMILL_EXIT_STUCK);  /* the watchdog's exit */
        if (run == 3)
            raise(SIGKILL);             /* what the OOM killer sends */
        _exit(0);
    }
    CHECK_INT(rc, 0);
    CHECK_INT(restarts, 3);
    FILE *f = fopen(path, "r");
    int runs = 0;
    CHECK(f && fscanf(f, "%d", &runs) == 1);
    if (f)
        fclose(f);
    CHECK_INT(runs, 4);
    unlink(path);
}

static void test_sigterm_is_passed_on_and_not_restarted(void)
{
    int restarts = -1;
    dm_err err;
    int rc = supervise(&fast, &restarts, &err);
    if (rc < 0) {
        /* The operator's SIGTERM reaches the supervisor; the child has the
         * default action, so the forwarded signal ends it. */
        kill(getppid(), SIGTERM);
        for (;;)
            pause();
    }
    CHECK_INT(rc, 128 + SIGTERM);
    CHECK_INT(restarts, 0);
}

static void test_watchdog_sees_a_stuck_worker(void)
{
    dm_err err;
    worker w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    CHECK(!worker_is_stuck(&w, dm_mono_ms(), 1000));  /* no context yet */
    w.docs = doc_ctx_new(1 << 20, &err);
    int64_t now = dm_mono_ms();
    CHECK(!worker_is_stuck(&w, now, 1000));             /* no deadline */
    doc_ctx_set_deadline(w.docs, now + 5000);
    CHECK(!worker_is_stuck(&w, now, 1000));             /* not due */
    CHECK(!worker_is_stuck(&w, now + 5500, 1000));      /* late, within the grace */
    CHECK(worker_is_stuck(&w, now + 6500, 1000));       /* past the grace */
    doc_ctx_set_deadline(w.docs, 0);
    CHECK(!worker_is_stuck(&w, now + 6500, 1000));
    doc_ctx_free(w.docs);
    pthread_mutex_destroy(&w.mu);
}

int main(void)
{
    static const check_case cases[] = {
        {"a clean exit's status is the supervisor's", test_clean_exit_is_propagated},
        {"abort, the stuck exit and SIGKILL restart the child", test_crashes_restart_until_a_clean_exit},
        {"SIGTERM is passed on; the child it ends is not restarted", test_sigterm_is_passed_on_and_not_restarted},
        {"the watchdog flags a worker only past deadline + grace", test_watchdog_sees_a_stuck_worker},
        {NULL, NULL}};
    return check_run(cases);
}
