/* Log lines: JSON lines stay valid JSON whatever the message holds (quotes,
 * control characters, UTF-8, far too much), and text lines are plain. */
#include "check.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <unistd.h>

/* Runs fn with stderr captured into buf. */
static void capture(void (*fn)(void), char *buf, size_t len)
{
    char path[] = "/tmp/docmill-test-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void log_job_line(void)
{
    log_fields f = {"job", 42, "/data/\"quoted\"\tname.pdf", "indexed", 812, 3, 1, 0};
    log_fields_msg(LOG_INFO, &f, "indexed %s (%d pages)", "/data/\"quoted\"\tname.pdf", 3);
}

static void test_json_job_line(void)
{
    log_set_format(LOG_FORMAT_JSON);
    char buf[8192];
    capture(log_job_line, buf, sizeof buf);
    CHECK(strchr(buf, '\n') == buf + strlen(buf) - 1);
    cJSON *j = cJSON_Parse(buf);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "event")), "job");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "source")), "/data/\"quoted\"\tname.pdf");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "outcome")), "indexed");
    CHECK_INT(cJSON_GetObjectItem(j, "job")->valuedouble, 42);
    CHECK_INT(cJSON_GetObjectItem(j, "ms")->valuedouble, 812);
    CHECK_INT(cJSON_GetObjectItem(j, "worker")->valuedouble, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "level")), "info");
    cJSON_Delete(j);
}

static void log_huge(void)
{
    /* 3000 characters of quotes and Japanese: escaping doubles the quotes. */
    static char msg[12000];
    size_t o = 0;
    for (int i = 0; i < 1000; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, "\"日");
    char src[3000];
    memset(src, 'a', sizeof src - 1);
    src[sizeof src - 1] = '\0';
    log_fields f = {"job", 7, src, "failed", -1, -1, -1, -1};
    log_fields_msg(LOG_WARN, &f, "failed %s: %s", src, msg);
}

static void test_json_line_cut_stays_valid(void)
{
    log_set_format(LOG_FORMAT_JSON);
    char buf[16384];
    capture(log_huge, buf, sizeof buf);
    CHECK(strlen(buf) <= 4096);
    cJSON *j = cJSON_Parse(buf);
    CHECK(j != NULL);
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(j, "msg"));
    CHECK(m && strlen(m) > 100);
    /* Cut on a character boundary: the text is still valid UTF-8 up to "...". */
    CHECK(m && strcmp(m + strlen(m) - 3, "...") == 0);
    cJSON_Delete(j);
}

static void log_plain(void)
{
    log_info("hello %d", 5);
}

static void test_text_line(void)
{
    log_set_format(LOG_FORMAT_TEXT);
    char buf[512];
    capture(log_plain, buf, sizeof buf);
    CHECK_CONTAINS(buf, "Z info hello 5\n");
    CHECK(buf[0] == '2');
}

int main(void)
{
    static const check_case cases[] = {
        {"a JSON job line carries its fields, escaped", test_json_job_line},
        {"a line too long is cut and stays valid JSON", test_json_line_cut_stays_valid},
        {"text lines for people", test_text_line},
        {NULL, NULL}};
    return check_run(cases);
}
