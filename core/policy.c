#include "policy.h"

#include "log.h"
#include "lstate.h"
#include "ocr.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <luajit.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(field) offsetof(policy_settings, field)

/* The schema: every setting a policy may set, its type, range and meaning.
 * policies/README.md documents the same list; a test keeps them in step. */
const setting_spec policy_setting_specs[] = {
    {"languages", SETTING_STR, 1, 63, S(languages), "Tesseract language set for OCR"},
    {"dpi", SETTING_INT, 72, 600, S(dpi), "render resolution for OCR of PDF pages"},
    {"max_file_mb", SETTING_NUM, 0, 1e6, S(max_file_mb), "larger files fail (0 = no limit)"},
    {"max_pdf_mb", SETTING_NUM, 0, 1e6, S(max_pdf_mb),
     "larger PDFs fail (0 = only max_file_mb applies)"},
    {"max_pages", SETTING_INT, 1, 1000000, S(max_pages), "pages beyond this are not extracted"},
    {"max_page_megapixels", SETTING_NUM, 0.1, 1000, S(max_page_megapixels),
     "render cap per page; larger pages are rendered at a lower DPI, larger images refused"},
    {"text_min_chars", SETTING_INT, 0, 100000, S(text_min_chars),
     "a text layer with fewer characters is OCR'd instead"},
    {"max_bad_char_ratio", SETTING_NUM, 0, 1, S(max_bad_char_ratio),
     "a text layer with more replacement/control characters than this share is OCR'd"},
    {"ocr_psm", SETTING_INT, 0, 13, S(ocr_psm), "Tesseract page segmentation mode"},
    {"ocr_skip_inverted", SETTING_BOOL, 0, 1, S(ocr_skip_inverted),
     "skip Tesseract's inverted-text pass (faster)"},
    {"batch_size", SETTING_INT, 1, 10000, S(batch_size),
     "documents per bulk request of the process's indexing buffer"},
    {"batch_max_mb", SETTING_NUM, 0.1, 10, S(batch_max_mb),
     "bytes per bulk request (OpenSearch accepts at most 10 MiB)"},
    {"batch_max_age_seconds", SETTING_NUM, 0.05, 3600, S(batch_max_age_seconds),
     "a document waits at most this long for its batch to fill"},
    {"gc_every_jobs", SETTING_INT, 0, 1000000, S(gc_every_jobs),
     "full Lua GC and MuPDF store flush every N jobs (0 = never)"},
    {"mupdf_store_mb", SETTING_INT, 0, 4096, S(mupdf_store_mb), "MuPDF cache per worker"},
    {"max_mupdf_mb", SETTING_INT, 0, 65536, S(max_mupdf_mb),
     "cap on what MuPDF holds per worker; a page that needs more fails (0 = no cap)"},
    {"page_timeout_seconds", SETTING_NUM, 0, 86400, S(page_timeout_seconds),
     "a page's text, render and OCR stop after this long; the page is recorded as timed out"},
    {"fetch_allowed_buckets", SETTING_STR, 0, 511, S(fetch_allowed_buckets),
     "S3 buckets jobs may name, space-separated (\"*\" = any the credentials can read)"},
    {"fetch_allowed_urls", SETTING_STR, 0, 1023, S(fetch_allowed_urls),
     "URL prefixes {\"url\"} jobs may fetch, space-separated (\"\" = none)"},
    {"job_timeout_seconds", SETTING_NUM, 0, 604800, S(job_timeout_seconds),
     "pages not started by then are skipped and noted; the rest is indexed (0 = none)"},
    {"max_crashes", SETTING_INT, 1, 100, S(max_crashes),
     "a job whose worker died or stalled while holding it this many times is quarantined"},
    {"retry_base_ms", SETTING_INT, 0, 86400000, S(retry_base_ms),
     "first retry delay after a transient failure; doubles per attempt"},
    {"retry_max_ms", SETTING_INT, 0, 86400000, S(retry_max_ms),
     "the longest retry delay (transient failures are retried until they succeed)"},
    {"lease_seconds", SETTING_INT, 10, 86400, S(lease_seconds),
     "how long a job stays invisible to other takers while it runs (renewed)"},
    {"s3_multipart_threshold_mb", SETTING_NUM, 0, 1e6, S(s3_multipart_threshold_mb),
     "S3 objects above this size download in parallel ranged parts (0 = never)"},
    {"s3_part_mb", SETTING_NUM, 1, 5120, S(s3_part_mb), "size of one ranged part"},
    {"s3_parallel_parts", SETTING_INT, 1, 64, S(s3_parallel_parts), "ranged parts in flight"},
    {"drain_seconds", SETTING_INT, 1, 3600, S(drain_seconds),
     "on SIGTERM, jobs in progress get this long to finish; the rest go back to the queue"},
    {"min_free_memory_mb", SETTING_NUM, 0, 1e7, S(min_free_memory_mb),
     "below this much available memory the worker pauses taking jobs (0 = not checked)"},
    {"min_free_disk_mb", SETTING_NUM, 0, 1e9, S(min_free_disk_mb),
     "below this much free disk (TEMP_DIR, the index's folder) the worker pauses (0 = not checked)"},
    {"health_check_seconds", SETTING_NUM, 0.1, 3600, S(health_check_seconds),
     "how often free memory and disk are checked"},
    {"spot_check_seconds", SETTING_NUM, 0, 3600, S(spot_check_seconds),
     "how often EC2 IMDS is asked for a spot interruption notice (0 = never)"},
    {"metrics_interval_seconds", SETTING_NUM, 1, 3600, S(metrics_interval_seconds),
     "how often a CloudWatch EMF line is written (with --emf)"},
    {"fast_lane_workers", SETTING_INT, 0, 256, S(fast_lane_workers),
     "workers that take only small files (fast_lane_max_mb), so they never wait behind big ones"},
    {"fast_lane_max_mb", SETTING_NUM, 0, 1e6, S(fast_lane_max_mb),
     "the largest file the fast lane takes"},
    {"dpi_cap_native", SETTING_BOOL, 0, 1, S(dpi_cap_native),
     "never render a scanned page above the resolution of its image"},
    {"dpi_target_line_px", SETTING_INT, 0, 200, S(dpi_target_line_px),
     "after a document's first OCR'd page, render the rest so text lines are about this tall "
     "(150..300 DPI; 0 = off)"},
    {"page_parallel_min_pages", SETTING_INT, 0, 1000000, S(page_parallel_min_pages),
     "a document with at least this many pages to OCR shares them with idle workers (0 = never)"},
    {"page_parallel_chunk", SETTING_INT, 1, 1000, S(page_parallel_chunk),
     "most pages to OCR per range handed to another worker"},
    {"workers", SETTING_INT, 0, 256, S(workers),
     "worker threads when the config does not say (0 = one per core)"},
    {"sqs_wait_seconds", SETTING_INT, 0, 20, S(sqs_wait_seconds),
     "SQS long-poll wait per ReceiveMessage"},
    {"sqs_max_messages", SETTING_INT, 1, 10, S(sqs_max_messages), "SQS messages per receive"},
    {"opensearch_mapping_file", SETTING_STR, 0, 400, S(opensearch_mapping_file),
     "JSON create-index body (settings, mappings) used instead of docmill's own"},
    {NULL, 0, 0, 0, 0, NULL},
};

