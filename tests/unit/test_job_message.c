/* The queue message parser (net/job_message.c): S3 events, SNS envelopes,
 * plain jobs, and everything malformed. */
#include "net/job_message.h"
#include "check.h"

static int parse(const char *body, message_job **jobs, dm_err *err)
{
    return job_message_parse(body, strlen(body), jobs, err);
}

static void test_s3_events(void)
{
    message_job *j;
    dm_err err;
    int n = parse("{\"Records\":["
                  "{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"docs-1\"},"
                  "\"object\":{\"key\":\"a+b/%E6%97%A5%E6%9C%AC+x.pdf\",\"size\":123,\"eTag\":\"abc\","
                  "\"versionId\":\"v1\"}}},"
                  "{\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"docs-1\"},"
                  "\"object\":{\"key\":\"old.pdf\"}}},"
                  "{\"eventName\":\"ObjectRestore:Post\",\"s3\":{\"bucket\":{\"name\":\"docs-1\"},"
                  "\"object\":{\"key\":\"cold.pdf\"}}}]}",
                  &j, &err);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(j[0].source, "s3://docs-1/a b/日本 x.pdf");
        CHECK_STR(j[0].op, "index");
        CHECK_INT(j[0].size, 123);
        CHECK_STR(j[0].etag, "abc");
        CHECK_STR(j[0].version_id, "v1");
        CHECK_STR(j[1].source, "s3://docs-1/old.pdf");
        CHECK_STR(j[1].op, "delete");
        CHECK_INT(j[1].size, -1);
    }
    message_jobs_free(j, n);
    CHECK_INT(parse("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}", &j, &err), 0);
    message_jobs_free(j, 0);
}

static void test_sns_and_plain_jobs(void)
{
    message_job *j;
    dm_err err;
    int n = parse("{\"Type\":\"Notification\",\"Message\":\"{\\\"Records\\\":[{\\\"eventName\\\":"
                  "\\\"ObjectCreated:Copy\\\",\\\"s3\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"bkt\\\"},"
                  "\\\"object\\\":{\\\"key\\\":\\\"k.png\\\"}}}]}\"}",
                  &j, &err);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(j[0].source, "s3://bkt/k.png");
    message_jobs_free(j, n);
    n = parse("{\"bucket\":\"bkt\",\"key\":\"plain key+with plus.pdf\"}", &j, &err);
    CHECK_INT(n, 1);
    if (n == 1)  /* plain jobs carry the key as is: no URL decoding */
        CHECK_STR(j[0].source, "s3://bkt/plain key+with plus.pdf");
    message_jobs_free(j, n);
    setenv("S3_BUCKET", "default-bucket", 1);
    n = parse("{\"key\":\"only-key.pdf\"}", &j, &err);
    unsetenv("S3_BUCKET");
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(j[0].source, "s3://default-bucket/only-key.pdf");
    message_jobs_free(j, n);
    /* An http(s) URL is a job; whether it may be fetched is the policy's
     * fetch_allowed_urls, checked by fetch (test_fetch). */
    n = parse("{\"url\":\"https://169.254.169.254/latest/meta-data/\"}", &j, &err);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(j[0].source, "https://169.254.169.254/latest/meta-data/");
    message_jobs_free(j, n);
    n = parse("{\"url\":\"s3://bkt/dir/file.pdf\"}", &j, &err);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(j[0].source, "s3://bkt/dir/file.pdf");
    message_jobs_free(j, n);
}

static void test_malformed(void)
{
    const char *bad[] = {
        "not json {",
        "[1,2]",
        "{}",
        "{\"Records\":[{\"s3\":{}}]}",
        "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"Bad_Bucket\"},"
        "\"object\":{\"key\":\"k\"}}}]}",
        "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
        "\"object\":{\"key\":\"a%00b\"}}}]}",
        "{\"Type\":\"Notification\",\"Message\":\"not json\"}",
        "{\"url\":\"file:///etc/passwd\"}",
        "{\"url\":\"s3://bucket-without-key\"}",
        "{\"bucket\":\"bkt\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        message_job *j = NULL;
        dm_err err;
        int n = parse(bad[i], &j, &err);
        CHECK_INT(n, -1);
        CHECK(err.permanent);
        CHECK(strstr(err.msg, "malformed") != NULL);
        CHECK(j == NULL);
    }
}

int main(void)
{
    static const check_case cases[] = {
        {"S3 events: decoded keys, creates, removals, ignored events, test event", test_s3_events},
        {"SNS envelopes, plain {bucket,key} and {url} jobs, S3_BUCKET default", test_sns_and_plain_jobs},
        {"malformed bodies are permanent errors, never a crash", test_malformed},
        {NULL, NULL}};
    return check_run(cases);
}
