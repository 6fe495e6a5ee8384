/* health: is the machine fit to take more work? Free memory and the free
 * disk space where the worker writes, against thresholds, for the worker's
 * "pause when unhealthy" check. Plain reads of /proc and statvfs: cheap
 * enough to call before every job. */
#ifndef DOCMILL_HEALTH_H
#define DOCMILL_HEALTH_H

#include "base/common.h"

#define HEALTH_MAX_DISKS 4

typedef struct health_thresholds {
    int64_t min_free_memory_mb;   /* 0 = not checked */
    int64_t min_free_disk_mb;     /* 0 = not checked */
} health_thresholds;

typedef struct health_report {
    bool healthy;
    /* From MemAvailable / MemTotal; -1 when unreadable and not checked. */
    int64_t mem_available_mb, mem_total_mb;
    int ndisks;
    struct {
        char path[512];           /* the path checked: the nearest existing one */
        int64_t free_mb;          /* statvfs f_bavail * f_frsize: what we may use */
        bool low;
    } disks[HEALTH_MAX_DISKS];
    /* "" when healthy, else e.g. "free memory 120 MB < min_free_memory_mb
     * 256; free disk on /tmp 80 MB < min_free_disk_mb 512". */
    char reason[512];
} health_report;

/* Reads memory and the free space of each path's filesystem and compares
 * them with t (NULL: nothing checked). A path that does not exist is checked
 * at its nearest existing parent; paths on the same filesystem (same st_dev)
 * are reported once. More than HEALTH_MAX_DISKS filesystems is an error.
 * Returns 0 with out filled (out->healthy is the verdict), or -1. */
int health_check(const health_thresholds *t, const char *const *paths, int npaths,
                 health_report *out, dm_err *err);
/* MemAvailable and MemTotal in bytes, from DOCMILL_MEMINFO when set (tests),
 * else /proc/meminfo. */
int health_read_memory(int64_t *available, int64_t *total, dm_err *err);

#endif