const char *const policy_hook_names[HOOK_COUNT] = {"route", "needs_ocr", "dpi", "languages",
                                                    "self_test"};

void policy_defaults(policy_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->languages, sizeof s->languages, "jpn+eng");
    s->dpi = 200;
    s->max_file_mb = 200;
    s->max_pdf_mb = 0;
    s->max_pages = 500;
    s->max_page_megapixels = 40;
    s->text_min_chars = 20;
    s->max_bad_char_ratio = 0.3;
    s->ocr_psm = 3;
    s->ocr_skip_inverted = true;
    s->batch_size = 100;
    s->batch_max_mb = 5;
    s->batch_max_age_seconds = 5;
    s->gc_every_jobs = 50;
    s->mupdf_store_mb = 16;
    s->max_crashes = 2;
    s->retry_base_ms = 2000;
    s->retry_max_ms = 300000;
    s->lease_seconds = 600;
    s->s3_multipart_threshold_mb = 50;
    s->s3_part_mb = 10;
    s->s3_parallel_parts = 4;
    s->sqs_wait_seconds = 20;
    s->sqs_max_messages = 10;
    s->drain_seconds = 90;
    s->min_free_memory_mb = 256;
    s->min_free_disk_mb = 256;
    s->health_check_seconds = 10;
    s->spot_check_seconds = 5;
    s->metrics_interval_seconds = 60;
    s->fast_lane_workers = 0;
    s->fast_lane_max_mb = 1;
    s->page_parallel_min_pages = 2;
    s->dpi_cap_native = true;
    s->dpi_target_line_px = 32;
    s->page_parallel_chunk = 1;
    s->max_mupdf_mb = 512;
    s->page_timeout_seconds = 180;
    s->job_timeout_seconds = 1800;
    snprintf(s->fetch_allowed_buckets, sizeof s->fetch_allowed_buckets, "*");
}

