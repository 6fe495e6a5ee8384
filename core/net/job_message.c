#include "net/job_message.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (const char *c = b; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
            return false;
    return true;
}

static int add_job(message_job **jobs, int *n, const char *bucket, const char *key_raw,
                   bool key_is_encoded, const char *op, const cJSON *object, dm_err *err)
{
    if (!bucket || !valid_bucket(bucket)) {
        dm_err_set(err, true, "malformed job: invalid or missing bucket name");
        return -1;
    }
    if (!key_raw || !*key_raw) {
        dm_err_set(err, true, "malformed job: missing object key");
        return -1;
    }
    sbuf key, src;
    sbuf_init(&key);
    sbuf_init(&src);
    int decoded = key_is_encoded ? dm_percent_decode(key_raw, true, &key)
                                 : (sbuf_append(&key, key_raw, strlen(key_raw)), 0);
    if (decoded != 0 || key.len == 0) {
        sbuf_free(&key);
        dm_err_set(err, true, "malformed job: object key contains NUL");
        return -1;
    }
    sbuf_appendf(&src, "s3://%s/%s", bucket, key.data);
    sbuf_free(&key);
    *jobs = dm_xrealloc(*jobs, (size_t)(*n + 1) * sizeof **jobs);
    message_job *j = &(*jobs)[(*n)++];
    memset(j, 0, sizeof *j);
    j->source = sbuf_take(&src);
    snprintf(j->op, sizeof j->op, "%s", op);
    j->size = -1;
    if (object) {
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(object, "size");
        /* Range-checked before the cast: "size":1e999 parses as infinity,
         * and converting a double outside int64_t is undefined. */
        if (cJSON_IsNumber(size) && size->valuedouble >= 0 &&
            size->valuedouble < 9223372036854775808.0)
            j->size = (int64_t)size->valuedouble;
        const char *etag = str_field(object, "eTag");
        if (etag)
            snprintf(j->etag, sizeof j->etag, "%s", etag);
        const char *ver = str_field(object, "versionId");
        if (ver)
            snprintf(j->version_id, sizeof j->version_id, "%s", ver);
    }
    return 0;
}

static int parse_records(const cJSON *records, message_job **jobs, int *n, dm_err *err)
{
    const cJSON *rec;
    cJSON_ArrayForEach(rec, records)
    {
        const char *event = str_field(rec, "eventName");
        const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(rec, "s3");
        const cJSON *bucket = cJSON_GetObjectItemCaseSensitive(s3, "bucket");
        const cJSON *object = cJSON_GetObjectItemCaseSensitive(s3, "object");
        if (!event || !cJSON_IsObject(s3)) {
            dm_err_set(err, true, "malformed S3 event: a record lacks eventName or s3");
            return -1;
        }
        const char *op;
        if (strncmp(event, "ObjectCreated:", 14) == 0)
            op = "index";
        else if (strncmp(event, "ObjectRemoved:", 14) == 0)
            op = "delete";
        else
            continue;  /* restore, replication...: nothing to index */
        if (add_job(jobs, n, str_field(bucket, "name"), str_field(object, "key"), true, op, object,
                    err) != 0)
            return -1;
    }
    return 0;
}

static int parse_object(const cJSON *root, message_job **jobs, int *n, int depth, dm_err *err)
{
    if (!cJSON_IsObject(root)) {
        dm_err_set(err, true, "malformed message: not a JSON object");
        return -1;
    }
    const char *event = str_field(root, "Event");
    if (event && strcmp(event, "s3:TestEvent") == 0)
        return 0;
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(root, "Records");
    if (cJSON_IsArray(records))
        return parse_records(records, jobs, n, err);
    const char *type = str_field(root, "Type");
    const char *message = str_field(root, "Message");
    if (type && strcmp(type, "Notification") == 0 && message) {
        if (depth > 0) {
            dm_err_set(err, true, "malformed message: nested SNS envelopes");
            return -1;
        }
        cJSON *inner = cJSON_Parse(message);
        if (!inner) {
            dm_err_set(err, true, "malformed SNS message: its Message is not JSON");
            return -1;
        }
        int rc = parse_object(inner, jobs, n, depth + 1, err);
        cJSON_Delete(inner);
        return rc;
    }
    const char *url = str_field(root, "url");
    if (url) {
        if (strncmp(url, "s3://", 5) == 0) {
            const char *slash = strchr(url + 5, '/');
            if (!slash) {
                dm_err_set(err, true, "malformed job: s3 URL without a key");
                return -1;
            }
            char bucket[80];
            snprintf(bucket, sizeof bucket, "%.*s", (int)(slash - url - 5) < 79 ? (int)(slash - url - 5) : 79,
                     url + 5);
            return add_job(jobs, n, bucket, slash + 1, false, "index", NULL, err);
        }
        /* http(s): passed on as it is; the worker fetches it only under a
         * prefix of the policy's fetch_allowed_urls (no SSRF by message). */
        if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) {
            if (strlen(url) > 4096) {
                dm_err_set(err, true, "malformed job: url longer than 4096 bytes");
                return -1;
            }
            *jobs = dm_xrealloc(*jobs, (size_t)(*n + 1) * sizeof **jobs);
            message_job *j = &(*jobs)[(*n)++];
            memset(j, 0, sizeof *j);
            j->source = dm_xstrdup(url);
            snprintf(j->op, sizeof j->op, "index");
            j->size = -1;
            return 0;
        }
        dm_err_set(err, true, "malformed job: unsupported url scheme (s3://, https:// or http://)");
        return -1;
    }
    const char *bucket = str_field(root, "bucket");
    const char *key = str_field(root, "key");
    if (!bucket && key)
        bucket = getenv("S3_BUCKET");  /* the seed's default bucket */
    if (bucket || key)
        return add_job(jobs, n, bucket, key, false, "index", NULL, err);
    dm_err_set(err, true,
               "malformed message: neither an S3 event, an SNS notification nor a job "
               "({\"bucket\",\"key\"} or {\"url\"})");
    return -1;
}

int job_message_parse(const char *body, size_t len, message_job **jobs, dm_err *err)
{
    *jobs = NULL;
    int n = 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        dm_err_set(err, true, "malformed message: not JSON");
        return -1;
    }
    int rc = parse_object(root, jobs, &n, 0, err);
    cJSON_Delete(root);
    if (rc != 0) {
        message_jobs_free(*jobs, n);
        *jobs = NULL;
        return -1;
    }
    return n;
}

void message_jobs_free(message_job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        free(jobs[i].source);
    free(jobs);
}
