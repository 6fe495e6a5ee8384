/* _bulk for the OpenSearch sink: bodies cut to size, each item's result
 * read back (bulk_response.c), transient items retried with backoff, a
 * request refused as a whole resent item by item. */
#include "index/opensearch_internal.h"

#include "base/log.h"
#include "index/bulk_response.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- _bulk ---------------------------------------------------------------- */

typedef struct bulk_job {
    const index_doc *docs;       /* index actions, or */
    const char *const *ids;      /* delete actions */
    int n;
    index_item_result *res;
    int *tries_used;
    bool *pending;               /* still to be sent */
    bool *solo;                  /* goes alone: its request was rejected as a whole */
    int *chunk;                  /* the items of the request being built */
    const char **chunk_ids;      /* their ids, for checking the response */
    bulk_item *answers;          /* the response's word on each of them */
    int64_t now_ms;
} bulk_job;

static const char *item_id(const bulk_job *j, int i)
{
    return j->docs ? j->docs[i].id : j->ids[i];
}

static void append_action(sbuf *b, const char *action, const char *index, const char *id)
{
    sbuf_appendf(b, "{\"%s\":{\"_index\":\"%s\",\"_id\":", action, index);
    os_json_cstr(b, id);
    LIT(b, "}}\n");
}

static void append_doc(sbuf *b, const char *index, const index_doc *d, int64_t now_ms)
{
    append_action(b, "index", index, d->id);
    LIT(b, "{\"source\":");
    os_json_cstr(b, d->source);
    LIT(b, ",\"sha256\":");
    os_json_cstr(b, d->sha256);
    LIT(b, ",\"mime\":");
    os_json_cstr(b, d->mime);
    sbuf_appendf(b,
                 ",\"size\":%lld,\"mtime_ms\":%lld,\"page_count\":%d,\"pages_ocr\":%d,"
                 "\"extract_ms\":%lld,\"note\":",
                 (long long)d->size, (long long)d->mtime_ms, d->page_count, d->pages_ocr,
                 (long long)d->extract_ms);
    os_json_cstr(b, d->note);
    if (d->parent) {
        LIT(b, ",\"parent\":");
        os_json_cstr(b, d->parent);
    }
    if (d->container)
        sbuf_appendf(b, ",\"members\":%d", d->members);
    if (d->title) {
        LIT(b, ",\"title\":");
        os_json_cstr(b, d->title);
    }
    /* The metadata object as the pipeline encoded it (cjson). */
    if (d->meta && d->meta[0] == '{') {
        LIT(b, ",\"meta\":");
        sbuf_append(b, d->meta, strlen(d->meta));
    }
    sbuf_appendf(b, ",\"indexed_at\":%lld,\"pages\":[", (long long)now_ms);
    for (int i = 0; i < d->npages; i++) {
        const index_page *p = &d->pages[i];
        sbuf_appendf(b, "%s{\"page\":%d,\"method\":", i ? "," : "", p->page);
        os_json_cstr(b, p->method);
        if (p->dpi > 0)
            sbuf_appendf(b, ",\"dpi\":%d,\"text\":", p->dpi);
        else
            LIT(b, ",\"dpi\":null,\"text\":");
        os_json_str(b, p->text ? p->text : "", p->text ? p->text_len : 0);
        sbuf_putc(b, '}');
    }
    LIT(b, "]}\n");
}

static void append_item(const os_sink *s, const bulk_job *j, int i, sbuf *b)
{
    if (j->docs)
        append_doc(b, s->index, &j->docs[i], j->now_ms);
    else
        append_action(b, "delete", s->index, j->ids[i]);
}