static const setting_spec *find_setting(const char *name)
{
    for (const setting_spec *sp = policy_setting_specs; sp->name; sp++)
        if (strcmp(sp->name, name) == 0)
            return sp;
    return NULL;
}

static int find_hook(const char *name)
{
    for (int i = 0; i < HOOK_COUNT; i++)
        if (strcmp(policy_hook_names[i], name) == 0)
            return i;
    return -1;
}

/* Suggests the closest known key for a typo (edit distance ≤ 3). */
static const char *closest_key(const char *name)
{
    const char *best = NULL;
    size_t best_d = 4;
    const char *cands[64];
    int n = 0;
    for (const setting_spec *sp = policy_setting_specs; sp->name; sp++)
        cands[n++] = sp->name;
    for (int i = 0; i < HOOK_COUNT; i++)
        cands[n++] = policy_hook_names[i];
    for (int c = 0; c < n; c++) {
        size_t la = strlen(name), lb = strlen(cands[c]);
        if (la > 40 || lb > 40)
            continue;
        size_t d[41][41];
        for (size_t i = 0; i <= la; i++)
            d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
            d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
            for (size_t j = 1; j <= lb; j++) {
                size_t sub = d[i - 1][j - 1] + (name[i - 1] != cands[c][j - 1]);
                size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
                d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            }
        if (d[la][lb] < best_d) {
            best_d = d[la][lb];
            best = cands[c];
        }
    }
    return best;
}

static int set_value(lua_State *L, int idx, const setting_spec *sp, policy_settings *s,
                     const char *where, dm_err *err)
{
    char *base = (char *)s;
    int t = lua_type(L, idx);
    switch (sp->type) {
    case SETTING_BOOL:
        if (t != LUA_TBOOLEAN) {
            dm_err_set(err, true, "%s: '%s' must be a boolean, got %s", where, sp->name,
                       lua_typename(L, t));
            return -1;
        }
        *(bool *)(base + sp->offset) = lua_toboolean(L, idx);
        return 0;
    case SETTING_STR: {
        if (t != LUA_TSTRING) {
            dm_err_set(err, true, "%s: '%s' must be a string, got %s", where, sp->name,
                       lua_typename(L, t));
            return -1;
        }
        size_t len;
        const char *v = lua_tolstring(L, idx, &len);
        if (len < (size_t)sp->min || len > (size_t)sp->max) {
            dm_err_set(err, true, "%s: '%s' must be %d..%d characters", where, sp->name,
                       (int)sp->min, (int)sp->max);
            return -1;
        }
        memcpy(base + sp->offset, v, len + 1);
        return 0;
    }
    case SETTING_INT:
    case SETTING_NUM: {
        if (t != LUA_TNUMBER) {
            dm_err_set(err, true, "%s: '%s' must be a number, got %s", where, sp->name,
                       lua_typename(L, t));
            return -1;
        }
        double v = lua_tonumber(L, idx);
        if (isnan(v) || v < sp->min || v > sp->max ||
            (sp->type == SETTING_INT && v != floor(v))) {
            dm_err_set(err, true, "%s: '%s' = %g is out of range (%s %g..%g)", where, sp->name, v,
                       sp->type == SETTING_INT ? "integer" : "number", sp->min, sp->max);
            return -1;
        }
        if (sp->type == SETTING_INT)
            *(int *)(base + sp->offset) = (int)v;
        else
            *(double *)(base + sp->offset) = v;
        return 0;
    }
    }
    return -1;
}

