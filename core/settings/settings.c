/* settings: the schema and the plain-C checks every loader shares. */
#include "settings/settings.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(field) offsetof(policy_settings, field)

/* Every setting a policy may set. policies/README.md documents the same list
 * with these defaults; tests/lua/test_policy_docs.lua keeps them in step. */
const setting_spec settings_schema[] = {
    {"languages", SETTING_STR, 1, 63, S(languages), .dflt_str = "jpn+eng",
     .doc = "Tesseract language set for OCR"},
    {"jpn_alone_max_latin_per_cjk", SETTING_NUM, 0, 1000, S(jpn_alone_max_latin_per_cjk),
     .dflt = 1,
     .doc = "after a document's first OCR'd page, jpn alone reads the rest when that page had at "
     "most this many Latin letters per Japanese character (0 = never)"},
    {"first_page_languages", SETTING_STR, 0, 63, S(first_page_languages), .dflt_str = "jpn",
     .doc = "the models a document's first OCR'd page is read with first, when they are fewer than "
     "languages'; the reading is kept when it holds at most first_page_max_latin_per_cjk Latin "
     "letters per Japanese character, else the page is read again with languages (\"\" = read it "
     "with languages)"},
    {"first_page_max_latin_per_cjk", SETTING_NUM, 0, 1000, S(first_page_max_latin_per_cjk),
     .dflt = 4,
     .doc = "the most Latin letters per Japanese character a first page read with "
     "first_page_languages may hold and be kept"},
    {"dpi", SETTING_INT, 72, 600, S(dpi), .dflt = 150,
     .doc = "render resolution for OCR of PDF pages and images"},
    {"max_file_mb", SETTING_NUM, 0, 1e6, S(max_file_mb), .dflt = 200,
     .doc = "larger files fail (0 = no limit)"},
    {"max_pdf_mb", SETTING_NUM, 0, 1e6, S(max_pdf_mb), .dflt = 0,
     .doc = "larger PDFs fail (0 = only max_file_mb applies)"},
    {"max_pages", SETTING_INT, 1, 1000000, S(max_pages), .dflt = 500,
     .doc = "pages beyond this are not extracted"},
    {"max_text_mb", SETTING_NUM, 0, 1e6, S(max_text_mb), .dflt = 64,
     .doc = "text kept from one Office, HTML or RTF document; the rest is left out and noted "
            "(0 = no limit)"},
    {"max_expanded_mb", SETTING_NUM, 0, 1e6, S(max_expanded_mb), .dflt = 1024,
     .doc = "what one file may inflate to: an Office file's zip, or an archive's or a mail's "
            "members, nested ones included; past it the file fails, naming the limit, and "
            "the members read before stay indexed (0 = no limit)"},
    {"max_container_depth", SETTING_INT, 1, 16, S(max_container_depth), .dflt = 3,
     .doc = "archives and mails opened inside one another at most this deep (a zip in a zip "
            "is 2); a deeper one fails the file, naming the limit"},
    {"max_container_members", SETTING_INT, 1, 1000000, S(max_container_members),
     .dflt = 1000,
     .doc = "members read from one archive or mail (attachments, an mbox's mails); past it "
            "the file fails, naming the limit, and the members read before stay indexed"},
    {"max_office_images", SETTING_INT, 0, 10000, S(max_office_images), .dflt = 50,
     .doc = "images embedded in an Office file (a scan pasted into Word, a slide's picture) "
            "OCR'd as pages after its text, at most this many per file (0 = none)"},
    {"html_default_charset", SETTING_STR, 0, 63, S(html_default_charset),
     .dflt_str = "windows-1252",
     .doc = "the charset of an HTML page that names none (no BOM, no <meta>) and is not "
            "UTF-8, Shift_JIS or EUC-JP (an iconv name; \"\" = such a page fails)"},
    {"office_converters", SETTING_STR, 0, 255, S(office_converters),
     .dflt_str = "doc:antiword,catdoc xls:xls2csv ppt:catppt",
     .doc = "programs for legacy Office files, space-separated KIND:PROGRAM[,PROGRAM] tried in "
            "order (doc: antiword, catdoc; xls: xls2csv; ppt: catppt); \"\" = none"},
    {"max_compression_ratio", SETTING_NUM, 0, 1e6, S(max_compression_ratio), .dflt = 200,
     .doc = "inflated bytes per byte of the container beyond its first MB; past it the file "
            "fails as a zip bomb (0 = no limit)"},
    {"max_page_megapixels", SETTING_NUM, 0.1, 1000, S(max_page_megapixels), .dflt = 40,
     .doc = "render cap per page; larger pages are rendered at a lower DPI, larger images refused"},
    {"text_min_chars", SETTING_INT, 0, 100000, S(text_min_chars), .dflt = 20,
     .doc = "a text layer with fewer characters is OCR'd instead"},
    {"max_bad_char_ratio", SETTING_NUM, 0, 1, S(max_bad_char_ratio), .dflt = 0.3,
     .doc = "a text layer with more replacement/control characters than this share is OCR'd"},
    {"ocr_psm", SETTING_INT, 0, 13, S(ocr_psm), .dflt = 3,
     .doc = "Tesseract page segmentation mode"},
    {"ocr_skip_inverted", SETTING_BOOL, 0, 1, S(ocr_skip_inverted), .dflt = 1,
     .doc = "skip Tesseract's inverted-text pass (faster)"},
    {"orientation_check_below", SETTING_INT, 0, 100, S(orientation_check_below), .dflt = 70,
     .doc = "a page read with a lower mean word confidence gets Tesseract's orientation "
            "detection and, when it is turned, a second reading turned back (the retry "
            "hook may decide instead); 0 = never"},
    {"orientation_min_confidence", SETTING_NUM, 0, 100, S(orientation_min_confidence),
     .dflt = 1.5, .doc = "the least OSD confidence in a turn for the second reading"},
    {"deskew_min_degrees", SETTING_NUM, 0, 10, S(deskew_min_degrees), .dflt = 2,
     .doc = "a page whose text lines lie askew by at least this many degrees (leptonica's "
            "estimate, up to 10) is levelled before OCR; 0 = never"},
    {"vertical_min_cjk_gap", SETTING_NUM, 0, 10, S(vertical_min_cjk_gap), .dflt = 0.5,
     .doc = "a page whose Japanese characters sit this many character heights apart "
            "(median) on a line is vertical text read across its columns: it is read "
            "again with jpn_vert (as are low pages OSD calls Japanese, and pages of rows "
            "beside unreadable columns, with jpn_vert added); 0 = never"},
    {"low_confidence_below", SETTING_INT, 0, 100, S(low_confidence_below), .dflt = 50,
     .doc = "a page still read with a lower mean word confidence is indexed with a "
            "low_confidence note; 0 = never"},
    {"batch_size", SETTING_INT, 1, 10000, S(batch_size), .dflt = 100, .start_only = true,
     .doc = "documents per bulk request of the process's indexing buffer"},
    {"batch_max_mb", SETTING_NUM, 0.1, 10, S(batch_max_mb), .dflt = 5, .start_only = true,
     .doc = "bytes per bulk request (OpenSearch accepts at most 10 MiB)"},
    {"batch_max_age_seconds", SETTING_NUM, 0.05, 3600, S(batch_max_age_seconds), .dflt = 5, .start_only = true,
     .doc = "a document waits at most this long for its batch to fill"},
    {"gc_every_jobs", SETTING_INT, 0, 1000000, S(gc_every_jobs), .dflt = 50,
     .doc = "full Lua GC and MuPDF store flush every N jobs (0 = never)"},
    {"mupdf_store_mb", SETTING_INT, 0, 4096, S(mupdf_store_mb), .dflt = 16, .start_only = true,
     .doc = "MuPDF cache per worker"},
    {"max_mupdf_mb", SETTING_INT, 0, 65536, S(max_mupdf_mb), .dflt = 256,
     .doc = "cap on what MuPDF holds per worker; a page that would need more is drawn at the "
            "highest DPI that fits, down to 72, then fails (0 = no cap)"},
    {"page_timeout_seconds", SETTING_NUM, 0, 86400, S(page_timeout_seconds), .dflt = 180,
     .doc = "a page's text, render and OCR stop after this long; the page is recorded as timed out"},
    {"fetch_allowed_buckets", SETTING_STR, 0, 511, S(fetch_allowed_buckets), .dflt_str = "*",
     .doc = "S3 buckets jobs may name, space-separated (\"*\" = any the credentials can read)"},
    {"fetch_allowed_urls", SETTING_STR, 0, 1023, S(fetch_allowed_urls), .dflt_str = "",
     .doc = "URL prefixes {\"url\"} jobs may fetch, space-separated (\"\" = none)"},
    {"job_timeout_seconds", SETTING_NUM, 0, 604800, S(job_timeout_seconds), .dflt = 1800,
     .doc = "pages not started by then are skipped and noted; the rest is indexed (0 = none)"},
    {"max_crashes", SETTING_INT, 1, 100, S(max_crashes), .dflt = 2,
     .doc = "a job whose worker died or stalled while holding it this many times is quarantined"},
    {"retry_base_ms", SETTING_INT, 0, 86400000, S(retry_base_ms), .dflt = 2000,
     .doc = "first retry delay after a transient failure; doubles per attempt"},
    {"retry_max_ms", SETTING_INT, 0, 86400000, S(retry_max_ms), .dflt = 300000,
     .doc = "the longest retry delay (transient failures are retried until they succeed)"},
    {"lease_seconds", SETTING_INT, 10, 86400, S(lease_seconds), .dflt = 600,
     .doc = "how long a job stays invisible to other takers while it runs (renewed)"},
    {"s3_multipart_threshold_mb", SETTING_NUM, 0, 1e6, S(s3_multipart_threshold_mb), .dflt = 50,
     .doc = "S3 objects above this size download in parallel ranged parts (0 = never)"},
    {"s3_part_mb", SETTING_NUM, 1, 5120, S(s3_part_mb), .dflt = 10,
     .doc = "size of one ranged part"},
    {"s3_parallel_parts", SETTING_INT, 1, 64, S(s3_parallel_parts), .dflt = 4,
     .doc = "ranged parts in flight"},
    {"drain_seconds", SETTING_INT, 1, 3600, S(drain_seconds), .dflt = 90,
     .doc = "on SIGTERM, jobs in progress get this long to finish; the rest go back to the queue"},
    {"min_free_memory_mb", SETTING_NUM, 0, 1e7, S(min_free_memory_mb), .dflt = 256,
     .doc = "below this much available memory the worker pauses taking jobs (0 = not checked)"},
    {"min_free_disk_mb", SETTING_NUM, 0, 1e9, S(min_free_disk_mb), .dflt = 256,
     .doc = "below this much free disk (TEMP_DIR, the index's folder) the worker pauses (0 = not checked)"},
    {"health_check_seconds", SETTING_NUM, 0.1, 3600, S(health_check_seconds), .dflt = 10,
     .doc = "how often free memory and disk are checked"},
    {"spot_check_seconds", SETTING_NUM, 0, 3600, S(spot_check_seconds), .dflt = 5,
     .doc = "how often EC2 IMDS is asked for a spot interruption notice (0 = never)"},
    {"metrics_interval_seconds", SETTING_NUM, 1, 3600, S(metrics_interval_seconds), .dflt = 60,
     .doc = "how often a CloudWatch EMF line is written (with --emf)"},
    {"fast_lane_workers", SETTING_INT, 0, 256, S(fast_lane_workers), .dflt = 0,
     .doc = "workers that take only small files (fast_lane_max_mb), so they never wait behind big ones"},
    {"fast_lane_max_mb", SETTING_NUM, 0, 1e6, S(fast_lane_max_mb), .dflt = 1,
     .doc = "the largest file the fast lane takes"},
    {"dpi_cap_native", SETTING_BOOL, 0, 1, S(dpi_cap_native), .dflt = 1,
     .doc = "never render a scanned page above the resolution of its image"},
    {"dpi_target_line_px", SETTING_INT, 0, 200, S(dpi_target_line_px), .dflt = 19,
     .doc = "render each page to OCR again, within dpi_min..dpi_max, when its text lines (measured "
     "on it as rendered at dpi) are far from this tall (0 = off)"},
    {"dpi_min", SETTING_INT, 72, 600, S(dpi_min), .dflt = 150,
     .doc = "the lowest DPI dpi_target_line_px renders a page at (large print)"},
    {"dpi_max", SETTING_INT, 72, 600, S(dpi_max), .dflt = 200,
     .doc = "the highest DPI dpi_target_line_px renders a page at (small print)"},
    {"page_parallel_min_pages", SETTING_INT, 0, 1000000, S(page_parallel_min_pages), .dflt = 2,
     .doc = "a document with at least this many pages to OCR shares them with idle workers (0 = never)"},
    {"page_parallel_chunk", SETTING_INT, 1, 1000, S(page_parallel_chunk), .dflt = 1,
     .doc = "most pages to OCR per range handed to another worker"},
    {"workers", SETTING_INT, 0, 256, S(workers), .dflt = 0, .start_only = true,
     .doc = "worker threads when the config does not say (0 = one per core)"},
    {"sqs_wait_seconds", SETTING_INT, 0, 20, S(sqs_wait_seconds), .dflt = 20, .start_only = true,
     .doc = "SQS long-poll wait per ReceiveMessage"},
    {"sqs_max_messages", SETTING_INT, 1, 10, S(sqs_max_messages), .dflt = 10, .start_only = true,
     .doc = "SQS messages per receive"},
    {"opensearch_mapping_file", SETTING_STR, 0, 400, S(opensearch_mapping_file), .dflt_str = "", .start_only = true,
     .doc = "JSON create-index body (settings, mappings) used instead of docmill's own"},
    {"reuse_copies", SETTING_BOOL, 0, 1, S(reuse_copies), .dflt = 1,
     .doc = "a file whose content is already indexed under another path reuses its pages"},
    {"hook_budget_ms", SETTING_INT, 1, 60000, S(hook_budget_ms), .dflt = 1000,
     .doc = "a policy hook running longer is stopped: its decision falls back to the default"},
    {NULL, 0, 0, 0, 0, 0, NULL, false, NULL},
};

