/* The spot interruption notice and the instance type (net/spot.c, over
 * net/imds.c) against tests/servers/fake_imds.py on 127.0.0.1: no notice,
 * a notice, a malformed notice, an expired token, a closed port, a hanging
 * service, and IMDS disabled. */
#include "check.h"
#include "fake_server.h"

#include "net/imds.h"
#include "net/spot.h"
#include "net/http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FAKE_IMDS
#error "FAKE_IMDS (the path of fake_imds.py) must be defined"
#endif
#ifndef SYSTEM_PYTHON
#define SYSTEM_PYTHON "/usr/bin/python3"
#endif

static http_client *ctl;     /* the test's own client for control calls */

static fake_server server;   /* the stand-in on 127.0.0.1 */


static void fake(const char *control)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", server.base, control);
    http_request req = {.method = "POST", .url = url};
    http_response resp;
    dm_err err;
    int rc = http_perform(ctl, &req, &resp, &err);
    if (rc != 0 || resp.status != 200)
        fprintf(stderr, "  control %s: HTTP %ld %s\n", control, resp.status, rc ? err.msg : "");
    CHECK_INT(resp.status, 200);
    http_response_free(&resp);
}

/* The fake's request counters: "puts", "gets", "unauthorized". */
static int counter(const char *name)
{
    char url[128];
    snprintf(url, sizeof url, "%s/_fake/state", server.base);
    http_request req = {.method = "GET", .url = url};
    http_response resp;
    dm_err err;
    int n = -1;
    if (http_perform(ctl, &req, &resp, &err) == 0) {
        cJSON *j = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "", resp.body.len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
        if (cJSON_IsNumber(v))
            n = v->valueint;
        cJSON_Delete(j);
    }
    http_response_free(&resp);
    return n;
}

/* Each test starts from a fresh fake and no cached token. */
static void fresh(void)
{
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.base, 1);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    imds_token_reset();
    fake("/_fake/reset");
}

static void test_no_notice_and_token_reuse(void)
{
    fresh();
    spot_notice n;
    dm_err err;
    CHECK_INT(spot_check(&n, &err), SPOT_NONE);
    CHECK_STR(n.action, "");
    CHECK_INT(spot_check(&n, &err), SPOT_NONE);
    CHECK_INT(spot_check(&n, &err), SPOT_NONE);
    CHECK_INT(counter("puts"), 1);  /* one token for all three checks */
    CHECK_INT(counter("gets"), 3);
    CHECK_INT(counter("unauthorized"), 0);
}

static void test_notice(void)
{
    fresh();
    spot_notice n;
    dm_err err;
    fake("/_fake/spot?action=terminate&time=2026-11-28T17:00:00Z");
    CHECK_INT(spot_check(&n, &err), SPOT_NOTICE);
    CHECK_STR(n.action, "terminate");
    CHECK_STR(n.time, "2026-11-28T17:00:00Z");
    fake("/_fake/spot?action=stop&time=2026-11-28T18:00:00Z");
    CHECK_INT(spot_check(&n, &err), SPOT_NOTICE);
    CHECK_STR(n.action, "stop");
    fake("/_fake/spot");
    CHECK_INT(spot_check(&n, &err), SPOT_NONE);
}

static void test_malformed_notice_is_still_a_notice(void)
{
    fresh();
    spot_notice n;
    dm_err err;
    fake("/_fake/spot?body=not%20json%20%7B");
    CHECK_INT(spot_check(&n, &err), SPOT_NOTICE);
    CHECK_STR(n.action, "unknown");
    CHECK_STR(n.time, "");
    fake("/_fake/spot?body=%7B%22action%22%3A42%7D");  /* {"action":42} */
    CHECK_INT(spot_check(&n, &err), SPOT_NOTICE);
    CHECK_STR(n.action, "unknown");
}

