/* The OpenSearch sink's parts, shared by index_opensearch.c (the sink: its
 * requests, the index and its mapping, single-document calls, open) and
 * opensearch_bulk.c (_bulk bodies, per-item results and retries). */
#ifndef DOCMILL_OPENSEARCH_INTERNAL_H
#define DOCMILL_OPENSEARCH_INTERNAL_H

#include "index/index_opensearch.h"
#include "net/http.h"

#define DEFAULT_INDEX "docmill"
#define MIN_TARGET_BODY (64u << 10)
#define REQUEST_TIMEOUT_MS 30000L
#define BULK_TIMEOUT_MS 120000L
#define MAX_RESPONSE ((int64_t)64 << 20)
#define MAX_BACKOFF_MS 10000

/* Appends a string literal. */
#define LIT(b, lit) sbuf_append((b), (lit), sizeof(lit) - 1)

typedef enum { AUTH_NONE, AUTH_BASIC, AUTH_SIGV4 } os_auth;

typedef struct os_sink {
    index_sink base;
    http_client *http;
    char base_url[512];      /* scheme://host[:port]: no path, no credentials */
    char index[256];         /* [a-z0-9][a-z0-9._-]*: needs no escaping anywhere */
    os_auth auth;
    char *basic;             /* "user:password"; wiped at close */
    char sigv4[160];         /* "aws:amz:REGION:SERVICE" */
    bool ready;              /* the index is known to exist */
    int tries;               /* per request or item, the first included */
    int retry_base_ms;
    long bulk_timeout_ms;
    size_t target_body;      /* a _bulk body is cut before it passes this */
    unsigned seed;           /* backoff jitter */
} os_sink;

typedef struct os_req {
    const char *method;
    const char *path;          /* from '/', encoded, may carry a query */
    const char *content_type;  /* NULL: no body */
    const char *body;
    size_t body_len;
    long timeout_ms;
} os_req;

/* Sleeps the k-th retry's delay: dm_backoff_ms, then a random point in its
 * upper half so that workers rejected together spread out. */
void os_backoff(os_sink *s, int k);
bool os_retryable_status(long status);
void os_json_str(sbuf *out, const char *s, size_t len);
void os_json_cstr(sbuf *out, const char *s);
void os_describe_response(const http_response *r, char *out, size_t cap);
bool os_response_error_is(const http_response *r, const char *type);
int os_perform(os_sink *s, const os_req *r, http_response *resp, dm_err *err);
int os_call(os_sink *s, const os_req *r, int tries, http_response *resp, dm_err *err);
void os_call_err(os_sink *s, int rc, const http_response *resp, const char *what,
                     bool permanent, dm_err *err);
int os_ensure_index(os_sink *s, int tries, dm_err *err);

/* opensearch_bulk.c: the sink's bulk and remove operations. */
int os_bulk(index_sink *sink, const index_doc *docs, int n, index_item_result *results,
                   dm_err *err);
int os_remove(index_sink *sink, const char *const *ids, int n, dm_err *err);

#endif