void settings_defaults(policy_settings *s)
{
    memset(s, 0, sizeof *s);
    char *base = (char *)s;
    for (const setting_spec *sp = settings_schema; sp->name; sp++) {
        switch (sp->type) {
        case SETTING_BOOL: *(bool *)(base + sp->offset) = sp->dflt != 0; break;
        case SETTING_INT: *(int *)(base + sp->offset) = (int)sp->dflt; break;
        case SETTING_NUM: *(double *)(base + sp->offset) = sp->dflt; break;
        case SETTING_STR:
            snprintf(base + sp->offset, (size_t)sp->max + 1, "%s", sp->dflt_str ? sp->dflt_str : "");
            break;
        }
    }
}

const setting_spec *settings_find(const char *name)
{
    for (const setting_spec *sp = settings_schema; sp->name; sp++)
        if (strcmp(sp->name, name) == 0)
            return sp;
    return NULL;
}

int settings_set_number(policy_settings *s, const setting_spec *sp, double v, const char *where,
                        dm_err *err)
{
    if (isnan(v) || v < sp->min || v > sp->max || (sp->type == SETTING_INT && v != floor(v))) {
        dm_err_set(err, true, "%s: '%s' = %g is out of range (%s %g..%g)", where, sp->name, v,
                   sp->type == SETTING_INT ? "integer" : "number", sp->min, sp->max);
        return -1;
    }
    if (sp->type == SETTING_INT)
        *(int *)((char *)s + sp->offset) = (int)v;
    else
        *(double *)((char *)s + sp->offset) = v;
    return 0;
}

