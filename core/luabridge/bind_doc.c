/* open(path) -> Doc | nil, err, permanent
 *   doc:kind()  "pdf" | "mupdf" | "image" | "text"
 *   doc:mime(), doc:encoding(), doc:page_count(), doc:warnings()
 *   doc:page_name(n) -> a sheet's name | nil
 *   doc:meta() -> {title=, author=, subject=, keywords=, created=, modified=} (each may be nil)
 *   doc:truncated() -> true when text past max_text_mb was left out
 *   doc:page_text(n) -> text (NFKC), info | nil, err, permanent
 *       info = {chars, replacement, control, cjk, letters, bad_ratio,
 *               image_coverage, image_dpi, width_pt, height_pt}
 *   doc:render(n, dpi, max_pixels) -> Image | nil, err, permanent
 *   doc:close()
 *   image:width(), image:height(), image:dpi(), image:free()
 *   image:turned() -> degrees clockwise it was turned (EXIF, turn)
 *   image:turn(degrees) -> a new Image turned clockwise | nil, err
 *   image:skew() -> degrees (the clockwise turn that levels its lines), confidence
 *   image:line_height() -> its text lines' height in pixels, 0 when it cannot tell
 *   image:rotate(degrees) -> a new Image turned clockwise about its centre | nil, err
 * normalize(text) -> NFKC text, CJK spacing fixed
 * set_deadline(seconds) sets the deadline of what this state's worker does
 *   next (text, render, OCR) to now + seconds; 0 clears it. Returns the
 *   deadline in monotonic ms (0 = none). */
#include "luabridge/bindings.h"
#include "extract/doc.h"
#include "luabridge/lstate.h"
#include "luabridge/policy.h"
#include "extract/textnorm.h"

#include <string.h>

#define DOC_MT "docmill.doc"
#define IMAGE_MT "docmill.image"

typedef struct ldoc {
    doc *d;
} ldoc;

typedef struct limage {
    gray_image img;
    doc_ctx *dc;
} limage;

static ldoc *check_doc(lua_State *L)
{
    ldoc *ld = luaL_checkudata(L, 1, DOC_MT);
    if (!ld->d)
        luaL_error(L, "document is closed");
    return ld;
}

static int l_set_deadline(lua_State *L)
{
    double secs = luaL_checknumber(L, 1);
    if (secs < 0)
        return luaL_error(L, "set_deadline: seconds must be >= 0");
    lstate_env *env = lstate_get_env(L);
    if (!env->docs)
        return luaL_error(L, "set_deadline: this Lua state has no document context");
    int64_t deadline = secs > 0 ? dm_mono_ms() + (int64_t)(secs * 1000) : 0;
    doc_ctx_set_deadline(env->docs, deadline);
    lua_pushnumber(L, (lua_Number)deadline);
    return 1;
}

static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lstate_env *env = lstate_get_env(L);
    if (!env->docs)
        return luaL_error(L, "open: this Lua state has no document context");
    /* Allocate the userdata first: if Lua cannot, nothing C-side leaks. */
    ldoc *ld = lua_newuserdata(L, sizeof *ld);
    ld->d = NULL;
    luaL_getmetatable(L, DOC_MT);
    lua_setmetatable(L, -2);
    /* The cap of the policy in force now (it may have been reloaded). */
    if (env->policy) {
        const policy_settings *ps = &env->policy->s;
        doc_ctx_set_limit(env->docs, (size_t)ps->max_mupdf_mb << 20);
        doc_ctx_set_text_limits(env->docs, (size_t)(ps->max_text_mb * 1048576.0),
                                (int64_t)(ps->max_expanded_mb * 1048576.0),
                                ps->max_compression_ratio, ps->office_converters,
                                ps->max_office_images, ps->html_default_charset);
    }
    dm_err err;
    ld->d = doc_open(env->docs, path, &err);
    if (!ld->d)
        return bind_push_error(L, &err);
    return 1;
}

static int l_doc_kind(lua_State *L)
{
    static const char *kinds[] = {"pdf", "mupdf", "image", "text"};
    lua_pushstring(L, kinds[doc_get_kind(check_doc(L)->d)]);
    return 1;
}

static int l_doc_mime(lua_State *L)
{
    lua_pushstring(L, doc_mime(check_doc(L)->d));
    return 1;
}

static int l_doc_encoding(lua_State *L)
{
    const char *enc = doc_text_encoding(check_doc(L)->d);
    if (enc)
        lua_pushstring(L, enc);
    else
        lua_pushnil(L);
    return 1;
}

