/* The AWS pieces the CLI needs directly (enqueue, DLQ replay):
 * is_queue_url(url) -> boolean
 * sqs_send(queue_url, body) -> true | nil, err, permanent
 * sqs_receive(queue_url, max, wait_seconds, visibility_seconds)
 *     -> {{id=, receipt=, body=, receive_count=}} | nil, err, permanent
 * sqs_delete(queue_url, receipt) -> true | nil, err, permanent
 * s3_upload(path, s3_uri) -> true | nil, err, permanent
 * parse_job_message(body) -> {{source=, op=, size=}} | nil, err
 *     (the queue's own parser, for tests and `enqueue` validation) */
#include "net/job_message.h"
#include "net/s3.h"
#include "net/sqs.h"
#include "luabridge/bindings.h"

#include <string.h>

static int l_is_queue_url(lua_State *L)
{
    lua_pushboolean(L, sqs_is_queue_url(luaL_checkstring(L, 1)));
    return 1;
}

static int l_sqs_send(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    const char *body = luaL_checkstring(L, 2);
    dm_err err;
    sqs_client *c = sqs_client_new(url, &err);
    if (!c)
        return bind_push_error(L, &err);
    int rc = sqs_send(c, body, &err);
    sqs_client_free(c);
    if (rc != 0)
        return bind_push_error(L, &err);
    return (lua_pushboolean(L, 1), 1);
}

static int l_sqs_receive(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    int max = (int)luaL_optinteger(L, 2, 10);
    int wait = (int)luaL_optinteger(L, 3, 0);
    int vis = (int)luaL_optinteger(L, 4, 30);
    dm_err err;
    sqs_client *c = sqs_client_new(url, &err);
    if (!c)
        return bind_push_error(L, &err);
    sqs_message *m;
    int n;
    int rc = sqs_receive(c, max, wait, vis, &m, &n, &err);
    sqs_client_free(c);
    if (rc != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, m[i].message_id);
        lua_setfield(L, -2, "id");
        lua_pushstring(L, m[i].receipt);
        lua_setfield(L, -2, "receipt");
        lua_pushstring(L, m[i].body);
        lua_setfield(L, -2, "body");
        lua_pushinteger(L, m[i].receive_count);
        lua_setfield(L, -2, "receive_count");
        lua_rawseti(L, -2, i + 1);
    }
    sqs_messages_free(m, n);
    return 1;
}

static int l_sqs_delete(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1);
    const char *receipt = luaL_checkstring(L, 2);
    dm_err err;
    sqs_client *c = sqs_client_new(url, &err);
    if (!c)
        return bind_push_error(L, &err);
    int rc = sqs_delete(c, receipt, &err);
    sqs_client_free(c);
    if (rc != 0)
        return bind_push_error(L, &err);
    return (lua_pushboolean(L, 1), 1);
}

static int l_s3_upload(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *uri = luaL_checkstring(L, 2);
    dm_err err;
    if (s3_upload(path, uri, &err) != 0)
        return bind_push_error(L, &err);
    return (lua_pushboolean(L, 1), 1);
}

static int l_parse_job_message(lua_State *L)
{
    size_t len;
    const char *body = luaL_checklstring(L, 1, &len);
    message_job *jobs;
    dm_err err;
    int n = job_message_parse(body, len, &jobs, &err);
    if (n < 0)
        return bind_push_error(L, &err);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, jobs[i].source);
        lua_setfield(L, -2, "source");
        lua_pushstring(L, jobs[i].op);
        lua_setfield(L, -2, "op");
        lua_pushnumber(L, (lua_Number)jobs[i].size);
        lua_setfield(L, -2, "size");
        lua_rawseti(L, -2, i + 1);
    }
    message_jobs_free(jobs, n);
    return 1;
}

void bind_aws_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {{"is_queue_url", l_is_queue_url},
                                   {"sqs_send", l_sqs_send},
                                   {"sqs_receive", l_sqs_receive},
                                   {"sqs_delete", l_sqs_delete},
                                   {"s3_upload", l_s3_upload},
                                   {"parse_job_message", l_parse_job_message},
                                   {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