void policy_push_settings(lua_State *L, const policy_settings *s)
{
    const char *base = (const char *)s;
    lua_newtable(L);
    for (const setting_spec *sp = policy_setting_specs; sp->name; sp++) {
        switch (sp->type) {
        case SETTING_BOOL:
            lua_pushboolean(L, *(const bool *)(base + sp->offset));
            break;
        case SETTING_STR:
            lua_pushstring(L, base + sp->offset);
            break;
        case SETTING_INT:
            lua_pushinteger(L, *(const int *)(base + sp->offset));
            break;
        case SETTING_NUM:
            lua_pushnumber(L, *(const double *)(base + sp->offset));
            break;
        }
        lua_setfield(L, -2, sp->name);
    }
}

/* The locked environment policy code runs in. The libraries are copies:
 * policy code shares its state with the pipeline's own Lua, so writing
 * string.format or math.floor must not change them for everyone (nor
 * outlive a load that failed, which leaves the state as it was). */
static const char *SANDBOX =
    "local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end\n"
    "local allowed = {assert=assert, error=error, ipairs=ipairs, next=next, pairs=pairs,"
    "  pcall=pcall, select=select, tonumber=tonumber, tostring=tostring, type=type,"
    "  unpack=unpack, math=copy(math), string=copy(string), table=copy(table),"
    "  os={time=os.time, clock=os.clock, date=os.date, getenv=os.getenv}}\n"
    "local log = ...\n"
    "allowed.log = log\n"
    "return setmetatable(allowed, {\n"
    "  __index = function(_, k) error('policy reads undefined global \\'' .. tostring(k) .. '\\'', 2) end,\n"
    "  __newindex = function(_, k) error('policy sets global \\'' .. tostring(k) .. '\\'; declare it local', 2) end,\n"
    "})\n";

static int policy_log(lua_State *L)
{
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    log_level lv = LOG_INFO;
    if (log_parse_level(level, &lv) != 0)
        return luaL_error(L, "log: unknown level '%s'", level);
    log_msg(lv, "policy: %s", msg);
    return 0;
}

/* The seed's environment variables override the policy file, so a team can
 * swap the Python worker for docmill without writing a policy. */
