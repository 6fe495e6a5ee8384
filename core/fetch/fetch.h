/* fetch: turn a job's URI into a local file the extractors can read.
 * It knows local paths, file:// URIs, s3:// (net/s3.c) and http(s) URLs
 * the policy allows; downloads become 0600 temp files in TEMP_DIR. */
#ifndef DOCMILL_FETCH_H
#define DOCMILL_FETCH_H

#include "base/common.h"

typedef struct fetch_options {
    int64_t max_bytes;   /* 0 = no limit; larger objects are a permanent failure */
    /* Downloads above the threshold come in parallel ranged parts. */
    int64_t multipart_threshold;
    int64_t part_size;
    int parallel;
    /* Where a job may send us (NULL = anywhere: the CLI on a local file).
     * Space-separated S3 bucket names ("*" = any), and URL prefixes
     * "scheme://host[:port]/..." for http(s) URLs ("" = none). */
    const char *allowed_buckets;
    const char *allowed_urls;
} fetch_options;

typedef struct fetch_result {
    char *path;          /* a local file, owned by the result */
    int64_t size;
    int64_t mtime_ms;
    bool is_temp;        /* remove path on release (downloads) */
} fetch_result;

/* Whether uri may be fetched under opt's allow-lists; err says why not. */
bool fetch_allowed(const fetch_options *opt, const char *uri, dm_err *err);
/* Percent-decodes a file:// URI or passes a plain path through. */
int fetch_local_path(const char *uri, sbuf *path, dm_err *err);
int fetch_uri(const fetch_options *opt, const char *uri, fetch_result *out, dm_err *err);
void fetch_result_release(fetch_result *res);
/* Removes this process's leftover download files, and those of processes
 * that are gone, from the temp dir. Returns how many. */
int fetch_sweep_temp_files(void);
/* Where downloads go: TEMP_DIR, else TMPDIR, else /tmp. */
const char *fetch_temp_dir(void);

#endif
