/* The OpenSearch sink against tests/servers/fake_opensearch.py on
 * 127.0.0.1 (a random port): documents and their fields, the strict _bulk
 * wire format, retries of 429/5xx, per-item permanent failures, outages,
 * request splitting, lookup/touch/remove, the mapping, authentication, and
 * and per-document job completion through the process's indexing buffer. */
#include "check.h"
#include "fake_server.h"
#include "job_recorder.h"

#include <pthread.h>
#include "index/bulk_buffer.h"

#include "net/credentials.h"
#include "net/http.h"
#include "index/index_opensearch.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FAKE_OPENSEARCH
#error "FAKE_OPENSEARCH (the path of fake_opensearch.py) must be defined"
#endif
#ifndef SYSTEM_PYTHON
#define SYSTEM_PYTHON "/usr/bin/python3"
#endif

static http_client *ctl;     /* the test's own client for control calls */

/* --- the fake server ------------------------------------------------------ */

static fake_server server;   /* the stand-in on 127.0.0.1 */


/* A control or plain call to the fake; returns the parsed JSON body (or
 * NULL) and the status. */
static cJSON *call(const char *method, const char *path, const char *ctype, const char *body,
                   size_t len, long *status)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", server.base, path);
    char header[128];
    const char *headers[] = {header, NULL};
    snprintf(header, sizeof header, "Content-Type: %s", ctype ? ctype : "application/json");
    http_request req = {.method = method, .url = url, .headers = headers, .body = body,
                        .body_len = len};
    http_response resp;
    dm_err err;
    cJSON *j = NULL;
    if (http_perform(ctl, &req, &resp, &err) == 0)
        j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
    if (status)
        *status = resp.status;
    http_response_free(&resp);
    return j;
}

static void fake(const char *control)
{
    long status = 0;
    cJSON_Delete(call("POST", control, NULL, "", 0, &status));
    if (status != 200)
        fprintf(stderr, "  control %s: HTTP %ld\n", control, status);
    CHECK_INT(status, 200);
}

/* GET /_fake/docs: stored documents (sources unless with_sources is false),
 * counters, violations. */
static cJSON *fake_state(bool with_sources)
{
    return call("GET", with_sources ? "/_fake/docs" : "/_fake/docs?sources=0", NULL, NULL, 0,
                NULL);
}

static const cJSON *get_path(const cJSON *j, const char *a, const char *b, const char *c)
{
    j = cJSON_GetObjectItemCaseSensitive(j, a);
    if (b)
        j = cJSON_GetObjectItemCaseSensitive(j, b);
    if (c)
        j = cJSON_GetObjectItemCaseSensitive(j, c);
    return j;
}

static double counter(const cJSON *state, const char *name)
{
    const cJSON *c = get_path(state, "counters", name, NULL);
    return cJSON_IsNumber(c) ? c->valuedouble : -1;
}

static const cJSON *stored(const cJSON *state, const char *index, const char *id)
{
    return get_path(get_path(state, "indices", index, "docs"), id, NULL, NULL);
}

static int ndocs(const cJSON *state, const char *index)
{
    return cJSON_GetArraySize(get_path(state, "indices", index, "docs"));
}

/* Every test ends with no wire-format violation seen by the fake. */
static void check_no_violations(void)
{
    cJSON *st = fake_state(false);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, "violations");
    CHECK(cJSON_IsArray(v));
    if (cJSON_GetArraySize(v) > 0) {
        char *s = cJSON_PrintUnformatted(v);
        fprintf(stderr, "  violations: %.2000s\n", s);
        free(s);
        CHECK_INT(cJSON_GetArraySize(v), 0);
    }
    cJSON_Delete(st);
}

/* --- documents -------------------------------------------------------------- */

static void clear_auth_env(void)
{
    const char *vars[] = {"OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD", "OPENSEARCH_AUTH",
                          "OPENSEARCH_SIGV4_SERVICE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", NULL};
    for (const char **v = vars; *v; v++)
        unsetenv(*v);
}

static index_sink *open_index(const char *name)
{
    char uri[128];
    snprintf(uri, sizeof uri, "%s/%s", server.base, name);
    dm_err err;
    index_sink *s = index_open(uri, &err);
    if (!s)
        fprintf(stderr, "  index_open %s: %s\n", uri, err.msg);
    return s;
}

static index_page JA_PAGES[] = {
    {1, "text", 0, "吾輩は猫である。名前はまだ無い。東京都千代田区の会議議事録。", 0},
    {2, "ocr", 300, "The quarterly revenue forecast is up.\nタブ\tと改行と\x01制御文字", 0},
};
static index_page EN_PAGES[] = {{1, "text", 0, "Payment terms: net 30 days. Invoice 48213.", 0}};

static index_doc make_doc(const char *source, const char *sha, index_page *pages, int n)
{
    static char ids[16][33];
    static int k;
    char *id = ids[k++ % 16];
    index_doc_id(source, id);
    for (int i = 0; i < n; i++)
        pages[i].text_len = strlen(pages[i].text);
    index_doc d = {.id = id, .source = source, .sha256 = sha, .mime = "application/pdf",
                   .size = 1234, .mtime_ms = 1700000000123LL, .page_count = n, .pages_ocr = 0,
                   .extract_ms = 42, .npages = n, .pages = pages};
    return d;
}

