/* The Lua face of the C primitives: module "docmill.core". One file per
 * area registers its functions into the module table; bindings_register is
 * the one place that calls them all. Conventions, everywhere:
 *   - misuse (wrong argument type, missing argument) raises a Lua error;
 *   - a runtime failure returns nil, message, permanent (boolean) and,
 *     where callers act on it, a code ("not_found");
 *   - nothing raises while C resources are live: errors are recorded,
 *     resources released, and only then raised or returned. (Pushing a
 *     result can still raise when the Lua state itself is out of memory;
 *     that ends the state, and the worker with it.) */
#ifndef DOCMILL_BINDINGS_H
#define DOCMILL_BINDINGS_H

#include "common.h"
#include "doc.h"

#include <lauxlib.h>
#include <lua.h>

void bindings_register(lua_State *L);

void bind_fetch_register(lua_State *L, int module);
void bind_doc_register(lua_State *L, int module);
void bind_ocr_register(lua_State *L, int module);
void bind_index_register(lua_State *L, int module);
void bind_mem_register(lua_State *L, int module);
void bind_policy_register(lua_State *L, int module);
void bind_runtime_register(lua_State *L, int module);
void bind_aws_register(lua_State *L, int module);
void bind_control_register(lua_State *L, int module);
void bind_pages_register(lua_State *L, int module);
struct page_task;
struct page_range_result;
/* Pushes a page task table (for a worker's pipeline.page_task). */
void bind_pages_push_task(lua_State *L, const struct page_task *t);
/* Reads a range result table at idx into r; never raises. */
void bind_pages_read_result(lua_State *L, int idx, struct page_range_result *r);

/* Pushes nil, err->msg, err->permanent [, err->code] and returns how many
 * (for `return`). */
int bind_push_error(lua_State *L, const dm_err *err);
/* The raster of an image userdata (bind_doc.c) at idx; raises on misuse. */
const gray_image *bind_doc_check_image(lua_State *L, int idx);
/* Reads the stage timings {fetch=ms, text=, render=, ocr=, index=} of the
 * table at t (missing = 0) into stage_ms[STAGE_COUNT] (runtime.h). */
void bind_read_stages(lua_State *L, int t, int64_t *stage_ms);
/* Registers fns into the table at index module. */
void bind_set_funcs(lua_State *L, int module, const luaL_Reg *fns);

#endif