static void body_cut(sbuf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static void item_final(bulk_job *j, int i, bool ok, bool permanent, const char *error)
{
    j->pending[i] = false;
    j->res[i].ok = ok;
    j->res[i].permanent = !ok && permanent;
    snprintf(j->res[i].error, sizeof j->res[i].error, "%s", ok ? "" : error);
}

/* A retryable failure of item i: charged one try, final when out of them. */
static void item_retry(os_sink *s, bulk_job *j, int i, const char *error)
{
    snprintf(j->res[i].error, sizeof j->res[i].error, "%s", error);
    if (++j->tries_used[i] >= s->tries)
        item_final(j, i, false, false, error);
}

typedef enum { SENT, SENT_RETRY, WHOLE_RETRY, WHOLE_STOP } chunk_outcome;

/* Applies a 200 _bulk response to the k items of the chunk. */
static chunk_outcome apply_items(os_sink *s, bulk_job *j, int k, const http_response *resp,
                                 char *why, size_t cap)
{
    if (bulk_response_parse(resp->body.data, resp->body.len, j->chunk_ids, k, !j->docs,
                            j->answers, why, cap) != 0)
        return WHOLE_RETRY;
    chunk_outcome out = SENT;
    for (int m = 0; m < k; m++) {
        int i = j->chunk[m];
        const bulk_item *a = &j->answers[m];
        switch (a->outcome) {
        case BULK_ITEM_OK:
            item_final(j, i, true, false, NULL);
            break;
        case BULK_ITEM_NO_INDEX:
            s->ready = false;  /* recreate it with the mapping before the retry */
            item_retry(s, j, i, a->error);
            out = SENT_RETRY;
            break;
        case BULK_ITEM_RETRY:
            item_retry(s, j, i, a->error);
            out = SENT_RETRY;
            break;
        case BULK_ITEM_PERMANENT:
            item_final(j, i, false, true, a->error);
            break;
        }
    }
    return out;
}

/* Sends the chunk's k items (their actions are in body). */
static chunk_outcome send_chunk(os_sink *s, bulk_job *j, int k, const sbuf *body, char *why,
                                size_t cap)
{
    os_req r = {.method = "POST", .path = "/_bulk", .content_type = "application/x-ndjson",
                .body = body->data, .body_len = body->len, .timeout_ms = s->bulk_timeout_ms};
    http_response resp;
    dm_err err;
    chunk_outcome out;
    if (os_perform(s, &r, &resp, &err) != 0) {
        snprintf(why, cap, "%.250s", err.msg);
        out = WHOLE_RETRY;
    } else if (resp.status == 200) {
        out = apply_items(s, j, k, &resp, why, cap);
    } else {
        os_describe_response(&resp, why, cap);
        if (os_retryable_status(resp.status)) {
            out = WHOLE_RETRY;
        } else if (resp.status == 401 || resp.status == 403) {
            out = WHOLE_STOP;  /* retrying now cannot help; the job's retry may */
        } else if (resp.status == 404 && os_response_error_is(&resp, "index_not_found_exception")) {
            s->ready = false;  /* deleted under us: recreate it first */
            out = WHOLE_RETRY;
        } else if (k > 1) {
            /* A request rejected as a whole (400, 413): send its items one
             * by one, so only a culprit fails. */
            if (resp.status == 413 && s->target_body / 2 >= MIN_TARGET_BODY)
                s->target_body /= 2;
            for (int m = 0; m < k; m++)
                j->solo[j->chunk[m]] = true;
            out = SENT;
        } else {
            item_final(j, j->chunk[0], false, true, why);
            out = SENT;
        }
    }
    http_response_free(&resp);
    return out;
}

/* Sends every item of j in _bulk requests of at most target_body bytes
 * (one item alone may reach INDEX_OPENSEARCH_MAX_BODY), retrying what can
 * be retried with backoff, until each item has a final result. Returns -1
 * with err when no item got a definite answer (nothing stored, nothing
 * rejected: the whole call was transient). */
static int run_bulk(os_sink *s, bulk_job *j, dm_err *err)
{
    int n = j->n;
    j->tries_used = dm_xcalloc((size_t)n, sizeof *j->tries_used);
    j->pending = dm_xcalloc((size_t)n, sizeof *j->pending);
    j->solo = dm_xcalloc((size_t)n, sizeof *j->solo);
    j->chunk = dm_xcalloc((size_t)n, sizeof *j->chunk);
    j->chunk_ids = dm_xcalloc((size_t)n, sizeof *j->chunk_ids);
    j->answers = dm_xcalloc((size_t)n, sizeof *j->answers);
    for (int i = 0; i < n; i++) {
        j->pending[i] = true;
        j->res[i] = (index_item_result){.ok = false};
    }
    char why[256] = "";
    sbuf body;
    sbuf_init(&body);
    int npending = n, sleeps = 0;
    while (npending > 0) {
        bool wait = false, whole = false, stop = false;
        dm_err ierr;
        if (!s->ready && os_ensure_index(s, 1, &ierr) != 0) {
            snprintf(why, sizeof why, "%.250s", ierr.msg);
            whole = true;
        }
        for (int i = 0; i < n && !whole;) {
            int k = 0;
            sbuf_reset(&body);
            for (; i < n; i++) {
                if (!j->pending[i])
                    continue;
                if (j->solo[i] && k > 0)
                    break;
                size_t mark = body.len;
                append_item(s, j, i, &body);
                if (k > 0 && body.len > s->target_body) {
                    body_cut(&body, mark);  /* does not fit: starts the next request */
                    break;
                }
                if (body.len > INDEX_OPENSEARCH_MAX_BODY) {
                    char e[160];
                    snprintf(e, sizeof e,
                             "document is %.1f MiB as JSON, over the %u MiB _bulk request limit",
                             (double)(body.len - mark) / (1 << 20), INDEX_OPENSEARCH_MAX_BODY >> 20);
                    body_cut(&body, mark);
                    item_final(j, i, false, true, e);
                    continue;
                }
                j->chunk_ids[k] = item_id(j, i);
                j->chunk[k++] = i;
                if (j->solo[i]) {
                    i++;
                    break;
                }
            }
            if (k == 0)
                continue;
            chunk_outcome o = send_chunk(s, j, k, &body, why, sizeof why);
            if (o == SENT_RETRY)
                wait = true;
            whole = o == WHOLE_RETRY || o == WHOLE_STOP;
            stop = o == WHOLE_STOP;
        }
        /* A request that failed as a whole (cluster down, 429, 5xx) stops
         * the pass: every item still waiting is charged a try, so a dead
         * cluster costs `tries` rounds, not one per request. */
        npending = 0;
        for (int i = 0; i < n; i++) {
            if (!j->pending[i])
                continue;
            if (stop)
                item_final(j, i, false, false, why);
            else if (whole)
                item_retry(s, j, i, why);
            npending += j->pending[i];
        }
        if (npending > 0 && (whole || wait))
            os_backoff(s, ++sleeps);
    }
    sbuf_free(&body);
    free(j->tries_used);
    free(j->pending);
    free(j->solo);
    free(j->chunk);
    free(j->chunk_ids);
    free(j->answers);
    int definite = 0;
    for (int i = 0; i < n; i++)
        definite += j->res[i].ok || j->res[i].permanent;
    if (n > 0 && definite == 0) {
        dm_err_set(err, false, "opensearch _bulk (%s): %s", s->base_url, j->res[0].error);
        return -1;
    }
    return 0;
}

/* Deletes every member of the containers ids (documents whose parent is
 * one of them): _bulk deletes by id only, so this is _delete_by_query. An
 * index that does not exist yet has none. */
/* One POST with a JSON body, 200 expected (404 index_not_found: *missing). */
static int post_json(os_sink *s, const char *path, const sbuf *body, const char *what,
                     http_response *resp, bool *missing, dm_err *err)
{
    os_req r = {.method = "POST", .path = path, .content_type = "application/json",
                .body = body->data ? body->data : "{}", .body_len = body->data ? body->len : 2,
                .timeout_ms = BULK_TIMEOUT_MS};
    int rc = os_call(s, &r, s->tries, resp, err);
    *missing = rc == 0 && resp->status == 404 &&
               os_response_error_is(resp, "index_not_found_exception");
    if (rc != 0 || (resp->status != 200 && !*missing)) {
        os_call_err(s, rc, resp, what, false, err);
        return -1;
    }
    return 0;
}

/* _delete_by_query searches what the last refresh made visible: members
 * indexed a moment ago would be missed, and stay forever. So a refresh
 * first; and a 200 that reports failures or a timeout is no success. */
static int delete_members(os_sink *s, const char *const *ids, int n, dm_err *err)
{
    if (n == 0)
        return 0;
    sbuf path, body;
    sbuf_init(&path);
    sbuf_init(&body);
    http_response resp;
    bool missing = false;
    sbuf_appendf(&path, "/%s/_refresh", s->index);
    int refreshed = post_json(s, path.data, &body, "refresh before deleting members", &resp,
                              &missing, err);
    http_response_free(&resp);
    if (refreshed != 0 || missing) {
        sbuf_free(&path);
        return missing ? 0 : -1;   /* no index: no members */
    }
    sbuf_reset(&path);
    sbuf_appendf(&path, "/%s/_delete_by_query?conflicts=proceed", s->index);
    LIT(&body, "{\"query\":{\"terms\":{\"parent\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            sbuf_putc(&body, ',');
        os_json_cstr(&body, ids[i]);
    }
    LIT(&body, "]}}}");
    int out = post_json(s, path.data, &body, "delete members", &resp, &missing, err);
    if (out == 0 && !missing) {
        cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
        const cJSON *failures = cJSON_GetObjectItemCaseSensitive(j, "failures");
        if (!j || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "timed_out")) ||
            (cJSON_IsArray(failures) && cJSON_GetArraySize(failures) > 0)) {
            dm_err_set(err, false, "opensearch delete members (%s): timed out or failed in "
                                   "part; tried again", s->base_url);
            out = -1;
        }
        cJSON_Delete(j);
    }
    http_response_free(&resp);
    sbuf_free(&path);
    sbuf_free(&body);
    return out;
}