static int apply_env_overrides(policy_settings *s, dm_err *err)
{
    static const struct {
        const char *env, *setting;
    } map[] = {{"MAX_FILE_SIZE_MB", "max_file_mb"}, {"MAX_PDF_SIZE_MB", "max_pdf_mb"},
               {"MAX_PDF_PAGES", "max_pages"},      {"PDF_DPI", "dpi"},
               {"OCR_LANGUAGE", "languages"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        const char *v = getenv(map[i].env);
        if (!v || !*v)
            continue;
        const setting_spec *sp = find_setting(map[i].setting);
        char where[64];
        snprintf(where, sizeof where, "environment %s", map[i].env);
        if (sp->type == SETTING_STR) {
            if (strlen(v) > (size_t)sp->max) {
                dm_err_set(err, true, "%s: too long", where);
                return -1;
            }
            snprintf((char *)s + sp->offset, (size_t)sp->max + 1, "%s", v);
            continue;
        }
        char *end = NULL;
        double d = strtod(v, &end);
        if (!end || *end || end == v || isnan(d) || d < sp->min || d > sp->max ||
            (sp->type == SETTING_INT && d != floor(d))) {
            dm_err_set(err, true, "%s='%s' is not a valid %s (%g..%g)", where, v, sp->name, sp->min,
                       sp->max);
            return -1;
        }
        if (sp->type == SETTING_INT)
            *(int *)((char *)s + sp->offset) = (int)d;
        else
            *(double *)((char *)s + sp->offset) = d;
    }
    return 0;
}

/* opensearch_mapping_file is relative to the policy file; it must hold a
 * JSON object with "mappings" (the body of a create-index request). */
static int check_mapping_file(policy_settings *s, const char *policy_path, const char *where,
                              dm_err *err)
{
    if (!s->opensearch_mapping_file[0])
        return 0;
    char resolved[1024];
    if (s->opensearch_mapping_file[0] != '/' && policy_path && strrchr(policy_path, '/'))
        snprintf(resolved, sizeof resolved, "%.*s/%s",
                 (int)(strrchr(policy_path, '/') - policy_path), policy_path,
                 s->opensearch_mapping_file);
    else
        snprintf(resolved, sizeof resolved, "%s", s->opensearch_mapping_file);
    char *json = policy_read_mapping(resolved, err);
    if (!json) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        dm_err_set(err, true, "%s: opensearch_mapping_file: %s", where, msg);
        return -1;
    }
    free(json);
    if (strlen(resolved) >= sizeof s->opensearch_mapping_file) {
        dm_err_set(err, true, "%s: opensearch_mapping_file: path too long", where);
        return -1;
    }
    memcpy(s->opensearch_mapping_file, resolved, strlen(resolved) + 1);  /* length checked above */
    return 0;
}

char *policy_read_mapping(const char *path, dm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dm_err_set(err, true, "cannot open %s", path);
        return NULL;
    }
    sbuf b;
    sbuf_init(&b);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && b.len < (1u << 20))
        sbuf_append(&b, buf, n);
    fclose(f);
    cJSON *j = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
    bool ok = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "mappings"));
    cJSON_Delete(j);
    if (!ok) {
        dm_err_set(err, true, "%s is not a JSON object with \"mappings\"", path);
        sbuf_free(&b);
        return NULL;
    }
    return sbuf_take(&b);
}