static int bulk(index_sink *s, index_doc *docs, int n, index_item_result *res, dm_err *err)
{
    memset(res, 0xa5, (size_t)n * sizeof *res);  /* the sink must fill every result */
    return s->ops->bulk(s, docs, n, res, err);
}

static void test_documents_land_with_id_and_fields(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("docs");
    CHECK(s != NULL);
    if (!s)
        return;
    index_doc docs[] = {make_doc("/c/会議/議事録.pdf", "aaa111", JA_PAGES, 2),
                        make_doc("/c/invoice.pdf", "bbb222", EN_PAGES, 1),
                        make_doc("/c/bad\xff name.txt", NULL, EN_PAGES, 1)};
    docs[0].pages_ocr = 1;
    docs[0].note = "only the first 2 of 9 pages were extracted (max_pages)";
    docs[2].mime = "text/plain";
    index_item_result res[3];
    dm_err err;
    int64_t before = dm_now_ms();
    CHECK_INT(bulk(s, docs, 3, res, &err), 0);
    for (int i = 0; i < 3; i++) {
        CHECK(res[i].ok);
        CHECK(!res[i].permanent);
    }
    cJSON *st = fake_state(true);
    CHECK_INT(ndocs(st, "docs"), 3);
    const cJSON *d = stored(st, "docs", docs[0].id);
    CHECK(d != NULL);
    CHECK_STR(cJSON_GetStringValue(get_path(d, "source", NULL, NULL)), "/c/会議/議事録.pdf");
    CHECK_STR(cJSON_GetStringValue(get_path(d, "sha256", NULL, NULL)), "aaa111");
    CHECK_STR(cJSON_GetStringValue(get_path(d, "mime", NULL, NULL)), "application/pdf");
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "size", NULL, NULL)), 1234);
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "mtime_ms", NULL, NULL)), 1700000000123LL);
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "page_count", NULL, NULL)), 2);
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "pages_ocr", NULL, NULL)), 1);
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "extract_ms", NULL, NULL)), 42);
    CHECK_CONTAINS(cJSON_GetStringValue(get_path(d, "note", NULL, NULL)), "max_pages");
    double at = cJSON_GetNumberValue(get_path(d, "indexed_at", NULL, NULL));
    CHECK(at >= (double)before && at <= (double)dm_now_ms());
    const cJSON *pages = get_path(d, "pages", NULL, NULL);
    CHECK_INT(cJSON_GetArraySize(pages), 2);
    const cJSON *p1 = cJSON_GetArrayItem(pages, 0), *p2 = cJSON_GetArrayItem(pages, 1);
    CHECK_INT(cJSON_GetNumberValue(get_path(p1, "page", NULL, NULL)), 1);
    CHECK_STR(cJSON_GetStringValue(get_path(p1, "method", NULL, NULL)), "text");
    CHECK(cJSON_IsNull(get_path(p1, "dpi", NULL, NULL)));
    CHECK_STR(cJSON_GetStringValue(get_path(p1, "text", NULL, NULL)), JA_PAGES[0].text);
    CHECK_STR(cJSON_GetStringValue(get_path(p2, "method", NULL, NULL)), "ocr");
    CHECK_INT(cJSON_GetNumberValue(get_path(p2, "dpi", NULL, NULL)), 300);
    /* Tabs, newlines and control characters survive the JSON round trip. */
    CHECK_STR(cJSON_GetStringValue(get_path(p2, "text", NULL, NULL)), JA_PAGES[1].text);
    d = stored(st, "docs", docs[1].id);
    CHECK(cJSON_IsNull(get_path(d, "note", NULL, NULL)));
    CHECK_STR(cJSON_GetStringValue(get_path(d, "source", NULL, NULL)), "/c/invoice.pdf");
    /* A source path that is not UTF-8 still indexes (U+FFFD), under the id
     * of its real bytes; a missing hash is null. */
    d = stored(st, "docs", docs[2].id);
    CHECK_STR(cJSON_GetStringValue(get_path(d, "source", NULL, NULL)), "/c/bad\xEF\xBF\xBD name.txt");
    CHECK(cJSON_IsNull(get_path(d, "sha256", NULL, NULL)));
    CHECK_INT(counter(st, "bulk_requests"), 1);
    cJSON_Delete(st);

    /* Re-indexing replaces the document. */
    index_doc again = make_doc("/c/invoice.pdf", "ccc333", JA_PAGES, 1);
    CHECK_INT(bulk(s, &again, 1, res, &err), 0);
    CHECK(res[0].ok);
    st = fake_state(true);
    CHECK_INT(ndocs(st, "docs"), 3);
    CHECK_STR(cJSON_GetStringValue(get_path(stored(st, "docs", docs[1].id), "sha256", NULL, NULL)),
              "ccc333");
    cJSON_Delete(st);
    CHECK_INT(s->ops->bulk(s, docs, 0, res, &err), 0);  /* nothing to do */
    index_close(s);
    check_no_violations();
}

