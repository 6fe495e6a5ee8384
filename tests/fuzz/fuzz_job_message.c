/* Fuzzes the queue message parser (aws/job_message.c) with whole message
 * bodies: S3 event notifications, SNS envelopes, plain jobs, and anything
 * else. Checks, beyond memory safety and UB: a failure is permanent, says
 * why and hands back no jobs; every job is a well-formed s3:// source (valid
 * bucket, non-empty key) or an http(s) URL, with op "index" or "delete". */
#include "net/job_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_require.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* A plain job with a key alone takes the bucket from here. */
    setenv("S3_BUCKET", "fuzz-default-bucket", 1);
    return 0;
}

static bool bucket_is_valid(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
              b[i] == '.'))
            return false;
    return true;
}

static void check_job(const message_job *j)
{
    REQUIRE(j->source != NULL);
    REQUIRE(strcmp(j->op, "index") == 0 || strcmp(j->op, "delete") == 0);
    REQUIRE(j->size >= -1);
    REQUIRE(memchr(j->etag, '\0', sizeof j->etag) != NULL);
    REQUIRE(memchr(j->version_id, '\0', sizeof j->version_id) != NULL);
    if (strncmp(j->source, "s3://", 5) == 0) {
        const char *bucket = j->source + 5;
        const char *slash = strchr(bucket, '/');
        REQUIRE(slash != NULL);
        REQUIRE(bucket_is_valid(bucket, (size_t)(slash - bucket)));
        REQUIRE(slash[1] != '\0');  /* a key */
    } else {
        REQUIRE(strncmp(j->source, "https://", 8) == 0 || strncmp(j->source, "http://", 7) == 0);
        REQUIRE(strcmp(j->op, "index") == 0);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    message_job *jobs = (message_job *)&jobs;  /* must be overwritten */
    dm_err err;
    memset(&err, 0, sizeof err);
    int n = job_message_parse((const char *)data, size, &jobs, &err);
    if (n < 0) {
        REQUIRE(n == -1);
        REQUIRE(jobs == NULL);
        REQUIRE(err.msg[0] != '\0');
        REQUIRE(err.permanent);
        return 0;
    }
    REQUIRE(n == 0 || jobs != NULL);
    for (int i = 0; i < n; i++)
        check_job(&jobs[i]);
    message_jobs_free(jobs, n);
    return 0;
}
