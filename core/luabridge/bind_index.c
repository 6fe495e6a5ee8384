/* index_open(uri) -> true | nil, err, permanent   (states without a sink)
 * bulk_index(docs) -> results | nil, err, permanent
 *   docs = {{id=, source=, sha256=, mime=, size=, mtime_ms=, page_count=,
 *            pages_ocr=, extract_ms=, note=, pages={{page=, method=, dpi=, text=}}}}
 *   results[i] = {ok=true, permanent=false} | {ok=false, error=, permanent=}
 *   (nil, err, permanent: the whole batch failed and nothing is known per
 *   document.)
 * index_lookup(id) -> sha256 | false | nil, err, permanent
 * index_find_copy(sha256, exclude_id) -> {id=, source=, mime=, page_count=, pages_ocr=,
 *   note=, pages={{page=, method=, dpi=, text=}}} | false | nil, err, permanent
 *   (false too when the sink cannot look documents up by content)
 * index_touch(id, size, mtime_ms) -> true | nil, err, permanent
 * index_remove({id...}) -> true | nil, err, permanent
 * doc_id(source) -> 32 hex digits
 * search(db_path, query, limit) -> {{id=, source=, page=, score=, snippet=, title=}} | nil, err
 *     (page 0: the hit is in the document's title)
 * status(db_path, limit) -> {indexed=, failed=, pending=, failures={{source=, error=}},
 *                            notes={{source=, note=}}} | nil, err */
#include "luabridge/bindings.h"
#include "index/index_sqlite.h"
#include "luabridge/lstate.h"
#include "queue/queue_sqlite.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static index_sink *need_sink(lua_State *L)
{
    lstate_env *env = lstate_get_env(L);
    if (!env->index)
        luaL_error(L, "no index is open in this state");
    return env->index;
}

static int l_index_open(lua_State *L)
{
    const char *uri = luaL_checkstring(L, 1);
    lstate_env *env = lstate_get_env(L);
    dm_err err;
    index_sink *sink = index_open(uri, &err);
    if (!sink)
        return bind_push_error(L, &err);
    index_close(env->index);
    env->index = sink;
    return (lua_pushboolean(L, 1), 1);
}

static const char *field_str(lua_State *L, int tbl, const char *name, bool required,
                             const char **bad)
{
    lua_getfield(L, tbl, name);
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (!v && (required || !lua_isnil(L, -1)) && !*bad)
        *bad = name;
    lua_pop(L, 1);  /* the string stays alive: the table holds it */
    return v;
}