/* The fake must be strict for "no violations" to mean anything. */
static void test_fake_rejects_bad_wire_format(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("wire");
    index_close(s);
    static const struct {
        const char *ctype, *body;
        long status;
    } cases[] = {
        {"application/json", "{\"index\":{\"_index\":\"wire\",\"_id\":\"a\"}}\n{}\n", 406},
        {"application/x-ndjson", "{\"index\":{\"_index\":\"wire\",\"_id\":\"a\"}}\n{}", 400},
        {"application/x-ndjson", "{\"index\":{\"_index\":\"wire\"}}\n{}\n", 400},
        {"application/x-ndjson", "{\"index\":{\"_id\":\"a\"}}\n{}\n", 400},
        {"application/x-ndjson", "{\"index\":{\"_index\":\"wire\",\"_id\":\"a\"}}\n{oops}\n", 400},
        {"application/x-ndjson", "{\"index\":{\"_index\":\"wire\",\"_id\":\"a\"}}\n", 400},
        {"application/x-ndjson", "{\"index\":{\"_index\":\"wire\",\"_id\":\"a\"}}\n\n{}\n", 400},
        {"application/x-ndjson", "{\"index\":{\"_index\":\"wire\",\"_id\":\"a\"}}\n{}\n", 200},
    };
    size_t n = sizeof cases / sizeof *cases;
    for (size_t i = 0; i < n; i++) {
        long status;
        cJSON_Delete(call("POST", "/_bulk", cases[i].ctype, cases[i].body, strlen(cases[i].body),
                          &status));
        if (status != cases[i].status)
            fprintf(stderr, "  wire case %zu\n", i);
        CHECK_INT(status, cases[i].status);
    }
    /* Over 10 MiB: 413, as AWS OpenSearch Service answers. */
    size_t big = INDEX_OPENSEARCH_MAX_BODY + 100;
    char *body = malloc(big + 1);
    const char *action = "{\"index\":{\"_index\":\"wire\",\"_id\":\"b\"}}\n{\"note\":\"";
    size_t alen = strlen(action);
    memcpy(body, action, alen);
    memset(body + alen, 'x', big - alen - 3);
    memcpy(body + big - 3, "\"}\n", 3);
    long status;
    cJSON_Delete(call("POST", "/_bulk", "application/x-ndjson", body, big, &status));
    CHECK_INT(status, 413);
    free(body);
    cJSON *st = fake_state(false);
    /* Every case but the good one, and the 413. */
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "violations")), (int)n - 1 + 1);
    cJSON_Delete(st);
    fake("/_fake/reset");
}

static void test_policy_supplied_mapping(void)
{
    fake("/_fake/reset");
    index_opensearch_set_create_body(
        "{\"settings\":{\"number_of_shards\":1},\"mappings\":{\"properties\":{"
        "\"source\":{\"type\":\"keyword\"},"
        "\"pages\":{\"type\":\"nested\",\"properties\":{"
        "\"text\":{\"type\":\"text\",\"analyzer\":\"standard\"}}}}}}");
    index_sink *a = open_index("custom");
    index_opensearch_set_create_body(NULL);
    CHECK(a != NULL);
    cJSON *st = fake_state(false);
    const cJSON *m = get_path(st, "indices", "custom", "mappings");
    const cJSON *text = get_path(get_path(m, "properties", "pages", "properties"), "text", NULL,
                                 NULL);
    CHECK_STR(cJSON_GetStringValue(get_path(text, "analyzer", NULL, NULL)), "standard");
    CHECK(get_path(m, "_meta", NULL, NULL) == NULL);  /* not docmill's own */
    cJSON_Delete(st);
    index_close(a);
}

static void test_mapping_created_once_cjk_or_kuromoji(void)
{
    fake("/_fake/reset");
    index_sink *a = open_index("m1");
    index_sink *b = open_index("m1");
    CHECK(a && b);
    if (a) {
        index_doc d = make_doc("/m/1.pdf", "h", EN_PAGES, 1);
        index_item_result res[1];
        dm_err err;
        CHECK_INT(bulk(a, &d, 1, res, &err), 0);
    }
    /* Another worker created it between our HEAD and PUT. */
    fake("/_fake/head_404?count=1");
    index_sink *c = open_index("m1");
    CHECK(c != NULL);
    cJSON *st = fake_state(false);
    CHECK_INT(counter(st, "put_index"), 1);
    CHECK_INT(counter(st, "head_index"), 3);
    const cJSON *m = get_path(st, "indices", "m1", "mappings");
    CHECK_STR(cJSON_GetStringValue(get_path(m, "properties", "pages", "type")), "nested");
    const cJSON *text = get_path(get_path(m, "properties", "pages", "properties"), "text", NULL,
                                 NULL);
    CHECK_STR(cJSON_GetStringValue(get_path(text, "analyzer", NULL, NULL)), "cjk");
    CHECK_STR(cJSON_GetStringValue(get_path(m, "properties", "sha256", "type")), "keyword");
    CHECK_STR(cJSON_GetStringValue(get_path(m, "properties", "indexed_at", "type")), "date");
    CHECK_STR(cJSON_GetStringValue(get_path(m, "_meta", "text_analyzer", NULL)), "cjk");
    cJSON_Delete(st);
    index_close(a);
    index_close(b);
    index_close(c);

    fake("/_fake/plugins?kuromoji=1");
    index_sink *k = open_index("m2");
    CHECK(k != NULL);
    index_close(k);
    st = fake_state(false);
    m = get_path(st, "indices", "m2", "mappings");
    text = get_path(get_path(m, "properties", "pages", "properties"), "text", NULL, NULL);
    CHECK_STR(cJSON_GetStringValue(get_path(text, "analyzer", NULL, NULL)), "kuromoji");
    CHECK_INT(counter(st, "put_index"), 2);
    cJSON_Delete(st);
    check_no_violations();
}

