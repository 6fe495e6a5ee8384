/* AWS credentials by the default chain: the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared
 * credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
 * profile AWS_PROFILE or "default"), then EC2 instance metadata with
 * IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address).
 * Nothing here ever logs a secret. */
#ifndef DOCMILL_AWS_CREDENTIALS_H
#define DOCMILL_AWS_CREDENTIALS_H

#include "base/common.h"

typedef struct aws_credentials {
    char access_key[128];
    char secret_key[256];
    char session_token[4096];
    int64_t expires_ms;              /* 0 = does not expire */
    const char *source;              /* "environment", "shared-file", "imds" */
} aws_credentials;

/* Process-wide and thread-safe: resolves once, then returns a copy, and
 * refreshes expiring credentials (within 5 minutes of expiry) first. */
int aws_credentials_get(aws_credentials *out, dm_err *err);
/* Forget the cached credentials (tests; rotation). */
void aws_credentials_reset(void);
/* The region: AWS_REGION, AWS_DEFAULT_REGION, else parsed from an AWS
 * hostname in url (sqs.REGION.amazonaws.com), else "us-east-1". */
void aws_region(const char *url, char out[64]);
/* The endpoint for a service ("sqs", "s3"): AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL, else NULL (use the real AWS host). */
const char *aws_endpoint_override(const char *service);

#endif
