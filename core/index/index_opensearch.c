#include "index/opensearch_internal.h"

#include "index/bulk_response.h"
#include "net/http.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <utf8proc.h>

/* --- small helpers ------------------------------------------------------ */

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < lo || n > hi) {
        log_warn("%s=%s is not a number in [%ld, %ld]; using %ld", name, v, lo, hi, def);
        return def;
    }
    return n;
}

void os_backoff(os_sink *s, int k)
{
    int64_t half = dm_backoff_ms(k, s->retry_base_ms, MAX_BACKOFF_MS) / 2;
    dm_sleep_ms(half + (half > 0 ? (int64_t)(rand_r(&s->seed) % (unsigned)(half + 1)) : 0));
}

bool os_retryable_status(long status)
{
    return status == 429 || status >= 500;
}

/* Appends s[0..len) as a JSON string. Text is NFKC-normalised UTF-8, but a
 * source path can hold any bytes: invalid sequences become U+FFFD rather
 * than a request OpenSearch rejects. */
void os_json_str(sbuf *out, const char *s, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    sbuf_putc(out, '"');
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0x80) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t n = utf8proc_iterate(p, end - p, &cp);
            if (n > 0) {
                p += n;
                continue;
            }
        }
        sbuf_append(out, (const char *)run, (size_t)(p - run));
        switch (c) {
        case '"': LIT(out, "\\\""); break;
        case '\\': LIT(out, "\\\\"); break;
        case '\n': LIT(out, "\\n"); break;
        case '\r': LIT(out, "\\r"); break;
        case '\t': LIT(out, "\\t"); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
                sbuf_append(out, u, 6);
            } else {
                LIT(out, "\xEF\xBF\xBD");
            }
        }
        run = ++p;
    }
    sbuf_append(out, (const char *)run, (size_t)(p - run));
    sbuf_putc(out, '"');
}

void os_json_cstr(sbuf *out, const char *s)
{
    if (s)
        os_json_str(out, s, strlen(s));
    else
        LIT(out, "null");
}

/* "STATUS type: reason" from an OpenSearch error response, or its first
 * bytes when it is not JSON. */
void os_describe_response(const http_response *r, char *out, size_t cap)
{
    cJSON *j = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (error) {
        bulk_error_describe(r->status, error, out, cap);
    } else {
        size_t n = r->body.len < 160 ? r->body.len : 160;
        char text[161];
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)r->body.data[i];
            text[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        text[n] = '\0';
        snprintf(out, cap, "HTTP %ld%s%s", r->status, n ? ": " : "", text);
    }
    cJSON_Delete(j);
}

/* The error type of an error response ("resource_already_exists_exception"). */
bool os_response_error_is(const http_response *r, const char *type)
{
    cJSON *j = r->body.len ? cJSON_ParseWithLength(r->body.data, r->body.len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error"),
                                                      "type");
    bool is = cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
    cJSON_Delete(j);
    return is;
}

/* --- requests ------------------------------------------------------------ */


/* One request with the sink's authentication. 0: a response arrived (any
 * status); -1: transport failure, err set. resp is always safe to free. */
int os_perform(os_sink *s, const os_req *r, http_response *resp, dm_err *err)
{
    memset(resp, 0, sizeof *resp);
    sbuf_init(&resp->body);
    sbuf url;
    sbuf_init(&url);
    sbuf_appendf(&url, "%s%s", s->base_url, r->path);
    const char *headers[3] = {NULL, NULL, NULL};
    char ctype[80], payload_hash[96];
    int nh = 0;
    if (r->content_type) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", r->content_type);
        headers[nh++] = ctype;
    }
    http_request req = {.method = r->method, .url = url.data, .headers = headers,
                        .body = r->body, .body_len = r->body_len,
                        .timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : REQUEST_TIMEOUT_MS,
                        .max_body = MAX_RESPONSE};
    aws_credentials creds;
    int rc = -1;
    if (s->auth == AUTH_SIGV4) {
        if (aws_credentials_get(&creds, err) != 0)
            goto done;
        /* OpenSearch Serverless requires the payload hash as a header;
         * it is the same hash libcurl signs. */
        char hex[65];
        dm_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, hex);
        snprintf(payload_hash, sizeof payload_hash, "x-amz-content-sha256: %s", hex);
        headers[nh++] = payload_hash;
        req.sigv4 = s->sigv4;
        req.creds = &creds;
    } else if (s->auth == AUTH_BASIC) {
        req.basic_auth = s->basic;
    }
    rc = http_perform(s->http, &req, resp, err);
