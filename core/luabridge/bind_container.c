/* Files that hold other files (container/container.h), in docmill.core:
 * container_kind(path) -> "mail" | "mbox" | "msg" | "archive" | nil
 * open_container(path, kind, limits) -> Container | nil, err, permanent
 *   limits = {max_members=, max_member_bytes=, max_expanded_bytes=, max_ratio=,
 *             deadline_ms= (monotonic), max_text_bytes=, html_default_charset=,
 *             label= (the container's name in its source: names a lone .gz's member)}
 *   container:mime()
 *   container:text() -> {pages = {text, ...}, meta = {title=, subject=, from=, to=, date=}}
 *     (a mail's subject and body; an archive has no pages)
 *   container:next() -> {name=, path=|nil, size=, skipped=|nil} | false (no more)
 *                       | nil, err, permanent (a limit cut the reading; err names it)
 *     path is a temp file that lives until the next next(), close() or GC
 *     (removed then, whatever happened in Lua meanwhile); name is a label
 *     from the data (UTF-8), never a path
 *   container:members(), container:expanded() -> handed out so far, bytes written
 *   container:close()
 * Members go to the fetch temp dir (TEMP_DIR). */
#include "luabridge/bindings.h"

#include "container/container.h"
#include "fetch/fetch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTAINER_MT "docmill.container"

typedef struct lcontainer {
    container *c;
    char *member_path;   /* the member file handed out last: removed by the next
                            next(), close() or the GC, whatever Lua does meanwhile */
} lcontainer;

static void drop_member(lcontainer *lc)
{
    if (lc->member_path) {
        unlink(lc->member_path);
        free(lc->member_path);
        lc->member_path = NULL;
    }
}

static lcontainer *check_container(lua_State *L)
{
    lcontainer *lc = luaL_checkudata(L, 1, CONTAINER_MT);
    if (!lc->c)
        luaL_error(L, "container is closed");
    return lc;
}

static int l_container_kind(lua_State *L)
{
    container_kind kind = container_sniff_file(luaL_checkstring(L, 1));
    if (kind == CONTAINER_NONE)
        lua_pushnil(L);
    else
        lua_pushstring(L, container_kind_name(kind));
    return 1;
}

static double opt_num(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    double v = luaL_optnumber(L, -1, 0);
    lua_pop(L, 1);
    return v;
}

static int l_open_container(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *kind_name = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    static const container_kind kinds[] = {CONTAINER_MAIL, CONTAINER_MBOX, CONTAINER_MSG,
                                           CONTAINER_ARCHIVE};
    container_kind kind = CONTAINER_NONE;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(kind_name, container_kind_name(kinds[i])) == 0)
            kind = kinds[i];
    if (kind == CONTAINER_NONE)
        return luaL_error(L, "open_container: unknown kind '%s'", kind_name);
    container_limits lim = {0};
    lim.max_members = (int)opt_num(L, 3, "max_members");
    lim.max_member_bytes = (int64_t)opt_num(L, 3, "max_member_bytes");
    lim.max_expanded_bytes = (int64_t)opt_num(L, 3, "max_expanded_bytes");
    lim.max_ratio = opt_num(L, 3, "max_ratio");
    lim.deadline_ms = (int64_t)opt_num(L, 3, "deadline_ms");
    lim.max_text_bytes = (size_t)opt_num(L, 3, "max_text_bytes");
    lua_getfield(L, 3, "html_default_charset");
    snprintf(lim.html_default_charset, sizeof lim.html_default_charset, "%s",
             luaL_optstring(L, -1, ""));
    lua_pop(L, 1);
    lua_getfield(L, 3, "label");
    lim.label = luaL_optstring(L, -1, NULL);   /* alive in the table; copied by open */
    lua_pop(L, 1);
    /* The userdata first: nothing raises once the container is open. */
    lcontainer *lc = lua_newuserdata(L, sizeof *lc);
    lc->c = NULL;
    lc->member_path = NULL;
    luaL_getmetatable(L, CONTAINER_MT);
    lua_setmetatable(L, -2);
    dm_err err;
    lc->c = container_open(path, kind, &lim, fetch_temp_dir(), &err);
    if (!lc->c)
        return bind_push_error(L, &err);
    return 1;
}