/* Writes each container of docs whose members all went in, with its hash;
 * a container that could not be is failed (retryably) in results. */
static int hash_containers(os_sink *s, const index_doc *docs, int n, index_item_result *results,
                           dm_err *err)
{
    index_doc *again = dm_xcalloc((size_t)n, sizeof *again);
    int *at = dm_xcalloc((size_t)n, sizeof *at);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!(docs[i].container && docs[i].members > 0 && docs[i].sha256) || !results[i].ok)
            continue;
        bool members_in = true;
        for (int k = 0; k < n; k++)
            if (docs[k].parent && strcmp(docs[k].parent, docs[i].id) == 0 && !results[k].ok)
                members_in = false;
        if (members_in) {
            at[m] = i;
            again[m++] = docs[i];
        }
    }
    int rc = 0;
    if (m > 0) {
        index_item_result *res = dm_xcalloc((size_t)m, sizeof *res);
        bulk_job j = {.docs = again, .n = m, .res = res, .now_ms = dm_now_ms()};
        rc = run_bulk(s, &j, err);
        for (int k = 0; k < m && rc == 0; k++)
            if (!res[k].ok) {
                results[at[k]] = res[k];
                results[at[k]].permanent = false;   /* its members are in: try again */
            }
        if (rc != 0) {
            for (int k = 0; k < m; k++) {
                results[at[k]].ok = false;
                results[at[k]].permanent = false;
                snprintf(results[at[k]].error, sizeof results[at[k]].error, "%.250s",
                         err->msg);
            }
            rc = 0;
        }
        free(res);
    }
    free(again);
    free(at);
    return rc;
}

