/* ocr(image, langs, {psm=, skip_inverted=, transient=, band={from, to}}) -> text (NFKC),
 *     {confidence=, lines=,
 *     line_height_px=, cjk_symbols=, cjk_gap=, ttb_chars=, ttb_confidence=, ltr_chars=,
 *     ltr_confidence=, ms=}
 *                                            | nil, err, permanent
 * ocr_orientation(image) -> {degrees=, confidence=, script=, script_confidence=, ms=}
 *                         | nil, err
 * ocr_languages_available(langs) -> true | false, err */
#include "luabridge/bindings.h"
#include "luabridge/lstate.h"
#include "extract/ocr.h"
#include "extract/textnorm.h"

static int l_ocr(lua_State *L)
{
    const gray_image *img = bind_doc_check_image(L, 1);
    gray_image band;
    const char *langs = luaL_checkstring(L, 2);
    ocr_options opt = {.psm = 3, .skip_inverted = true};
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "psm");
        opt.psm = (int)luaL_optinteger(L, -1, 3);
        lua_getfield(L, 3, "skip_inverted");
        if (!lua_isnil(L, -1))
            opt.skip_inverted = lua_toboolean(L, -1);
        lua_getfield(L, 3, "transient");
        opt.transient = lua_toboolean(L, -1);
        lua_pop(L, 3);
        /* band = {from, to}: the rows between those fractions of the height,
         * read as an image of their own (a view: the same samples). */
        lua_getfield(L, 3, "band");
        if (!lua_isnil(L, -1)) {
            luaL_checktype(L, -1, LUA_TTABLE);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            double from = luaL_checknumber(L, -2), to = luaL_checknumber(L, -1);
            if (!(from >= 0 && from < to && to <= 1))
                return luaL_error(L, "ocr: band {%f, %f} is not 0 <= from < to <= 1", from, to);
            /* Cut between text lines: a line cut in half reads as garbage. */
            int top = (int)(from * img->height), bottom = (int)(to * img->height);
            int reach = (bottom - top) / 3;
            top = gray_image_quiet_row(img, top, reach);
            bottom = gray_image_quiet_row(img, bottom, reach);
            band = *img;
            band.samples = img->samples + (size_t)top * img->stride;
            band.height = bottom > top ? bottom - top : 1;
            img = &band;
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    if (opt.psm < 0 || opt.psm > 13)
        return luaL_error(L, "ocr: psm %d out of range 0..13", opt.psm);
    lstate_env *env = lstate_get_env(L);
    if (!env->ocr)
        return luaL_error(L, "ocr: this Lua state has no OCR engine");
    if (env->docs)
        opt.deadline_ms = doc_ctx_deadline(env->docs);
    sbuf raw, norm;
    sbuf_init(&raw);
    sbuf_init(&norm);
    ocr_result res;
    dm_err err;
    if (ocr_recognize(env->ocr, langs, img, &opt, &raw, &res, &err) != 0) {
        sbuf_free(&raw);
        return bind_push_error(L, &err);
    }
    text_normalize(raw.data ? raw.data : "", raw.len, &norm);
    sbuf_free(&raw);
    lua_pushlstring(L, norm.data, norm.len);
    sbuf_free(&norm);
    lua_createtable(L, 0, 11);
    const struct {
        const char *name;
        int value;
    } counts[] = {{"confidence", res.mean_confidence}, {"lines", res.lines},
                  {"line_height_px", res.line_height_px}, {"cjk_symbols", res.cjk_symbols},
                  {"ttb_chars", res.ttb_chars},           {"ttb_confidence", res.ttb_confidence},
                  {"ltr_chars", res.ltr_chars},           {"ltr_confidence", res.ltr_confidence}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        lua_pushinteger(L, counts[i].value);
        lua_setfield(L, -2, counts[i].name);
    }
    lua_pushnumber(L, res.cjk_gap);
    lua_setfield(L, -2, "cjk_gap");
    lua_pushnumber(L, (lua_Number)res.elapsed_ms);
    lua_setfield(L, -2, "ms");
    return 2;
}

static int l_ocr_orientation(lua_State *L)
{
    const gray_image *img = bind_doc_check_image(L, 1);
    lstate_env *env = lstate_get_env(L);
    if (!env->ocr)
        return luaL_error(L, "ocr_orientation: this Lua state has no OCR engine");
    ocr_orientation o;
    dm_err err;
    if (ocr_detect_orientation(env->ocr, img, env->docs ? doc_ctx_deadline(env->docs) : 0, &o,
                               &err) != 0)
        return bind_push_error(L, &err);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, o.degrees);
    lua_setfield(L, -2, "degrees");
    lua_pushnumber(L, o.confidence);
    lua_setfield(L, -2, "confidence");
    lua_pushstring(L, o.script);
    lua_setfield(L, -2, "script");
    lua_pushnumber(L, o.script_confidence);
    lua_setfield(L, -2, "script_confidence");
    lua_pushnumber(L, (lua_Number)o.elapsed_ms);
    lua_setfield(L, -2, "ms");
    return 1;
}

static int l_ocr_languages_available(lua_State *L)
{
    const char *langs = luaL_checkstring(L, 1);
    dm_err err;
    if (!ocr_languages_available(NULL, langs, &err)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

void bind_ocr_register(lua_State *L, int module)
{
    static const luaL_Reg fns[] = {
        {"ocr", l_ocr},
        {"ocr_orientation", l_ocr_orientation},
        {"ocr_languages_available", l_ocr_languages_available},
        {NULL, NULL}};
    bind_set_funcs(L, module, fns);
}
