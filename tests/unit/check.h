/* A minimal test harness for the C unit tests: each test is a function,
 * CHECK* record failures without stopping the test, and main() prints one
 * line per test and the closing "N passed, N failed" line ctest logs. */
#ifndef DOCMILL_CHECK_H
#define DOCMILL_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_in_test;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            check_failures_in_test++;                                            \
        }                                                                        \
    } while (0)

#define CHECK_INT(a, b)                                                          \
    do {                                                                         \
        long long va_ = (long long)(a), vb_ = (long long)(b);                    \
        if (va_ != vb_) {                                                        \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, \
                    va_, vb_);                                                   \
            check_failures_in_test++;                                            \
        }                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *sa_ = (a), *sb_ = (b);                                       \
        if (!sa_ || strcmp(sa_, sb_) != 0) {                                     \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    sa_ ? sa_ : "(null)", sb_);                                  \
            check_failures_in_test++;                                            \
        }                                                                        \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                              \
    do {                                                                         \
        const char *h_ = (hay), *n_ = (needle);                                  \
        if (!h_ || !strstr(h_, n_)) {                                            \
            fprintf(stderr, "  %s:%d: %s does not contain \"%s\" (it is \"%.300s\")\n", \
                    __FILE__, __LINE__, #hay, n_, h_ ? h_ : "(null)");           \
            check_failures_in_test++;                                            \
        }                                                                        \
    } while (0)

typedef struct check_case {
    const char *name;
    void (*fn)(void);
} check_case;

static int check_run(const check_case *cases)
{
    int passed = 0, failed = 0;
    for (const check_case *c = cases; c->name; c++) {
        check_failures_in_test = 0;
        c->fn();
        if (check_failures_in_test == 0) {
            passed++;
            printf("ok - %s\n", c->name);
        } else {
            failed++;
            printf("not ok - %s\n", c->name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

/* A fresh temporary directory per test binary. */
__attribute__((unused)) static const char *check_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/docmill-test-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

__attribute__((unused)) static const char *corpus_path(const char *name)
{
    static char buf[1024];
    const char *dir = getenv("DOCMILL_CORPUS");
    if (!dir) {
        fprintf(stderr, "DOCMILL_CORPUS is not set (ctest sets it)\n");
        exit(2);
    }
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

#endif