static void test_429_storm_is_retried(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("storm");
    CHECK(s != NULL);
    if (!s)
        return;
    index_doc docs[] = {make_doc("/s/1.pdf", "h1", JA_PAGES, 2), make_doc("/s/2.pdf", "h2", EN_PAGES, 1),
                        make_doc("/s/3.pdf", "h3", EN_PAGES, 1)};
    index_item_result res[3];
    dm_err err;
    /* Items: 3 rejected, then 2 of the 3 retried, then all through. */
    fake("/_fake/fail?status=429&count=5");
    CHECK_INT(bulk(s, docs, 3, res, &err), 0);
    for (int i = 0; i < 3; i++)
        CHECK(res[i].ok);
    cJSON *st = fake_state(false);
    CHECK_INT(counter(st, "bulk_requests"), 3);
    CHECK_INT(ndocs(st, "storm"), 3);
    cJSON_Delete(st);

    /* Whole requests: 429 then 502. */
    fake("/_fake/reset");
    index_close(s);
    s = open_index("storm");
    fake("/_fake/fail?scope=request&status=429&count=1");
    CHECK_INT(bulk(s, docs, 3, res, &err), 0);
    CHECK(res[0].ok && res[1].ok && res[2].ok);
    fake("/_fake/fail?scope=request&status=502&count=2");
    CHECK_INT(bulk(s, docs, 3, res, &err), 0);
    CHECK(res[0].ok && res[1].ok && res[2].ok);

    /* A storm longer than the tries: transient, nothing known -> -1. */
    fake("/_fake/fail?status=429&count=1000");
    CHECK_INT(bulk(s, docs, 2, res, &err), -1);
    CHECK(!err.permanent);
    CHECK_CONTAINS(err.msg, "429");
    CHECK_CONTAINS(err.msg, "es_rejected_execution_exception");
    fake("/_fake/fail?status=429&count=0");

    /* One document keeps failing with 503, the others land: 0, with that
     * one transient. */
    char path[160];
    snprintf(path, sizeof path, "/_fake/item_error?id=%s&status=503&type=unavailable_shards_exception",
             docs[1].id);
    fake(path);
    CHECK_INT(bulk(s, docs, 3, res, &err), 0);
    CHECK(res[0].ok);
    CHECK(!res[1].ok);
    CHECK(!res[1].permanent);
    CHECK_CONTAINS(res[1].error, "503 unavailable_shards_exception");
    CHECK(res[2].ok);
    index_close(s);
    check_no_violations();
}

static void test_item_400_is_permanent(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("perm");
    CHECK(s != NULL);
    if (!s)
        return;
    index_doc docs[] = {make_doc("/p/1.pdf", "h1", EN_PAGES, 1), make_doc("/p/2.pdf", "h2", JA_PAGES, 2),
                        make_doc("/p/3.pdf", "h3", EN_PAGES, 1)};
    char path[200];
    snprintf(path, sizeof path,
             "/_fake/item_error?id=%s&status=400&type=mapper_parsing_exception&reason=failed+to+parse+field+%%5Bpages%%5D",
             docs[1].id);
    fake(path);
    index_item_result res[3];
    dm_err err;
    CHECK_INT(bulk(s, docs, 3, res, &err), 0);
    CHECK(res[0].ok);
    CHECK(!res[1].ok);
    CHECK(res[1].permanent);
    CHECK_CONTAINS(res[1].error, "400 mapper_parsing_exception: failed to parse field [pages]");
    CHECK(res[2].ok);
    cJSON *st = fake_state(false);
    CHECK_INT(counter(st, "bulk_requests"), 1);  /* no retry for a 400 */
    CHECK_INT(ndocs(st, "perm"), 2);
    CHECK(stored(st, "perm", docs[1].id) == NULL);
    cJSON_Delete(st);
    index_close(s);
    check_no_violations();
}