done:
    if (s->auth == AUTH_SIGV4)
        explicit_bzero(&creds, sizeof creds);
    sbuf_free(&url);
    return rc;
}

/* os_perform, retrying transport failures, 429 and 5xx with backoff.
 * Returns like os_perform with the last attempt's outcome. */
int os_call(os_sink *s, const os_req *r, int tries, http_response *resp, dm_err *err)
{
    for (int attempt = 1;; attempt++) {
        int rc = os_perform(s, r, resp, err);
        bool again = rc != 0 ? !err->permanent : os_retryable_status(resp->status);
        if (!again || attempt >= tries)
            return rc;
        http_response_free(resp);
        os_backoff(s, attempt);
    }
}

/* err for a failed call: transport failure (err already says why) or an
 * unexpected status. */
void os_call_err(os_sink *s, int rc, const http_response *resp, const char *what,
                     bool permanent, dm_err *err)
{
    if (rc != 0) {
        /* Transport failures are transient; a permanent cause (no AWS
         * credentials anywhere) stays permanent where the caller allows. */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        dm_err_set(err, permanent && err->permanent, "opensearch %s (%s): %s", what, s->base_url,
                   why);
        return;
    }
    char why[300];
    os_describe_response(resp, why, sizeof why);
    dm_err_set(err, permanent && !os_retryable_status(resp->status), "opensearch %s (%s): %s", what,
               s->base_url, why);
}

/* --- the index and its mapping ----------------------------------------- */

/* One document per file; its pages are nested so that a query can ask for
 * words on the same page. dynamic:false keeps unknown fields in _source
 * without mapping them, so a newer docmill does not break an older index.
 * Text and titles are analysed by words (kuromoji, or cjk bigrams without
 * it) and, in a .ngram subfield, as character bigrams: kuromoji keeps
 * 議事録 one word, and a search for 議事 must find it. */
#define TEXT_FIELD(analyzer) \
    "{\"type\":\"text\",\"analyzer\":\"" analyzer "\",\"fields\":{\"ngram\":" \
    "{\"type\":\"text\",\"analyzer\":\"docmill_ngram\"}}}"
static const char MAPPING_FMT[] =
    "{\"settings\":{\"analysis\":{"
    "\"tokenizer\":{\"docmill_ngram\":{\"type\":\"ngram\",\"min_gram\":2,\"max_gram\":2,"
    "\"token_chars\":[\"letter\",\"digit\"]}},"
    "\"analyzer\":{\"docmill_ngram\":{\"type\":\"custom\",\"tokenizer\":\"docmill_ngram\","
    "\"filter\":[\"cjk_width\",\"lowercase\"]}}}},"
    "\"mappings\":{"
    "\"dynamic\":false,"
    "\"_meta\":{\"docmill_schema\":3,\"text_analyzer\":\"%s\"},"
    "\"properties\":{"
    "\"source\":{\"type\":\"keyword\",\"fields\":{\"text\":{\"type\":\"text\",\"analyzer\":\"%s\"}}},"
    "\"title\":" TEXT_FIELD("%s") ","
    "\"meta\":{\"properties\":{"
    "\"author\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\",\"ignore_above\":256}}},"
    "\"subject\":" TEXT_FIELD("%s") ","
    "\"keywords\":" TEXT_FIELD("%s") ","
    /* as the file says: not every file's dates parse as dates */
    "\"created\":{\"type\":\"keyword\"},"
    "\"modified\":{\"type\":\"keyword\"},"
    "\"language\":{\"type\":\"keyword\"},"
    /* a mail's */
    "\"from\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\",\"ignore_above\":256}}},"
    "\"to\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\",\"ignore_above\":256}}},"
    "\"date\":{\"type\":\"keyword\"}}},"
    /* a member's container (the outermost), and a container's members */
    "\"parent\":{\"type\":\"keyword\"},"
    "\"members\":{\"type\":\"integer\"},"
    "\"sha256\":{\"type\":\"keyword\"},"
    "\"mime\":{\"type\":\"keyword\"},"
    "\"size\":{\"type\":\"long\"},"
    "\"mtime_ms\":{\"type\":\"date\",\"format\":\"epoch_millis\"},"
    "\"page_count\":{\"type\":\"integer\"},"
    "\"pages_ocr\":{\"type\":\"integer\"},"
    "\"extract_ms\":{\"type\":\"long\"},"
    "\"note\":{\"type\":\"text\"},"
    "\"indexed_at\":{\"type\":\"date\",\"format\":\"epoch_millis\"},"
    "\"pages\":{\"type\":\"nested\",\"properties\":{"
    "\"page\":{\"type\":\"integer\"},"
    "\"method\":{\"type\":\"keyword\"},"
    "\"dpi\":{\"type\":\"integer\"},"
    "\"text\":" TEXT_FIELD("%s") "}}}}}";

