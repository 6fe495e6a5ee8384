/* config_snapshot: a config file as `docmill run` compares it on SIGHUP —
 * every key of lua/docmill/config.lua's schema as a string, after the
 * environment's overrides. Read in a throwaway Lua state by the same loader
 * the CLI uses, so a reload judges the file exactly as a start would. */
#ifndef DOCMILL_CONFIG_SNAPSHOT_H
#define DOCMILL_CONFIG_SNAPSHOT_H

#include "base/common.h"

#include <lua.h>

#define CONFIG_MAX_KEYS 32

typedef struct config_snapshot {
    int n;
    char key[CONFIG_MAX_KEYS][32];
    char value[CONFIG_MAX_KEYS][1024];
} config_snapshot;

/* Reads the table at idx (key -> string) into out; other entries are
 * skipped. Never raises. */
void config_snapshot_from_table(lua_State *L, int idx, config_snapshot *out);
/* -1 with err as the loader words it ("config.lua:12: ..."). */
int config_snapshot_read(const char *path, config_snapshot *out, dm_err *err);
/* The value of key, or NULL. */
const char *config_snapshot_get(const config_snapshot *s, const char *key);

/* What a changed key means for a running worker. */
typedef enum {
    CONFIG_PINNED,         /* a flag or the environment set it: the file does not win */
    CONFIG_LIVE,           /* applied now */
    CONFIG_NEEDS_RESTART,  /* logged: takes effect at the next start */
} config_change;

/* pinned: "key,key,..." (may be NULL). */
config_change config_change_kind(const char *key, const char *pinned);

#endif
