#include "ops/control.h"

#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const STATUS_NAMES[] = {"ok", "error", "incomplete", "refused"};

const char *control_status_name(control_status s)
{
    return STATUS_NAMES[s];
}

static bool status_parse(const char *name, size_t n, control_status *out)
{
    for (int i = 0; i < 4; i++)
        if (strlen(STATUS_NAMES[i]) == n && memcmp(name, STATUS_NAMES[i], n) == 0) {
            *out = (control_status)i;
            return true;
        }
    return false;
}

typedef struct control_conn {
    uv_pipe_t pipe;
    control_server *server;
    int session;
    uid_t uid;
    bool refused;
    sbuf in;
    struct control_conn *next;
} control_conn;

struct control_server {
    uv_pipe_t listener;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    control_handler handler;
    control_session_end on_end;
    void *ud;
    int next_session;
    control_conn *conns;
};

typedef struct write_req {
    uv_write_t req;
    char *data;
} write_req;

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    write_req *w = (write_req *)req;
    free(w->data);
    free(w);
}

static void send_reply(control_conn *c, control_status st, const char *text, size_t len)
{
    sbuf out;
    sbuf_init(&out);
    sbuf_appendf(&out, "%s %zu\n", control_status_name(st), len);
    sbuf_append(&out, text, len);
    write_req *w = dm_xmalloc(sizeof *w);
    w->data = out.data;
    uv_buf_t buf = uv_buf_init(out.data, (unsigned)out.len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) != 0) {
        free(w->data);
        free(w);
    }
}

static void conn_closed(uv_handle_t *h)
{
    control_conn *c = h->data;
    sbuf_free(&c->in);
    free(c);
}

