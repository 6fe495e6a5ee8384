#include "net/imds.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* IMDS is link-local: an answer takes milliseconds, so anything slower
 * means we are not on EC2 (or it is blocked) and waiting longer only stalls
 * the caller. */
#define IMDS_CONNECT_TIMEOUT_MS 1000
#define IMDS_TIMEOUT_MS 2000
#define TOKEN_REFRESH_MARGIN_MS (5 * 60 * 1000)

static pthread_mutex_t token_mu = PTHREAD_MUTEX_INITIALIZER;
static char cached_token[IMDS_TOKEN_MAX];
static char cached_base[256];      /* the token belongs to this endpoint only */
static int64_t cached_expires_ms;  /* monotonic */

bool imds_disabled(void)
{
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    return disabled && strcasecmp(disabled, "true") == 0;
}

void imds_base_url(char out[256])
{
    const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base || !*base)
        base = "http://169.254.169.254";
    snprintf(out, 256, "%s", base);
    size_t bl = strlen(out);
    if (bl > 0 && out[bl - 1] == '/')
        out[bl - 1] = '\0';
}

int imds_token_new(http_client *hc, const char *base, char token[IMDS_TOKEN_MAX], dm_err *err)
{
    char url[512];
    snprintf(url, sizeof url, "%s/latest/api/token", base);
    const char *headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    http_request req = {.method = "PUT", .url = url, .headers = headers,
                        .timeout_ms = IMDS_TIMEOUT_MS,
                        .connect_timeout_ms = IMDS_CONNECT_TIMEOUT_MS, .max_body = 4096};
    http_response resp;
    token[0] = '\0';
    if (http_perform(hc, &req, &resp, err) != 0 || resp.status != 200) {
        if (resp.status)
            dm_err_set(err, false, "instance metadata token: HTTP %ld", resp.status);
        http_response_free(&resp);
        return -1;
    }
    snprintf(token, IMDS_TOKEN_MAX, "%.*s", (int)resp.body.len,
             resp.body.data ? resp.body.data : "");
    if (resp.body.data)
        memset(resp.body.data, 0, resp.body.len);
    http_response_free(&resp);
    return 0;
}

int imds_get(http_client *hc, const char *base, const char *path, const char *token, sbuf *out,
             long *status, dm_err *err)
{
    char url[512], hdr[IMDS_TOKEN_MAX + 32];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", token);
    const char *headers[] = {hdr, NULL};
    http_request req = {.method = "GET", .url = url, .headers = headers,
                        .timeout_ms = IMDS_TIMEOUT_MS,
                        .connect_timeout_ms = IMDS_CONNECT_TIMEOUT_MS, .max_body = 65536};
    http_response resp;
    int rc = -1;
    *status = 0;
    if (http_perform(hc, &req, &resp, err) != 0)
        goto out;
    *status = resp.status;
    if (resp.status != 200) {
        dm_err_set(err, false, "instance metadata %s: HTTP %ld", path, resp.status);
        goto out;
    }
    sbuf_reset(out);
    sbuf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
    rc = 0;
out:
    memset(hdr, 0, sizeof hdr);
    http_response_free(&resp);
    return rc;
}

/* Copies the cached token for base into token, PUTting a new one first when
 * there is none, it is near its TTL, or `stale` (the one the caller used was
 * refused) is still the cached one. */
static int session_token(http_client *hc, const char *base, const char *stale,
                         char token[IMDS_TOKEN_MAX], dm_err *err)
{
    pthread_mutex_lock(&token_mu);
    int rc = 0;
    bool usable = cached_token[0] && strcmp(cached_base, base) == 0 &&
                  cached_expires_ms - dm_mono_ms() > TOKEN_REFRESH_MARGIN_MS &&
                  !(stale && strcmp(stale, cached_token) == 0);
    if (!usable) {
        memset(cached_token, 0, sizeof cached_token);
        /* Held across the PUT so that concurrent callers wait for one token
         * instead of each asking for their own; the PUT is bounded at 2 s. */
        int64_t asked = dm_mono_ms();
        rc = imds_token_new(hc, base, cached_token, err);
        if (rc == 0) {
            snprintf(cached_base, sizeof cached_base, "%s", base);
            cached_expires_ms = asked + (int64_t)IMDS_TOKEN_TTL_S * 1000;
        }
    }
    if (rc == 0)
        memcpy(token, cached_token, IMDS_TOKEN_MAX);
    pthread_mutex_unlock(&token_mu);
    return rc;
}

int imds_fetch(const char *path, sbuf *out, long *status, dm_err *err)
{
    *status = 0;
    if (imds_disabled()) {
        dm_err_set(err, false, "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true)");
        return -1;
    }
    char base[256];
    imds_base_url(base);
    http_client *hc = http_client_new();
    if (!hc) {
        dm_err_set(err, false, "cannot create an HTTP client");
        return -1;
    }
    char token[IMDS_TOKEN_MAX];
    int rc = session_token(hc, base, NULL, token, err);
    if (rc == 0) {
        rc = imds_get(hc, base, path, token, out, status, err);
        /* 401: the token expired or IMDS restarted; one new token settles it. */
        if (rc != 0 && *status == 401) {
            rc = session_token(hc, base, token, token, err);
            if (rc == 0)
                rc = imds_get(hc, base, path, token, out, status, err);
            else
                *status = 0;
        }
    }
    memset(token, 0, sizeof token);
    http_client_free(hc);
    return rc;
}

void imds_token_reset(void)
{
    pthread_mutex_lock(&token_mu);
    memset(cached_token, 0, sizeof cached_token);
    cached_base[0] = '\0';
    cached_expires_ms = 0;
    pthread_mutex_unlock(&token_mu);
}
