/* The Lua face of the C primitives. Two modules, one file per area
 * registering into them:
 *   docmill.core  the primitives, in every state (fetch, doc, container, ocr, index,
 *                 mem, policy, aws, base);
 *   docmill.job   a worker's verbs (complete, index_submit, pages_*,
 *                 worker_id), only in states whose env has a host.
 * The layers above register their own: docmill.control in the REPL
 * (daemon/bind_control.c), docmill.cli.core in the CLI (cli/bind_cli.c). Conventions, everywhere:
 *   - misuse (wrong argument type, missing argument) raises a Lua error;
 *   - a runtime failure returns nil, message, permanent (boolean) and,
 *     where callers act on it, a code ("not_found");
 *   - nothing raises while C resources are live: errors are recorded,
 *     resources released, and only then raised or returned. (Pushing a
 *     result can still raise when the Lua state itself is out of memory;
 *     that ends the state, and the worker with it.) */
#ifndef DOCMILL_BINDINGS_H
#define DOCMILL_BINDINGS_H

#include "base/common.h"
#include "extract/doc.h"

#include <lauxlib.h>
#include <lua.h>

/* docmill.core, and docmill.job (called by lstate_new). */
void bindings_register(lua_State *L);
void bindings_register_job(lua_State *L);

void bind_fetch_register(lua_State *L, int module);
void bind_doc_register(lua_State *L, int module);
void bind_container_register(lua_State *L, int module);
void bind_ocr_register(lua_State *L, int module);
void bind_index_register(lua_State *L, int module);
void bind_mem_register(lua_State *L, int module);
void bind_policy_register(lua_State *L, int module);
void bind_aws_register(lua_State *L, int module);
void bind_base_register(lua_State *L, int module);
/* docmill.job */
void bind_job_register(lua_State *L, int module);
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
 * table at t (missing = 0) into stage_ms[STAGE_COUNT] (queue/job.h). */
void bind_read_stages(lua_State *L, int t, int64_t *stage_ms);
struct index_doc;
/* Reads the document table at idx into d (its pages array malloc'd: free
 * d->pages); *bad names the first malformed field. Never raises. */
void bind_read_doc(lua_State *L, int idx, struct index_doc *d, const char **bad);
/* Pushes a page table {page, method, dpi (when > 0), text}. */
void bind_push_page(lua_State *L, int page, const char *method, int dpi, const char *text,
                    size_t len);
/* Pushes a document (bind_index.c's shape, as index_find_copy returns it). */
void bind_push_doc(lua_State *L, const struct index_doc *d);
/* Registers fns into the table at index module. */
void bind_set_funcs(lua_State *L, int module, const luaL_Reg *fns);

#endif