static int l_doc_page_count(lua_State *L)
{
    lua_pushinteger(L, doc_page_count(check_doc(L)->d));
    return 1;
}

static int l_doc_page_name(lua_State *L)
{
    const char *name = doc_page_name(check_doc(L)->d, (int)luaL_checkinteger(L, 2));
    if (name)
        lua_pushstring(L, name);
    else
        lua_pushnil(L);
    return 1;
}

static int l_doc_meta(lua_State *L)
{
    const doc_meta *m = doc_get_meta(check_doc(L)->d);
    lua_createtable(L, 0, 6);
    const struct {
        const char *key, *value;
    } fields[] = {{"title", m->title},       {"author", m->author},   {"subject", m->subject},
                  {"keywords", m->keywords}, {"created", m->created}, {"modified", m->modified}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value) {
            lua_pushstring(L, fields[i].value);
            lua_setfield(L, -2, fields[i].key);
        }
    return 1;
}

static int l_doc_truncated(lua_State *L)
{
    lua_pushboolean(L, doc_text_truncated(check_doc(L)->d));
    return 1;
}

static int l_doc_warnings(lua_State *L)
{
    lua_pushinteger(L, doc_warning_count(check_doc(L)->d));
    return 1;
}

static void push_info(lua_State *L, const text_stats *st, const page_info *pi)
{
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, st->chars);
    lua_setfield(L, -2, "chars");
    lua_pushinteger(L, st->replacement);
    lua_setfield(L, -2, "replacement");
    lua_pushinteger(L, st->control);
    lua_setfield(L, -2, "control");
    lua_pushinteger(L, st->cjk);
    lua_setfield(L, -2, "cjk");
    lua_pushinteger(L, st->letters);
    lua_setfield(L, -2, "letters");
    lua_pushnumber(L, st->chars ? (double)(st->replacement + st->control) / (double)st->chars : 0);
    lua_setfield(L, -2, "bad_ratio");
    lua_pushnumber(L, pi->image_coverage);
    lua_setfield(L, -2, "image_coverage");
    lua_pushinteger(L, pi->image_dpi);
    lua_setfield(L, -2, "image_dpi");
    lua_pushinteger(L, pi->width_pt);
    lua_setfield(L, -2, "width_pt");
    lua_pushinteger(L, pi->height_pt);
    lua_setfield(L, -2, "height_pt");
}

static int l_doc_page_text(lua_State *L)
{
    ldoc *ld = check_doc(L);
    int page = (int)luaL_checkinteger(L, 2);
    sbuf raw, norm;
    sbuf_init(&raw);
    sbuf_init(&norm);
    page_info pi;
    dm_err err;
    if (doc_page_text(ld->d, page, &raw, &pi, &err) != 0) {
        sbuf_free(&raw);
        return bind_push_error(L, &err);
    }
    text_normalize(raw.data ? raw.data : "", raw.len, &norm);
    sbuf_free(&raw);
    text_stats st;
    text_compute_stats(norm.data, norm.len, &st);
    /* lua_pushlstring raises only when the state is out of memory, which
     * ends the state anyway; the small leak then is moot. */
    lua_pushlstring(L, norm.data, norm.len);
    sbuf_free(&norm);
    push_info(L, &st, &pi);
    return 2;
}

/* Pushes an empty Image of dc for a C call to fill; if the call fails, its
 * __gc finds nothing to free. */
static limage *new_image(lua_State *L, doc_ctx *dc)
{
    limage *li = lua_newuserdata(L, sizeof *li);
    memset(li, 0, sizeof *li);
    li->dc = dc;
    luaL_getmetatable(L, IMAGE_MT);
    lua_setmetatable(L, -2);
    return li;
}

static int l_doc_render(lua_State *L)
{
    ldoc *ld = check_doc(L);
    int page = (int)luaL_checkinteger(L, 2);
    int dpi = (int)luaL_checkinteger(L, 3);
    lua_Number max_pixels = luaL_optnumber(L, 4, 0);
    if (dpi < 1 || dpi > 2400)
        return luaL_error(L, "render: dpi %d out of range 1..2400", dpi);
    limage *li = new_image(L, doc_get_ctx(ld->d));
    dm_err err;
    if (doc_render_gray(ld->d, page, dpi, (int64_t)max_pixels, &li->img, &err) != 0)
        return bind_push_error(L, &err);
    return 1;
}