static double field_num(lua_State *L, int tbl, const char *name, const char **bad)
{
    lua_getfield(L, tbl, name);
    double v = 0;
    if (lua_type(L, -1) == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else if (!lua_isnil(L, -1) && !*bad)
        *bad = name;
    lua_pop(L, 1);
    return v;
}

/* Reads the document table at t into d. Strings are borrowed from the
 * table (alive while it is); d->pages is malloc'ed (the caller frees it).
 * The first malformed field is named in *bad; nothing raises here. */
void bind_read_doc(lua_State *L, int t, index_doc *d, const char **bad)
{
    d->id = field_str(L, t, "id", true, bad);
    d->source = field_str(L, t, "source", true, bad);
    d->sha256 = field_str(L, t, "sha256", false, bad);
    d->mime = field_str(L, t, "mime", false, bad);
    d->note = field_str(L, t, "note", false, bad);
    d->title = field_str(L, t, "title", false, bad);
    d->meta = field_str(L, t, "meta", false, bad);
    d->parent = field_str(L, t, "parent", false, bad);
    d->members = (int)field_num(L, t, "members", bad);
    lua_getfield(L, t, "container");
    d->container = lua_toboolean(L, -1);
    lua_pop(L, 1);
    d->size = (int64_t)field_num(L, t, "size", bad);
    d->mtime_ms = (int64_t)field_num(L, t, "mtime_ms", bad);
    d->page_count = (int)field_num(L, t, "page_count", bad);
    d->pages_ocr = (int)field_num(L, t, "pages_ocr", bad);
    d->extract_ms = (int64_t)field_num(L, t, "extract_ms", bad);
    lua_getfield(L, t, "pages");
    if (lua_istable(L, -1)) {
        int p = lua_gettop(L);
        d->npages = (int)lua_objlen(L, p);
        index_page *pages = calloc(d->npages > 0 ? (size_t)d->npages : 1, sizeof *pages);
        d->pages = pages;
        for (int k = 0; k < d->npages && !*bad; k++) {
            lua_rawgeti(L, p, k + 1);
            int pt = lua_gettop(L);
            if (!lua_istable(L, pt)) {
                *bad = "pages[]";
            } else {
                pages[k].page = (int)field_num(L, pt, "page", bad);
                pages[k].method = field_str(L, pt, "method", true, bad);
                pages[k].dpi = (int)field_num(L, pt, "dpi", bad);
                lua_getfield(L, pt, "text");
                if (lua_type(L, -1) == LUA_TSTRING)
                    pages[k].text = lua_tolstring(L, -1, &pages[k].text_len);
                else if (!*bad)
                    *bad = "text";
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        *bad = "pages";
    }
    lua_pop(L, 1);
}

static int l_bulk_index(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    index_sink *sink = need_sink(L);
    int n = (int)lua_objlen(L, 1);
    /* Results live in a userdata, not malloc: building the returned table
     * can raise (out of memory) and must leak nothing then. Allocated
     * before docs for the same reason. */
    index_item_result *results = lua_newuserdata(L, (n > 0 ? (size_t)n : 1) * sizeof *results);
    index_doc *docs = calloc(n > 0 ? (size_t)n : 1, sizeof *docs);
    const char *bad = NULL;
    int bad_doc = 0;
    for (int i = 0; i < n && !bad; i++) {
        lua_rawgeti(L, 1, i + 1);
        int t = lua_gettop(L);
        index_doc *d = &docs[i];
        bad_doc = i + 1;
        if (!lua_istable(L, t)) {
            bad = "document";
            lua_pop(L, 1);
            break;
        }
        bind_read_doc(L, t, d, &bad);
        lua_pop(L, 1);
    }
    dm_err err;
    int rc = bad ? -1 : sink->ops->bulk(sink, docs, n, results, &err);
    for (int i = 0; i < n; i++)
        free((void *)docs[i].pages);
    free(docs);
    if (bad)  /* raised only now, with nothing left to free */
        return luaL_error(L, "bulk_index: document %d: field '%s' is missing or has the wrong type",
                          bad_doc, bad);
    if (rc != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, n, 0);
    int t = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushboolean(L, results[i].ok);
        lua_setfield(L, -2, "ok");
        lua_pushboolean(L, !results[i].ok && results[i].permanent);
        lua_setfield(L, -2, "permanent");
        if (!results[i].ok) {
            lua_pushstring(L, results[i].error[0] ? results[i].error : "not indexed");
            lua_setfield(L, -2, "error");
        }
        lua_rawseti(L, t, i + 1);
    }
    return 1;
}

void bind_push_page(lua_State *L, int page, const char *method, int dpi, const char *text,
                    size_t len)
{
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, page);
    lua_setfield(L, -2, "page");
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    if (dpi > 0) {
        lua_pushinteger(L, dpi);
        lua_setfield(L, -2, "dpi");
    }
    lua_pushlstring(L, text ? text : "", text ? len : 0);
    lua_setfield(L, -2, "text");
}

void bind_push_doc(lua_State *L, const index_doc *d)
{
    lua_createtable(L, 0, 8);
    lua_pushstring(L, d->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, d->source);
    lua_setfield(L, -2, "source");
    lua_pushstring(L, d->mime);
    lua_setfield(L, -2, "mime");
    lua_pushinteger(L, d->page_count);
    lua_setfield(L, -2, "page_count");
    lua_pushinteger(L, d->pages_ocr);
    lua_setfield(L, -2, "pages_ocr");
    const struct {
        const char *key, *value;
    } opt[] = {{"note", d->note}, {"title", d->title}, {"meta", d->meta}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (opt[i].value) {
            lua_pushstring(L, opt[i].value);
            lua_setfield(L, -2, opt[i].key);
        }
    lua_createtable(L, d->npages, 0);
    for (int i = 0; i < d->npages; i++) {
        const index_page *p = &d->pages[i];
        bind_push_page(L, p->page, p->method, p->dpi, p->text, p->text_len);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "pages");
}

static int l_index_find_copy(lua_State *L)
{
    const char *sha = luaL_checkstring(L, 1);
    const char *exclude = luaL_checkstring(L, 2);
    index_sink *sink = need_sink(L);
    if (!sink->ops->find_copy)
        return (lua_pushboolean(L, 0), 1);
    index_doc d;
    dm_err err;
    int r = sink->ops->find_copy(sink, sha, exclude, &d, &err);
    if (r < 0)
        return bind_push_error(L, &err);
    if (r == 0)
        return (lua_pushboolean(L, 0), 1);
    bind_push_doc(L, &d);
    index_doc_free(&d);
    return 1;
}

static int l_index_lookup(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    index_sink *sink = need_sink(L);
    char sha[65];
    dm_err err;
    int r = sink->ops->lookup(sink, id, sha, &err);
    if (r < 0)
        return bind_push_error(L, &err);
    if (r == 0)
        lua_pushboolean(L, 0);
    else
        lua_pushstring(L, sha);
    return 1;
}

static int l_index_touch(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    int64_t size = (int64_t)luaL_checknumber(L, 2);
    int64_t mtime = (int64_t)luaL_checknumber(L, 3);
    index_sink *sink = need_sink(L);
    dm_err err;
    if (sink->ops->touch(sink, id, size, mtime, &err) != 0)
        return bind_push_error(L, &err);
    return (lua_pushboolean(L, 1), 1);
}

static int l_index_remove(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    index_sink *sink = need_sink(L);
    int n = (int)lua_objlen(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "index_remove: ids[%d] is not a string", i);
        lua_pop(L, 1);
    }
    const char **ids = calloc(n > 0 ? (size_t)n : 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        ids[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    dm_err err;
    int rc = sink->ops->remove(sink, ids, n, &err);
    free(ids);
    if (rc != 0)
        return bind_push_error(L, &err);
    return (lua_pushboolean(L, 1), 1);
}

static int l_doc_id(lua_State *L)
{
    char id[33];
    index_doc_id(luaL_checkstring(L, 1), id);
    lua_pushstring(L, id);
    return 1;
}

static int l_search(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *query = luaL_checkstring(L, 2);
    int limit = (int)luaL_optinteger(L, 3, 10);
    search_hit *hits;
    int n;
    dm_err err;
    if (index_sqlite_search(path, query, limit, &hits, &n, &err) != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, hits[i].id);
        lua_setfield(L, -2, "id");
        lua_pushstring(L, hits[i].source);
        lua_setfield(L, -2, "source");
        lua_pushinteger(L, hits[i].page);
        lua_setfield(L, -2, "page");
        lua_pushnumber(L, hits[i].score);
        lua_setfield(L, -2, "score");
        lua_pushstring(L, hits[i].snippet);
        lua_setfield(L, -2, "snippet");
        if (hits[i].title) {
            lua_pushstring(L, hits[i].title);
            lua_setfield(L, -2, "title");
        }
        lua_rawseti(L, -2, i + 1);
    }
    search_hits_free(hits, n);
    return 1;
}

static int l_status(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int limit = (int)luaL_optinteger(L, 2, 100);
    dm_err err;
    int64_t docs = 0;
    if (index_sqlite_count(path, &docs, &err) != 0)
        return bind_push_error(L, &err);
    queue *q = queue_sqlite_open(path, NULL, &err);
    if (!q)
        return bind_push_error(L, &err);
    queue_counts c;
    queue_failure *f = NULL;
    int nf = 0;
    if (queue_get_counts(q, &c, &err) != 0 || queue_sqlite_failures(q, limit, &f, &nf, &err) != 0) {
        queue_close(q);
        return bind_push_error(L, &err);
    }
    queue_close(q);
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, (lua_Number)docs);
    lua_setfield(L, -2, "indexed");
    lua_pushnumber(L, (lua_Number)c.failed);
    lua_setfield(L, -2, "failed");
    lua_pushnumber(L, (lua_Number)(c.pending + c.leased));
    lua_setfield(L, -2, "pending");
    lua_createtable(L, nf, 0);
    for (int i = 0; i < nf; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, f[i].source);
        lua_setfield(L, -2, "source");
        lua_pushstring(L, f[i].error);
        lua_setfield(L, -2, "error");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "failures");
    queue_failures_free(f, nf);
    index_note *notes = NULL;
    int nn = 0;
    if (index_sqlite_notes(path, limit, &notes, &nn, &err) != 0) {
        lua_pop(L, 1);
        return bind_push_error(L, &err);
    }
    lua_createtable(L, nn, 0);
    for (int i = 0; i < nn; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, notes[i].source);
        lua_setfield(L, -2, "source");
        lua_pushstring(L, notes[i].note);
        lua_setfield(L, -2, "note");
        lua_rawseti(L, -2, i + 1);
    }
    index_notes_free(notes, nn);
    lua_setfield(L, -2, "notes");
    return 1;
}

void bind_index_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"index_open", l_index_open},     {"bulk_index", l_bulk_index},
        {"index_lookup", l_index_lookup}, {"index_touch", l_index_touch},
        {"index_find_copy", l_index_find_copy},
        {"index_remove", l_index_remove}, {"doc_id", l_doc_id},
        {"search", l_search},             {"status", l_status},
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
