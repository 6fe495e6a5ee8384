#include "check.h"
#include "fetch.h"

#include <sys/stat.h>

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    fputs(data, f);
    fclose(f);
}

static void test_local_path_and_file_uri(void)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/a dir", check_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/日本 file.txt", dir);
    write_file(path, "hello");
    fetch_result r;
    dm_err err;
    CHECK_INT(fetch_uri(NULL, path, &r, &err), 0);
    CHECK_INT(r.size, 5);
    CHECK_STR(r.path, path);
    CHECK(!r.is_temp);
    fetch_result_release(&r);

    char uri[1200];
    snprintf(uri, sizeof uri, "file://%s/a%%20dir/%%E6%%97%%A5%%E6%%9C%%AC%%20file.txt", check_tmpdir());
    CHECK_INT(fetch_uri(NULL, uri, &r, &err), 0);
    CHECK_STR(r.path, path);
    fetch_result_release(&r);
}

static void test_errors_are_classified(void)
{
    fetch_result r;
    dm_err err;
    CHECK_INT(fetch_uri(NULL, "/nonexistent/docmill/file.pdf", &r, &err), -1);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "cannot open");
    CHECK_INT(fetch_uri(NULL, "gopher://example/x", &r, &err), -1);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "unsupported URI scheme");
    CHECK_INT(fetch_uri(NULL, "file://%00/x", &r, &err), -1);
    CHECK_INT(fetch_uri(NULL, check_tmpdir(), &r, &err), -1);
    CHECK_CONTAINS(err.msg, "not a regular file");

    char path[600];
    snprintf(path, sizeof path, "%s/big.bin", check_tmpdir());
    write_file(path, "0123456789");
    fetch_options opt = {.max_bytes = 9};
    CHECK_INT(fetch_uri(&opt, path, &r, &err), -1);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "file too large");
    opt.max_bytes = 10;
    CHECK_INT(fetch_uri(&opt, path, &r, &err), 0);
    fetch_result_release(&r);
}

int main(void)
{
    static const check_case cases[] = {
        {"local paths and percent-encoded file:// URIs", test_local_path_and_file_uri},
        {"missing, unsupported and oversized inputs are permanent errors", test_errors_are_classified},
        {NULL, NULL}};
    return check_run(cases);
}
