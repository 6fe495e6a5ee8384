#include "net/sqs.h"

#include "net/credentials.h"
#include "net/http.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sqs_client {
    http_client *http;
    char *queue_url;
    char *endpoint;
    char region[64];
    char sigv4[128];
};

bool sqs_is_queue_url(const char *url)
{
    if (!url)
        return false;
    if (strncmp(url, "https://sqs.", 12) == 0 || strncmp(url, "https://queue.amazonaws.com", 27) == 0)
        return true;
    return aws_endpoint_override("sqs") &&
           (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

sqs_client *sqs_client_new(const char *queue_url, dm_err *err)
{
    if (!sqs_is_queue_url(queue_url)) {
        dm_err_set(err, true, "not an SQS queue URL: %s", queue_url ? queue_url : "(none)");
        return NULL;
    }
    sqs_client *c = dm_xcalloc(1, sizeof *c);
    c->http = http_client_new();
    c->queue_url = dm_xstrdup(queue_url);
    aws_region(queue_url, c->region);
    const char *override = aws_endpoint_override("sqs");
    if (override) {
        c->endpoint = dm_xstrdup(override);
    } else {
        sbuf ep;
        sbuf_init(&ep);
        sbuf_appendf(&ep, "https://sqs.%s.amazonaws.com", c->region);
        c->endpoint = sbuf_take(&ep);
    }
    snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:sqs", c->region);
    return c;
}

void sqs_client_free(sqs_client *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    free(c->queue_url);
    free(c->endpoint);
    free(c);
}

const char *sqs_client_queue_url(const sqs_client *c)
{
    return c->queue_url;
}

/* One action. body is consumed. On success *out holds the parsed response
 * (an empty object for an empty body). */
static int call(sqs_client *c, const char *action, cJSON *body, long timeout_ms, cJSON **out,
                dm_err *err)
{
    *out = NULL;
    cJSON_AddStringToObject(body, "QueueUrl", c->queue_url);
    char *json = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    aws_credentials creds;
    if (aws_credentials_get(&creds, err) != 0) {
        free(json);
        return -1;
    }
    char target[96];
    snprintf(target, sizeof target, "X-Amz-Target: AmazonSQS.%s", action);
    const char *headers[] = {"Content-Type: application/x-amz-json-1.0", target, NULL};
    http_request req = {.method = "POST", .url = c->endpoint, .headers = headers, .body = json,
                        .body_len = strlen(json), .sigv4 = c->sigv4, .creds = &creds,
                        .timeout_ms = timeout_ms, .max_body = 16 << 20};
    http_response resp;
    int rc = http_perform(c->http, &req, &resp, err);
    memset(&creds, 0, sizeof creds);
    free(json);
    if (rc != 0) {
        http_response_free(&resp);
        return -1;
    }
    cJSON *parsed = resp.body.len ? cJSON_ParseWithLength(resp.body.data, resp.body.len)
                                  : cJSON_CreateObject();
    if (resp.status != 200) {
        const char *type = parsed ? cJSON_GetStringValue(cJSON_GetObjectItem(parsed, "__type")) : NULL;
        const char *msg = parsed ? cJSON_GetStringValue(cJSON_GetObjectItem(parsed, "message")) : NULL;
        if (!msg && parsed)
            msg = cJSON_GetStringValue(cJSON_GetObjectItem(parsed, "Message"));
        /* Throttling and server errors pass; a missing queue or a bad
         * request will not. */
        bool transient = resp.status >= 500 || resp.status == 429 ||
                         (type && strstr(type, "Throttl"));
        dm_err_set(err, !transient, "SQS %s: HTTP %ld %s%s%s", action, resp.status,
                   type ? type : "", msg ? ": " : "", msg ? msg : "");
        cJSON_Delete(parsed);
        http_response_free(&resp);
        return -1;
    }
    http_response_free(&resp);
    if (!parsed) {
        dm_err_set(err, false, "SQS %s: the response is not JSON", action);
        return -1;
    }
    *out = parsed;
    return 0;
}

int sqs_receive(sqs_client *c, int max, int wait_seconds, int visibility_seconds,
                sqs_message **msgs, int *n, dm_err *err)
{
    *msgs = NULL;
    *n = 0;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "MaxNumberOfMessages", max < 1 ? 1 : max > 10 ? 10 : max);
    cJSON_AddNumberToObject(body, "WaitTimeSeconds", wait_seconds);
    cJSON_AddNumberToObject(body, "VisibilityTimeout",
                            visibility_seconds > 43200 ? 43200 : visibility_seconds);
    cJSON *names = cJSON_AddArrayToObject(body, "MessageSystemAttributeNames");
    cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateReceiveCount"));
    cJSON_AddItemToArray(names, cJSON_CreateString("SentTimestamp"));
    cJSON *legacy = cJSON_AddArrayToObject(body, "AttributeNames");
    cJSON_AddItemToArray(legacy, cJSON_CreateString("ApproximateReceiveCount"));
    cJSON_AddItemToArray(legacy, cJSON_CreateString("SentTimestamp"));
    cJSON *out;
    if (call(c, "ReceiveMessage", body, (long)(wait_seconds + 15) * 1000, &out, err) != 0)
        return -1;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(out, "Messages");
    int count = cJSON_GetArraySize(list);
    sqs_message *m = dm_xcalloc((size_t)(count > 0 ? count : 1), sizeof *m);
    int k = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(item, "MessageId"));
        const char *receipt = cJSON_GetStringValue(cJSON_GetObjectItem(item, "ReceiptHandle"));
        const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(item, "Body"));
        if (!receipt)
            continue;
        m[k].message_id = dm_xstrdup(id ? id : "");
        m[k].receipt = dm_xstrdup(receipt);
        m[k].body = dm_xstrdup(b ? b : "");
        const cJSON *attrs = cJSON_GetObjectItem(item, "Attributes");
        const char *rc = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "ApproximateReceiveCount"));
        m[k].receive_count = rc ? atoi(rc) : 1;
        const char *sent = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "SentTimestamp"));
        m[k].sent_ms = sent ? strtoll(sent, NULL, 10) : 0;
        k++;
    }
    cJSON_Delete(out);
    *msgs = m;
    *n = k;
    return 0;
}

