/* docmill.cli.core: what only the command line does (lua/docmill/cli.lua).
 * run(cfg) -> summary | nil, err, permanent         (`docmill run`)
 *   cfg = {source=, index=, queue=, queue_url=, sqs_wait_seconds=, sqs_max_messages=,
 *          policy=, config=, workers=, once=, rescan_seconds=, progress=, socket=,
 *          pid_file=, metrics=, emf=, control_optional=, pinned=}
 * supervise() -> "child" | exit status: forks (see ops/supervisor.h); the parent
 *   returns only once the worker process has ended for good.
 * The client side of a running worker's control socket, for `docmill repl`,
 * `reload` and `health`:
 * control_connect(path) -> conn | nil, err;  conn:request(code) -> status, text | nil, err;
 * conn:close();  run_dir() -> path | nil, err;  pidfile_read(path) -> pid | nil, err;
 * kill(pid, "HUP"|"TERM"|"USR1"|"INT") -> true | nil, err;
 * readline(prompt) -> line | nil (EOF);  history_load(path), history_add(line),
 * history_save(path)  (libedit: line editing and history on a TTY). */
#include "cli/bind_cli.h"

#include "luabridge/bindings.h"

#include "base/log.h"
#include "daemon/config_snapshot.h"
#include "daemon/runtime.h"
#include "luabridge/lstate.h"
#include "ops/supervisor.h"
#include "ops/control.h"
#include "ops/pidfile.h"

#include <errno.h>
#include <editline/readline.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONN_MT "docmill.control_conn"

typedef struct {
    int fd;
} conn_ud;

static const char *opt_field(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    const char *v = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return v;
}

static int l_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    runtime_config cfg = {0};
    cfg.source_dir = opt_field(L, 1, "source");
    cfg.index_uri = opt_field(L, 1, "index");
    cfg.queue_path = opt_field(L, 1, "queue");
    cfg.policy_path = opt_field(L, 1, "policy");
    cfg.queue_url = opt_field(L, 1, "queue_url");
    cfg.config_path = opt_field(L, 1, "config");
    cfg.pinned = opt_field(L, 1, "pinned");
    if (!cfg.index_uri || (!cfg.queue_url && (!cfg.source_dir || !cfg.queue_path)))
        return luaL_error(L, "run: index, and a queue_url or a source folder and queue, are required");
    lua_getfield(L, 1, "sqs_wait_seconds");
    cfg.sqs_wait_seconds = (int)luaL_optinteger(L, -1, -1);
    lua_getfield(L, 1, "sqs_max_messages");
    cfg.sqs_max_messages = (int)luaL_optinteger(L, -1, -1);
    lua_pop(L, 2);
    lua_getfield(L, 1, "workers");
    cfg.workers = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 1, "once");
    cfg.once = lua_toboolean(L, -1);
    lua_getfield(L, 1, "rescan_seconds");
    cfg.rescan_seconds = (int)luaL_optinteger(L, -1, 5);
    lua_getfield(L, 1, "progress");
    cfg.progress_tty = lua_toboolean(L, -1);
    lua_getfield(L, 1, "control_optional");
    cfg.control_optional = lua_toboolean(L, -1);
    lua_pop(L, 5);
    cfg.socket_path = opt_field(L, 1, "socket");
    cfg.pid_file = opt_field(L, 1, "pid_file");
    cfg.metrics_listen = opt_field(L, 1, "metrics");
    cfg.emf_path = opt_field(L, 1, "emf");
    if (cfg.rescan_seconds < 1)
        cfg.rescan_seconds = 1;
    run_summary sum;
    dm_err err;
    /* Last: nothing may raise while it is allocated. */
    config_snapshot *started = NULL;
    lua_getfield(L, 1, "config_start");
    if (lua_istable(L, -1)) {
        started = dm_xmalloc(sizeof *started);
        config_snapshot_from_table(L, -1, started);
    }
    lua_pop(L, 1);
    cfg.config_start = started;
    int rc = runtime_run(&cfg, &sum, &err);
    free(started);
    if (rc != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, 0, 12);
#define SETN(name, v)                      \
    lua_pushnumber(L, (lua_Number)(v));    \
    lua_setfield(L, -2, name)
    SETN("indexed", sum.indexed);
    SETN("unchanged", sum.unchanged);
    SETN("deleted", sum.deleted);
    SETN("skipped", sum.skipped);
    SETN("failed", sum.failed);
    SETN("retried", sum.retried);
    SETN("pages", sum.pages);
    SETN("pages_ocr", sum.pages_ocr);
    SETN("pages_rotated", sum.pages_rotated);
    SETN("pages_vertical", sum.pages_vertical);
    SETN("pages_low_confidence", sum.pages_low_confidence);
    SETN("elapsed_ms", sum.elapsed_ms);
    SETN("files_per_hour", sum.files_per_hour);
    SETN("peak_rss", sum.peak_rss_bytes);
    lua_createtable(L, 0, STAGE_COUNT);
    for (int k = 0; k < STAGE_COUNT; k++) {
        SETN(job_stage_names[k], sum.stage_seconds[k]);
    }
    lua_setfield(L, -2, "stage_seconds");
    lua_createtable(L, 0, 3);
    SETN("busy", sum.busy_seconds);
    SETN("idle_before_first_work", sum.idle_before_seconds);
    SETN("idle_after_last_work", sum.idle_after_seconds);
    lua_setfield(L, -2, "worker_seconds");
