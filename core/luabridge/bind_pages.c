/* Page-parallel extraction of one large document (page_board.h), for the
 * pipeline of a worker:
 * pages_post(path, {{first, last}, ...}, {languages=, dpi=}) -> batch | nil, err
 *     (nil outside `docmill run`, or with one worker: nobody to share with)
 * pages_settle(batch, {languages=, dpi=}) for the ranges nobody took yet
 * pages_take(batch) -> task {batch, index, path, first, last, languages, dpi} | nil
 * pages_done(task, result)   result = {pages = {{page, method, dpi, text}},
 *     errors = {"page N: ..."}, pages_ocr = N, stages = {text=, render=, ocr=}}
 * pages_wait(batch) -> the results of every range, merged in page order:
 *     {pages = {...}, errors = {...}, pages_ocr = N, stages = {...}} */
#include "luabridge/bindings.h"
#include "queue/crash_journal.h"
#include "luabridge/lstate.h"
#include "queue/page_board.h"

#include <stdlib.h>
#include <string.h>

static page_board *board_of(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    return env->host ? env->host->page_board(env->host_ud) : NULL;
}

/* {languages=, dpi=} at idx (either may be missing); the string stays on
 * the stack. */
static void read_settled(lua_State *L, int idx, const char **langs, int *dpi)
{
    *langs = NULL;
    *dpi = 0;
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "languages");
        *langs = lua_tostring(L, -1);
        lua_getfield(L, idx, "dpi");
        *dpi = (int)lua_tointeger(L, -1);
    }
}

static int l_pages_post(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    page_board *b = board_of(L);
    if (!b) {
        lua_pushnil(L);
        lua_pushstring(L, "page-parallel extraction needs the worker pool");
        return 2;
    }
    int n = (int)lua_objlen(L, 2);
    int *ranges = dm_xmalloc((size_t)(2 * n + 1) * sizeof *ranges);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 2, i + 1);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        int first = (int)lua_tointeger(L, -2), last = (int)lua_tointeger(L, -1);
        lua_pop(L, 3);
        if (first < 1 || last < first) {
            free(ranges);
            return luaL_error(L, "pages_post: range %d is not {first, last} with 1 <= first <= last",
                              i + 1);
        }
        ranges[2 * i] = first;
        ranges[2 * i + 1] = last;
    }
    const char *langs;
    int dpi;
    read_settled(L, 3, &langs, &dpi);
    int64_t id = page_board_post(b, lstate_get_env(L)->worker_id, path, ranges, n, langs, dpi,
                                 crash_journal_job());
    free(ranges);
    lua_pushnumber(L, (lua_Number)id);
    return 1;
}

void bind_pages_push_task(lua_State *L, const page_task *t)
{
    lua_createtable(L, 0, 7);
    lua_pushnumber(L, (lua_Number)t->batch);
    lua_setfield(L, -2, "batch");
    lua_pushinteger(L, t->index);
    lua_setfield(L, -2, "index");
    lua_pushstring(L, t->path);
    lua_setfield(L, -2, "path");
    lua_pushinteger(L, t->first);
    lua_setfield(L, -2, "first");
    lua_pushinteger(L, t->last);
    lua_setfield(L, -2, "last");
    if (t->languages[0]) {
        lua_pushstring(L, t->languages);
        lua_setfield(L, -2, "languages");
    }
    if (t->dpi > 0) {
        lua_pushinteger(L, t->dpi);
        lua_setfield(L, -2, "dpi");
    }
}

static int l_pages_settle(lua_State *L)
{
    int64_t batch = (int64_t)luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *langs;
    int dpi;
    read_settled(L, 2, &langs, &dpi);
    page_board *b = board_of(L);
    if (b)
        page_board_settle(b, batch, langs, dpi);
    return 0;
}

static int l_pages_take(lua_State *L)
{
    int64_t batch = (int64_t)luaL_checknumber(L, 1);
    page_board *b = board_of(L);
    page_task t;
    if (!b || !page_board_take(b, batch, lstate_get_env(L)->worker_id, &t))
        return 0;
    bind_pages_push_task(L, &t);
    return 1;
}

/* Reads a range result table; never raises (a malformed entry is skipped
 * and noted), so the range is always handed in. */