/* "kuromoji" when the cluster has the analysis-kuromoji plugin, "cjk" (built
 * in: bigrams) when it has not or will not say (403 without the cluster
 * monitor permission; Serverless has no _cat). -1 when the cluster cannot be
 * asked right now. */
static int pick_analyzer(os_sink *s, int tries, const char **analyzer, dm_err *err)
{
    http_response resp;
    os_req r = {.method = "GET", .path = "/_cat/plugins?format=json&h=component"};
    int rc = os_call(s, &r, tries, &resp, err);
    if (rc != 0 || os_retryable_status(resp.status)) {
        os_call_err(s, rc, &resp, "GET /_cat/plugins", false, err);
        http_response_free(&resp);
        return -1;
    }
    *analyzer = "cjk";
    if (resp.status == 200) {
        cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
        const cJSON *p;
        cJSON_ArrayForEach(p, j) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "component");
            if (cJSON_IsString(c) && strcmp(c->valuestring, "analysis-kuromoji") == 0)
                *analyzer = "kuromoji";
        }
        cJSON_Delete(j);
    } else {
        log_warn("opensearch: cannot list plugins (HTTP %ld): using the cjk analyzer",
                 resp.status);
    }
    http_response_free(&resp);
    return 0;
}

static pthread_mutex_t custom_mu = PTHREAD_MUTEX_INITIALIZER;
static char *custom_create_body;

void index_opensearch_set_create_body(const char *json)
{
    pthread_mutex_lock(&custom_mu);
    free(custom_create_body);
    custom_create_body = json ? dm_xstrdup(json) : NULL;
    pthread_mutex_unlock(&custom_mu);
}

static int create_index(os_sink *s, int tries, dm_err *err)
{
    sbuf body;
    sbuf_init(&body);
    const char *analyzer = "custom";
    pthread_mutex_lock(&custom_mu);
    if (custom_create_body)
        sbuf_append(&body, custom_create_body, strlen(custom_create_body));
    pthread_mutex_unlock(&custom_mu);
    if (body.len == 0) {
        if (pick_analyzer(s, tries, &analyzer, err) != 0) {
            sbuf_free(&body);
            return -1;
        }
        sbuf_appendf(&body, MAPPING_FMT, analyzer, analyzer, analyzer, analyzer, analyzer,
                     analyzer);
    }
    int len = (int)body.len;
    char path[300];
    snprintf(path, sizeof path, "/%s", s->index);
    os_req r = {.method = "PUT", .path = path, .content_type = "application/json",
                .body = body.data, .body_len = (size_t)len};
    http_response resp;
    int rc = os_call(s, &r, tries, &resp, err);
    int out = 0;
    if (rc == 0 && resp.status == 200) {
        log_info("opensearch: created index %s at %s (page text analyzer: %s)", s->index,
                 s->base_url, analyzer);
    } else if (rc == 0 && resp.status == 400 &&
               os_response_error_is(&resp, "resource_already_exists_exception")) {
        /* Another worker created it between our HEAD and PUT. */
    } else {
        os_call_err(s, rc, &resp, "create index", true, err);
        out = -1;
    }
    http_response_free(&resp);
    sbuf_free(&body);
    return out;
}

/* An index created by an earlier docmill (dynamic: false) would store a
 * member's parent without indexing it, and its container's members could
 * never be found to delete: the fields of schema 3 are added to it (adding
 * fields to a mapping is allowed; the same request again changes nothing).
 * A cluster that refuses is logged and used as it is. */