#undef SETN
    return 1;
}

static int l_supervise(lua_State *L)
{
    dm_err err;
    dm_err_clear(&err);
    int status = supervise(NULL, NULL, &err);
    if (status < 0) {
        lua_pushliteral(L, "child");
        return 1;
    }
    if (status == 1 && err.msg[0])
        log_error("%s", err.msg);
    lua_pushinteger(L, status);
    return 1;
}

static int l_control_connect(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dm_err err;
    int fd = control_connect(path, &err);
    if (fd < 0)
        return bind_push_error(L, &err);
    conn_ud *c = lua_newuserdata(L, sizeof *c);
    c->fd = fd;
    luaL_getmetatable(L, CONN_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static conn_ud *check_conn(lua_State *L)
{
    conn_ud *c = luaL_checkudata(L, 1, CONN_MT);
    if (c->fd < 0)
        luaL_error(L, "control connection is closed");
    return c;
}

static int l_conn_request(lua_State *L)
{
    conn_ud *c = check_conn(L);
    size_t len;
    const char *code = luaL_checklstring(L, 2, &len);
    control_status st;
    sbuf reply;
    sbuf_init(&reply);
    dm_err err;
    if (control_request(c->fd, code, len, &st, &reply, &err) != 0) {
        sbuf_free(&reply);
        return bind_push_error(L, &err);
    }
    lua_pushstring(L, control_status_name(st));
    lua_pushlstring(L, reply.data ? reply.data : "", reply.len);
    sbuf_free(&reply);
    return 2;
}

static int l_conn_close(lua_State *L)
{
    conn_ud *c = luaL_checkudata(L, 1, CONN_MT);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    return 0;
}

static int l_run_dir(lua_State *L)
{
    char dir[4096];
    dm_err err;
    if (control_run_dir(dir, sizeof dir, lua_toboolean(L, 1), &err) != 0)
        return bind_push_error(L, &err);
    lua_pushstring(L, dir);
    return 1;
}

static int l_pidfile_read(lua_State *L)
{
    dm_err err;
    pid_t pid = pidfile_read(luaL_checkstring(L, 1), &err);
    if (pid < 0)
        return bind_push_error(L, &err);
    lua_pushinteger(L, pid);
    return 1;
}

static int l_kill(lua_State *L)
{
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    const char *name = luaL_checkstring(L, 2);
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"HUP", SIGHUP}, {"TERM", SIGTERM}, {"INT", SIGINT}, {"USR1", SIGUSR1}};
    int sig = 0;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (strcmp(sigs[i].name, name) == 0)
            sig = sigs[i].sig;
    if (!sig || pid <= 0)
        return luaL_error(L, "kill: bad pid %d or signal '%s'", (int)pid, name);
    if (kill(pid, sig) != 0) {
        dm_err err;
        dm_err_set(&err, true, "kill -%s %d: %s", name, (int)pid, strerror(errno));
        return bind_push_error(L, &err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_readline(lua_State *L)
{
    char *line = readline(luaL_checkstring(L, 1));
    if (!line)
        return 0;
    lua_pushstring(L, line);
    free(line);
    return 1;
}

static int l_history_add(lua_State *L)
{
    add_history(luaL_checkstring(L, 1));
    return 0;
}

static int l_history_load(lua_State *L)
{
    read_history(luaL_checkstring(L, 1));
    return 0;
}

static int l_history_save(lua_State *L)
{
    write_history(luaL_checkstring(L, 1));
    return 0;
}

void bind_cli_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"request", l_conn_request}, {"close", l_conn_close}, {"__gc", l_conn_close}, {NULL, NULL}};
    luaL_newmetatable(L, CONN_MT);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    bind_set_funcs(L, lua_gettop(L), methods);
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"control_connect", l_control_connect}, {"run_dir", l_run_dir},
        {"pidfile_read", l_pidfile_read},       {"kill", l_kill},
        {"readline", l_readline},               {"history_add", l_history_add},
        {"history_load", l_history_load},       {"history_save", l_history_save},
        {"run", l_run},                         {"supervise", l_supervise},
        {NULL, NULL}};
    lstate_register_module(L, "docmill.cli.core", fns);
}