static void test_expired_token_is_renewed(void)
{
    fresh();
    spot_notice n;
    dm_err err;
    CHECK_INT(spot_check(&n, &err), SPOT_NONE);
    fake("/_fake/expire_tokens");
    fake("/_fake/spot?action=terminate&time=2026-11-28T17:00:00Z");
    CHECK_INT(spot_check(&n, &err), SPOT_NOTICE);
    CHECK_STR(n.action, "terminate");
    CHECK_INT(counter("unauthorized"), 1);
    CHECK_INT(counter("puts"), 2);
    CHECK_INT(spot_check(&n, &err), SPOT_NOTICE);
    CHECK_INT(counter("puts"), 2);  /* the new token is cached in turn */
}

static void test_instance_type(void)
{
    fresh();
    char type[64];
    dm_err err;
    CHECK_INT(aws_instance_type(type, &err), 0);
    CHECK_STR(type, "c5.xlarge");
    CHECK_INT(counter("puts"), 1);
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static void test_unreachable_is_unavailable_quickly(void)
{
    fresh();
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", closed_port());
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint, 1);
    spot_notice n;
    dm_err err = {.msg = ""};
    int64_t t0 = dm_mono_ms();
    CHECK_INT(spot_check(&n, &err), SPOT_UNAVAILABLE);
    CHECK(dm_mono_ms() - t0 < 3000);
    CHECK(err.msg[0] != '\0');
    char type[64];
    CHECK_INT(aws_instance_type(type, &err), -1);
    CHECK_STR(type, "");
}

static void test_hanging_service_times_out(void)
{
    fresh();
    spot_notice n;
    dm_err err = {.msg = ""};
    CHECK_INT(spot_check(&n, &err), SPOT_NONE);  /* token cached: only the GET hangs */
    fake("/_fake/delay?seconds=5");
    int64_t t0 = dm_mono_ms();
    CHECK_INT(spot_check(&n, &err), SPOT_UNAVAILABLE);
    int64_t took = dm_mono_ms() - t0;
    CHECK(took < 3000);
    CHECK_CONTAINS(err.msg, "imeout");
    fake("/_fake/delay?seconds=0");
}

static void test_disabled_makes_no_request(void)
{
    fresh();
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    spot_notice n;
    dm_err err = {.msg = ""};
    CHECK_INT(spot_check(&n, &err), SPOT_UNAVAILABLE);
    CHECK_CONTAINS(err.msg, "AWS_EC2_METADATA_DISABLED");
    char type[64];
    CHECK_INT(aws_instance_type(type, &err), -1);
    CHECK_INT(counter("puts"), 0);
    CHECK_INT(counter("gets"), 0);
    unsetenv("AWS_EC2_METADATA_DISABLED");
}

int main(void)
{
    http_global_init();
    ctl = http_client_new();
    if (fake_server_start(&server, FAKE_IMDS) != 0) {
        fprintf(stderr, "cannot start %s\n", FAKE_IMDS);
        fake_server_stop(&server);
        return 1;
    }
    static const check_case cases[] = {
        {"no notice is SPOT_NONE; one token serves many checks", test_no_notice_and_token_reuse},
        {"a notice is SPOT_NOTICE with its action and time", test_notice},
        {"a malformed notice is still a notice (action \"unknown\")", test_malformed_notice_is_still_a_notice},
        {"a 401 (expired token) gets a new token and the answer", test_expired_token_is_renewed},
        {"the instance type", test_instance_type},
        {"a closed port is SPOT_UNAVAILABLE within 3 s", test_unreachable_is_unavailable_quickly},
        {"a hanging service is SPOT_UNAVAILABLE after the 2 s timeout", test_hanging_service_times_out},
        {"AWS_EC2_METADATA_DISABLED=true is SPOT_UNAVAILABLE with no request", test_disabled_makes_no_request},
        {NULL, NULL}};
    int rc = check_run(cases);
    fake_server_stop(&server);
    http_client_free(ctl);
    return rc;
}
