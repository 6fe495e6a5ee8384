/* bind_cli: the CLI state's own module, docmill.cli.core (run, supervise,
 * the control client, line editing). No other state has it. */
#ifndef DOCMILL_BIND_CLI_H
#define DOCMILL_BIND_CLI_H

#include <lua.h>

void bind_cli_register(lua_State *L);

#endif
