/* fetch: turn a job's URI into a local file the extractors can read.
 * Today it knows local paths and file:// URIs; http(s) and s3:// slot in
 * here as further schemes with the same contract. */
#ifndef DOCMILL_FETCH_H
#define DOCMILL_FETCH_H

#include "common.h"

typedef struct fetch_options {
    int64_t max_bytes;   /* 0 = no limit; larger objects are a permanent failure */
    /* Downloads above the threshold come in parallel ranged parts. */
    int64_t multipart_threshold;
    int64_t part_size;
    int parallel;
} fetch_options;

typedef struct fetch_result {
    char *path;          /* a local file, owned by the result */
    int64_t size;
    int64_t mtime_ms;
    bool is_temp;        /* remove path on release (downloads) */
} fetch_result;

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