static const char MAPPING_ADDITIONS[] =
    "{\"properties\":{\"parent\":{\"type\":\"keyword\"},\"members\":{\"type\":\"integer\"},"
    "\"meta\":{\"properties\":{"
    "\"from\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\",\"ignore_above\":256}}},"
    "\"to\":{\"type\":\"text\",\"fields\":{\"raw\":{\"type\":\"keyword\",\"ignore_above\":256}}},"
    "\"date\":{\"type\":\"keyword\"}}}}}";

static void add_schema_3_fields(os_sink *s, int tries)
{
    char path[300];
    snprintf(path, sizeof path, "/%s/_mapping", s->index);
    os_req r = {.method = "PUT", .path = path, .content_type = "application/json",
                .body = MAPPING_ADDITIONS, .body_len = sizeof MAPPING_ADDITIONS - 1,
                .timeout_ms = REQUEST_TIMEOUT_MS};
    http_response resp;
    dm_err err;
    int rc = os_call(s, &r, tries, &resp, &err);
    if (rc != 0 || resp.status != 200) {
        char why[300];
        if (rc == 0)
            os_describe_response(&resp, why, sizeof why);
        log_warn("opensearch %s: cannot add the parent/members fields to index %s (%s): "
                 "members of containers indexed there cannot be removed with them",
                 s->base_url, s->index, rc == 0 ? why : err.msg);
    }
    http_response_free(&resp);
}

/* Makes sure the index exists (creating it with the mapping when not).
 * Failures to reach the cluster are transient; a refused request (401,
 * 403, a rejected mapping) is permanent, which only open acts on. */
int os_ensure_index(os_sink *s, int tries, dm_err *err)
{
    if (s->ready)
        return 0;
    char path[300];
    snprintf(path, sizeof path, "/%s", s->index);
    os_req r = {.method = "HEAD", .path = path};
    http_response resp;
    int rc = os_call(s, &r, tries, &resp, err);
    long status = resp.status;
    if (rc == 0 && status == 200) {
        add_schema_3_fields(s, tries);
        s->ready = true;
    } else if (rc == 0 && status == 404) {
        if (create_index(s, tries, err) == 0)
            s->ready = true;
    } else {
        os_call_err(s, rc, &resp, "HEAD index", true, err);
    }
    http_response_free(&resp);
    return s->ready ? 0 : -1;
}


/* --- single-document calls ----------------------------------------------- */

static void doc_path(const os_sink *s, const char *endpoint, const char *id, const char *query,
                     sbuf *out)
{
    sbuf_appendf(out, "/%s/%s/", s->index, endpoint);
    http_url_encode(id, false, out);
    sbuf_appendf(out, "%s", query);
}

static int ready_for_use(os_sink *s, dm_err *err)
{
    if (os_ensure_index(s, s->tries, err) != 0) {
        err->permanent = false;  /* the document is not at fault */
        return -1;
    }
    return 0;
}

static int os_lookup(index_sink *sink, const char *id, char sha256[65], dm_err *err)
{
    os_sink *s = (os_sink *)sink;
    sha256[0] = '\0';
    if (ready_for_use(s, err) != 0)
        return -1;
    sbuf path;
    sbuf_init(&path);
    doc_path(s, "_doc", id, "?_source_includes=sha256", &path);
    os_req r = {.method = "GET", .path = path.data};
    http_response resp;
    int rc = os_call(s, &r, s->tries, &resp, err);
    int out = -1;
    if (rc == 0 && resp.status == 200) {
        cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
        const cJSON *found = cJSON_GetObjectItemCaseSensitive(j, "found");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "_source"), "sha256");
        if (!j) {
            dm_err_set(err, false, "opensearch lookup (%s): malformed response", s->base_url);
        } else {
            out = cJSON_IsTrue(found) ? 1 : 0;
            if (out && cJSON_IsString(sha))
                snprintf(sha256, 65, "%s", sha->valuestring);
        }
        cJSON_Delete(j);
    } else if (rc == 0 && resp.status == 404) {
        /* Not found; or the index itself is gone, then recreated at the
         * next bulk. */
        if (os_response_error_is(&resp, "index_not_found_exception"))
            s->ready = false;
        out = 0;
    } else {
        os_call_err(s, rc, &resp, "lookup", false, err);
    }
    http_response_free(&resp);
    sbuf_free(&path);
    return out;
}

