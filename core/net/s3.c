#include "net/s3.h"

#include "net/credentials.h"
#include "net/http.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <mupdf/fitz.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* SHA-256 of the empty body: what a GET or HEAD signs as its payload. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int s3_parse_uri(const char *uri, char bucket[64], sbuf *key, dm_err *err)
{
    if (strncmp(uri, "s3://", 5) != 0) {
        dm_err_set(err, true, "not an s3:// URI");
        return -1;
    }
    const char *b = uri + 5, *slash = strchr(b, '/');
    if (!slash || slash == b || slash - b > 63 || !slash[1]) {
        dm_err_set(err, true, "malformed S3 URI (expected s3://bucket/key)");
        return -1;
    }
    snprintf(bucket, 64, "%.*s", (int)(slash - b), b);
    sbuf_reset(key);
    sbuf_append(key, slash + 1, strlen(slash + 1));
    return 0;
}

static void object_url(const char *bucket, const char *key, const char *region, sbuf *url)
{
    const char *override = aws_endpoint_override("s3");
    if (override) {
        sbuf_append(url, override, strlen(override));
        if (url->len && url->data[url->len - 1] == '/')
            url->data[--url->len] = '\0';
        sbuf_appendf(url, "/%s/", bucket);
    } else {
        sbuf_appendf(url, "https://%s.s3.%s.amazonaws.com/", bucket, region);
    }
    http_url_encode(key, true, url);
}

static int classify(long status, const char *what, dm_err *err)
{
    if (status == 404) {
        dm_err_set(err, true, "%s: no such object (HTTP 404)", what);
        err->code = "not_found";
    } else if (status == 403 || status == 400) {
        /* Also what an IAM change still propagating, an expired session
         * token or clock skew look like: retry (a queue's redrive policy
         * still bounds it) rather than drop the job. */
        dm_err_set(err, false, "%s: HTTP %ld (%s)", what, status,
                   status == 403 ? "access denied" : "bad request");
    } else if (status >= 500 || status == 429) {
        dm_err_set(err, false, "%s: HTTP %ld", what, status);
    } else {
        dm_err_set(err, true, "%s: HTTP %ld", what, status);
    }
    return -1;
}

static bool etag_matches_md5(const char *etag, const char *path)
{
    /* Multipart ETags ("…-N") are not an MD5 of the content. */
    char clean[80];
    snprintf(clean, sizeof clean, "%s", etag[0] == '"' ? etag + 1 : etag);
    char *q = strchr(clean, '"');
    if (q)
        *q = '\0';
    if (strlen(clean) != 32 || strchr(clean, '-'))
        return true;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fz_md5 md5;
    fz_md5_init(&md5);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fz_md5_update(&md5, buf, n);
    fclose(f);
    unsigned char digest[16];
    fz_md5_final(&md5, digest);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return strcasecmp(hex, clean) == 0;
}

/* Fetches [0, total) as ranged parts, `parallel` at a time, each written in
 * place; a failed part is retried with backoff, the rest are kept. */
