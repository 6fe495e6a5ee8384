/* Content claims without Lua: one claimer per content hash, waiters woken
 * when the claim ends, nothing left behind by a worker's job. */
#include "check.h"
#include "base/common.h"
#include "queue/content_claims.h"

#include <pthread.h>
#include <unistd.h>

static void test_one_claimer_per_key(void)
{
    content_claims *c = content_claims_new();
    CHECK(content_claims_take(c, "aaa", 1));
    CHECK(content_claims_take(c, "aaa", 1));       /* again by its owner: still its */
    CHECK(!content_claims_take(c, "aaa", 2));
    CHECK(content_claims_take(c, "bbb", 2));       /* another content: free */
    CHECK_INT(content_claims_count(c), 2);
    content_claims_release(c, "aaa", 2);           /* not 2's to end */
    CHECK(!content_claims_take(c, "aaa", 2));
    content_claims_release(c, "aaa", 1);
    CHECK(content_claims_take(c, "aaa", 2));
    content_claims_release_all(c, 2);
    CHECK_INT(content_claims_count(c), 0);
    content_claims_free(c);
}

typedef struct {
    content_claims *c;
    int64_t waited_ms;
    bool freed;
} waiter_arg;

static void *waiter(void *p)
{
    waiter_arg *a = p;
    int64_t t0 = dm_mono_ms();
    a->freed = content_claims_wait(a->c, "copy", 2, 5000);
    a->waited_ms = dm_mono_ms() - t0;
    return NULL;
}

static void test_a_waiter_wakes_when_the_claim_ends(void)
{
    content_claims *c = content_claims_new();
    CHECK(content_claims_take(c, "copy", 1));
    waiter_arg a = {c, 0, false};
    pthread_t t;
    pthread_create(&t, NULL, waiter, &a);
    usleep(150 * 1000);
    content_claims_release_all(c, 1);               /* the job that claimed it ended */
    pthread_join(t, NULL);
    CHECK(a.freed);
    CHECK(a.waited_ms >= 100);
    CHECK(a.waited_ms < 4000);                      /* woken, not timed out */
    content_claims_free(c);
}

static void test_a_wait_times_out_while_held(void)
{
    content_claims *c = content_claims_new();
    CHECK(content_claims_take(c, "copy", 1));
    int64_t t0 = dm_mono_ms();
    CHECK(!content_claims_wait(c, "copy", 2, 120));
    CHECK(dm_mono_ms() - t0 >= 100);
    CHECK(content_claims_wait(c, "copy", 1, 120));  /* its own claim never blocks */
    CHECK(content_claims_wait(c, "other", 2, 120));
    content_claims_free(c);
}

static void test_many_claims_grow(void)
{
    content_claims *c = content_claims_new();
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(content_claims_take(c, key, i % 3));
    }
    CHECK_INT(content_claims_count(c), 100);
    content_claims_release_all(c, 0);
    CHECK_INT(content_claims_count(c), 66);
    content_claims_free(c);                         /* frees what is left */
}

int main(void)
{
    static const check_case cases[] = {
        {"one claimer per content hash", test_one_claimer_per_key},
        {"a waiter wakes when the claim ends", test_a_waiter_wakes_when_the_claim_ends},
        {"a wait times out while the claim is held", test_a_wait_times_out_while_held},
        {"many claims", test_many_claims_grow},
        {NULL, NULL}};
    return check_run(cases);
}