int os_bulk(index_sink *sink, const index_doc *docs, int n, index_item_result *results,
                   dm_err *err)
{
    os_sink *s = (os_sink *)sink;
    if (n <= 0)
        return 0;
    /* A container indexed again replaces its members: the old ones go
     * first (its new ones follow it in this request). */
    const char **containers = dm_xcalloc((size_t)n, sizeof *containers);
    int ncontainers = 0;
    for (int i = 0; i < n; i++)
        if (docs[i].container)
            containers[ncontainers++] = docs[i].id;
    int rc = delete_members(s, containers, ncontainers, err);
    free(containers);
    if (rc != 0)
        return -1;
    /* A container's hash means "indexed, members and all": a re-run that
     * finds it skips the file. Items succeed or fail one by one here, so
     * containers go without their hash first, and again with it only once
     * every member of theirs in this call is in. */
    index_doc *first = dm_xcalloc((size_t)n, sizeof *first);
    int nhashed = 0;
    for (int i = 0; i < n; i++) {
        first[i] = docs[i];
        if (docs[i].container && docs[i].members > 0 && docs[i].sha256) {
            first[i].sha256 = NULL;
            nhashed++;
        }
    }
    bulk_job j = {.docs = first, .n = n, .res = results, .now_ms = dm_now_ms()};
    rc = run_bulk(s, &j, err);
    if (rc == 0 && nhashed > 0)
        rc = hash_containers(s, docs, n, results, err);
    free(first);
    return rc;
}

/* Deletes by id; a document that is not there counts as deleted. */
int os_remove(index_sink *sink, const char *const *ids, int n, dm_err *err)
{
    os_sink *s = (os_sink *)sink;
    if (n <= 0)
        return 0;
    index_item_result *res = dm_xcalloc((size_t)n, sizeof *res);
    bulk_job j = {.ids = ids, .n = n, .res = res, .now_ms = dm_now_ms()};
    int rc = run_bulk(s, &j, err);
    if (rc == 0) {
        int failed = 0, permanent = 0, first = -1;
        for (int i = 0; i < n; i++) {
            if (!res[i].ok) {
                failed++;
                permanent += res[i].permanent;
                if (first < 0)
                    first = i;
            }
        }
        if (failed) {
            dm_err_set(err, permanent == failed, "opensearch delete (%s): %d of %d failed: %s",
                       s->base_url, failed, n, res[first].error);
            rc = -1;
        }
    }
    free(res);
    /* A file removed takes its members with it. */
    if (rc == 0)
        rc = delete_members(s, ids, n, err);
    return rc;
}
