/* Machine health (health.c): memory from the real /proc/meminfo and from
 * fake ones (DOCMILL_MEMINFO), disk thresholds, paths that do not exist yet,
 * filesystems reported once, and the reason text. */
#include "check.h"

#include "ops/health.h"

static const char *fake_meminfo(const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/meminfo", check_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    setenv("DOCMILL_MEMINFO", path, 1);
    return path;
}

static void test_real_meminfo_is_sane(void)
{
    unsetenv("DOCMILL_MEMINFO");
    int64_t avail = 0, total = 0;
    dm_err err;
    CHECK_INT(health_read_memory(&avail, &total, &err), 0);
    CHECK(avail > 0);
    CHECK(avail <= total);
    health_report r;
    CHECK_INT(health_check(NULL, NULL, 0, &r, &err), 0);
    CHECK(r.healthy);
    CHECK(r.mem_total_mb > 0);
    CHECK_INT(r.ndisks, 0);
    CHECK_STR(r.reason, "");
}

static void test_fake_meminfo_against_thresholds(void)
{
    fake_meminfo("MemTotal:        8000000 kB\n"
                 "MemFree:           20000 kB\n"
                 "MemAvailable:     122880 kB\n"
                 "Buffers:            1000 kB\n");
    int64_t avail, total;
    dm_err err;
    CHECK_INT(health_read_memory(&avail, &total, &err), 0);
    CHECK_INT(avail, 122880LL * 1024);
    CHECK_INT(total, 8000000LL * 1024);
    health_report r;
    health_thresholds low = {.min_free_memory_mb = 256};
    CHECK_INT(health_check(&low, NULL, 0, &r, &err), 0);
    CHECK(!r.healthy);
    CHECK_INT(r.mem_available_mb, 120);
    CHECK_STR(r.reason, "free memory 120 MB < min_free_memory_mb 256");
    health_thresholds ok = {.min_free_memory_mb = 100};
    CHECK_INT(health_check(&ok, NULL, 0, &r, &err), 0);
    CHECK(r.healthy);
    CHECK_STR(r.reason, "");
    unsetenv("DOCMILL_MEMINFO");
}

static void test_meminfo_without_memavailable_or_missing(void)
{
    /* Pre-3.14 kernels: free + buffers + cached. */
    fake_meminfo("MemTotal: 4096000 kB\nMemFree: 102400 kB\nBuffers: 51200 kB\n"
                 "Cached: 204800 kB\nSwapCached: 999999 kB\n");
    int64_t avail, total;
    dm_err err;
    CHECK_INT(health_read_memory(&avail, &total, &err), 0);
    CHECK_INT(avail, (102400LL + 51200 + 204800) * 1024);
    setenv("DOCMILL_MEMINFO", "/nonexistent/meminfo", 1);
    CHECK_INT(health_read_memory(&avail, &total, &err), -1);
    CHECK_CONTAINS(err.msg, "/nonexistent/meminfo");
    health_report r;
    health_thresholds mem = {.min_free_memory_mb = 1};
    CHECK_INT(health_check(&mem, NULL, 0, &r, &err), -1);
    /* Not checked, so not needed. */
    health_thresholds disk_only = {.min_free_disk_mb = 1};
    CHECK_INT(health_check(&disk_only, NULL, 0, &r, &err), 0);
    CHECK(r.healthy);
    CHECK_INT(r.mem_available_mb, -1);
    unsetenv("DOCMILL_MEMINFO");
}

static void test_disk_thresholds_flip_healthy(void)
{
    const char *paths[] = {"/tmp"};
    health_report r;
    dm_err err;
    health_thresholds none = {0, 0};
    CHECK_INT(health_check(&none, paths, 1, &r, &err), 0);
    CHECK(r.healthy);
    CHECK_INT(r.ndisks, 1);
    CHECK_STR(r.disks[0].path, "/tmp");
    CHECK(r.disks[0].free_mb >= 0);
    CHECK(!r.disks[0].low);
    health_thresholds huge = {.min_free_disk_mb = 1LL << 40};  /* an exabyte */
    CHECK_INT(health_check(&huge, paths, 1, &r, &err), 0);
    CHECK(!r.healthy);
    CHECK(r.disks[0].low);
    CHECK_CONTAINS(r.reason, "free disk on /tmp ");
    CHECK_CONTAINS(r.reason, " MB < min_free_disk_mb 1099511627776");
}

static void test_nonexistent_path_checks_its_parent(void)
{
    const char *paths[] = {"/tmp/docmill-health-no-such-dir/a/b/"};
    health_report r;
    dm_err err;
    CHECK_INT(health_check(NULL, paths, 1, &r, &err), 0);
    CHECK_INT(r.ndisks, 1);
    CHECK_STR(r.disks[0].path, "/tmp");
    const char *rel[] = {"no-such-relative-dir/x"};
    CHECK_INT(health_check(NULL, rel, 1, &r, &err), 0);
    CHECK_INT(r.ndisks, 1);
    CHECK_STR(r.disks[0].path, ".");
}

static void test_same_filesystem_reported_once(void)
{
    const char *same[] = {"/tmp", check_tmpdir(), "/tmp/docmill-health-missing"};
    health_report r;
    dm_err err;
    CHECK_INT(health_check(NULL, same, 3, &r, &err), 0);
    CHECK_INT(r.ndisks, 1);
    CHECK_STR(r.disks[0].path, "/tmp");
    const char *two[] = {"/tmp", "/proc", check_tmpdir()};  /* procfs: a filesystem of its own */
    CHECK_INT(health_check(NULL, two, 3, &r, &err), 0);
    CHECK_INT(r.ndisks, 2);
    CHECK_STR(r.disks[1].path, "/proc");
}

static void test_reason_names_every_threshold(void)
{
    fake_meminfo("MemTotal: 1048576 kB\nMemAvailable: 10240 kB\n");
    const char *paths[] = {"/tmp"};
    health_thresholds both = {.min_free_memory_mb = 64, .min_free_disk_mb = 1LL << 40};
    health_report r;
    dm_err err;
    CHECK_INT(health_check(&both, paths, 1, &r, &err), 0);
    CHECK(!r.healthy);
    CHECK(dm_str_has_prefix(r.reason, "free memory 10 MB < min_free_memory_mb 64; free disk on /tmp "));
    CHECK_CONTAINS(r.reason, "min_free_disk_mb");
    unsetenv("DOCMILL_MEMINFO");
}

int main(void)
{
    static const check_case cases[] = {
        {"the real /proc/meminfo: available > 0 and <= total", test_real_meminfo_is_sane},
        {"a fake meminfo is low or fine against min_free_memory_mb", test_fake_meminfo_against_thresholds},
        {"no MemAvailable: estimated; unreadable: an error only when checked", test_meminfo_without_memavailable_or_missing},
        {"min_free_disk_mb 0 vs an impossible size flips healthy", test_disk_thresholds_flip_healthy},
        {"a path that does not exist is checked at its nearest parent", test_nonexistent_path_checks_its_parent},
        {"paths on one filesystem give one disk entry", test_same_filesystem_reported_once},
        {"the reason names each threshold crossed", test_reason_names_every_threshold},
        {NULL, NULL}};
    return check_run(cases);
}
