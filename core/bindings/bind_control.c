/* The client side of a running worker's control socket, for `docmill repl`,
 * `reload` and `health`:
 * control_connect(path) -> conn | nil, err;  conn:request(code) -> status, text | nil, err;
 * conn:close();  run_dir() -> path | nil, err;  pidfile_read(path) -> pid | nil, err;
 * kill(pid, "HUP"|"TERM"|"USR1"|"INT") -> true | nil, err;
 * readline(prompt) -> line | nil (EOF);  history_load(path), history_add(line),
 * history_save(path)  (libedit: line editing and history on a TTY). */
#include "bindings.h"
#include "control.h"
#include "pidfile.h"

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

void bind_control_register(lua_State *L, int module)
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
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
