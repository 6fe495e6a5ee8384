/* The runtime's pure decisions: the fast lane's pick, the retry delay, the
 * reason a failure counts under, when --once may stop, and what a changed
 * config key means on SIGHUP. */
#include "check.h"
#include "daemon/config_snapshot.h"
#include "daemon/decide.h"

#include <string.h>

static void test_fast_lane_pick(void)
{
    policy_settings s;
    settings_defaults(&s);
    queue_job chan[3] = {
        {.id = 1, .op = "index", .size = 50 << 20},
        {.id = 2, .op = "delete", .size = 10},
        {.id = 3, .op = "index", .size = 100 << 10},
    };
    /* No lane: everyone takes the first. */
    CHECK_INT(decide_pick_job(&s, 2, 0, chan, 3), 0);
    s.fast_lane_workers = 1;
    s.fast_lane_max_mb = 1;
    CHECK(decide_in_fast_lane(&s, 2, 0));
    CHECK(!decide_in_fast_lane(&s, 2, 1));
    /* The lane takes the first small "index" job; the others take anything. */
    CHECK_INT(decide_pick_job(&s, 2, 0, chan, 3), 2);
    CHECK_INT(decide_pick_job(&s, 2, 1, chan, 3), 0);
    CHECK_INT(decide_pick_job(&s, 2, 0, chan, 2), -1);
    /* A lane needs one other worker. */
    CHECK(!decide_in_fast_lane(&s, 1, 0));
    CHECK_INT(decide_pick_job(&s, 1, 0, chan, 3), 0);
    CHECK_INT(decide_pick_job(&s, 2, 1, chan, 0), -1);
}

static void test_retry_delay(void)
{
    policy_settings s;
    settings_defaults(&s);
    s.retry_base_ms = 2000;
    s.retry_max_ms = 300000;
    CHECK(decide_retry_delay_ms(&s, 1) == 2000);
    CHECK(decide_retry_delay_ms(&s, 0) == 2000);
    CHECK(decide_retry_delay_ms(&s, 2) == 4000);
    CHECK(decide_retry_delay_ms(&s, 8) == 256000);
    CHECK(decide_retry_delay_ms(&s, 9) == 300000);
    CHECK(decide_retry_delay_ms(&s, 100000) == 300000);
}

static void test_failure_reason(void)
{
    char r[24];
    decide_failure_reason("unsupported type: binary data", r, sizeof r);
    CHECK_STR(r, "unsupported type");
    decide_failure_reason("", r, sizeof r);
    CHECK_STR(r, "unknown");
    decide_failure_reason("a reason much longer than the buffer", r, sizeof r);
    CHECK_STR(r, "a reason much longer th");
}

static void test_once_finish(void)
{
    once_state o = {.scanned = true, .empty_leases = 1};
    CHECK(decide_once_may_finish(&o));
    o.in_flight = 1;
    CHECK(!decide_once_may_finish(&o));
    o.in_flight = 0;
    o.scanning = true;
    CHECK(!decide_once_may_finish(&o));
    o.scanning = false;
    o.lease_blocks = true;  /* SQS: two empty receives in a row */
    CHECK(!decide_once_may_finish(&o));
    o.empty_leases = 2;
    CHECK(decide_once_may_finish(&o));
    o.scanned = false;
    CHECK(!decide_once_may_finish(&o));
}

static void test_config_change_kind(void)
{
    CHECK_INT(config_change_kind("policy", NULL), CONFIG_LIVE);
    CHECK_INT(config_change_kind("log_level", ""), CONFIG_LIVE);
    CHECK_INT(config_change_kind("rescan_seconds", "policy"), CONFIG_LIVE);
    CHECK_INT(config_change_kind("workers", NULL), CONFIG_NEEDS_RESTART);
    CHECK_INT(config_change_kind("source", "policy"), CONFIG_NEEDS_RESTART);
    CHECK_INT(config_change_kind("policy", "log_level,policy"), CONFIG_PINNED);
    CHECK_INT(config_change_kind("log_level", "log_level_x,policy"), CONFIG_LIVE);
    CHECK_INT(config_change_kind("workers", "workers"), CONFIG_PINNED);
}

int main(void)
{
    static const check_case cases[] = {
        {"the fast lane picks small files; others take the first", test_fast_lane_pick},
        {"retry delay doubles from retry_base_ms up to retry_max_ms", test_retry_delay},
        {"a failure counts under the error's first part", test_failure_reason},
        {"--once stops only when nothing is under way", test_once_finish},
        {"a changed config key is live, needs a restart, or is pinned", test_config_change_kind},
        {NULL, NULL}};
    return check_run(cases);
}
