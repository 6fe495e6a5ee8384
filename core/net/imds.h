/* imds: the EC2 instance metadata service with IMDSv2 session tokens,
 * shared by the credential chain (net/credentials.c) and the spot notice
 * and instance type (net/spot.c). AWS_EC2_METADATA_SERVICE_ENDPOINT
 * overrides the address (tests); AWS_EC2_METADATA_DISABLED=true turns the
 * service off. Tokens are secrets: nothing here logs one. */
#ifndef DOCMILL_AWS_IMDS_H
#define DOCMILL_AWS_IMDS_H

#include "base/common.h"
#include "net/http.h"

#define IMDS_TOKEN_MAX 1024
#define IMDS_TOKEN_TTL_S 21600

/* AWS_EC2_METADATA_DISABLED=true (any case). */
bool imds_disabled(void);
/* AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254, without a
 * trailing slash. */
void imds_base_url(char out[256]);
/* PUT /latest/api/token for a new session token (TTL IMDS_TOKEN_TTL_S). */
int imds_token_new(http_client *hc, const char *base, char token[IMDS_TOKEN_MAX], dm_err *err);
/* GET base+path with the token into out. Returns 0 on 200; -1 otherwise,
 * with err set and *status the HTTP status (0 when none arrived). */
int imds_get(http_client *hc, const char *base, const char *path, const char *token, sbuf *out,
             long *status, dm_err *err);
/* One GET with a session token cached process-wide (a PUT only when there is
 * none, it is within 5 minutes of its TTL, or the service answers 401).
 * Blocking, short timeouts (1 s connect, 2 s per request), thread-safe.
 * Returns like imds_get; disabled is -1 with *status 0 and no request. */
int imds_fetch(const char *path, sbuf *out, long *status, dm_err *err);
/* Forget the cached token (tests). */
void imds_token_reset(void);

#endif
