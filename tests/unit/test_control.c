/* The control socket without Lua: a libuv loop on a thread answers with a
 * handler that echoes; the blocking client talks to it. Also the pid file. */
#include "check.h"
#include "ops/control.h"
#include "ops/pidfile.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static uv_loop_t loop;
static uv_async_t stop_async;
static control_server *server;
static int ended_sessions;

static control_status echo(void *ud, int session, const char *code, size_t len, sbuf *reply)
{
    (void)ud;
    if (len == 4 && memcmp(code, "fail", 4) == 0) {
        sbuf_appendf(reply, "failed in session %d", session);
        return CONTROL_ERROR;
    }
    if (len > 0 && code[len - 1] == '(')
        return CONTROL_INCOMPLETE;
    sbuf_appendf(reply, "%d:", session);
    sbuf_append(reply, code, len);
    return CONTROL_OK;
}

static void on_end(void *ud, int session)
{
    (void)ud;
    (void)session;
    __atomic_add_fetch(&ended_sessions, 1, __ATOMIC_SEQ_CST);
}

static void on_stop(uv_async_t *a)
{
    control_close(server);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

static void test_round_trips(const char *path)
{
    dm_err err;
    int fd = control_connect(path, &err);
    CHECK(fd >= 0);
    control_status st;
    sbuf reply;
    sbuf_init(&reply);
    CHECK_INT(control_request(fd, "hello", 5, &st, &reply, &err), 0);
    CHECK_INT(st, CONTROL_OK);
    CHECK_STR(reply.data, "1:hello");
    CHECK_INT(control_request(fd, "fail", 4, &st, &reply, &err), 0);
    CHECK_INT(st, CONTROL_ERROR);
    CHECK_STR(reply.data, "failed in session 1");
    CHECK_INT(control_request(fd, "f(", 2, &st, &reply, &err), 0);
    CHECK_INT(st, CONTROL_INCOMPLETE);
    /* A frame bigger than a socket buffer, and an empty one. */
    size_t big = 300000;
    char *code = malloc(big);
    memset(code, 'x', big);
    CHECK_INT(control_request(fd, code, big, &st, &reply, &err), 0);
    CHECK_INT(reply.len, big + 2);
    free(code);
    CHECK_INT(control_request(fd, "", 0, &st, &reply, &err), 0);
    CHECK_STR(reply.data, "1:");
    close(fd);
    /* A second connection is a second session. */
    fd = control_connect(path, &err);
    CHECK_INT(control_request(fd, "again", 5, &st, &reply, &err), 0);
    CHECK_STR(reply.data, "2:again");
    close(fd);
    for (int i = 0; i < 100 && __atomic_load_n(&ended_sessions, __ATOMIC_SEQ_CST) < 2; i++)
        usleep(10000);
    CHECK_INT(__atomic_load_n(&ended_sessions, __ATOMIC_SEQ_CST), 2);
    sbuf_free(&reply);
}

static void test_bad_frame_is_answered_and_closed(const char *path)
{
    dm_err err;
    int fd = control_connect(path, &err);
    const char junk[] = "not-a-length\nxx";
    CHECK(write(fd, junk, sizeof junk - 1) > 0);
    char buf[256] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    CHECK(n > 0);
    CHECK(strncmp(buf, "error ", 6) == 0);
    close(fd);
}

static char dir[64], path[512];

static void test_listen_refuses_live_and_foreign_paths(void)
{
    dm_err err;
    uv_loop_t l2;
    uv_loop_init(&l2);
    /* Someone answers there: not ours to replace. */
    CHECK(control_listen(&l2, path, echo, NULL, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "another docmill is listening");
    char file[600];
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    CHECK(control_listen(&l2, file, echo, NULL, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "is not a socket");
    /* A stale socket (bound, then its process gone) is replaced. */
    char stale[100];
    snprintf(stale, sizeof stale, "%s/stale.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", stale);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    control_server *s = control_listen(&l2, stale, echo, NULL, NULL, &err);
    CHECK(s != NULL);
    control_close(s);
    uv_run(&l2, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&l2), 0);
}

static void test_pidfile(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/docmill.pid", dir);
    dm_err err;
    CHECK_INT(pidfile_read(path, &err), -1);
    CHECK_CONTAINS(err.msg, "is `docmill run` running?");
    int fd = pidfile_create(path, &err);
    CHECK(fd >= 0);
    CHECK_INT(pidfile_read(path, &err), getpid());
    /* A second holder is refused (flock is per open file, so a child). */
    pid_t child = fork();
    if (child == 0) {
        dm_err e2;
        _exit(pidfile_create(path, &e2) < 0 && strstr(e2.msg, "another docmill") ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pidfile_remove(path, fd);
    CHECK(access(path, F_OK) != 0);
    /* A file left by a dead process is stale, and is taken over. */
    FILE *f = fopen(path, "w");
    fprintf(f, "999999\n");
    fclose(f);
    CHECK_INT(pidfile_read(path, &err), -1);
    CHECK(strstr(err.msg, "not running") != NULL);
    fd = pidfile_create(path, &err);
    CHECK(fd >= 0);
    pidfile_remove(path, fd);
}

static void test_run_dir(const char *dir)
{
    char sub[512], out[600];
    snprintf(sub, sizeof sub, "%s/rundir", dir);
    setenv("DOCMILL_RUN_DIR", sub, 1);
    dm_err err;
    CHECK_INT(control_run_dir(out, sizeof out, true, &err), 0);
    CHECK_STR(out, sub);
    struct stat st;
    CHECK_INT(stat(sub, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    chmod(sub, 0777);
    CHECK_INT(control_run_dir(out, sizeof out, true, &err), -1);
    CHECK(strstr(err.msg, "writable only by") != NULL);
    unsetenv("DOCMILL_RUN_DIR");
}

static void test_round_trips_case(void) { test_round_trips(path); }
static void test_bad_frame_case(void) { test_bad_frame_is_answered_and_closed(path); }
static void test_pidfile_case(void) { test_pidfile(dir); }
static void test_run_dir_case(void) { test_run_dir(dir); }

static void test_socket_mode_is_0600(void)
{
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/docmill-test-control-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/c.sock", dir);
    uv_loop_init(&loop);
    dm_err err;
    server = control_listen(&loop, path, echo, on_end, NULL, &err);
    if (!server) {
        fprintf(stderr, "listen: %s\n", err.msg);
        return 1;
    }
    uv_async_init(&loop, &stop_async, on_stop);
    pthread_t t;
    pthread_create(&t, NULL, loop_main, NULL);
    static const check_case cases[] = {
        {"the socket file is mode 0600", test_socket_mode_is_0600},
        {"requests and replies round-trip, one session per connection", test_round_trips_case},
        {"a malformed frame gets an error and the connection closes", test_bad_frame_case},
        {"a live socket or a non-socket path is never replaced; a stale one is",
         test_listen_refuses_live_and_foreign_paths},
        {NULL, NULL}};
    int rc = check_run(cases);
    uv_async_send(&stop_async);
    pthread_join(t, NULL);
    uv_loop_close(&loop);
    if (access(path, F_OK) == 0) {
        printf("not ok - control_close removes the socket\n");
        rc = 1;
    }
    static const check_case more[] = {
        {"the pid file: created, read, locked against a second holder, stale taken over",
         test_pidfile_case},
        {"the run directory is created 0700 and must not be writable by others",
         test_run_dir_case},
        {NULL, NULL}};
    rc |= check_run(more);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