static void conn_close(control_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    control_server *s = c->server;
    for (control_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (s->on_end)
        s->on_end(s->ud, c->session);
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = dm_xmalloc(suggested);
    buf->len = suggested;
}

/* Evaluates every complete frame in the connection's buffer. */
static void drain_frames(control_conn *c)
{
    for (;;) {
        char *nl = memchr(c->in.data, '\n', c->in.len);
        if (!nl) {
            if (c->in.len > 24) {
                send_reply(c, CONTROL_ERROR, "bad frame header", 16);
                conn_close(c);
            }
            return;
        }
        char *end;
        unsigned long long n = strtoull(c->in.data, &end, 10);
        if (end != nl || end == c->in.data || n > CONTROL_MAX_FRAME) {
            const char *msg = "bad frame: expected \"<length>\\n<code>\" (at most 1 MiB)";
            send_reply(c, CONTROL_ERROR, msg, strlen(msg));
            conn_close(c);
            return;
        }
        size_t head = (size_t)(nl - c->in.data) + 1;
        if (c->in.len - head < n)
            return;
        sbuf reply;
        sbuf_init(&reply);
        control_status st = c->server->handler(c->server->ud, c->session, c->in.data + head,
                                               (size_t)n, &reply);
        send_reply(c, st, reply.data ? reply.data : "", reply.len);
        sbuf_free(&reply);
        size_t used = head + (size_t)n;
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    control_conn *c = stream->data;
    if (nread > 0 && c->refused) {
        /* dropped */
    } else if (nread > 0) {
        sbuf_append(&c->in, buf->base, (size_t)nread);
        drain_frames(c);
    } else if (nread < 0) {
        conn_close(c);
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *listener, int status)
{
    control_server *s = listener->data;
    if (status < 0)
        return;
    control_conn *c = dm_xcalloc(1, sizeof *c);
    c->server = s;
    sbuf_init(&c->in);
    uv_pipe_init(listener->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
        return;
    }
    c->session = ++s->next_session;
    c->next = s->conns;
    s->conns = c;
    /* The file mode keeps other users out; the peer's uid is checked too,
     * because a mode can be changed and a directory can be shared. */
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != geteuid()) {
        long uid = len == sizeof cred ? (long)cred.uid : -1;
        log_warn("control socket: refused a connection from uid %ld (only uid %ld may connect)",
                 uid, (long)geteuid());
        char msg[128];
        int n = snprintf(msg, sizeof msg, "only uid %ld may use this socket", (long)geteuid());
        /* Keep reading (and dropping) what it sends until it hangs up, so
         * it gets the reason rather than a broken pipe. */
        c->refused = true;
        send_reply(c, CONTROL_REFUSED, msg, (size_t)n);
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
        return;
    }
    c->uid = cred.uid;
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void listener_closed(uv_handle_t *h)
{
    free(h->data);
}

/* A socket file nobody answers on was left by a process that died. */
static bool socket_is_live(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    bool live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return live;
}

control_server *control_listen(uv_loop_t *loop, const char *path, control_handler handler,
                               control_session_end on_end, void *ud, dm_err *err)
{
    control_server *s = dm_xcalloc(1, sizeof *s);
    if (strlen(path) >= sizeof s->path) {
        dm_err_set(err, true, "control socket path too long (max %zu bytes): %s",
                   sizeof s->path - 1, path);
        free(s);
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            dm_err_set(err, true, "%s exists and is not a socket; not replacing it", path);
            free(s);
            return NULL;
        }
        if (st.st_uid != geteuid()) {
            dm_err_set(err, true, "%s belongs to uid %ld, not us; not replacing it", path,
                       (long)st.st_uid);
            free(s);
            return NULL;
        }
        if (socket_is_live(path)) {
            dm_err_set(err, true, "another docmill is listening on %s", path);
            free(s);
            return NULL;
        }
        unlink(path);
    }
    s->handler = handler;
    s->on_end = on_end;
    s->ud = ud;
    uv_pipe_init(loop, &s->listener, 0);
    s->listener.data = s;
    int rc = uv_pipe_bind(&s->listener, path);
    if (rc == 0 && chmod(path, 0600) != 0)
        rc = uv_translate_sys_error(errno);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 8, on_connection);
    if (rc != 0) {
        dm_err_set(err, true, "cannot listen on %s: %s", path, uv_strerror(rc));
        unlink(path);
        /* s is freed once the close has run: the loop still references it. */
        uv_close((uv_handle_t *)&s->listener, listener_closed);
        return NULL;
    }
    return s;
}

void control_close(control_server *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_close(s->conns);
    unlink(s->path);
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}

/* --- client ------------------------------------------------------------ */

int control_connect(const char *path, dm_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        dm_err_set(err, true, "control socket path too long: %s", path);
        return -1;
    }
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        dm_err_set(err, false, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        dm_err_set(err, true, "cannot connect to %s: %s%s", path, strerror(e),
                   e == ENOENT || e == ECONNREFUSED ? " (is `docmill run` running?)" : "");
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int control_request(int fd, const char *code, size_t len, control_status *status, sbuf *reply,
                    dm_err *err)
{
    char head[32];
    int hn = snprintf(head, sizeof head, "%zu\n", len);
    if (write_all(fd, head, (size_t)hn) != 0 || write_all(fd, code, len) != 0) {
        dm_err_set(err, false, "control socket: send failed: %s", strerror(errno));
        return -1;
    }
    /* The header, then exactly its length of text. */
    char line[64];
    size_t ln = 0;
    for (;;) {
        ssize_t r = recv(fd, line + ln, 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            dm_err_set(err, false, "control socket: the worker closed the connection");
            return -1;
        }
        if (line[ln] == '\n')
            break;
        if (++ln == sizeof line - 1) {
            dm_err_set(err, false, "control socket: bad reply header");
            return -1;
        }
    }
    line[ln] = '\0';
    char *sp = strchr(line, ' ');
    char *end = NULL;
    unsigned long long n = sp ? strtoull(sp + 1, &end, 10) : 0;
    if (!sp || !status_parse(line, (size_t)(sp - line), status) || !end || *end ||
        n > CONTROL_MAX_FRAME) {
        dm_err_set(err, false, "control socket: bad reply header '%.40s'", line);
        return -1;
    }
    sbuf_reset(reply);
    char buf[4096];
    while (n > 0) {
        ssize_t r = recv(fd, buf, n < sizeof buf ? (size_t)n : sizeof buf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            dm_err_set(err, false, "control socket: reply cut short");
            return -1;
        }
        sbuf_append(reply, buf, (size_t)r);
        n -= (unsigned long long)r;
    }
    sbuf_append(reply, "", 0);
    return 0;
}

int control_run_dir(char *out, size_t outlen, bool create, dm_err *err)
{
    const char *v;
    int n;
    if ((v = getenv("DOCMILL_RUN_DIR")) && *v)
        n = snprintf(out, outlen, "%s", v);
    else if ((v = getenv("RUNTIME_DIRECTORY")) && *v)
        n = snprintf(out, outlen, "%s", v);
    else if ((v = getenv("XDG_RUNTIME_DIR")) && *v)
        n = snprintf(out, outlen, "%s/docmill", v);
    else
        n = snprintf(out, outlen, "/tmp/docmill-%ld", (long)geteuid());
    if (n < 0 || (size_t)n >= outlen) {
        dm_err_set(err, true, "run directory path too long");
        return -1;
    }
    if (create && mkdir(out, 0700) != 0 && errno != EEXIST) {
        dm_err_set(err, true, "cannot create the run directory %s: %s", out, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(out, &st) != 0) {
        if (!create) /* nothing runs here yet */
            return 0;
        dm_err_set(err, true, "run directory %s: %s", out, strerror(errno));
        return -1;
    }
    /* In a shared place like /tmp someone else may have made it first. */
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022)) {
        dm_err_set(err, true,
                   "run directory %s must be a directory owned by uid %ld and writable only by "
                   "it (set DOCMILL_RUN_DIR, or pass --socket/--pid-file)",
                   out, (long)geteuid());
        return -1;
    }
    return 0;
}
