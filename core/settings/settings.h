/* settings: the values a policy sets, as one plain C struct, and their
 * schema: each setting's type, range, default, whether a reload changes it
 * live, and what it means. The one source of these facts: the Lua policy
 * loader (luabridge/policy.c) fills the struct through the setters here,
 * `docmill policy show` and policies/README.md print the defaults from the
 * schema (a test keeps the README in step), and a reload asks the schema
 * which changes need a restart. No Lua here. */
#ifndef DOCMILL_SETTINGS_H
#define DOCMILL_SETTINGS_H

#include "base/common.h"

#include <stddef.h>

typedef struct policy_settings {
    char languages[64];
    int dpi;
    double max_file_mb;
    double max_pdf_mb;
    int max_pages;
    double max_text_mb;
    double max_expanded_mb;
    double max_compression_ratio;
    int max_container_depth;
    int max_container_members;
    char office_converters[256];
    int max_office_images;
    char html_default_charset[64];
    double max_page_megapixels;
    int text_min_chars;
    double max_bad_char_ratio;
    int ocr_psm;
    bool ocr_skip_inverted;
    int orientation_check_below;
    double orientation_min_confidence;
    int low_confidence_below;
    double vertical_min_cjk_gap;
    double deskew_min_degrees;
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
    int dpi_min;
    int dpi_max;
    int page_parallel_min_pages;
    int page_parallel_chunk;
    int max_mupdf_mb;
    double page_timeout_seconds;
    double job_timeout_seconds;
    char fetch_allowed_buckets[512];
    char fetch_allowed_urls[1024];
    int hook_budget_ms;
    bool reuse_copies;
    double jpn_alone_max_latin_per_cjk;
    char first_page_languages[64];
    double first_page_max_latin_per_cjk;
} policy_settings;

typedef enum { SETTING_INT, SETTING_NUM, SETTING_BOOL, SETTING_STR } setting_type;

typedef struct setting_spec {
    const char *name;
    setting_type type;
    double min, max;           /* a string's length */
    size_t offset;
    double dflt;               /* SETTING_INT, SETTING_NUM, SETTING_BOOL (0/1) */
    const char *dflt_str;      /* SETTING_STR */
    bool start_only;           /* fixed when the process starts: a reload logs it */
    const char *doc;
} setting_spec;

/* Ends with a row whose name is NULL. */
extern const setting_spec settings_schema[];

void settings_defaults(policy_settings *s);
const setting_spec *settings_find(const char *name);

/* Setters for loaders: the value is checked against the schema. `where`
 * starts the error message ("file:line"). */
int settings_set_number(policy_settings *s, const setting_spec *sp, double v, const char *where,
                        dm_err *err);
int settings_set_bool(policy_settings *s, const setting_spec *sp, bool v);
int settings_set_string(policy_settings *s, const setting_spec *sp, const char *v, size_t len,
                        const char *where, dm_err *err);

/* The seed's environment variables (MAX_FILE_SIZE_MB, PDF_DPI, ...) override
 * the policy, so a team can swap the Python worker without a policy. */
int settings_apply_env(policy_settings *s, dm_err *err);

/* opensearch_mapping_file is relative to the policy file: resolves it and
 * checks the file holds a create-index body. */
int settings_resolve_mapping(policy_settings *s, const char *policy_path, const char *where,
                             dm_err *err);
/* Reads and checks a create-index body (JSON object with "mappings"). */
char *settings_read_mapping(const char *path, dm_err *err);

/* The start-only settings that differ between a and b: up to max names. */
int settings_changed_start_only(const policy_settings *a, const policy_settings *b,
                                const char **names, int max);

/* The line of a Lua file where `key = ...` is first set (a table field at the
 * start of a line or after '{' or ','), for errors that name the line of a
 * value; 0 when it cannot be told. */
int settings_key_line(const char *path, const char *key);

/* The candidate closest to name (edit distance <= 3), for "did you mean". */
const char *settings_closest(const char *name, const char *const *candidates, int n);

#endif
