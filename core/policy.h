/* policy: what operators tune. A policy file is a Lua chunk that returns a
 * table of settings and hooks. C loads it in a locked environment (reading
 * or writing an undeclared global is an error), checks every key against the
 * schema below (an unknown key is a typo and fails the load), resolves the
 * hooks once into registry references, and validates every value a hook
 * returns at run time, falling back to the setting with a logged warning. */
#ifndef DOCMILL_POLICY_H
#define DOCMILL_POLICY_H

#include "common.h"

#include <lua.h>

typedef struct policy_settings {
    char languages[64];
    int dpi;
    double max_file_mb;
    double max_pdf_mb;
    int max_pages;
    double max_page_megapixels;
    int text_min_chars;
    double max_bad_char_ratio;
    int ocr_psm;
    bool ocr_skip_inverted;
    int batch_size;
    double batch_max_mb;
    double batch_max_age_seconds;
    int gc_every_jobs;
    int mupdf_store_mb;
    int max_crashes;
    int retry_base_ms;
    int retry_max_ms;
    int lease_seconds;
    double s3_multipart_threshold_mb;
    double s3_part_mb;
    int s3_parallel_parts;
    char opensearch_mapping_file[512];
    int sqs_wait_seconds;
    int sqs_max_messages;
    int workers;
    int drain_seconds;
    double min_free_memory_mb;
    double min_free_disk_mb;
    double health_check_seconds;
    double spot_check_seconds;
    double metrics_interval_seconds;
    int fast_lane_workers;
    double fast_lane_max_mb;
    bool dpi_cap_native;
    int dpi_target_line_px;
    int page_parallel_min_pages;
    int page_parallel_chunk;
    int max_mupdf_mb;
    double page_timeout_seconds;
    double job_timeout_seconds;
    char fetch_allowed_buckets[512];
    char fetch_allowed_urls[1024];
} policy_settings;

typedef enum {
    HOOK_ROUTE,
    HOOK_NEEDS_OCR,
    HOOK_DPI,
    HOOK_LANGUAGES,
    HOOK_SELF_TEST,
    HOOK_COUNT
} policy_hook;

typedef struct policy {
    policy_settings s;
    int hook_ref[HOOK_COUNT];   /* LUA_NOREF when the policy leaves it out */
    char source[256];           /* file path, or "builtin:default" */
    int64_t hook_errors;        /* hooks that raised */
    int64_t hook_fallbacks;     /* hook results replaced by the default */
} policy;

typedef enum { SETTING_INT, SETTING_NUM, SETTING_BOOL, SETTING_STR } setting_type;

typedef struct setting_spec {
    const char *name;
    setting_type type;
    double min, max;
    size_t offset;
    const char *doc;
} setting_spec;

extern const setting_spec policy_setting_specs[];
extern const char *const policy_hook_names[HOOK_COUNT];

void policy_defaults(policy_settings *s);
/* Reads and checks a create-index body (JSON object with "mappings"). */
char *policy_read_mapping(const char *path, dm_err *err);
/* path NULL loads the embedded policies/default.lua. Returns -1 with a
 * precise message (file:line for syntax and runtime errors) on failure; the
 * state is left as it was. */
int policy_load(lua_State *L, const char *path, policy *out, dm_err *err);
void policy_unload(lua_State *L, policy *p);
/* Pushes the settings as a plain Lua table. */
void policy_push_settings(lua_State *L, const policy_settings *s);

/* Hook calls. arg is a stack index of the table handed to the hook; each
 * returns a validated value, the default when the hook is missing, raised
 * or returned nonsense. */
const char *policy_route(lua_State *L, policy *p, int arg);
/* The default: fewer than text_min_chars characters, or a share of
 * replacement/control characters above max_bad_char_ratio (the table's
 * `chars` and `bad_ratio`). */
bool policy_needs_ocr(lua_State *L, policy *p, int arg);
int policy_dpi(lua_State *L, policy *p, int arg);
void policy_languages(lua_State *L, policy *p, int arg, char out[64]);

#endif
