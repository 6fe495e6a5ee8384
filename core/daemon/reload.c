/* reload: what signals change in a running worker. SIGHUP reads the config
 * file and the policy again, validates both beside the running ones and
 * switches (workers at their next job boundary), or keeps everything and
 * says why; SIGUSR1 runs a memory cleanup. */
#include "daemon/runtime_internal.h"

#include "base/log.h"
#include "base/mem_stats.h"
#include "fetch/fetch.h"
#include "luabridge/lstate.h"
#include "luabridge/policy.h"

#include <luajit.h>
#include "ops/sd_notify.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* Loads and validates a policy in a throwaway state: before any worker
 * starts (a typo is one clear error, not N), and on every SIGHUP. path ""
 * is the embedded default. */
static int validate_policy_at(const char *path, policy_settings *out, dm_err *err)
{
    return policy_check(path[0] ? path : NULL, out, err);
}

int runtime_validate_policy(runtime *rt, policy_settings *out, dm_err *err)
{
    return validate_policy_at(rt->policy_path, out, err);
}

/* --- the config file ----------------------------------------------------- */

/* A config file runs when it is read; on the loop thread it must not hang. */
#define CONFIG_READ_BUDGET_MS 2000

int config_snapshot_read(const char *path, config_snapshot *out, dm_err *err)
{
    lstate_env env = {.worker_id = -1};
    lua_State *L = lstate_new(&env, err);
    if (!L)
        return -1;
    /* Interpreted, so the budget's count hook fires in a runaway loop. */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    int rc = -1;
    if (lstate_require(L, "docmill.config", err) != 0)
        goto done;
    lua_getfield(L, -1, "snapshot");
    lua_pushstring(L, path);
    if (lstate_pcall_bounded(L, 1, 2, CONFIG_READ_BUDGET_MS, NULL, err) != 0)
        goto done;
    if (!lua_istable(L, -2)) {
        const char *msg = lua_tostring(L, -1);
        dm_err_set(err, true, "%s", msg ? msg : "config: unknown error");
        goto done;
    }
    lua_pop(L, 1);
    config_snapshot_from_table(L, -1, out);
    rc = 0;
done:
    lstate_close_env(L, &env);
    return rc;
}

void config_snapshot_from_table(lua_State *L, int idx, config_snapshot *out)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    memset(out, 0, sizeof *out);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
            out->n < CONFIG_MAX_KEYS) {
            snprintf(out->key[out->n], sizeof out->key[0], "%s", lua_tostring(L, -2));
            snprintf(out->value[out->n], sizeof out->value[0], "%s", lua_tostring(L, -1));
            out->n++;
        }
        lua_pop(L, 1);
    }
}

const char *config_snapshot_get(const config_snapshot *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->key[i], key) == 0)
            return s->value[i];
    return NULL;
}

config_change config_change_kind(const char *key, const char *pinned)
{
    size_t n = strlen(key);
    for (const char *p = pinned; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, key, n) == 0)
            return CONFIG_PINNED;
        p += len + (end ? 1 : 0);
    }
    static const char *const live[] = {"policy", "log_level", "log_format", "rescan_seconds"};
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (strcmp(key, live[i]) == 0)
            return CONFIG_LIVE;
    return CONFIG_NEEDS_RESTART;
}

/* The policy file a changed config names ("" = the embedded default), or
 * NULL when the policy stays. */
static const char *changed_policy(runtime *rt, const config_snapshot *fresh)
{
    const char *now = config_snapshot_get(fresh, "policy");
    const char *was = rt->have_config ? config_snapshot_get(&rt->config, "policy") : NULL;
    if (!now || (was && strcmp(now, was) == 0) ||
        config_change_kind("policy", rt->cfg->pinned) == CONFIG_PINNED)
        return NULL;
    return strcmp(now, "builtin:default") == 0 ? "" : now;
}

/* Applies the live keys of a config that changed; says what needs a
 * restart and what the command line keeps. */
static void apply_config(runtime *rt, const config_snapshot *fresh)
{
    for (int i = 0; i < fresh->n; i++) {
        const char *key = fresh->key[i], *now = fresh->value[i];
        const char *was = rt->have_config ? config_snapshot_get(&rt->config, key) : NULL;
        if (was && strcmp(was, now) == 0)
            continue;
        switch (config_change_kind(key, rt->cfg->pinned)) {
        case CONFIG_PINNED:
            log_info("config reload: '%s' changed, but the command line (or environment) sets it:"
                     " kept", key);
            break;
        case CONFIG_NEEDS_RESTART:
            log_warn("config reload: '%s' changed; it needs a restart to take effect", key);
            break;
        case CONFIG_LIVE: {
            log_level lv;
            log_format lf;
            if (strcmp(key, "log_level") == 0 && log_parse_level(now, &lv) == 0)
                log_set_level(lv);
            else if (strcmp(key, "log_format") == 0 && log_parse_format(now, &lf) == 0)
                log_set_format(lf);
            else if (strcmp(key, "rescan_seconds") == 0 && atoi(now) >= 1)
                rt->rescan_seconds = atoi(now);
            log_info("config reload: '%s' is now %s", key, now[0] ? now : "\"\"");
            break;
        }
        }
    }
    rt->config = *fresh;
    rt->have_config = true;
}