static void test_outage_is_transient_then_resumes(void)
{
    fake("/_fake/reset");
    index_doc docs[] = {make_doc("/o/1.pdf", "h1", EN_PAGES, 1), make_doc("/o/2.pdf", "h2", JA_PAGES, 2)};
    index_item_result res[2];
    dm_err err;
    /* Down at open: the sink is still created; the index is made later. */
    fake("/_fake/down?seconds=0.8");
    int64_t t0 = dm_mono_ms();
    index_sink *s = open_index("outage");
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(bulk(s, docs, 2, res, &err), -1);
    CHECK(!err.permanent);
    CHECK_CONTAINS(err.msg, "503");
    char sha[65];
    CHECK_INT(s->ops->lookup(s, docs[0].id, sha, &err), -1);
    CHECK(!err.permanent);
    cJSON *st = fake_state(false);
    CHECK(get_path(st, "indices", "outage", NULL) == NULL);  /* nothing stored */
    cJSON_Delete(st);
    while (dm_mono_ms() - t0 < 900)
        usleep(50000);
    CHECK_INT(bulk(s, docs, 2, res, &err), 0);
    CHECK(res[0].ok && res[1].ok);
    st = fake_state(false);
    CHECK_INT(ndocs(st, "outage"), 2);
    CHECK_INT(counter(st, "put_index"), 1);
    cJSON_Delete(st);

    /* Connections closed without an answer: transport errors. */
    fake("/_fake/down?seconds=0.5&mode=close");
    t0 = dm_mono_ms();
    CHECK_INT(bulk(s, docs, 2, res, &err), -1);
    CHECK(!err.permanent);
    CHECK_INT(s->ops->remove(s, (const char *[]){docs[0].id}, 1, &err), -1);
    CHECK(!err.permanent);
    while (dm_mono_ms() - t0 < 600)
        usleep(50000);
    CHECK_INT(bulk(s, docs, 2, res, &err), 0);
    CHECK(res[0].ok && res[1].ok);
    index_close(s);

    /* Nothing listening at all. */
    dm_err oerr;
    index_sink *gone = index_open("http://127.0.0.1:1/x", &oerr);
    CHECK(gone != NULL);
    if (gone) {
        CHECK_INT(bulk(gone, docs, 2, res, &err), -1);
        CHECK(!err.permanent);
        CHECK_CONTAINS(err.msg, "127.0.0.1");
        CHECK_INT(gone->ops->lookup(gone, docs[0].id, sha, &err), -1);
        CHECK(!err.permanent);
        CHECK_INT(gone->ops->touch(gone, docs[0].id, 1, 2, &err), -1);
        CHECK(!err.permanent);
        index_close(gone);
    }
    check_no_violations();
}

