#include "net/http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

struct http_client {
    CURL *curl;
};

void http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

http_client *http_client_new(void)
{
    http_client *c = dm_xcalloc(1, sizeof *c);
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return NULL;
    }
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

typedef struct sink_state {
    http_response *resp;
    FILE *file;
    int fd;                /* pwrite target when >= 0 */
    int64_t fd_offset;
    int64_t max_body;
    int64_t received;
    bool too_big;
    bool write_failed;
} sink_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink_state *s = user;
    size_t n = size * nmemb;
    if (s->max_body > 0 && s->received + (int64_t)n > s->max_body) {
        s->too_big = true;
        return 0;  /* aborts the transfer */
    }
    if (s->fd >= 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = pwrite(s->fd, data + done, n - done, s->fd_offset + s->received + (int64_t)done);
            if (w <= 0) {
                s->write_failed = true;
                return 0;
            }
            done += (size_t)w;
        }
    } else if (s->file) {
        if (fwrite(data, 1, n, s->file) != n) {
            s->write_failed = true;
            return 0;
        }
    } else {
        sbuf_append(&s->resp->body, data, n);
    }
    s->received += (int64_t)n;
    return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    http_response *resp = user;
    size_t n = size * nmemb;
    header_value(data, n, "ETag", resp->etag, sizeof resp->etag);
    header_value(data, n, "Content-Range", resp->content_range, sizeof resp->content_range);
    char len[32] = "";
    header_value(data, n, "Content-Length", len, sizeof len);
    if (len[0])
        resp->content_length = strtoll(len, NULL, 10);
    return n;
}

/* Everything one transfer needs alive until it ends. */
typedef struct transfer {
    const http_request *req;
    http_response *resp;
    struct curl_slist *headers;
    sink_state sink;
    char token_header[4200];
    char userpwd[400];
} transfer;

static void transfer_setup(CURL *curl, transfer *t, const http_request *req, http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    sbuf_init(&resp->body);
    resp->content_length = -1;
    memset(t, 0, sizeof *t);
    t->req = req;
    t->resp = resp;
    curl_easy_reset(curl);
    for (const char *const *h = req->headers; h && *h; h++)
        t->headers = curl_slist_append(t->headers, *h);
    if (req->sigv4 && req->creds && req->creds->session_token[0]) {
        snprintf(t->token_header, sizeof t->token_header, "x-amz-security-token: %s",
                 req->creds->session_token);
        t->headers = curl_slist_append(t->headers, t->token_header);
    }
    /* libcurl adds "Expect: 100-continue" to big uploads; servers such as
     * OpenSearch answer it fine, but it costs a round trip. */
    t->headers = curl_slist_append(t->headers, "Expect:");
    t->sink = (sink_state){resp, req->sink, req->fd, req->fd_offset, req->max_body, 0, false, false};
    if (!req->use_fd)
        t->sink.fd = -1;
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t->sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
    /* Only http and https, and no redirects: a crafted URL must not walk
     * the worker to file:// or an internal host. */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (req->range)
        curl_easy_setopt(curl, CURLOPT_RANGE, req->range);
    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->sigv4 && req->creds) {
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, req->sigv4);
        snprintf(t->userpwd, sizeof t->userpwd, "%s:%s", req->creds->access_key,
                 req->creds->secret_key);
        curl_easy_setopt(curl, CURLOPT_USERPWD, t->userpwd);
    } else if (req->basic_auth) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, req->basic_auth);
    }
}

/* Collects the outcome of a finished transfer and releases what it held. */
static int transfer_finish(CURL *curl, transfer *t, CURLcode rc, dm_err *err)
{
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t->resp->status);
    /* Wipe the secret from our copy; libcurl drops its own on reset. */
    memset(t->userpwd, 0, sizeof t->userpwd);
    memset(t->token_header, 0, sizeof t->token_header);
    curl_easy_setopt(curl, CURLOPT_USERPWD, NULL);
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    if (t->sink.too_big) {
        dm_err_set(err, true, "response body exceeds %lld bytes", (long long)t->req->max_body);
        return -1;
    }
    if (t->sink.write_failed) {
        dm_err_set(err, false, "cannot write the response body: %s", strerror(errno));
        return -1;
    }
    if (rc != CURLE_OK) {
        /* The URL may carry a presigned query: report the host only. */
        char *host = NULL;
        CURLU *u = curl_url();
        if (u && curl_url_set(u, CURLUPART_URL, t->req->url, 0) == CURLUE_OK)
            curl_url_get(u, CURLUPART_HOST, &host, 0);
        dm_err_set(err, false, "%s %s: %s", t->req->method ? t->req->method : "GET",
                   host ? host : "(bad URL)", curl_easy_strerror(rc));
        curl_free(host);
        curl_url_cleanup(u);
        return -1;
    }
    return 0;
}

int http_perform(http_client *c, const http_request *req, http_response *resp, dm_err *err)
{
    transfer t;
    transfer_setup(c->curl, &t, req, resp);
    CURLcode rc = curl_easy_perform(c->curl);
    return transfer_finish(c->curl, &t, rc, err);
}

int http_perform_many(const http_request *reqs, http_response *resps, int *rcs, int n,
                      int parallel, dm_err *errs)
{
    CURLM *multi = curl_multi_init();
    if (!multi)
        return -1;
    if (parallel < 1)
        parallel = 1;
    CURL **handles = dm_xcalloc((size_t)n, sizeof *handles);
    transfer *ts = dm_xcalloc((size_t)n, sizeof *ts);
    int next = 0, running = 0, finished = 0;
    while (finished < n) {
        while (next < n && running < parallel) {
            handles[next] = curl_easy_init();
            transfer_setup(handles[next], &ts[next], &reqs[next], &resps[next]);
            curl_easy_setopt(handles[next], CURLOPT_PRIVATE, (char *)(intptr_t)next);
            curl_multi_add_handle(multi, handles[next]);
            next++;
            running++;
        }
        int still;
        curl_multi_perform(multi, &still);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            int i = (int)(intptr_t)priv;
            CURLcode rc = m->data.result;
            curl_multi_remove_handle(multi, handles[i]);
            rcs[i] = transfer_finish(handles[i], &ts[i], rc, &errs[i]);
            curl_easy_cleanup(handles[i]);
            handles[i] = NULL;
            running--;
            finished++;
        }
        if (finished < n)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    free(handles);
    free(ts);
    curl_multi_cleanup(multi);
    return 0;
}

void http_response_free(http_response *resp)
{
    sbuf_free(&resp->body);
}

void http_url_encode(const char *s, bool keep_slash, sbuf *out)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
            sbuf_putc(out, (char)ch);
        } else {
            char enc[3] = {'%', hexd[ch >> 4], hexd[ch & 15]};
            sbuf_append(out, enc, 3);
        }
    }
}