int runtime_cleanup_generation(runtime *rt)
{
    return atomic_load(&rt->cleanup_generation);
}

/* SIGUSR1: a full Lua GC and an emptied MuPDF store in every worker at its
 * next boundary, malloc_trim here, and a sweep of our leftover temp files;
 * memory is logged before and after. */
void runtime_cleanup(runtime *rt)
{
    mem_stats before, after;
    mem_stats_read(&before);
    atomic_fetch_add(&rt->cleanup_generation, 1);
    int swept = fetch_sweep_temp_files();
    malloc_trim(0);
    mem_stats_read(&after);
    log_info("cleanup: RSS %.0f MB before, %.0f MB after malloc_trim; %d stale temp files removed;"
             " workers collect at their next job",
             (double)before.rss_bytes / 1048576.0, (double)after.rss_bytes / 1048576.0, swept);
}

void runtime_on_sigusr1(uv_signal_t *s, int signum)
{
    (void)signum;
    runtime_cleanup(s->data);
}

int runtime_policy_generation(runtime *rt)
{
    return atomic_load(&rt->policy_generation);
}

/* At start: the command line read the config before the supervisor forked,
 * and passed what it read (config_start). A worker process restarted after
 * a crash starts from that too, so the file as it is now (reloaded since,
 * perhaps) is applied as a SIGHUP would. */
int runtime_read_config(runtime *rt, dm_err *err)
{
    const runtime_config *cfg = rt->cfg;
    if (cfg->config_start) {
        rt->config = *cfg->config_start;
        rt->have_config = true;
    }
    if (!cfg->config_path)
        return 0;
    config_snapshot *fresh = dm_xmalloc(sizeof *fresh);
    if (config_snapshot_read(cfg->config_path, fresh, err) != 0) {
        free(fresh);
        return -1;
    }
    const char *p = changed_policy(rt, fresh);
    if (p)
        snprintf(rt->policy_path, sizeof rt->policy_path, "%s", p);
    apply_config(rt, fresh);
    free(fresh);
    return 0;
}

/* SIGHUP: read the config file and the policy again and validate both
 * beside the running ones. Any error keeps everything as it is. Otherwise
 * the live config keys apply now, a changed `policy` names the file to
 * load, and the workers swap policies at their next job boundary (jobs in
 * progress finish under the policy they started with). */
int runtime_reload(runtime *rt, dm_err *err)
{
    config_snapshot *fresh_cfg = NULL;
    char path[sizeof rt->policy_path];
    snprintf(path, sizeof path, "%s", rt->policy_path);
    if (rt->cfg->config_path) {
        fresh_cfg = dm_xmalloc(sizeof *fresh_cfg);
        if (config_snapshot_read(rt->cfg->config_path, fresh_cfg, err) != 0) {
            free(fresh_cfg);
            rt->reload_failures++;
            log_error("config reload failed, the running config and policy stay: %s", err->msg);
            return -1;
        }
        const char *p = changed_policy(rt, fresh_cfg);
        if (p)
            snprintf(path, sizeof path, "%s", p);
    }
    policy_settings fresh;
    if (validate_policy_at(path, &fresh, err) != 0) {
        free(fresh_cfg);
        rt->reload_failures++;
        log_error("policy reload failed, the running policy stays: %s", err->msg);
        return -1;
    }
    if (fresh_cfg) {
        apply_config(rt, fresh_cfg);
        free(fresh_cfg);
        log_info("config reloaded from %s", rt->cfg->config_path);
    }
    /* What was fixed at start cannot change live: say so, don't ignore it. */
    const char *fixed[16];
    int nfixed = settings_changed_start_only(&rt->settings, &fresh, fixed, 16);
    for (int i = 0; i < nfixed; i++)
        log_warn("policy reload: %s changed; it needs a restart to take effect", fixed[i]);
    /* Lease, retry, crash and lane settings apply now (workers read the
     * lane settings and the policy path under mu). */
    pthread_mutex_lock(&rt->mu);
    rt->settings = fresh;
    snprintf(rt->policy_path, sizeof rt->policy_path, "%s", path);
    pthread_mutex_unlock(&rt->mu);
    rt->reloads++;
    int gen = atomic_fetch_add(&rt->policy_generation, 1) + 1;
    log_info("policy reloaded from %s (generation %d); workers switch at their next job",
             path[0] ? path : "builtin:default", gen);
    sd_notify_send("READY=1\nSTATUS=processing jobs (policy reloaded)");
    return 0;
}

void runtime_policy_path(runtime *rt, char *out, size_t outlen)
{
    pthread_mutex_lock(&rt->mu);
    snprintf(out, outlen, "%s", rt->policy_path);
    pthread_mutex_unlock(&rt->mu);
}

void runtime_on_sighup(uv_signal_t *s, int signum)
{
    (void)signum;
    dm_err err;
    runtime_reload(s->data, &err);
}