static int download_parts(const char *url, const http_request *tmpl, int fd, int64_t total,
                          int64_t part_size, int parallel, dm_err *err)
{
    int nparts = (int)((total + part_size - 1) / part_size);
    bool *done = dm_xcalloc((size_t)nparts, sizeof *done);
    http_request *reqs = dm_xcalloc((size_t)nparts, sizeof *reqs);
    http_response *resps = dm_xcalloc((size_t)nparts, sizeof *resps);
    int *rcs = dm_xcalloc((size_t)nparts, sizeof *rcs);
    int *idx = dm_xcalloc((size_t)nparts, sizeof *idx);
    dm_err *errs = dm_xcalloc((size_t)nparts, sizeof *errs);
    char (*ranges)[64] = dm_xcalloc((size_t)nparts, sizeof *ranges);
    int rc = -1, left = nparts;
    for (int attempt = 0; attempt < 4 && left > 0; attempt++) {
        if (attempt > 0)
            dm_sleep_ms(dm_backoff_ms(attempt, 400, 3200));
        int k = 0;
        for (int p = 0; p < nparts; p++) {
            if (done[p])
                continue;
            int64_t a = (int64_t)p * part_size;
            int64_t b = a + part_size < total ? a + part_size - 1 : total - 1;
            snprintf(ranges[p], sizeof ranges[p], "%lld-%lld", (long long)a, (long long)b);
            reqs[k] = *tmpl;
            reqs[k].url = url;
            reqs[k].range = ranges[p];
            reqs[k].use_fd = true;
            reqs[k].fd = fd;
            reqs[k].fd_offset = a;
            reqs[k].max_body = b - a + 1;
            idx[k++] = p;
        }
        http_perform_many(reqs, resps, rcs, k, parallel, errs);
        for (int j = 0; j < k; j++) {
            int p = idx[j];
            int64_t want = reqs[j].max_body;
            bool ok = rcs[j] == 0 && resps[j].status == 206 && resps[j].content_length == want;
            if (ok) {
                done[p] = true;
                left--;
            } else if (rcs[j] != 0) {
                *err = errs[j];
            } else if (resps[j].status == 404 || resps[j].status == 403) {
                classify(resps[j].status, "S3 ranged GET", err);
                attempt = 99;  /* permanent: no point in retrying parts */
            } else {
                dm_err_set(err, false, "S3 ranged GET %s: HTTP %ld, %lld bytes", ranges[p],
                           resps[j].status, (long long)resps[j].content_length);
            }
            http_response_free(&resps[j]);
        }
    }
    if (left == 0)
        rc = 0;
    free(done);
    free(reqs);
    free(resps);
    free(rcs);
    free(idx);
    free(errs);
    free(ranges);
    return rc;
}

int s3_download(const char *uri, const char *dest, const s3_download_options *opt,
                int64_t *size, dm_err *err)
{
    char bucket[64], region[64];
    sbuf key, url;
    sbuf_init(&key);
    sbuf_init(&url);
    int rc = -1;
    http_client *hc = NULL;
    FILE *f = NULL;
    int fd = -1;
    aws_credentials creds;
    memset(&creds, 0, sizeof creds);
    int64_t max_bytes = opt ? opt->max_bytes : 0;
    if (s3_parse_uri(uri, bucket, &key, err) != 0)
        goto out;
    aws_region(NULL, region);
    object_url(bucket, key.data, region, &url);
    if (aws_credentials_get(&creds, err) != 0)
        goto out;
    char sigv4[96];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", region);
    const char *headers[] = {"x-amz-content-sha256: " EMPTY_SHA256, NULL};
    hc = http_client_new();
    http_request head = {.method = "HEAD", .url = url.data, .headers = headers, .sigv4 = sigv4,
                         .creds = &creds, .timeout_ms = 30000};
    http_response resp;
    if (http_perform(hc, &head, &resp, err) != 0) {
        http_response_free(&resp);
        goto out;
    }
    http_response_free(&resp);
    if (resp.status != 200) {
        classify(resp.status, "S3 HEAD", err);
        goto out;
    }
    /* Checked before a byte is downloaded. */
    if (max_bytes > 0 && resp.content_length > max_bytes) {
        dm_err_set(err, true, "file too large: %lld bytes exceeds the limit of %lld bytes",
                   (long long)resp.content_length, (long long)max_bytes);
        goto out;
    }
    int64_t expected = resp.content_length;
    char etag[128];
    snprintf(etag, sizeof etag, "%s", resp.etag);
    fd = open(dest, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* A full or missing temp dir can be fixed: transient. */
        dm_err_set(err, false, "cannot create a temporary file: %s", strerror(errno));
        goto out;
    }
    bool parts = opt && opt->multipart_threshold > 0 && opt->part_size > 0 && expected > 0 &&
                 expected > opt->multipart_threshold;
    if (parts) {
        /* Every part must come from the same version of the object. */
        char if_match[160];
        snprintf(if_match, sizeof if_match, "If-Match: %s", etag);
        const char *part_headers[] = {"x-amz-content-sha256: " EMPTY_SHA256, if_match, NULL};
        log_info("downloading %s: %lld bytes in %lld ranged parts, %d at a time", uri,
                 (long long)expected, (long long)((expected + opt->part_size - 1) / opt->part_size),
                 opt->parallel);
        http_request tmpl = {.method = "GET", .headers = etag[0] ? part_headers : headers,
                             .sigv4 = sigv4, .creds = &creds, .timeout_ms = 300000};
        if (download_parts(url.data, &tmpl, fd, expected, opt->part_size,
                           opt->parallel > 0 ? opt->parallel : 1, err) != 0)
            goto fail_file;
        close(fd);
        fd = -1;
    } else {
        f = fdopen(fd, "wb");
        fd = -1;
        http_request get = {.method = "GET", .url = url.data, .headers = headers, .sigv4 = sigv4,
                            .creds = &creds, .timeout_ms = 600000, .sink = f,
                            .max_body = max_bytes > 0 ? max_bytes : 0};
        int prc = http_perform(hc, &get, &resp, err);
        http_response_free(&resp);
        if (fclose(f) != 0 && prc == 0) {
            dm_err_set(err, false, "cannot write the temporary file: %s", strerror(errno));
            prc = -1;
        }
        f = NULL;
        if (prc != 0)
            goto fail_file;
        if (resp.status != 200) {
            classify(resp.status, "S3 GET", err);
            goto fail_file;
        }
    }
    FILE *chk = fopen(dest, "rb");
    int64_t got = -1;
    if (chk) {
        fseeko(chk, 0, SEEK_END);
        got = ftello(chk);
        fclose(chk);
    }
    if (expected >= 0 && got != expected) {
        dm_err_set(err, false, "S3 GET: truncated download (%lld of %lld bytes)", (long long)got,
                   (long long)expected);
        goto fail_file;
    }
    if (etag[0] && !etag_matches_md5(etag, dest)) {
        dm_err_set(err, false, "S3 GET: content does not match its ETag");
        goto fail_file;
    }
    *size = got;
    rc = 0;
    goto out;
fail_file:
    if (fd >= 0)
        close(fd);
    fd = -1;
    unlink(dest);
out:
    if (fd >= 0)
        close(fd);
    memset(&creds, 0, sizeof creds);
    http_client_free(hc);
    sbuf_free(&key);
    sbuf_free(&url);
    return rc;
}

