/* The child-process runner behind legacy Office files (converters.c):
 * deadlines, output and memory caps, missing programs, failures. */
#include "check.h"
#include "extract/converters.h"

#include <sys/stat.h>

static void test_a_converter_past_its_deadline_is_killed(void)
{
    const char *argv[] = {"sleep", "10", NULL};
    converter_limits lim = {.deadline_ms = dm_mono_ms() + 300};
    sbuf out;
    sbuf_init(&out);
    int status;
    char errbuf[64];
    dm_err err;
    int64_t t0 = dm_mono_ms();
    CHECK_INT(converter_run(argv, &lim, &out, &status, errbuf, sizeof errbuf, &err), -1);
    CHECK(dm_mono_ms() - t0 < 2000);
    CHECK_CONTAINS(err.msg, "timed out");
    sbuf_free(&out);
}

static void test_output_is_cut_at_its_cap(void)
{
    const char *argv[] = {"head", "-c", "1000000", "/dev/zero", NULL};
    converter_limits lim = {.max_output = 1000};
    sbuf out;
    sbuf_init(&out);
    int status = -99;
    char errbuf[64];
    dm_err err;
    CHECK_INT(converter_run(argv, &lim, &out, &status, errbuf, sizeof errbuf, &err), 0);
    CHECK_INT((int)out.len, 1000);
    CHECK_INT(status, 0);
    sbuf_free(&out);
}

static void test_missing_programs_and_failures_are_told(void)
{
    const char *missing[] = {"no-such-converter-here", NULL};
    converter_limits lim = {0};
    sbuf out;
    sbuf_init(&out);
    int status;
    char errbuf[64];
    dm_err err;
    CHECK_INT(converter_run(missing, &lim, &out, &status, errbuf, sizeof errbuf, &err), -1);
    CHECK_CONTAINS(err.msg, "no-such-converter-here is not installed");
    CHECK(err.permanent);
    const char *failing[] = {"sh", "-c", "echo partial; echo 'cannot read it' >&2; exit 3", NULL};
    CHECK_INT(converter_run(failing, &lim, &out, &status, errbuf, sizeof errbuf, &err), 0);
    CHECK_INT(status, 3);
    CHECK_CONTAINS(errbuf, "cannot read it");
    CHECK_CONTAINS(out.data, "partial");
    sbuf_free(&out);
}

static void test_memory_and_files_are_capped(void)
{
    /* 512 MB asked for under a 128 MB cap: the child fails, not us. */
    const char *hungry[] = {"sh", "-c", "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}",
                            NULL};
    converter_limits lim = {.max_memory = (size_t)128 << 20};
    sbuf out;
    sbuf_init(&out);
    int status;
    char errbuf[128];
    dm_err err;
    CHECK_INT(converter_run(hungry, &lim, &out, &status, errbuf, sizeof errbuf, &err), 0);
    CHECK(status != 0);
    CHECK(out.data == NULL || strstr(out.data, "400000000") == NULL);
    /* It may write no bytes to any file. */
    char path[700], script[800];
    snprintf(path, sizeof path, "%s/written", check_tmpdir());
    snprintf(script, sizeof script, "echo data > %s", path);
    const char *writer[] = {"sh", "-c", script, NULL};
    sbuf_reset(&out);
    CHECK_INT(converter_run(writer, &lim, &out, &status, errbuf, sizeof errbuf, &err), 0);
    CHECK(status != 0);
    struct stat st;
    CHECK(stat(path, &st) != 0 || st.st_size == 0);
    sbuf_free(&out);
}

int main(void)
{
    static const check_case cases[] = {
        {"a converter past its deadline is killed", test_a_converter_past_its_deadline_is_killed},
        {"output is cut at its cap", test_output_is_cut_at_its_cap},
        {"missing programs and failures are told", test_missing_programs_and_failures_are_told},
        {"memory and files are capped", test_memory_and_files_are_capped},
        {NULL, NULL}};
    return check_run(cases);
}