static int l_mime(lua_State *L)
{
    lua_pushstring(L, container_mime(check_container(L)->c));
    return 1;
}

static int l_text(lua_State *L)
{
    const paged_text *pt = container_text(check_container(L)->c);
    lua_createtable(L, 0, 2);
    lua_createtable(L, pt->count, 0);
    for (int i = 0; i < pt->count; i++) {
        const sbuf *t = &pt->pages[i].text;
        lua_pushlstring(L, t->data ? t->data : "", t->len);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "pages");
    lua_newtable(L);
    const doc_meta *m = &pt->meta;
    const struct {
        const char *key, *value;
    } fields[] = {{"title", m->title}, {"subject", m->subject}, {"from", m->from},
                  {"to", m->to},       {"date", m->date},       {"author", m->author}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (fields[i].value) {
            lua_pushstring(L, fields[i].value);
            lua_setfield(L, -2, fields[i].key);
        }
    lua_setfield(L, -2, "meta");
    lua_pushboolean(L, pt->truncated);
    lua_setfield(L, -2, "truncated");
    return 1;
}

/* MuPDF tells EPUB, CBZ and XPS from other zips by their names, and the
 * legacy Office converters like theirs: a member file keeps its name's
 * extension when that is 1-8 letters and digits (so the file name stays
 * docmill's own). */
static void keep_extension(container_member *m)
{
    const char *dot = strrchr(m->name, '.');
    if (!m->path || !dot || strchr(dot, '/'))
        return;
    size_t n = strlen(dot + 1);
    if (n == 0 || n > 8)
        return;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)dot[1 + i]))
            return;
    size_t len = strlen(m->path) + n + 2;
    char *renamed = malloc(len);
    if (!renamed)
        return;
    snprintf(renamed, len, "%s.%s", m->path, dot + 1);
    /* link, not rename: never over a file that is there */
    if (link(m->path, renamed) == 0) {
        unlink(m->path);
        free(m->path);
        m->path = renamed;
    } else {
        free(renamed);
    }
}

static int l_next(lua_State *L)
{
    lcontainer *lc = check_container(L);
    drop_member(lc);
    container_member m;
    dm_err err;
    int rc = container_next(lc->c, &m, &err);
    if (rc < 0)
        return bind_push_error(L, &err);
    if (rc == 0)
        return (lua_pushboolean(L, 0), 1);
    keep_extension(&m);
    /* The file is the userdata's before anything here can raise. */
    lc->member_path = m.path;
    m.path = NULL;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, m.name);
    lua_setfield(L, -2, "name");
    if (lc->member_path) {
        lua_pushstring(L, lc->member_path);
        lua_setfield(L, -2, "path");
    }
    lua_pushnumber(L, (lua_Number)m.size);
    lua_setfield(L, -2, "size");
    if (m.skipped) {
        lua_pushstring(L, m.skipped);
        lua_setfield(L, -2, "skipped");
    }
    container_member_free(&m);
    return 1;
}

static int l_members(lua_State *L)
{
    lua_pushinteger(L, container_members(check_container(L)->c));
    return 1;
}

static int l_expanded(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)container_expanded(check_container(L)->c));
    return 1;
}

static int l_close(lua_State *L)
{
    lcontainer *lc = luaL_checkudata(L, 1, CONTAINER_MT);
    drop_member(lc);
    container_close(lc->c);
    lc->c = NULL;
    return 0;
}

void bind_container_register(lua_State *L, int module)
{
    static const luaL_Reg methods[] = {{"mime", l_mime},         {"text", l_text},
                                       {"next", l_next},         {"members", l_members},
                                       {"expanded", l_expanded}, {"close", l_close},
                                       {NULL, NULL}};
    luaL_newmetatable(L, CONTAINER_MT);
    lua_newtable(L);
    for (const luaL_Reg *r = methods; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, -2, r->name);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"container_kind", l_container_kind},
                                   {"open_container", l_open_container},
                                   {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
