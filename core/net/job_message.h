/* Job messages: what a queue message body means. Understands S3 event
 * notifications (Records[].s3, ObjectCreated:* to index, ObjectRemoved:* to
 * delete; the s3:TestEvent means nothing to do), the same wrapped in an SNS
 * envelope, and plain jobs {"bucket":…, "key":…} or {"url":"s3://…" | "https://…"}. Plain C, no
 * Lua, fuzzable. */
#ifndef DOCMILL_AWS_JOB_MESSAGE_H
#define DOCMILL_AWS_JOB_MESSAGE_H

#include "base/common.h"

typedef struct message_job {
    char *source;      /* s3://bucket/key (key URL-decoded) or the job's url */
    char op[8];        /* "index" or "delete" */
    int64_t size;      /* -1 when the message does not say */
    char etag[80];
    char version_id[128];
} message_job;

/* Returns the number of jobs (0 for a test event) or -1 for a malformed
 * body (err says why; it is permanent). *jobs is freed with
 * message_jobs_free. */
int job_message_parse(const char *body, size_t len, message_job **jobs, dm_err *err);
void message_jobs_free(message_job *jobs, int n);

#endif