int settings_set_bool(policy_settings *s, const setting_spec *sp, bool v)
{
    *(bool *)((char *)s + sp->offset) = v;
    return 0;
}

int settings_set_string(policy_settings *s, const setting_spec *sp, const char *v, size_t len,
                        const char *where, dm_err *err)
{
    if (len < (size_t)sp->min || len > (size_t)sp->max) {
        dm_err_set(err, true, "%s: '%s' must be %d..%d characters", where, sp->name, (int)sp->min,
                   (int)sp->max);
        return -1;
    }
    memcpy((char *)s + sp->offset, v, len);
    ((char *)s + sp->offset)[len] = '\0';
    return 0;
}

int settings_apply_env(policy_settings *s, dm_err *err)
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
        const setting_spec *sp = settings_find(map[i].setting);
        char where[64];
        snprintf(where, sizeof where, "environment %s", map[i].env);
        if (sp->type == SETTING_STR) {
            if (settings_set_string(s, sp, v, strlen(v), where, err) != 0)
                return -1;
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
        settings_set_number(s, sp, d, where, err);
    }
    return 0;
}

/* opensearch_mapping_file is relative to the policy file; it must hold a
 * JSON object with "mappings" (the body of a create-index request). */
int settings_resolve_mapping(policy_settings *s, const char *policy_path, const char *where,
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
    char *json = settings_read_mapping(resolved, err);
    if (!json) {
        dm_err_prefix(err, true, "%s: opensearch_mapping_file: ", where);
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

char *settings_read_mapping(const char *path, dm_err *err)
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

int settings_changed_start_only(const policy_settings *a, const policy_settings *b,
                                const char **names, int max)
{
    int n = 0;
    for (const setting_spec *sp = settings_schema; sp->name && n < max; sp++) {
        if (!sp->start_only)
            continue;
        const char *pa = (const char *)a + sp->offset, *pb = (const char *)b + sp->offset;
        bool same;
        switch (sp->type) {
        case SETTING_BOOL: same = *(const bool *)pa == *(const bool *)pb; break;
        case SETTING_INT: same = *(const int *)pa == *(const int *)pb; break;
        case SETTING_NUM: same = *(const double *)pa == *(const double *)pb; break;
        default: same = strcmp(pa, pb) == 0; break;
        }
        if (!same)
            names[n++] = sp->name;
    }
    return n;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int settings_key_line(const char *path, const char *key)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return 0;
    size_t klen = strlen(key);
    char line[4096];
    int lineno = 0, found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        lineno++;
        /* Comments are not settings. */
        char *dash = strstr(line, "--");
        if (dash)
            *dash = '\0';
        for (char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
            char before = p == line ? ' ' : p[-1];
            if (is_name_char(before) || is_name_char(p[klen]) || before == '.')
                continue;
            const char *q = p + klen;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q != '=' || q[1] == '=')
                continue;
            /* Only a table field: first on its line, or after '{' or ','. */
            const char *b = p;
            while (b > line && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            if (b == line || b[-1] == '{' || b[-1] == ',') {
                found = lineno;
                break;
            }
        }
    }
    fclose(f);
    return found;
}

const char *settings_closest(const char *name, const char *const *cands, int n)
{
    const char *best = NULL;
    size_t best_d = 4;
    size_t la = strlen(name);
    if (la > 40)
        return NULL;
    for (int c = 0; c < n; c++) {
        size_t lb = strlen(cands[c]);
        if (lb > 40)
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
