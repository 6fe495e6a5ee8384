#include "fetch/fetch.h"

#include "net/s3.h"
#include "net/http.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fetch_local_path(const char *uri, sbuf *path, dm_err *err)
{
    sbuf_reset(path);
    if (dm_str_has_prefix(uri, "file://")) {
        const char *p = uri + 7;
        if (*p != '/') {
            dm_err_set(err, true, "unsupported file URI (only file:///path is accepted): %s", uri);
            return -1;
        }
        if (dm_percent_decode(p, false, path) != 0) {
            dm_err_set(err, true, "file URI contains an encoded NUL: %s", uri);
            return -1;
        }
        return 0;
    }
    const char *colon = strstr(uri, "://");
    if (colon) {
        dm_err_set(err, true, "unsupported URI scheme: %.*s", (int)(colon - uri), uri);
        return -1;
    }
    sbuf_append(path, uri, strlen(uri));
    return 0;
}

/* Downloads go to TEMP_DIR (tmpfs on EC2) under a name derived from a hash
 * of the URI, never from the key: a key cannot choose or escape the path. */
const char *fetch_temp_dir(void)
{
    const char *dir = getenv("TEMP_DIR");
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    return dir;
}

static void temp_path_for(const char *uri, sbuf *path)
{
    const char *dir = fetch_temp_dir();
    char hex[65];
    dm_sha256_hex(uri, strlen(uri), hex);
    sbuf_appendf(path, "%s/docmill-%.40s-%d.part", dir, hex, (int)getpid());
}

/* Whether word is one of the space-separated words of list. */
static bool list_has(const char *list, const char *word, size_t len)
{
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == len && strncmp(p, word, len) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Whether url starts with one of the space-separated prefixes. A prefix must
 * name a whole authority ("scheme://host[:port]/"): "https://a.com" must not
 * let "https://a.com.evil.net/" through. */
static bool url_allowed(const char *list, const char *url)
{
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        const char *auth = n > 3 ? strstr(p, "://") : NULL;
        bool whole = auth && auth < p + n && memchr(auth + 3, '/', (size_t)(p + n - auth - 3));
        if (whole && strncmp(url, p, n) == 0)
            return true;
        p += n;
    }
    return false;
}

bool fetch_allowed(const fetch_options *opt, const char *uri, dm_err *err)
{
    if (dm_str_has_prefix(uri, "s3://")) {
        if (!opt || !opt->allowed_buckets || strcmp(opt->allowed_buckets, "*") == 0)
            return true;
        const char *bucket = uri + 5;
        size_t n = strcspn(bucket, "/");
        if (list_has(opt->allowed_buckets, bucket, n))
            return true;
        dm_err_set(err, true, "refused: bucket '%.*s' is not in fetch_allowed_buckets", (int)n,
                   bucket);
        return false;
    }
    if (dm_str_has_prefix(uri, "http://") || dm_str_has_prefix(uri, "https://")) {
        /* What curl would read differently from us never passes. */
        for (const unsigned char *c = (const unsigned char *)uri; *c; c++) {
            if (*c <= ' ' || *c == 0x7f || *c == '\\') {
                dm_err_set(err, true, "refused: URL with a space, control character or backslash");
                return false;
            }
        }
        if (opt && opt->allowed_urls && url_allowed(opt->allowed_urls, uri))
            return true;
        dm_err_set(err, true, "refused: URL not under a prefix of fetch_allowed_urls: %.200s", uri);
        return false;
    }
    return true;
}

/* A URL the policy allows, into a 0600 temp file. No redirects (http.c):
 * a redirect could lead anywhere. 429 and 5xx are transient. */
