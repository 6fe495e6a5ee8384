#include "queue/source_dir.h"

#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct seen_file {
    char *path;
    int64_t size, mtime_ms;
    int repeat;     /* 0 for the first file of its size, 1 for the others */
} seen_file;

typedef struct scan_state {
    queue *q;
    const char *const *exclude;
    int nexclude;
    scan_counts *counts;
    seen_file *seen;
    size_t nseen, cap;
} scan_state;

int source_dir_resolve(const char *dir, sbuf *out, dm_err *err)
{
    char real[PATH_MAX];
    if (!realpath(dir, real)) {
        dm_err_set(err, true, "source folder %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        dm_err_set(err, true, "source %s is not a folder", dir);
        return -1;
    }
    sbuf_reset(out);
    sbuf_append(out, real, strlen(real));
    return 0;
}

static bool excluded(const scan_state *s, const char *path)
{
    for (int i = 0; i < s->nexclude; i++) {
        size_t n = strlen(s->exclude[i]);
        /* The database and its -wal / -shm / -journal companions. */
        if (strncmp(path, s->exclude[i], n) == 0 && (path[n] == '\0' || path[n] == '-'))
            return true;
    }
    return false;
}

/* Largest first, then by path: a batch of files ends on small ones, so the
 * workers finish together instead of one of them alone on a big scan. A
 * file of the same size as one before it (most likely a copy) goes to the
 * end: by the time it is taken its first copy is indexed and it reuses the
 * pages, where side by side the two would have one worker wait for the
 * other. */
static int by_size_desc(const void *a, const void *b)
{
    const seen_file *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int queue_order(const void *a, const void *b)
{
    const seen_file *x = a, *y = b;
    if (x->repeat != y->repeat)
        return x->repeat - y->repeat;
    return by_size_desc(a, b);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const seen_file *)a)->path, ((const seen_file *)b)->path);
}

static int enqueue_seen(scan_state *s, dm_err *err)
{
    if (s->nseen == 0)   /* an empty folder: no array (qsort must not see NULL) */
        return 0;
    qsort(s->seen, s->nseen, sizeof *s->seen, by_size_desc);
    for (size_t i = 1; i < s->nseen; i++)
        s->seen[i].repeat = s->seen[i].size == s->seen[i - 1].size;
    qsort(s->seen, s->nseen, sizeof *s->seen, queue_order);
    for (size_t i = 0; i < s->nseen; i++) {
        const seen_file *f = &s->seen[i];
        int r = queue_sqlite_enqueue(s->q, f->path, "index", f->size, f->mtime_ms, err);
        if (r < 0)
            return -1;
        if (r == 1)
            s->counts->queued++;
        else if (r == 2)
            s->counts->active++;
        else
            s->counts->unchanged++;
    }
    return 0;
}

/* Collects the regular files under dir; an unreadable folder is skipped
 * with a warning (the queue is written afterwards, by enqueue_seen). */
static void walk(scan_state *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("cannot read folder %s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *e;
    sbuf path;
    sbuf_init(&path);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        sbuf_reset(&path);
        sbuf_appendf(&path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path.data, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(s, path.data);
            continue;
        }
        if (!S_ISREG(st.st_mode) || excluded(s, path.data))
            continue;
        s->counts->files++;
        if (s->nseen == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 256;
            s->seen = dm_xrealloc(s->seen, s->cap * sizeof *s->seen);
        }
        s->seen[s->nseen++] = (seen_file){
            dm_xstrdup(path.data), st.st_size,
            (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000, 0};
    }
    sbuf_free(&path);
    closedir(d);
}


int source_dir_scan(queue *q, const char *root, const char *const *exclude, int nexclude,
                    scan_counts *counts, dm_err *err)
{
    memset(counts, 0, sizeof *counts);
    scan_state s = {q, exclude, nexclude, counts, NULL, 0, 0};
    walk(&s, root);
    int rc = enqueue_seen(&s, err);
    char **paths = dm_xcalloc(s.nseen ? s.nseen : 1, sizeof *paths);
    if (rc == 0) {
        if (s.nseen > 0)
            qsort(s.seen, s.nseen, sizeof *s.seen, by_path);
        for (size_t i = 0; i < s.nseen; i++)
            paths[i] = s.seen[i].path;
        char prefix[PATH_MAX + 2];
        snprintf(prefix, sizeof prefix, "%s/", root);
        int n = queue_sqlite_enqueue_deletions(q, prefix, paths, s.nseen, err);
        if (n < 0)
            rc = -1;
        else
            counts->deleted = n;
    }
    free(paths);
    for (size_t i = 0; i < s.nseen; i++)
        free(s.seen[i].path);
    free(s.seen);
    return rc;
}