static int load_chunk(lua_State *L, const char *path, dm_err *err)
{
    if (path) {
        if (luaL_loadfile(L, path) != 0) {
            dm_err_set(err, true, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return -1;
        }
        return 0;
    }
    const embedded_module *m = lstate_find_embedded("docmill.policy.default");
    if (!m || luaL_loadbuffer(L, (const char *)m->code, *m->size, "=policies/default.lua") != 0) {
        dm_err_set(err, true, "the embedded default policy is missing");
        if (m)
            lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* A policy file runs when it is loaded — on the loop thread for a SIGHUP
 * check — so `while true do end` must not hang the worker: past the budget
 * every instruction raises (a pcall around the loop cannot keep it going).
 * Hooks called later, per page or job, are not bounded here: a worker stuck
 * in one past its page deadline is the watchdog's (runtime.c).
 * Count hooks do not fire in JIT-compiled code, hence the JIT is off while
 * the chunk runs. Per thread: workers and the loop load at the same time. */
#define POLICY_LOAD_BUDGET_MS 2000
static __thread int64_t load_deadline_ms;

static void load_budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (dm_mono_ms() <= load_deadline_ms)
        return;
    lua_sethook(L, load_budget_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "the policy file ran longer than %d ms while loading (an endless loop?)",
               POLICY_LOAD_BUDGET_MS);
}

static int load_unbounded(lua_State *L, const char *path, policy *out, dm_err *err);

/* The whole load is bounded: the file's own code and its self_test hook. */
int policy_load(lua_State *L, const char *path, policy *out, dm_err *err)
{
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    load_deadline_ms = dm_mono_ms() + POLICY_LOAD_BUDGET_MS;
    lua_sethook(L, load_budget_hook, LUA_MASKCOUNT, 1000);
    int rc = load_unbounded(L, path, out, err);
    lua_sethook(L, NULL, 0, 0);
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON);
    return rc;
}

static int load_unbounded(lua_State *L, const char *path, policy *out, dm_err *err)
{
    int top = lua_gettop(L);
    policy p;
    memset(&p, 0, sizeof p);
    policy_defaults(&p.s);
    for (int i = 0; i < HOOK_COUNT; i++)
        p.hook_ref[i] = LUA_NOREF;
    snprintf(p.source, sizeof p.source, "%s", path ? path : "builtin:default");
    const char *where = p.source;

    if (load_chunk(L, path, err) != 0)
        return -1;
    /* chunk */
    if (luaL_loadstring(L, SANDBOX) != 0) {
        dm_err_set(err, false, "sandbox: %s", lua_tostring(L, -1));
        lua_settop(L, top);
        return -1;
    }
    lua_pushcfunction(L, policy_log);
    if (lstate_pcall(L, 1, 1, err) != 0) {
        lua_settop(L, top);
        return -1;
    }
    lua_setfenv(L, -2);
    if (lstate_pcall(L, 0, 1, err) != 0) {
        lua_settop(L, top);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        dm_err_set(err, true, "%s: a policy must return a table of settings and hooks, got %s",
                   where, luaL_typename(L, -1));
        lua_settop(L, top);
        return -1;
    }
    int tbl = lua_gettop(L);
    int rc = 0;
    lua_pushnil(L);
    while (rc == 0 && lua_next(L, tbl) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            dm_err_set(err, true, "%s: policy keys must be names", where);
            rc = -1;
            lua_pop(L, 2);
            break;
        }
        const char *key = lua_tostring(L, -2);
        const setting_spec *sp = find_setting(key);
        int hook = find_hook(key);
        /* dpi and languages are both: a value, or a hook that decides per
         * page / per document. */
        if (hook >= 0 && lua_isfunction(L, -1)) {
            /* resolved below */
        } else if (sp) {
            rc = set_value(L, -1, sp, &p.s, where, err);
        } else if (hook >= 0) {
            if (!lua_isfunction(L, -1)) {
                dm_err_set(err, true, "%s: hook '%s' must be a function, got %s", where, key,
                           luaL_typename(L, -1));
                rc = -1;
            }
        } else {
            const char *near = closest_key(key);
            if (near)
                dm_err_set(err, true, "%s: unknown policy key '%s' (did you mean '%s'?)", where,
                           key, near);
            else
                dm_err_set(err, true, "%s: unknown policy key '%s'", where, key);
            rc = -1;
        }
        lua_pop(L, 1);
    }
    if (rc == 0)
        rc = apply_env_overrides(&p.s, err);
    if (rc == 0)
        rc = check_mapping_file(&p.s, path, where, err);
    if (rc == 0 && !ocr_languages_available(NULL, p.s.languages, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        dm_err_set(err, true, "%s: languages: %s", where, msg);
        rc = -1;
    }
    if (rc != 0) {
        lua_settop(L, top);
        return -1;
    }
    for (int i = 0; i < HOOK_COUNT; i++) {
        lua_getfield(L, tbl, policy_hook_names[i]);
        if (lua_isfunction(L, -1))
            p.hook_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
    }
    lua_settop(L, top);
    if (p.hook_ref[HOOK_SELF_TEST] != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p.hook_ref[HOOK_SELF_TEST]);
        policy_push_settings(L, &p.s);
        if (lstate_pcall(L, 1, 0, err) != 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            dm_err_set(err, true, "%s: self_test failed: %s", where, msg);
            policy_unload(L, &p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

void policy_unload(lua_State *L, policy *p)
{
    for (int i = 0; i < HOOK_COUNT; i++) {
        if (p->hook_ref[i] != LUA_NOREF && p->hook_ref[i] != LUA_REFNIL)
            luaL_unref(L, LUA_REGISTRYINDEX, p->hook_ref[i]);
        p->hook_ref[i] = LUA_NOREF;
    }
}

/* Calls hook with the table at arg; leaves one result on the stack and
 * returns true, or logs, counts and returns false (nothing pushed). */
static bool call_hook(lua_State *L, policy *p, policy_hook h, int arg)
{
    if (p->hook_ref[h] == LUA_NOREF)
        return false;
    arg = arg < 0 ? lua_gettop(L) + arg + 1 : arg;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->hook_ref[h]);
    lua_pushvalue(L, arg);
    dm_err err;
    if (lstate_pcall(L, 1, 1, &err) != 0) {
        p->hook_errors++;
        log_warn("policy hook %s failed, using the default: %s", policy_hook_names[h], err.msg);
        return false;
    }
    return true;
}

static void fallback(policy *p, policy_hook h, const char *why)
{
    p->hook_fallbacks++;
    log_warn("policy hook %s returned %s; using the default", policy_hook_names[h], why);
}

const char *policy_route(lua_State *L, policy *p, int arg)
{
    if (!call_hook(L, p, HOOK_ROUTE, arg))
        return "extract";
    const char *r = lua_tostring(L, -1);
    const char *out = "extract";
    if (r && strcmp(r, "skip") == 0)
        out = "skip";
    else if (!r || strcmp(r, "extract") != 0)
        fallback(p, HOOK_ROUTE, "something other than \"extract\" or \"skip\"");
    lua_pop(L, 1);
    return out;
}

static double table_number(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    return v;
}

bool policy_needs_ocr(lua_State *L, policy *p, int arg)
{
    arg = arg < 0 ? lua_gettop(L) + arg + 1 : arg;
    bool dflt = table_number(L, arg, "chars") < p->s.text_min_chars ||
                table_number(L, arg, "bad_ratio") > p->s.max_bad_char_ratio;
    if (!call_hook(L, p, HOOK_NEEDS_OCR, arg))
        return dflt;
    bool out = dflt;
    if (lua_isboolean(L, -1))
        out = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        fallback(p, HOOK_NEEDS_OCR, "a non-boolean");
    lua_pop(L, 1);
    return out;
}

int policy_dpi(lua_State *L, policy *p, int arg)
{
    if (!call_hook(L, p, HOOK_DPI, arg))
        return p->s.dpi;
    int out = p->s.dpi;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        double v = lua_tonumber(L, -1);
        if (isnan(v)) {
            fallback(p, HOOK_DPI, "NaN");
        } else if (v < 72 || v > 600) {
            /* Clamped, not refused: a DPI of 9000 is a typo for "high". */
            out = v < 72 ? 72 : 600;
            fallback(p, HOOK_DPI, v < 72 ? "a DPI below 72 (clamped)" : "a DPI above 600 (clamped)");
        } else {
            out = (int)v;
        }
    } else if (!lua_isnil(L, -1)) {
        fallback(p, HOOK_DPI, "a non-number");
    }
    lua_pop(L, 1);
    return out;
}

void policy_languages(lua_State *L, policy *p, int arg, char out[64])
{
    snprintf(out, 64, "%s", p->s.languages);
    if (!call_hook(L, p, HOOK_LANGUAGES, arg))
        return;
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    dm_err err;
    if (v && ocr_languages_available(NULL, v, &err))
        snprintf(out, 64, "%s", v);
    else if (v)
        fallback(p, HOOK_LANGUAGES, err.msg);
    else if (!lua_isnil(L, -1))
        fallback(p, HOOK_LANGUAGES, "a non-string");
    lua_pop(L, 1);
}