void bind_pages_read_result(lua_State *L, int idx, page_range_result *r)
{
    memset(r, 0, sizeof *r);
    if (!lua_istable(L, idx))
        return;
    lua_getfield(L, idx, "pages");
    int n = lua_istable(L, -1) ? (int)lua_objlen(L, -1) : 0;
    r->pages = dm_xcalloc((size_t)(n > 0 ? n : 1), sizeof *r->pages);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        if (lua_istable(L, -1)) {
            page_text *p = &r->pages[r->npages];
            lua_getfield(L, -1, "page");
            p->page = (int)lua_tointeger(L, -1);
            lua_getfield(L, -2, "method");
            snprintf(p->method, sizeof p->method, "%s",
                     lua_isstring(L, -1) ? lua_tostring(L, -1) : "text");
            lua_getfield(L, -3, "dpi");
            p->dpi = (int)lua_tointeger(L, -1);
            lua_getfield(L, -4, "text");
            size_t len = 0;
            const char *text = lua_tolstring(L, -1, &len);
            p->text = dm_xmalloc(len + 1);
            memcpy(p->text, text ? text : "", len);
            p->text[len] = '\0';
            lua_getfield(L, -5, "confidence");
            p->confidence = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : -1;
            lua_getfield(L, -6, "rotate");
            p->rotate = (int)lua_tointeger(L, -1);
            lua_getfield(L, -7, "vertical");
            p->vertical = lua_toboolean(L, -1);
            lua_getfield(L, -8, "deskew");
            p->deskew = lua_tonumber(L, -1);
            lua_pop(L, 8);
            r->npages++;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "errors");
    if (lua_istable(L, -1) && lua_objlen(L, -1) > 0) {
        sbuf e;
        sbuf_init(&e);
        for (int i = 1; i <= (int)lua_objlen(L, -1); i++) {
            lua_rawgeti(L, -1, i);
            if (lua_isstring(L, -1))
                sbuf_appendf(&e, "%s%s", e.len ? "\n" : "", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        r->errors = sbuf_take(&e);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "pages_ocr");
    r->pages_ocr = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "stages");
    if (lua_istable(L, -1)) {
        static const char *names[3] = {"text", "render", "ocr"};
        for (int k = 0; k < 3; k++) {
            lua_getfield(L, -1, names[k]);
            r->stage_ms[k] = (int64_t)lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static int l_pages_done(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    page_task t;
    memset(&t, 0, sizeof t);
    lua_getfield(L, 1, "batch");
    t.batch = (int64_t)lua_tonumber(L, -1);
    lua_getfield(L, 1, "index");
    t.index = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    page_board *b = board_of(L);
    if (!b)
        return luaL_error(L, "pages_done: not in the worker pool");
    page_range_result r;
    bind_pages_read_result(L, 2, &r);
    page_board_done(b, &t, &r);
    return 0;
}

static int l_pages_wait(lua_State *L)
{
    int64_t batch = (int64_t)luaL_checknumber(L, 1);
    page_board *b = board_of(L);
    if (!b)
        return luaL_error(L, "pages_wait: not in the worker pool");
    page_range_result *res;
    int n;
    page_board_wait(b, batch, &res, &n);
    /* Pushing raises only when this state is out of memory, which ends
     * the worker anyway; the results would leak then, nothing else. */
    lua_createtable(L, 0, 4);
    lua_newtable(L);
    int np = 0, ocr = 0;
    int64_t stages[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < res[i].npages; k++) {
            page_text *p = &res[i].pages[k];
            bind_push_page(L, p->page, p->method, p->dpi, p->text, p->text ? strlen(p->text) : 0);
            if (p->confidence >= 0) {
                lua_pushinteger(L, p->confidence);
                lua_setfield(L, -2, "confidence");
            }
            if (p->rotate != 0) {
                lua_pushinteger(L, p->rotate);
                lua_setfield(L, -2, "rotate");
            }
            if (p->deskew != 0) {
                lua_pushnumber(L, p->deskew);
                lua_setfield(L, -2, "deskew");
            }
            if (p->vertical) {
                lua_pushboolean(L, 1);
                lua_setfield(L, -2, "vertical");
            }
            lua_rawseti(L, -2, ++np);
        }
        ocr += res[i].pages_ocr;
        for (int k = 0; k < 3; k++)
            stages[k] += res[i].stage_ms[k];
    }
    lua_setfield(L, -2, "pages");
    lua_newtable(L);
    int ne = 0;
    for (int i = 0; i < n; i++) {
        if (!res[i].errors)
            continue;
        char *save, *line = strtok_r(res[i].errors, "\n", &save);
        for (; line; line = strtok_r(NULL, "\n", &save)) {
            lua_pushstring(L, line);
            lua_rawseti(L, -2, ++ne);
        }
    }
    lua_setfield(L, -2, "errors");
    lua_pushinteger(L, ocr);
    lua_setfield(L, -2, "pages_ocr");
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (lua_Number)stages[0]);
    lua_setfield(L, -2, "text");
    lua_pushnumber(L, (lua_Number)stages[1]);
    lua_setfield(L, -2, "render");
    lua_pushnumber(L, (lua_Number)stages[2]);
    lua_setfield(L, -2, "ocr");
    lua_setfield(L, -2, "stages");
    page_board_results_free(res, n);
    return 1;
}

void bind_pages_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {{"pages_post", l_pages_post},
                                   {"pages_settle", l_pages_settle},
                                   {"pages_take", l_pages_take},
                                   {"pages_done", l_pages_done},
                                   {"pages_wait", l_pages_wait},
                                   {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