static int os_touch(index_sink *sink, const char *id, int64_t size, int64_t mtime_ms, dm_err *err)
{
    os_sink *s = (os_sink *)sink;
    if (ready_for_use(s, err) != 0)
        return -1;
    sbuf path;
    sbuf_init(&path);
    doc_path(s, "_update", id, "?retry_on_conflict=3", &path);
    char body[128];
    int len = snprintf(body, sizeof body, "{\"doc\":{\"size\":%lld,\"mtime_ms\":%lld}}",
                       (long long)size, (long long)mtime_ms);
    os_req r = {.method = "POST", .path = path.data, .content_type = "application/json",
                .body = body, .body_len = (size_t)len};
    http_response resp;
    int rc = os_call(s, &r, s->tries, &resp, err);
    int out = 0;
    if (rc != 0 || resp.status != 200) {
        /* 404: the document went away since the lookup; the job's retry
         * indexes it again. */
        os_call_err(s, rc, &resp, "touch", false, err);
        out = -1;
    }
    http_response_free(&resp);
    sbuf_free(&path);
    return out;
}

/* Copies a document's _source (as append_doc writes it) into out. */
static bool read_stored(const cJSON *src, const char *id, index_doc *out)
{
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(src, "pages");
    if (!cJSON_IsObject(src) || !cJSON_IsArray(pages))
        return false;
    memset(out, 0, sizeof *out);
    const cJSON *v;
#define STR(field)                                                              \
    ((v = cJSON_GetObjectItemCaseSensitive(src, field)) && cJSON_IsString(v) \
         ? dm_xstrdup(v->valuestring)                                        \
         : NULL)
#define INT(obj, field)                                                           \
    ((v = cJSON_GetObjectItemCaseSensitive(obj, field)) && cJSON_IsNumber(v) \
         ? (int)v->valuedouble                                                 \
         : 0)
    out->id = dm_xstrdup(id);
    out->source = STR("source");
    out->sha256 = STR("sha256");
    out->mime = STR("mime");
    out->note = STR("note");
    out->page_count = INT(src, "page_count");
    out->pages_ocr = INT(src, "pages_ocr");
    int n = cJSON_GetArraySize(pages);
    index_page *pg = dm_xcalloc(n > 0 ? (size_t)n : 1, sizeof *pg);
    const cJSON *p;
    cJSON_ArrayForEach(p, pages)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(p, "method");
        index_page *dst = &pg[out->npages++];
        dst->page = INT(p, "page");
        dst->dpi = INT(p, "dpi");
        dst->method = dm_xstrdup(cJSON_IsString(method) ? method->valuestring : "text");
        dst->text = dm_xstrdup(cJSON_IsString(text) ? text->valuestring : "");
        dst->text_len = strlen(dst->text);
    }
#undef STR
#undef INT
    out->pages = pg;
    return true;
}

/* A document with this content under another id: a term query on the
 * sha256 keyword, the document itself excluded. */