static int l_doc_close(lua_State *L)
{
    ldoc *ld = luaL_checkudata(L, 1, DOC_MT);
    doc_close(ld->d);
    ld->d = NULL;
    return 0;
}

static limage *check_image(lua_State *L)
{
    limage *li = luaL_checkudata(L, 1, IMAGE_MT);
    if (!li->img.owner)
        luaL_error(L, "image is freed");
    return li;
}

static int l_image_width(lua_State *L)
{
    lua_pushinteger(L, check_image(L)->img.width);
    return 1;
}

static int l_image_height(lua_State *L)
{
    lua_pushinteger(L, check_image(L)->img.height);
    return 1;
}

static int l_image_dpi(lua_State *L)
{
    lua_pushinteger(L, check_image(L)->img.dpi);
    return 1;
}

static int l_image_turned(lua_State *L)
{
    lua_pushinteger(L, check_image(L)->img.turned);
    return 1;
}

/* image:turn(degrees) -> a new image turned clockwise | nil, err */
static int l_image_turn(lua_State *L)
{
    limage *src = check_image(L);
    int degrees = (int)luaL_checkinteger(L, 2);
    if (degrees % 90 != 0)
        return luaL_error(L, "turn: %d is not a multiple of 90 degrees", degrees);
    limage *li = new_image(L, src->dc);
    dm_err err;
    if (gray_image_turn(src->dc, &src->img, degrees, &li->img, &err) != 0)
        return bind_push_error(L, &err);
    return 1;
}

/* image:skew() -> degrees, confidence */
static int l_image_skew(lua_State *L)
{
    double degrees, confidence;
    gray_image_skew(&check_image(L)->img, &degrees, &confidence);
    lua_pushnumber(L, degrees);
    lua_pushnumber(L, confidence);
    return 2;
}

/* image:line_height() -> pixels | 0 */
static int l_image_line_height(lua_State *L)
{
    lua_pushinteger(L, gray_image_line_height(&check_image(L)->img));
    return 1;
}

/* image:rotate(degrees) -> a new image turned clockwise about its centre | nil, err */
static int l_image_rotate(lua_State *L)
{
    limage *src = check_image(L);
    double degrees = luaL_checknumber(L, 2);
    limage *li = new_image(L, src->dc);
    dm_err err;
    if (gray_image_rotate(src->dc, &src->img, degrees, &li->img, &err) != 0)
        return bind_push_error(L, &err);
    return 1;
}

static int l_image_free(lua_State *L)
{
    limage *li = luaL_checkudata(L, 1, IMAGE_MT);
    gray_image_free(li->dc, &li->img);
    return 0;
}

static int l_normalize(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    sbuf out;
    sbuf_init(&out);
    text_normalize(s, len, &out);
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    sbuf_free(&out);
    return 1;
}

const gray_image *bind_doc_check_image(lua_State *L, int idx)
{
    limage *li = luaL_checkudata(L, idx, IMAGE_MT);
    if (!li->img.owner)
        luaL_error(L, "image is freed");
    return &li->img;
}

static void new_metatable(lua_State *L, const char *name, const luaL_Reg *methods,
                          lua_CFunction gc)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    bind_set_funcs(L, lua_gettop(L), methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}

void bind_doc_register(lua_State *L, int module)
{
    static const luaL_Reg doc_methods[] = {
        {"kind", l_doc_kind},           {"mime", l_doc_mime},
        {"encoding", l_doc_encoding},   {"page_count", l_doc_page_count},
        {"warnings", l_doc_warnings},   {"page_text", l_doc_page_text},
        {"page_name", l_doc_page_name}, {"meta", l_doc_meta},
        {"truncated", l_doc_truncated},
        {"render", l_doc_render},       {"close", l_doc_close},
        {NULL, NULL}};
    static const luaL_Reg image_methods[] = {{"width", l_image_width},
                                             {"height", l_image_height},
                                             {"dpi", l_image_dpi},
                                             {"turned", l_image_turned},
                                             {"turn", l_image_turn},
                                             {"skew", l_image_skew},
                                             {"line_height", l_image_line_height},
                                             {"rotate", l_image_rotate},
                                             {"free", l_image_free},
                                             {NULL, NULL}};
    new_metatable(L, DOC_MT, doc_methods, l_doc_close);
    new_metatable(L, IMAGE_MT, image_methods, l_image_free);
    static const luaL_Reg fns[] = {
        {"open", l_open}, {"normalize", l_normalize}, {"set_deadline", l_set_deadline}, {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