int s3_upload(const char *path, const char *uri, dm_err *err)
{
    char bucket[64], region[64];
    sbuf key, url, body;
    sbuf_init(&key);
    sbuf_init(&url);
    sbuf_init(&body);
    int rc = -1;
    http_client *hc = NULL;
    aws_credentials creds;
    memset(&creds, 0, sizeof creds);
    if (s3_parse_uri(uri, bucket, &key, err) != 0)
        goto out;
    FILE *f = fopen(path, "rb");
    if (!f) {
        dm_err_set(err, true, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_append(&body, buf, n);
    fclose(f);
    aws_region(NULL, region);
    object_url(bucket, key.data, region, &url);
    if (aws_credentials_get(&creds, err) != 0)
        goto out;
    char sigv4[96], sha_header[100], hex[65];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", region);
    dm_sha256_hex(body.data ? body.data : "", body.len, hex);
    snprintf(sha_header, sizeof sha_header, "x-amz-content-sha256: %s", hex);
    const char *headers[] = {sha_header, "Content-Type: application/octet-stream", NULL};
    hc = http_client_new();
    http_request put = {.method = "PUT", .url = url.data, .headers = headers,
                        .body = body.data ? body.data : "", .body_len = body.len, .sigv4 = sigv4,
                        .creds = &creds, .timeout_ms = 600000};
    http_response resp;
    if (http_perform(hc, &put, &resp, err) != 0) {
        http_response_free(&resp);
        goto out;
    }
    http_response_free(&resp);
    if (resp.status != 200) {
        classify(resp.status, "S3 PUT", err);
        goto out;
    }
    rc = 0;
out:
    memset(&creds, 0, sizeof creds);
    http_client_free(hc);
    sbuf_free(&key);
    sbuf_free(&url);
    sbuf_free(&body);
    return rc;
}
