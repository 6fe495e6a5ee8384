#include "check.h"
#include "queue/queue_sqlite.h"
#include "queue/source_dir.h"

#include <sys/stat.h>
#include <unistd.h>

static char db[600];

static queue *open_q(const char *owner)
{
    dm_err err;
    queue *q = queue_sqlite_open(db, owner, &err);
    if (!q)
        fprintf(stderr, "queue_open: %s\n", err.msg);
    return q;
}

static void test_enqueue_lease_ack(void)
{
    snprintf(db, sizeof db, "%s/q1.db", check_tmpdir());
    queue *q = open_q(NULL);
    dm_err err;
    CHECK_INT(queue_sqlite_enqueue(q, "/a", "index", 10, 100, &err), 1);
    CHECK_INT(queue_sqlite_enqueue(q, "/b", "index", 20, 200, &err), 1);
    CHECK_INT(queue_sqlite_enqueue(q, "/a", "index", 10, 100, &err), 2);  /* already pending */
    queue_job *jobs;
    int n;
    CHECK_INT(queue_lease(q, 10, 60000, &jobs, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_STR(jobs[0].source, "/a");
    CHECK_INT(jobs[0].attempts, 1);
    queue_job *again;
    int m;
    CHECK_INT(queue_lease(q, 10, 60000, &again, &m, &err), 0);
    CHECK_INT(m, 0);  /* leased jobs are invisible */
    queue_jobs_free(again, m);
    CHECK_INT(queue_ack(q, jobs[0].id, "indexed", &err), 0);
    CHECK_INT(queue_fail(q, jobs[1].id, "corrupt", &err), 0);
    queue_counts c;
    CHECK_INT(queue_get_counts(q, &c, &err), 0);
    CHECK_INT(c.done, 1);
    CHECK_INT(c.failed, 1);
    CHECK_INT(c.pending + c.leased, 0);
    /* Same size and mtime: unchanged. Changed: queued again. */
    CHECK_INT(queue_sqlite_enqueue(q, "/a", "index", 10, 100, &err), 0);
    CHECK_INT(queue_sqlite_enqueue(q, "/b", "index", 21, 200, &err), 1);
    queue_failure *f;
    int nf;
    CHECK_INT(queue_sqlite_failures(q, 10, &f, &nf, &err), 0);
    CHECK_INT(nf, 0);  /* /b was revived */
    queue_failures_free(f, nf);
    queue_jobs_free(jobs, n);
    queue_close(q);
}

static void test_retry_backoff_and_release(void)
{
    snprintf(db, sizeof db, "%s/q2.db", check_tmpdir());
    queue *q = open_q(NULL);
    dm_err err;
    queue_sqlite_enqueue(q, "/x", "index", 1, 1, &err);
    queue_job *jobs;
    int n;
    queue_lease(q, 1, 60000, &jobs, &n, &err);
    CHECK_INT(n, 1);
    CHECK_INT(queue_retry(q, jobs[0].id, "busy", 200, &err), 0);
    queue_job *none;
    int m;
    queue_lease(q, 1, 60000, &none, &m, &err);
    CHECK_INT(m, 0);  /* not before the backoff has passed */
    queue_jobs_free(none, m);
    usleep(250000);
    queue_job *back;
    queue_lease(q, 1, 60000, &back, &m, &err);
    CHECK_INT(m, 1);
    CHECK_INT(back[0].attempts, 2);
    CHECK_INT(queue_release(q, back[0].id, &err), 0);
    queue_job *third;
    queue_lease(q, 1, 60000, &third, &m, &err);
    CHECK_INT(m, 1);
    CHECK_INT(third[0].attempts, 2);  /* a release undoes the attempt */
    queue_jobs_free(third, m);
    queue_jobs_free(back, 1);
    queue_jobs_free(jobs, n);
    queue_close(q);
}

static void test_recover_dead_owner_and_expired_lease(void)
{
    snprintf(db, sizeof db, "%s/q3.db", check_tmpdir());
    char host[128] = {0}, dead_owner[200];
    gethostname(host, sizeof host - 1);
    /* A pid that cannot be alive: above the kernel's pid_max. */
    snprintf(dead_owner, sizeof dead_owner, "%s:%d", host, 99999999);
    queue *dead = open_q(dead_owner);
    dm_err err;
    queue_sqlite_enqueue(dead, "/p", "index", 1, 1, &err);
    queue_sqlite_enqueue(dead, "/q", "index", 1, 1, &err);
    queue_job *jobs;
    int n;
    queue_lease(dead, 1, 3600000, &jobs, &n, &err);
    CHECK_INT(n, 1);
    queue_jobs_free(jobs, n);
    queue_close(dead);

    queue *other_host = open_q("elsewhere:1");
    queue_lease(other_host, 1, 1, &jobs, &n, &err);  /* expires in 1 ms */
    CHECK_INT(n, 1);
    queue_jobs_free(jobs, n);
    queue_close(other_host);
    usleep(5000);

    queue *q = open_q(NULL);
    CHECK_INT(queue_recover(q, &(queue_recovery){.max_crashes = 5}, &err), 2);
    /* Each recovery counts a crash: at the limit the job is quarantined. */
    queue_counts c;
    queue_get_counts(q, &c, &err);
    CHECK_INT(c.pending, 2);
    CHECK_INT(c.leased, 0);
    queue_close(q);
}

static void test_exhausted_jobs_fail_and_lost_leases_are_respected(void)
{
    snprintf(db, sizeof db, "%s/q5.db", check_tmpdir());
    char host[128] = {0}, dead_owner[200];
    gethostname(host, sizeof host - 1);
    snprintf(dead_owner, sizeof dead_owner, "%s:%d", host, 99999999);
    queue *dead = open_q(dead_owner);
    dm_err err;
    queue_sqlite_enqueue(dead, "/crashes-every-time", "index", 1, 1, &err);
    queue_job *jobs;
    int n;
    queue_lease(dead, 1, 3600000, &jobs, &n, &err);
    queue_jobs_free(jobs, n);
    queue_close(dead);
    queue *q = open_q(NULL);
    CHECK_INT(queue_recover(q, &(queue_recovery){.max_crashes = 1}, &err), 1);  /* one crash allowed: quarantined */
    queue_counts c;
    queue_get_counts(q, &c, &err);
    CHECK_INT(c.failed, 1);
    CHECK_INT(c.pending, 0);
    queue_failure *f;
    int nf;
    queue_sqlite_failures(q, 10, &f, &nf, &err);
    CHECK_INT(nf, 1);
    if (nf == 1)
        CHECK_CONTAINS(f[0].error, "quarantined: its worker died or stalled while processing it (1 times)");
    queue_failures_free(f, nf);

    /* A's lease runs out; B reclaims and takes the job; A's late ack must
     * not overwrite B's lease. */
    queue *a = open_q("elsewhere-a:1");
    queue_sqlite_enqueue(a, "/slow", "index", 1, 1, &err);
    queue_job *ja;
    queue_lease(a, 1, 1, &ja, &n, &err);
    CHECK_INT(n, 1);
    usleep(5000);
    queue *b = open_q("elsewhere-b:1");
    CHECK_INT(queue_recover(b, &(queue_recovery){.max_crashes = 5}, &err), 1);
    queue_job *jb;
    int m;
    queue_lease(b, 1, 60000, &jb, &m, &err);
    CHECK_INT(m, 1);
    CHECK_INT(queue_ack(a, ja[0].id, "indexed", &err), 0);
    queue_get_counts(q, &c, &err);
    CHECK_INT(c.leased, 1);  /* still B's */
    CHECK_INT(queue_ack(b, jb[0].id, "indexed", &err), 0);
    queue_get_counts(q, &c, &err);
    CHECK_INT(c.done, 1);
    queue_jobs_free(ja, n);
    queue_jobs_free(jb, m);
    queue_close(a);
    queue_close(b);
    queue_close(q);
}

static void test_deletions(void)
{
    snprintf(db, sizeof db, "%s/q4.db", check_tmpdir());
    queue *q = open_q(NULL);
    dm_err err;
    const char *srcs[] = {"/root/a", "/root/b", "/other/c"};
    for (int i = 0; i < 3; i++)
        queue_sqlite_enqueue(q, srcs[i], "index", 1, 1, &err);
    queue_job *jobs;
    int n;
    queue_lease(q, 10, 60000, &jobs, &n, &err);
    for (int i = 0; i < n; i++)
        queue_ack(q, jobs[i].id, "indexed", &err);
    queue_jobs_free(jobs, n);
    char *seen[] = {"/root/a"};
    CHECK_INT(queue_sqlite_enqueue_deletions(q, "/root/", seen, 1, &err), 1);
    queue_lease(q, 10, 60000, &jobs, &n, &err);
    CHECK_INT(n, 1);
    CHECK_STR(jobs[0].source, "/root/b");
    CHECK_STR(jobs[0].op, "delete");
    queue_jobs_free(jobs, n);
    queue_close(q);
}

static void write_file(const char *dir, const char *name, size_t bytes)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < bytes; i++)
        fputc('x', f);
    if (f)
        fclose(f);
}

