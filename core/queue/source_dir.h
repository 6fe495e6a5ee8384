/* source_dir: the local-folder job source. A scan walks the tree and turns
 * every new or changed regular file into a queued job, and every file that
 * disappeared into a deletion job. Hidden files and folders are skipped, as
 * are symbolic links (they could loop or leave the tree). */
#ifndef DOCMILL_SOURCE_DIR_H
#define DOCMILL_SOURCE_DIR_H

#include "queue/queue_sqlite.h"

typedef struct scan_counts {
    int64_t files;      /* regular files seen */
    int64_t queued;     /* new or changed: jobs created */
    int64_t unchanged;  /* same size and mtime as when last processed */
    int64_t active;     /* already pending or leased */
    int64_t deleted;    /* gone since the last scan: deletion jobs */
} scan_counts;

/* root must be absolute. exclude lists paths to skip (the index database
 * itself when it lives inside the tree); it may be NULL. */
int source_dir_scan(queue *q, const char *root, const char *const *exclude, int nexclude,
                    scan_counts *counts, dm_err *err);
/* Resolves DIR to an absolute, symlink-free path; it must be a directory. */
int source_dir_resolve(const char *dir, sbuf *out, dm_err *err);

#endif