static int fetch_http(const fetch_options *opt, const char *uri, fetch_result *out, dm_err *err)
{
    sbuf path;
    sbuf_init(&path);
    temp_path_for(uri, &path);
    unlink(path.data);
    int fd = open(path.data, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        dm_err_set(err, false, "cannot create a temporary file: %s", strerror(errno));
        sbuf_free(&path);
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    http_client *hc = http_client_new();
    http_request get = {.method = "GET", .url = uri, .timeout_ms = 600000, .sink = f,
                        .max_body = opt ? opt->max_bytes : 0};
    http_response resp;
    int rc = http_perform(hc, &get, &resp, err);
    http_client_free(hc);
    if (fclose(f) != 0 && rc == 0) {
        dm_err_set(err, false, "cannot write the temporary file: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && resp.status != 200) {
        bool transient = resp.status == 429 || resp.status >= 500;
        dm_err_set(err, !transient, "HTTP %ld from %.200s", resp.status, uri);
        rc = -1;
    }
    struct stat st;
    if (rc == 0 && (stat(path.data, &st) != 0 ||
                    (resp.content_length >= 0 && st.st_size != resp.content_length))) {
        dm_err_set(err, false, "truncated download from %.200s", uri);
        rc = -1;
    }
    http_response_free(&resp);
    if (rc != 0) {
        unlink(path.data);
        sbuf_free(&path);
        return -1;
    }
    out->path = sbuf_take(&path);
    out->size = st.st_size;
    out->mtime_ms = dm_now_ms();
    out->is_temp = true;
    return 0;
}

static int fetch_s3(const fetch_options *opt, const char *uri, fetch_result *out, dm_err *err)
{
    sbuf path;
    sbuf_init(&path);
    temp_path_for(uri, &path);
    unlink(path.data);  /* a leftover of a killed run */
    int64_t size = 0;
    s3_download_options so = {0};
    if (opt)
        so = (s3_download_options){opt->max_bytes, opt->multipart_threshold, opt->part_size,
                                   opt->parallel};
    if (s3_download(uri, path.data, &so, &size, err) != 0) {
        sbuf_free(&path);
        return -1;
    }
    out->path = sbuf_take(&path);
    out->size = size;
    out->mtime_ms = dm_now_ms();
    out->is_temp = true;
    return 0;
}

int fetch_uri(const fetch_options *opt, const char *uri, fetch_result *out, dm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!fetch_allowed(opt, uri, err))
        return -1;
    if (dm_str_has_prefix(uri, "s3://"))
        return fetch_s3(opt, uri, out, err);
    if (dm_str_has_prefix(uri, "http://") || dm_str_has_prefix(uri, "https://"))
        return fetch_http(opt, uri, out, err);
    sbuf path;
    sbuf_init(&path);
    if (fetch_local_path(uri, &path, err) != 0) {
        sbuf_free(&path);
        return -1;
    }
    struct stat st;
    if (stat(path.data, &st) != 0) {
        /* A vanished file will not come back by retrying the same job. */
        int e = errno;
        dm_err_set(err, e == ENOENT || e == ENOTDIR, "cannot open %s: %s", path.data, strerror(e));
        if (e == ENOENT || e == ENOTDIR)
            err->code = "not_found";
        sbuf_free(&path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        dm_err_set(err, true, "not a regular file: %s", path.data);
        sbuf_free(&path);
        return -1;
    }
    if (access(path.data, R_OK) != 0) {
        dm_err_set(err, true, "cannot read %s: %s", path.data, strerror(errno));
        sbuf_free(&path);
        return -1;
    }
    if (opt && opt->max_bytes > 0 && st.st_size > opt->max_bytes) {
        dm_err_set(err, true, "file too large: %lld bytes exceeds the limit of %lld bytes",
                   (long long)st.st_size, (long long)opt->max_bytes);
        sbuf_free(&path);
        return -1;
    }
    out->path = sbuf_take(&path);
    out->size = st.st_size;
    out->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    out->is_temp = false;
    return 0;
}

void fetch_result_release(fetch_result *res)
{
    if (!res)
        return;
    if (res->is_temp && res->path)
        unlink(res->path);
    free(res->path);
    memset(res, 0, sizeof *res);
}

int fetch_sweep_temp_files(void)
{
    DIR *d = opendir(fetch_temp_dir());
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* docmill-<40 hex>-<pid>.part (a download) and docmill-member-<pid>-...
         * (an archive's or a mail's member, container.c): ours when the pid
         * is dead (a killed run). Our own live files belong to running jobs:
         * kept. */
        int pid = 0, end = 0;
        const char *dash = strrchr(e->d_name, '-');
        bool member = strncmp(e->d_name, "docmill-member-", 15) == 0;
        if (member) {
            if (sscanf(e->d_name + 15, "%d-%n", &pid, &end) != 1 || end == 0)
                continue;
        } else if (strncmp(e->d_name, "docmill-", 8) != 0 || !dash ||
                   sscanf(dash + 1, "%d.part%n", &pid, &end) != 1 || dash[1 + end] != '\0') {
            continue;
        }
        if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno == EPERM)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", fetch_temp_dir(), e->d_name);
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
