#include "net/credentials.h"

#include "net/imds.h"
#include "net/http.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t creds_mu = PTHREAD_MUTEX_INITIALIZER;
static aws_credentials cached;
static bool have_cached;

#define REFRESH_MARGIN_MS (5 * 60 * 1000)

static bool from_env(aws_credentials *c)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret)
        return false;
    const char *token = getenv("AWS_SESSION_TOKEN");
    snprintf(c->access_key, sizeof c->access_key, "%s", id);
    snprintf(c->secret_key, sizeof c->secret_key, "%s", secret);
    snprintf(c->session_token, sizeof c->session_token, "%s", token ? token : "");
    c->expires_ms = 0;
    c->source = "environment";
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* The INI-style shared credentials file: [profile] then key = value. */
static int from_shared_file(aws_credentials *c, dm_err *err)
{
    char path[1024];
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    if (file && *file)
        snprintf(path, sizeof path, "%s", file);
    else if (home)
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    else
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    const char *profile = getenv("AWS_PROFILE");
    if (!profile || !*profile)
        profile = "default";
    char line[4600];
    bool in_profile = false, found_profile = false;
    memset(c, 0, sizeof *c);
    while (fgets(line, sizeof line, f)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l)
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (end)
                *end = '\0';
            in_profile = strcmp(trim(l + 1), profile) == 0;
            found_profile |= in_profile;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in_profile || !eq)
            continue;
        *eq = '\0';
        char *key = trim(l), *val = trim(eq + 1);
        if (strcmp(key, "aws_access_key_id") == 0)
            snprintf(c->access_key, sizeof c->access_key, "%s", val);
        else if (strcmp(key, "aws_secret_access_key") == 0)
            snprintf(c->secret_key, sizeof c->secret_key, "%s", val);
        else if (strcmp(key, "aws_session_token") == 0)
            snprintf(c->session_token, sizeof c->session_token, "%s", val);
    }
    fclose(f);
    memset(line, 0, sizeof line);
    if (!found_profile)
        return 0;
    if (!c->access_key[0] || !c->secret_key[0]) {
        dm_err_set(err, true, "profile '%s' in %s has no aws_access_key_id/aws_secret_access_key",
                   profile, path);
        return -1;
    }
    c->source = "shared-file";
    return 1;
}

static int64_t parse_iso8601_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm) * 1000;
}

/* IMDSv2: a session token by PUT, then the role's temporary credentials. */
static int from_imds(aws_credentials *c, dm_err *err)
{
    if (imds_disabled())
        return 0;
    char base[256];
    imds_base_url(base);
    http_client *hc = http_client_new();
    if (!hc) {
        dm_err_set(err, false, "cannot create an HTTP client");
        return -1;
    }
    int rc = -1;
    long status;
    sbuf role, doc;
    sbuf_init(&role);
    sbuf_init(&doc);
    cJSON *json = NULL;
    char token[IMDS_TOKEN_MAX] = "";
    if (imds_token_new(hc, base, token, err) != 0)
        goto out;
    if (imds_get(hc, base, "/latest/meta-data/iam/security-credentials/", token, &role, &status,
                 err))
        goto out;
    char *name = trim(role.data ? role.data : "");
    char *nl = strchr(name, '\n');
    if (nl)
        *nl = '\0';
    if (!*name || strchr(name, '/')) {
        dm_err_set(err, true, "instance metadata: no IAM role attached to this instance");
        goto out;
    }
    char path[400];
    snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", name);
    if (imds_get(hc, base, path, token, &doc, &status, err) != 0)
        goto out;
    json = cJSON_Parse(doc.data ? doc.data : "");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "AccessKeyId");
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(json, "SecretAccessKey");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(json, "Token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(json, "Expiration");
    if (!cJSON_IsString(id) || !cJSON_IsString(secret)) {
        dm_err_set(err, false, "instance metadata: malformed credentials document");
        goto out;
    }
    snprintf(c->access_key, sizeof c->access_key, "%s", id->valuestring);
    snprintf(c->secret_key, sizeof c->secret_key, "%s", secret->valuestring);
    snprintf(c->session_token, sizeof c->session_token, "%s",
             cJSON_IsString(tok) ? tok->valuestring : "");
    c->expires_ms = parse_iso8601_ms(cJSON_IsString(exp) ? exp->valuestring : NULL);
    c->source = "imds";
    rc = 1;
out:
    if (doc.data)
        memset(doc.data, 0, doc.len);
    cJSON_Delete(json);
    sbuf_free(&role);
    sbuf_free(&doc);
    memset(token, 0, sizeof token);
    http_client_free(hc);
    return rc;
}

static int resolve(aws_credentials *c, dm_err *err)
{
    memset(c, 0, sizeof *c);
    if (from_env(c))
        return 0;
    int r = from_shared_file(c, err);
    if (r != 0)
        return r > 0 ? 0 : -1;
    r = from_imds(c, err);
    if (r > 0)
        return 0;
    if (r == 0)
        dm_err_set(err, true,
                   "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile in "
                   "the shared credentials file, or run on EC2 with an instance role");
    return -1;
}

int aws_credentials_get(aws_credentials *out, dm_err *err)
{
    pthread_mutex_lock(&creds_mu);
    int rc = 0;
    bool stale = !have_cached ||
                 (cached.expires_ms && cached.expires_ms - dm_now_ms() < REFRESH_MARGIN_MS);
    if (stale) {
        aws_credentials fresh;
        rc = resolve(&fresh, err);
        if (rc == 0) {
            cached = fresh;
            have_cached = true;
            log_info("AWS credentials from %s (key id ending %.4s)", cached.source,
                     cached.access_key + (strlen(cached.access_key) > 4
                                              ? strlen(cached.access_key) - 4
                                              : 0));
        } else if (have_cached && cached.expires_ms > dm_now_ms()) {
            /* Refresh failed but the old ones still work: keep going. */
            log_warn("cannot refresh AWS credentials (%s); using the current ones", err->msg);
            rc = 0;
        }
        memset(&fresh, 0, sizeof fresh);
    }
    if (rc == 0)
        *out = cached;
    pthread_mutex_unlock(&creds_mu);
    return rc;
}

void aws_credentials_reset(void)
{
    pthread_mutex_lock(&creds_mu);
    memset(&cached, 0, sizeof cached);
    have_cached = false;
    pthread_mutex_unlock(&creds_mu);
}

void aws_region(const char *url, char out[64])
{
    const char *r = getenv("AWS_REGION");
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    if (r && *r) {
        snprintf(out, 64, "%s", r);
        return;
    }
    /* https://sqs.REGION.amazonaws.com/... or https://s3.REGION.amazonaws.com */
    const char *host = url ? strstr(url, "://") : NULL;
    if (host) {
        host += 3;
        const char *dot1 = strchr(host, '.');
        const char *aws = strstr(host, ".amazonaws.com");
        if (dot1 && aws && aws > dot1) {
            int n = (int)(aws - dot1 - 1);
            if (n > 0 && n < 63) {
                snprintf(out, 64, "%.*s", n, dot1 + 1);
                return;
            }
        }
    }
    snprintf(out, 64, "us-east-1");
}

const char *aws_endpoint_override(const char *service)
{
    char name[64];
    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", service);
    for (char *p = name; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    const char *v = getenv(name);
    if (v && *v)
        return v;
    v = getenv("AWS_ENDPOINT_URL");
    return v && *v ? v : NULL;
}