/* Largest first; a file the size of one before it after all the others. */
static void test_a_scan_queues_the_largest_files_first(void)
{
    char root[600];
    snprintf(db, sizeof db, "%s/q5.db", check_tmpdir());
    snprintf(root, sizeof root, "%s/scan5", check_tmpdir());
    mkdir(root, 0700);
    char sub[640];
    snprintf(sub, sizeof sub, "%s/sub", root);
    mkdir(sub, 0700);
    write_file(root, "a_small.txt", 10);
    write_file(sub, "b_big.pdf", 5000);
    write_file(root, "c_middle.pdf", 700);
    write_file(root, "d_middle.pdf", 700);    /* the same size: a copy, most likely */
    queue *q = open_q(NULL);
    dm_err err;
    scan_counts c;
    CHECK_INT(source_dir_scan(q, root, NULL, 0, &c, &err), 0);
    CHECK_INT(c.queued, 4);
    queue_job *jobs;
    int n;
    queue_lease(q, 10, 60000, &jobs, &n, &err);
    CHECK_INT(n, 4);
    const char *want[] = {"sub/b_big.pdf", "c_middle.pdf", "a_small.txt", "d_middle.pdf"};
    for (int i = 0; i < n && i < 4; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", root, want[i]);
        CHECK_STR(jobs[i].source, path);
    }
    for (int i = 0; i < n; i++)
        queue_ack(q, jobs[i].id, "indexed", &err);
    queue_jobs_free(jobs, n);
    /* Deletions still find what is gone by path. */
    snprintf(sub, sizeof sub, "%s/c_middle.pdf", root);
    unlink(sub);
    CHECK_INT(source_dir_scan(q, root, NULL, 0, &c, &err), 0);
    CHECK_INT(c.deleted, 1);
    CHECK_INT(c.unchanged, 3);
    queue_close(q);
}

int main(void)
{
    static const check_case cases[] = {
        {"enqueue, lease, ack, fail, unchanged and changed files", test_enqueue_lease_ack},
        {"retry waits for its backoff; release undoes an attempt", test_retry_backoff_and_release},
        {"leases of dead owners and expired leases are recovered", test_recover_dead_owner_and_expired_lease},
        {"a job held by dying workers max_crashes times is quarantined; a lost lease is not overwritten",
         test_exhausted_jobs_fail_and_lost_leases_are_respected},
        {"files gone from the folder become deletion jobs", test_deletions},
        {"a scan queues the largest files first, likely copies last",
         test_a_scan_queues_the_largest_files_first},
        {NULL, NULL}};
    return check_run(cases);
}
