#include "ops/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define MB (1024 * 1024)

int health_read_memory(int64_t *available, int64_t *total, dm_err *err)
{
    *available = *total = -1;
    const char *path = getenv("DOCMILL_MEMINFO");
    if (!path || !*path)
        path = "/proc/meminfo";
    FILE *f = fopen(path, "r");
    if (!f) {
        dm_err_set(err, false, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    long long avail = -1, tot = -1, mfree = -1, buffers = 0, cached = 0, kb;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
            avail = kb;
        else if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
            tot = kb;
        else if (sscanf(line, "MemFree: %lld kB", &kb) == 1)
            mfree = kb;
        else if (sscanf(line, "Buffers: %lld kB", &kb) == 1)
            buffers = kb;
        else if (sscanf(line, "Cached: %lld kB", &kb) == 1)
            cached = kb;
    }
    fclose(f);
    /* Kernels before 3.14 lack MemAvailable; free plus page cache is the
     * estimate they were replaced by, and errs on the generous side. */
    if (avail < 0 && mfree >= 0)
        avail = mfree + buffers + cached;
    if (tot <= 0 || avail < 0) {
        dm_err_set(err, false, "%s: no MemTotal/MemAvailable", path);
        return -1;
    }
    *available = (int64_t)avail * 1024;
    *total = (int64_t)tot * 1024;
    return 0;
}

/* A directory the worker will create later (a download dir, say) is judged
 * by the filesystem it will be created on. */
static int nearest_existing(const char *path, char out[512], struct stat *st, dm_err *err)
{
    if (!path || !*path)
        path = ".";
    if (strlen(path) >= 512) {
        dm_err_set(err, true, "health: path too long: %.100s...", path);
        return -1;
    }
    strcpy(out, path);
    while (stat(out, st) != 0) {
        char *slash = strrchr(out, '/');
        if (!slash) {
            if (strcmp(out, ".") == 0)
                goto fail;
            strcpy(out, ".");
        } else if (slash == out) {
            if (out[1] == '\0')
                goto fail;
            out[1] = '\0';
        } else {
            *slash = '\0';
        }
    }
    return 0;
fail:
    dm_err_set(err, false, "health: cannot stat %s or any parent: %s", path, strerror(errno));
    return -1;
}

static void add_reason(sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_reason(sbuf *sb, const char *fmt, ...)
{
    if (sb->len)
        sbuf_append(sb, "; ", 2);
    va_list ap;
    va_start(ap, fmt);
    char buf[700];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sbuf_append(sb, buf, strlen(buf));
}

int health_check(const health_thresholds *t, const char *const *paths, int npaths,
                 health_report *out, dm_err *err)
{
    memset(out, 0, sizeof *out);
    health_thresholds none = {0, 0};
    if (!t)
        t = &none;
    int rc = -1;
    sbuf why;
    sbuf_init(&why);

    int64_t avail, total;
    if (health_read_memory(&avail, &total, err) == 0) {
        out->mem_available_mb = avail / MB;
        out->mem_total_mb = total / MB;
        if (t->min_free_memory_mb > 0 && out->mem_available_mb < t->min_free_memory_mb)
            add_reason(&why, "free memory %lld MB < min_free_memory_mb %lld",
                       (long long)out->mem_available_mb, (long long)t->min_free_memory_mb);
    } else if (t->min_free_memory_mb > 0) {
        goto out;
    } else {
        out->mem_available_mb = out->mem_total_mb = -1;
    }

    dev_t devs[HEALTH_MAX_DISKS];
    for (int i = 0; i < npaths; i++) {
        char at[512];
        struct stat st;
        if (nearest_existing(paths[i], at, &st, err) != 0)
            goto out;
        bool seen = false;
        for (int d = 0; d < out->ndisks && !seen; d++)
            seen = devs[d] == st.st_dev;
        if (seen)
            continue;
        if (out->ndisks == HEALTH_MAX_DISKS) {
            dm_err_set(err, true, "health: more than %d filesystems to check (at %s)",
                       HEALTH_MAX_DISKS, at);
            goto out;
        }
        struct statvfs vfs;
        if (statvfs(at, &vfs) != 0) {
            dm_err_set(err, false, "health: statvfs %s: %s", at, strerror(errno));
            goto out;
        }
        int d = out->ndisks++;
        devs[d] = st.st_dev;
        memcpy(out->disks[d].path, at, sizeof at);
        out->disks[d].free_mb = (int64_t)((unsigned long long)vfs.f_bavail * vfs.f_frsize / MB);
        out->disks[d].low = t->min_free_disk_mb > 0 && out->disks[d].free_mb < t->min_free_disk_mb;
        if (out->disks[d].low)
            add_reason(&why, "free disk on %s %lld MB < min_free_disk_mb %lld", at,
                       (long long)out->disks[d].free_mb, (long long)t->min_free_disk_mb);
    }
    out->healthy = why.len == 0;
    snprintf(out->reason, sizeof out->reason, "%s", why.data ? why.data : "");
    rc = 0;
out:
    sbuf_free(&why);
    return rc;
}