void sqs_messages_free(sqs_message *msgs, int n)
{
    for (int i = 0; i < n; i++) {
        free(msgs[i].message_id);
        free(msgs[i].receipt);
        free(msgs[i].body);
    }
    free(msgs);
}

static int simple_call(sqs_client *c, const char *action, cJSON *body, dm_err *err)
{
    cJSON *out;
    if (call(c, action, body, 30000, &out, err) != 0)
        return -1;
    cJSON_Delete(out);
    return 0;
}

int sqs_delete(sqs_client *c, const char *receipt, dm_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "ReceiptHandle", receipt);
    return simple_call(c, "DeleteMessage", body, err);
}

int sqs_delete_batch(sqs_client *c, char *const *receipts, int n, dm_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *entries = cJSON_AddArrayToObject(body, "Entries");
    for (int i = 0; i < n && i < 10; i++) {
        cJSON *e = cJSON_CreateObject();
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        cJSON_AddStringToObject(e, "Id", id);
        cJSON_AddStringToObject(e, "ReceiptHandle", receipts[i]);
        cJSON_AddItemToArray(entries, e);
    }
    cJSON *out;
    if (call(c, "DeleteMessageBatch", body, 30000, &out, err) != 0)
        return -1;
    int failed = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(out, "Failed"))
    {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(f, "Code"));
        log_warn("SQS DeleteMessageBatch: entry %s not deleted (%s); it will be redelivered",
                 cJSON_GetStringValue(cJSON_GetObjectItem(f, "Id")), code ? code : "?");
        failed++;
    }
    cJSON_Delete(out);
    return failed;
}

int sqs_change_visibility(sqs_client *c, const char *receipt, int seconds, dm_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "ReceiptHandle", receipt);
    cJSON_AddNumberToObject(body, "VisibilityTimeout", seconds < 0 ? 0 : seconds > 43200 ? 43200 : seconds);
    return simple_call(c, "ChangeMessageVisibility", body, err);
}

int sqs_send(sqs_client *c, const char *msg, dm_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "MessageBody", msg);
    return simple_call(c, "SendMessage", body, err);
}

int sqs_counts(sqs_client *c, int64_t *visible, int64_t *in_flight, dm_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(body, "AttributeNames");
    cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateNumberOfMessages"));
    cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateNumberOfMessagesNotVisible"));
    cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateNumberOfMessagesDelayed"));
    cJSON *out;
    if (call(c, "GetQueueAttributes", body, 30000, &out, err) != 0)
        return -1;
    const cJSON *attrs = cJSON_GetObjectItem(out, "Attributes");
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "ApproximateNumberOfMessages"));
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "ApproximateNumberOfMessagesDelayed"));
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "ApproximateNumberOfMessagesNotVisible"));
    *visible = (v ? atoll(v) : 0) + (d ? atoll(d) : 0);
    *in_flight = f ? atoll(f) : 0;
    cJSON_Delete(out);
    return 0;
}
