#include "check.h"
#include "fetch/fetch.h"

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

static void test_allow_lists(void)
{
    dm_err err;
    fetch_options any = {.allowed_buckets = "*", .allowed_urls = ""};
    CHECK(fetch_allowed(&any, "s3://whatever/k", &err));
    CHECK(fetch_allowed(&any, "/local/file.pdf", &err));
    /* URL jobs need a prefix: none by default, so no SSRF to IMDS. */
    CHECK(!fetch_allowed(&any, "http://169.254.169.254/latest/meta-data/", &err));
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "fetch_allowed_urls");
    fetch_result r;
    CHECK_INT(fetch_uri(&any, "http://169.254.169.254/latest/meta-data/", &r, &err), -1);
    CHECK_CONTAINS(err.msg, "refused");

    fetch_options some = {.allowed_buckets = "docs  scans",
                          .allowed_urls = "https://files.example.com/pub/ https://a.com"};
    CHECK(fetch_allowed(&some, "s3://scans/2026/x.pdf", &err));
    CHECK(!fetch_allowed(&some, "s3://scans-private/x.pdf", &err));
    CHECK_CONTAINS(err.msg, "bucket 'scans-private' is not in fetch_allowed_buckets");
    CHECK(!fetch_allowed(&some, "s3://doc/x.pdf", &err));
    CHECK(fetch_allowed(&some, "https://files.example.com/pub/a.pdf", &err));
    CHECK(!fetch_allowed(&some, "https://files.example.com/private/a.pdf", &err));
    CHECK(!fetch_allowed(&some, "https://files.example.com.evil.net/pub/a.pdf", &err));
    CHECK(!fetch_allowed(&some, "http://files.example.com/pub/a.pdf", &err));
    /* A prefix without a whole authority allows nothing. */
    CHECK(!fetch_allowed(&some, "https://a.com/x.pdf", &err));
    CHECK(!fetch_allowed(&some, "https://a.com.evil.net/x.pdf", &err));
    CHECK(!fetch_allowed(&some, "https://files.example.com/pub/a b.pdf", &err));
    CHECK(!fetch_allowed(&some, "https://files.example.com/pub/..\\x", &err));
}

int main(void)
{
    static const check_case cases[] = {
        {"local paths and percent-encoded file:// URIs", test_local_path_and_file_uri},
        {"missing, unsupported and oversized inputs are permanent errors", test_errors_are_classified},
        {"bucket and URL allow-lists (no SSRF through a crafted job)", test_allow_lists},
        {NULL, NULL}};
    return check_run(cases);
}