static char *big_text(size_t bytes)
{
    /* "あ" is 3 bytes in UTF-8; JSON keeps it as is. */
    size_t n = bytes / 3;
    char *t = malloc(n * 3 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(t + 3 * i, "あ", 3);
    t[n * 3] = '\0';
    return t;
}

static void test_large_batch_is_split(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("big");
    CHECK(s != NULL);
    if (!s)
        return;
    enum { N = 8 };
    char *t2 = big_text(2u << 20), *t7 = big_text(7u << 20), *t11 = big_text(11u << 20);
    index_page pages[N][1];
    index_doc docs[N];
    char sources[N][32];
    for (int i = 0; i < N; i++) {
        const char *t = i == 6 ? t7 : i == 7 ? t11 : t2;
        pages[i][0] = (index_page){1, "text", 0, t, strlen(t)};
        snprintf(sources[i], sizeof sources[i], "/big/%d.txt", i);
        docs[i] = make_doc(sources[i], "h", pages[i], 1);
    }
    index_item_result res[N];
    dm_err err;
    CHECK_INT(bulk(s, docs, N, res, &err), 0);
    for (int i = 0; i < 7; i++)
        CHECK(res[i].ok);
    /* Alone over 10 MiB: cannot be sent, fails for good. */
    CHECK(!res[7].ok);
    CHECK(res[7].permanent);
    CHECK_CONTAINS(res[7].error, "over the 10 MiB");
    cJSON *st = fake_state(false);
    CHECK_INT(ndocs(st, "big"), 7);
    /* 6 × 2 MiB in 5 MiB requests (2 each), then the 7 MiB one alone. */
    CHECK_INT(counter(st, "bulk_requests"), 4);
    const cJSON *size;
    cJSON_ArrayForEach(size, cJSON_GetObjectItemCaseSensitive(st, "bulk_sizes")) {
        CHECK(size->valuedouble <= INDEX_OPENSEARCH_MAX_BODY);
    }
    CHECK(counter(st, "bulk_bytes_max") > (5u << 20));
    cJSON_Delete(st);
    /* The biggest stored document comes back whole. */
    char path[128];
    snprintf(path, sizeof path, "/big/_doc/%s", docs[6].id);
    cJSON *d = call("GET", path, NULL, NULL, 0, NULL);
    const cJSON *pg = cJSON_GetArrayItem(get_path(d, "_source", "pages", NULL), 0);
    const char *text = cJSON_GetStringValue(get_path(pg, "text", NULL, NULL));
    CHECK(text && strlen(text) == strlen(t7));
    cJSON_Delete(d);
    free(t2);
    free(t7);
    free(t11);
    index_close(s);
    check_no_violations();
}

static void test_find_copy(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("copies");
    CHECK(s != NULL && s->ops->find_copy != NULL);
    if (!s)
        return;
    index_doc docs[] = {make_doc("/share/a/r.pdf", "5555eeee", JA_PAGES, 2),
                        make_doc("/share/x.pdf", "6666ffff", EN_PAGES, 1)};
    index_item_result res[2];
    dm_err err;
    CHECK_INT(bulk(s, docs, 2, res, &err), 0);
    char other[33];
    index_doc_id("/share/b/r.pdf", other);
    index_doc c;
    CHECK_INT(s->ops->find_copy(s, "5555eeee", other, &c, &err), 1);
    CHECK_STR(c.id, docs[0].id);
    CHECK_STR(c.source, "/share/a/r.pdf");
    CHECK_STR(c.sha256, "5555eeee");
    CHECK_INT(c.npages, 2);
    if (c.npages == 2) {
        CHECK_STR(c.pages[0].text, JA_PAGES[0].text);
        CHECK_STR(c.pages[1].method, JA_PAGES[1].method);
        CHECK_INT(c.pages[1].dpi, JA_PAGES[1].dpi);
    }
    index_doc_free(&c);
    /* Not its own copy; no copy of other content; a missing index has none. */
    CHECK_INT(s->ops->find_copy(s, "5555eeee", docs[0].id, &c, &err), 0);
    CHECK_INT(s->ops->find_copy(s, "7777aaaa", other, &c, &err), 0);
    long status;
    cJSON_Delete(call("DELETE", "/copies", NULL, NULL, 0, &status));
    CHECK_INT(s->ops->find_copy(s, "5555eeee", other, &c, &err), 0);
    index_close(s);
    check_no_violations();
}

static void test_lookup_touch_remove(void)
{
    fake("/_fake/reset");
    index_sink *s = open_index("ltr");
    CHECK(s != NULL);
    if (!s)
        return;
    index_doc docs[] = {make_doc("/l/1.pdf", "1111aaaa", EN_PAGES, 1), make_doc("/l/2.pdf", "2222bbbb", JA_PAGES, 2)};
    index_item_result res[2];
    dm_err err;
    CHECK_INT(bulk(s, docs, 2, res, &err), 0);
    char sha[65];
    CHECK_INT(s->ops->lookup(s, docs[0].id, sha, &err), 1);
    CHECK_STR(sha, "1111aaaa");
    CHECK_INT(s->ops->lookup(s, "0123456789abcdef0123456789abcdef", sha, &err), 0);
    CHECK_INT(s->ops->touch(s, docs[0].id, 999, 1700000009999LL, &err), 0);
    cJSON *st = fake_state(true);
    const cJSON *d = stored(st, "ltr", docs[0].id);
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "size", NULL, NULL)), 999);
    CHECK_INT(cJSON_GetNumberValue(get_path(d, "mtime_ms", NULL, NULL)), 1700000009999LL);
    CHECK_STR(cJSON_GetStringValue(get_path(d, "sha256", NULL, NULL)), "1111aaaa");
    CHECK_INT(cJSON_GetArraySize(get_path(d, "pages", NULL, NULL)), 1);
    cJSON_Delete(st);
    /* Touching a document that went away: transient (the retry re-indexes). */
    CHECK_INT(s->ops->touch(s, "0123456789abcdef0123456789abcdef", 1, 2, &err), -1);
    CHECK(!err.permanent);
    CHECK_CONTAINS(err.msg, "document_missing_exception");

    /* Remove: a missing id counts as removed; a 429 on the way is retried. */
    fake("/_fake/fail?status=429&count=1");
    const char *ids[] = {docs[0].id, "ffffffffffffffffffffffffffffffff"};
    CHECK_INT(s->ops->remove(s, ids, 2, &err), 0);
    CHECK_INT(s->ops->lookup(s, docs[0].id, sha, &err), 0);
    CHECK_INT(s->ops->lookup(s, docs[1].id, sha, &err), 1);
    CHECK_INT(s->ops->remove(s, ids, 0, &err), 0);
    /* A delete the cluster refuses for good is a permanent failure. */
    char path[200];
    snprintf(path, sizeof path, "/_fake/item_error?id=%s&status=403&type=security_exception",
             docs[1].id);
    fake(path);
    CHECK_INT(s->ops->remove(s, (const char *[]){docs[1].id}, 1, &err), -1);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "security_exception");

    /* The index deleted under us: lookup says not found, and the next bulk
     * creates it again with the mapping. */
    long status;
    cJSON_Delete(call("DELETE", "/ltr", NULL, NULL, 0, &status));
    CHECK_INT(status, 200);
    CHECK_INT(s->ops->lookup(s, docs[1].id, sha, &err), 0);
    CHECK_INT(bulk(s, docs, 1, res, &err), 0);
    CHECK(res[0].ok);
    st = fake_state(false);
    CHECK_INT(counter(st, "put_index"), 2);
    CHECK_INT(ndocs(st, "ltr"), 1);
    cJSON_Delete(st);
    /* Deleted again, and the bulk is the first to notice (items answer
     * 404 index_not_found_exception): recreated, then retried. */
    cJSON_Delete(call("DELETE", "/ltr", NULL, NULL, 0, &status));
    CHECK_INT(bulk(s, docs, 1, res, &err), 0);
    CHECK(res[0].ok);
    st = fake_state(false);
    CHECK_INT(counter(st, "put_index"), 3);
    CHECK_INT(ndocs(st, "ltr"), 1);
    cJSON_Delete(st);
    index_close(s);
    check_no_violations();
}