static int os_find_copy(index_sink *sink, const char *sha256, const char *exclude_id,
                        index_doc *out, dm_err *err)
{
    os_sink *s = (os_sink *)sink;
    if (ready_for_use(s, err) != 0)
        return -1;
    sbuf path, body;
    sbuf_init(&path);
    sbuf_init(&body);
    sbuf_appendf(&path, "/%s/_search", s->index);
    LIT(&body, "{\"size\":1,\"query\":{\"bool\":{\"filter\":[{\"term\":{\"sha256\":");
    os_json_cstr(&body, sha256);
    LIT(&body, "}}],\"must_not\":[{\"ids\":{\"values\":[");
    os_json_cstr(&body, exclude_id);
    /* a container's copy would come without its members */
    LIT(&body, "]}},{\"range\":{\"members\":{\"gt\":0}}}]}}}");
    os_req r = {.method = "POST", .path = path.data, .content_type = "application/json",
                .body = body.data, .body_len = body.len, .timeout_ms = REQUEST_TIMEOUT_MS};
    http_response resp;
    int rc = os_call(s, &r, s->tries, &resp, err);
    int out_rc = -1;
    if (rc == 0 && resp.status == 200) {
        cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
        const cJSON *hits = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "hits"), "hits");
        const cJSON *hit = cJSON_IsArray(hits) ? cJSON_GetArrayItem(hits, 0) : NULL;
        const cJSON *hid = cJSON_GetObjectItemCaseSensitive(hit, "_id");
        if (!j || !cJSON_IsArray(hits)) {
            dm_err_set(err, false, "opensearch find copy (%s): malformed response", s->base_url);
        } else if (!hit) {
            out_rc = 0;
        } else if (cJSON_IsString(hid) &&
                   read_stored(cJSON_GetObjectItemCaseSensitive(hit, "_source"), hid->valuestring,
                               out)) {
            out_rc = 1;
        } else {
            /* A document not shaped as docmill writes them: not a copy. */
            out_rc = 0;
        }
        cJSON_Delete(j);
    } else if (rc == 0 && resp.status == 404) {
        if (os_response_error_is(&resp, "index_not_found_exception"))
            s->ready = false;
        out_rc = 0;
    } else {
        os_call_err(s, rc, &resp, "find copy", false, err);
    }
    http_response_free(&resp);
    sbuf_free(&path);
    sbuf_free(&body);
    return out_rc;
}

static void os_close(index_sink *sink)
{
    os_sink *s = (os_sink *)sink;
    http_client_free(s->http);
    if (s->basic) {
        explicit_bzero(s->basic, strlen(s->basic));
        free(s->basic);
    }
    free(s);
}

static const index_ops OPENSEARCH_OPS = {os_bulk,  os_remove, os_lookup,
                                         os_touch, os_close,  os_find_copy};

/* --- open ------------------------------------------------------------------- */

bool index_opensearch_is_uri(const char *uri)
{
    return strncasecmp(uri, "http://", 7) == 0 || strncasecmp(uri, "https://", 8) == 0;
}

