/* http: one request/response over libcurl, optionally SigV4-signed by
 * libcurl itself (CURLOPT_AWS_SIGV4). One http_client per thread keeps its
 * connections alive between requests; clients are not shared. */
#ifndef DOCMILL_HTTP_H
#define DOCMILL_HTTP_H

#include "net/credentials.h"
#include "base/common.h"

#include <stdio.h>

typedef struct http_client http_client;

typedef struct http_request {
    const char *method;              /* "GET", "POST", "PUT", "HEAD", "DELETE" */
    const char *url;
    const char *const *headers;      /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;                /* may be NULL */
    size_t body_len;
    /* SigV4: "aws:amz:REGION:SERVICE" plus the credentials to sign with. */
    const char *sigv4;
    const aws_credentials *creds;
    const char *basic_auth;          /* "user:password", or NULL */
    long timeout_ms;                 /* whole request; 0 = 60 s */
    long connect_timeout_ms;         /* 0 = 10 s */
    FILE *sink;                      /* stream the body here instead of into resp->body */
    bool use_fd;                     /* or write it at fd_offset of fd (pwrite) */
    int fd;
    int64_t fd_offset;
    const char *range;               /* "START-END" (bytes), or NULL */
    int64_t max_body;                /* 0 = no limit; larger bodies abort the request */
} http_request;

typedef struct http_response {
    long status;                     /* 0 when no response was received */
    sbuf body;
    char etag[128];
    int64_t content_length;          /* -1 when absent */
    char content_range[128];
} http_response;

http_client *http_client_new(void);
void http_client_free(http_client *c);
/* Returns 0 when a response arrived (whatever its status) and -1 on a
 * transport failure (refused, reset, timeout: transient). */
int http_perform(http_client *c, const http_request *req, http_response *resp, dm_err *err);
void http_response_free(http_response *resp);
/* Runs n requests with at most `parallel` in flight (curl multi). rcs[i]
 * and errs[i] are what http_perform would have returned for request i. */
int http_perform_many(const http_request *reqs, http_response *resps, int *rcs, int n,
                      int parallel, dm_err *errs);
/* Global libcurl initialisation; call once from main before any thread. */
void http_global_init(void);
/* Percent-encodes s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
void http_url_encode(const char *s, bool keep_slash, sbuf *out);

#endif
