/* repl: the Lua state behind the control socket. It lives on the loop
 * thread, apart from the workers' states, and reaches the runtime only
 * through runtime.h's introspection and control calls. Code sent by an
 * operator runs with the JIT off under an instruction-count hook, so a
 * runaway loop is stopped after a time budget instead of freezing the
 * loop; an error in it is returned, never raised into the worker. */
#ifndef DOCMILL_REPL_H
#define DOCMILL_REPL_H

#include "ops/control.h"

#include <lua.h>

struct runtime;
typedef struct repl repl;

/* How long one evaluation may run on the loop thread. */
#define REPL_BUDGET_MS 2000

repl *repl_new(struct runtime *rt, dm_err *err);
/* Evaluates code in session's environment (globals persist per session):
 * an expression's values, or a statement's printed output, go to reply. */
control_status repl_eval(repl *r, int session, const char *code, size_t len, sbuf *reply);
void repl_session_end(repl *r, int session);
void repl_free(repl *r);

/* Registers docmill.control (bind_control.c) in the REPL's state. */
void bind_control_register(lua_State *L, struct runtime *rt);

#endif