static bool valid_index_name(const char *name, size_t len)
{
    if (len == 0 || len > 255 || !((name[0] >= 'a' && name[0] <= 'z') ||
                                   (name[0] >= '0' && name[0] <= '9')))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

/* Splits the URI into base_url and index. Errors never repeat the URI: it
 * may carry a password the user should not have put there. */
static int parse_uri(os_sink *s, const char *uri, dm_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *path = NULL, *query = NULL,
         *fragment = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        dm_err_set(err, true, "invalid OpenSearch URL (expected http[s]://HOST[:PORT][/INDEX])");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        dm_err_set(err, true,
                   "the OpenSearch URL must not carry credentials: set OPENSEARCH_USERNAME and "
                   "OPENSEARCH_PASSWORD (or OPENSEARCH_AUTH=sigv4) instead");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK) {
        dm_err_set(err, true, "the OpenSearch URL takes no query or fragment");
        goto done;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    const char *name = path ? path : "/";
    while (*name == '/')
        name++;
    size_t len = strlen(name);
    while (len > 0 && name[len - 1] == '/')
        len--;
    if (len == 0) {
        name = DEFAULT_INDEX;
        len = strlen(name);
    }
    if (!valid_index_name(name, len)) {
        dm_err_set(err, true,
                   "invalid OpenSearch index name '%.*s' (lowercase letters, digits, '.', '_', "
                   "'-'; not starting with a punctuation mark)",
                   (int)(len > 100 ? 100 : len), name);
        goto done;
    }
    snprintf(s->index, sizeof s->index, "%.*s", (int)len, name);
    if ((size_t)snprintf(s->base_url, sizeof s->base_url, "%s://%s%s%s", scheme, host,
                         port ? ":" : "", port ? port : "") >= sizeof s->base_url) {
        dm_err_set(err, true, "OpenSearch host name too long");
        goto done;
    }
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(path);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return rc;
}

static int configure_auth(os_sink *s, dm_err *err)
{
    const char *mode = getenv("OPENSEARCH_AUTH");
    const char *user = getenv("OPENSEARCH_USERNAME");
    const char *password = getenv("OPENSEARCH_PASSWORD");
    bool have_user = user && *user;
    if (mode && strcasecmp(mode, "sigv4") == 0) {
        const char *service = getenv("OPENSEARCH_SIGV4_SERVICE");
        if (!service || !*service)
            service = "es";
        if (strcmp(service, "es") != 0 && strcmp(service, "aoss") != 0) {
            dm_err_set(err, true, "OPENSEARCH_SIGV4_SERVICE must be es or aoss");
            return -1;
        }
        char region[64];
        char url[600];
        snprintf(url, sizeof url, "%s/", s->base_url);
        aws_region(url, region);
        /* aws_region reads sqs.REGION.amazonaws.com; OpenSearch hosts are
         * NAME.REGION.es.amazonaws.com and ID.REGION.aoss.amazonaws.com. */
        char *dot = strchr(region, '.');
        if (dot)
            *dot = '\0';
        snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:%s", region, service);
        s->auth = AUTH_SIGV4;
        return 0;
    }
    if (mode && *mode && strcasecmp(mode, "basic") != 0 && strcasecmp(mode, "none") != 0) {
        dm_err_set(err, true, "OPENSEARCH_AUTH must be sigv4, basic or none");
        return -1;
    }
    if (mode && strcasecmp(mode, "none") == 0)
        return 0;
    if (!have_user) {
        if (mode && strcasecmp(mode, "basic") == 0) {
            dm_err_set(err, true, "OPENSEARCH_AUTH=basic needs OPENSEARCH_USERNAME");
            return -1;
        }
        return 0;
    }
    if (!password) {
        dm_err_set(err, true, "OPENSEARCH_USERNAME is set but OPENSEARCH_PASSWORD is not");
        return -1;
    }
    if (strchr(user, ':')) {
        dm_err_set(err, true, "OPENSEARCH_USERNAME must not contain ':'");
        return -1;
    }
    size_t len = strlen(user) + 1 + strlen(password) + 1;
    s->basic = dm_xmalloc(len);
    snprintf(s->basic, len, "%s:%s", user, password);
    s->auth = AUTH_BASIC;
    if (strncasecmp(s->base_url, "http://", 7) == 0) {
        static int warned;
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            log_warn("opensearch: basic auth over plain http sends the password in clear text");
    }
    return 0;
}

index_sink *index_opensearch_open(const char *uri, dm_err *err)
{
    os_sink *s = dm_xcalloc(1, sizeof *s);
    s->base.ops = &OPENSEARCH_OPS;
    if (parse_uri(s, uri, err) != 0 || configure_auth(s, err) != 0) {
        os_close(&s->base);
        return NULL;
    }
    s->tries = (int)env_long("DOCMILL_OPENSEARCH_RETRIES", 4, 1, 20);
    s->retry_base_ms = (int)env_long("DOCMILL_OPENSEARCH_RETRY_BASE_MS", 200, 0, 60000);
    /* A bulk request that gets no answer in time is a transient failure. */
    s->bulk_timeout_ms = env_long("DOCMILL_OPENSEARCH_BULK_TIMEOUT_MS", BULK_TIMEOUT_MS, 100, 3600000);
    s->target_body = (size_t)env_long("DOCMILL_OPENSEARCH_BULK_MB", 5, 1, 10) << 20;
    s->seed = (unsigned)dm_now_ms() ^ (unsigned)(uintptr_t)s;
    s->http = http_client_new();
    if (!s->http) {
        dm_err_set(err, false, "cannot create an HTTP client");
        os_close(&s->base);
        return NULL;
    }
    /* One try: a cluster that is down must not hold up the start; calls
     * finish the check later. A refusal (401/403, a rejected mapping) is a
     * configuration error worth stopping for. */
    dm_err oerr;
    if (os_ensure_index(s, 1, &oerr) != 0) {
        if (oerr.permanent) {
            dm_err_set(err, true, "cannot open OpenSearch index %s: %s", s->index, oerr.msg);
            os_close(&s->base);
            return NULL;
        }
        log_warn("opensearch: index %s not checked yet (%s); retrying on first use", s->index,
                 oerr.msg);
    }
    log_debug("opensearch: index %s at %s (auth: %s)", s->index, s->base_url,
              s->auth == AUTH_SIGV4 ? "sigv4" : s->auth == AUTH_BASIC ? "basic" : "none");
    return &s->base;
}