static void test_auth_from_the_environment(void)
{
    fake("/_fake/reset");
    fake("/_fake/auth?user=docmill&password=s3cr3t%3Apw");
    setenv("OPENSEARCH_USERNAME", "docmill", 1);
    setenv("OPENSEARCH_PASSWORD", "s3cr3t:pw", 1);
    index_sink *s = open_index("auth");
    CHECK(s != NULL);
    if (s) {
        index_doc d = make_doc("/a/1.pdf", "h", EN_PAGES, 1);
        index_item_result res[1];
        dm_err err;
        CHECK_INT(bulk(s, &d, 1, res, &err), 0);
        CHECK(res[0].ok);
        index_close(s);
    }
    cJSON *st = fake_state(false);
    const cJSON *auth = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "authorization"), 0);
    CHECK_STR(cJSON_GetStringValue(auth), "Basic ZG9jbWlsbDpzM2NyM3Q6cHc=");  /* docmill:s3cr3t:pw */
    cJSON_Delete(st);

    /* A wrong password fails the open for good, without the password. */
    setenv("OPENSEARCH_PASSWORD", "wrong-pass-123", 1);
    dm_err err;
    char uri[128];
    snprintf(uri, sizeof uri, "%s/auth", server.base);
    CHECK(index_open(uri, &err) == NULL);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "401");
    CHECK(!strstr(err.msg, "wrong-pass-123"));
    unsetenv("OPENSEARCH_PASSWORD");
    CHECK(index_open(uri, &err) == NULL);
    CHECK_CONTAINS(err.msg, "OPENSEARCH_PASSWORD");

    /* Never credentials in the URL, and never echoed. */
    clear_auth_env();
    snprintf(uri, sizeof uri, "http://user:hunter2@%s/auth", server.base + 7);
    CHECK(index_open(uri, &err) == NULL);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "OPENSEARCH_USERNAME");
    CHECK(!strstr(err.msg, "hunter2"));
    /* Without credentials the cluster says 401: a configuration error. */
    snprintf(uri, sizeof uri, "%s/auth", server.base);
    CHECK(index_open(uri, &err) == NULL);
    CHECK_CONTAINS(err.msg, "401");
    setenv("OPENSEARCH_AUTH", "kerberos", 1);
    CHECK(index_open(uri, &err) == NULL);
    CHECK_CONTAINS(err.msg, "OPENSEARCH_AUTH");
    clear_auth_env();
    fake("/_fake/auth?user=");

    /* Bad URIs. */
    snprintf(uri, sizeof uri, "%s/Bad_Name", server.base);
    CHECK(index_open(uri, &err) == NULL);
    CHECK_CONTAINS(err.msg, "invalid OpenSearch index name");
    snprintf(uri, sizeof uri, "%s/a/b", server.base);
    CHECK(index_open(uri, &err) == NULL);
    snprintf(uri, sizeof uri, "%s/x?refresh=true", server.base);
    CHECK(index_open(uri, &err) == NULL);
    /* No index in the URI: "docmill". */
    s = index_open(server.base, &err);
    CHECK(s != NULL);
    index_close(s);
    st = fake_state(false);
    CHECK(get_path(st, "indices", "docmill", NULL) != NULL);
    cJSON_Delete(st);
    check_no_violations();
}

static void test_sigv4_signing(void)
{
    fake("/_fake/reset");
    clear_auth_env();
    /* Credentials from the environment only: nothing may reach for the
     * instance metadata service or a real credentials file. */
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_REGION", "ap-northeast-1", 1);
    setenv("OPENSEARCH_AUTH", "sigv4", 1);
    aws_credentials_reset();
    const char *services[] = {NULL, "aoss"};
    for (int k = 0; k < 2; k++) {
        if (services[k])
            setenv("OPENSEARCH_SIGV4_SERVICE", services[k], 1);
        fake("/_fake/reset");
        index_sink *s = open_index("signed");
        CHECK(s != NULL);
        if (!s)
            continue;
        index_doc d = make_doc("/v/1.pdf", "h", JA_PAGES, 2);
        index_item_result res[1];
        dm_err err;
        CHECK_INT(bulk(s, &d, 1, res, &err), 0);
        index_close(s);
        cJSON *st = fake_state(false);
        const cJSON *a;
        int signed_requests = 0;
        char scope[64];
        snprintf(scope, sizeof scope, "/ap-northeast-1/%s/aws4_request", k ? "aoss" : "es");
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(st, "authorization")) {
            const char *v = cJSON_GetStringValue(a);
            CHECK_CONTAINS(v, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/");
            CHECK_CONTAINS(v, scope);
            CHECK_CONTAINS(v, "x-amz-content-sha256");
            CHECK(!strstr(v, "wJalrXUtnFEMI"));
            signed_requests++;
        }
        CHECK(signed_requests >= 3);  /* HEAD, _cat/plugins, PUT, _bulk */
        cJSON_Delete(st);
    }
    setenv("OPENSEARCH_SIGV4_SERVICE", "lambda", 1);
    dm_err err;
    char uri[128];
    snprintf(uri, sizeof uri, "%s/signed", server.base);
    CHECK(index_open(uri, &err) == NULL);
    CHECK_CONTAINS(err.msg, "OPENSEARCH_SIGV4_SERVICE");
    clear_auth_env();
    aws_credentials_reset();
    check_no_violations();
}

/* --- through the process's indexing buffer --------------------------------- */

static index_doc one_page_doc(const char *source, char id[33], index_page *page, const char *text)
{
    index_doc_id(source, id);
    *page = (index_page){1, "text", 0, text, strlen(text)};
    return (index_doc){.id = id, .source = source, .sha256 = "0", .mime = "text/plain",
                       .page_count = 1, .npages = 1, .pages = page};
}

/* The process's indexing buffer (bulk_buffer.c) over OpenSearch: each job
 * completes by its own document's bulk result. */
static void test_bulk_buffer_completes_each_job_by_its_result(void)
{
    fake("/_fake/reset");
    setenv("DOCMILL_OPENSEARCH_RETRIES", "2", 1);
    char ida[33], idb[33], idc[33], idd[33], ctl_path[200];
    index_page pa, pb, pc, pd;
    index_doc a = one_page_doc("/buf/ok.txt", ida, &pa, "正常に索引される文書です。indexed");
    index_doc b = one_page_doc("/buf/mapping.txt", idb, &pb, "マッピングで拒否。rejected");
    index_doc c = one_page_doc("/buf/busy.txt", idc, &pc, "混雑で再試行。retried");
    index_doc d = one_page_doc("/buf/down.txt", idd, &pd, "停止中。down");
    snprintf(ctl_path, sizeof ctl_path,
             "/_fake/item_error?id=%s&status=400&type=mapper_parsing_exception", idb);
    fake(ctl_path);
    snprintf(ctl_path, sizeof ctl_path,
             "/_fake/item_error?id=%s&status=503&type=unavailable_shards_exception", idc);
    fake(ctl_path);
    char uri[128];
    snprintf(uri, sizeof uri, "%s/pipe", server.base);
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    /* A long age: only the nudge below flushes. */
    bulk_limits limits = {100, 5 << 20, 600000};
    dm_err err;
    bulk_buffer *buf = bulk_buffer_start(uri, &limits, record, &rec, &err);
    CHECK(buf != NULL);
    if (!buf) {
        unsetenv("DOCMILL_OPENSEARCH_RETRIES");
        return;
    }
    bulk_job_stats st = {.pages = 1, .started_ms = dm_mono_ms()};
    bulk_buffer_submit(buf, 1, &a, &st);
    bulk_buffer_submit(buf, 2, &b, &st);
    bulk_buffer_submit(buf, 3, &c, &st);
    CHECK_INT(bulk_buffer_pending(buf), 3);
    usleep(200000);
    CHECK_INT(recorded(&rec), 0);  /* waits for count, bytes, age or a nudge */
    bulk_buffer_nudge(buf);
    for (int i = 0; i < 200 && recorded(&rec) < 3; i++)
        usleep(50000);
    CHECK_INT(recorded(&rec), 3);
    const job_result *r1 = result_for(&rec, 1), *r2 = result_for(&rec, 2), *r3 = result_for(&rec, 3);
    CHECK(r1 && r1->outcome == OUTCOME_INDEXED);
    CHECK(r2 && r2->outcome == OUTCOME_FAILED);
    if (r2)
        CHECK_CONTAINS(r2->error, "400 mapper_parsing_exception");
    CHECK(r3 && r3->outcome == OUTCOME_RETRY);
    if (r3)
        CHECK_CONTAINS(r3->error, "503 unavailable_shards_exception");

    /* The cluster down: the job goes back for a retry; stop flushes. */
    fake("/_fake/down?seconds=30");
    bulk_buffer_submit(buf, 7, &d, &st);
    bulk_buffer_stop(buf);
    const job_result *r7 = result_for(&rec, 7);
    CHECK(r7 && r7->outcome == OUTCOME_RETRY);
    fake("/_fake/down?seconds=0");
    unsetenv("DOCMILL_OPENSEARCH_RETRIES");
    cJSON *state = fake_state(false);
    CHECK(stored(state, "pipe", idb) == NULL);
    CHECK(stored(state, "pipe", ida) != NULL);
    CHECK_INT(ndocs(state, "pipe"), 1);
    cJSON_Delete(state);
    check_no_violations();
    pthread_mutex_destroy(&rec.mu);
}

int main(void)
{
    http_global_init();
    clear_auth_env();
    setenv("DOCMILL_OPENSEARCH_RETRY_BASE_MS", "5", 1);
    log_set_level(LOG_ERROR);  /* the warnings these tests provoke are expected */
    ctl = http_client_new();
    if (fake_server_start(&server, FAKE_OPENSEARCH) != 0) {
        fprintf(stderr, "cannot start %s\n", FAKE_OPENSEARCH);
        fake_server_stop(&server);
        return 1;
    }
    static const check_case cases[] = {
        {"bulk: Japanese and English documents land with their _id and fields", test_documents_land_with_id_and_fields},
        {"the fake rejects a bad _bulk wire format (so no violation means something)", test_fake_rejects_bad_wire_format},
        {"the mapping is created once: cjk without kuromoji, kuromoji with it", test_mapping_created_once_cjk_or_kuromoji},
        {"a policy-supplied create-index body replaces docmill's mapping", test_policy_supplied_mapping},
        {"429 and 5xx storms are retried; past the tries they are transient", test_429_storm_is_retried},
        {"a per-item 400 is a permanent failure of that item only", test_item_400_is_permanent},
        {"an outage is transient and work resumes after it", test_outage_is_transient_then_resumes},
        {"a batch over 10 MiB is split; a document over 10 MiB fails alone", test_large_batch_is_split},
        {"a copy is found by its content hash, pages and all", test_find_copy},
        {"lookup, touch and remove", test_lookup_touch_remove},
        {"basic auth from the environment, never from the URL or in errors", test_auth_from_the_environment},
        {"SigV4 signing for es and aoss", test_sigv4_signing},
        {"the indexing buffer completes each job by its own document's result", test_bulk_buffer_completes_each_job_by_its_result},
        {NULL, NULL}};
    int rc = check_run(cases);
    fake_server_stop(&server);
    http_client_free(ctl);
    return rc;
}
