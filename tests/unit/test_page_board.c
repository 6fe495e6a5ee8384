/* The page board without Lua: ranges posted by an owner, taken by helper
 * threads and by the owner, handed in out of order, collected in order. */
#include "check.h"
#include "queue/page_board.h"

#include <pthread.h>
#include <unistd.h>

static int wakes;
static void on_wake(void *ud)
{
    (void)ud;
    __atomic_add_fetch(&wakes, 1, __ATOMIC_SEQ_CST);
}

static void result_for(const page_task *t, page_range_result *r)
{
    memset(r, 0, sizeof *r);
    r->npages = t->last - t->first + 1;
    r->pages = calloc((size_t)r->npages, sizeof *r->pages);
    for (int i = 0; i < r->npages; i++) {
        r->pages[i].page = t->first + i;
        snprintf(r->pages[i].method, sizeof r->pages[i].method, "ocr");
        char text[32];
        snprintf(text, sizeof text, "text of page %d", t->first + i);
        r->pages[i].text = strdup(text);
    }
    r->pages_ocr = r->npages;
    r->stage_ms[2] = 10 * r->npages;
}

typedef struct {
    page_board *b;
    int id, taken;
} helper_arg;

static void *helper(void *p)
{
    helper_arg *a = p;
    page_task t;
    for (int idle = 0; idle < 50;) {
        if (page_board_take(a->b, -1, a->id, &t)) {
            usleep(2000);  /* "OCR" */
            page_range_result r;
            result_for(&t, &r);
            page_board_done(a->b, &t, &r);
            a->taken++;
            idle = 0;
        } else {
            usleep(1000);
            idle++;
        }
    }
    return NULL;
}

static void test_shared_and_collected_in_order(void)
{
    page_board *b = page_board_new(on_wake, NULL);
    int ranges[] = {2, 2, 3, 5, 7, 7, 8, 9, 10, 10, 11, 12};
    int64_t batch = page_board_post(b, 0, "/tmp/x.pdf", ranges, 6, "jpn+eng", 0, 7);
    CHECK(batch > 0);
    CHECK_INT(__atomic_load_n(&wakes, __ATOMIC_SEQ_CST), 1);
    /* The owner does not take its own batch as a helper... */
    page_task t;
    CHECK(!page_board_take(b, -1, 0, &t));
    /* ...but two helpers do, while the owner takes from its batch too. */
    helper_arg a1 = {b, 1, 0}, a2 = {b, 2, 0};
    pthread_t h1, h2;
    pthread_create(&h1, NULL, helper, &a1);
    pthread_create(&h2, NULL, helper, &a2);
    int own = 0;
    while (page_board_take(b, batch, 0, &t)) {
        CHECK_STR(t.path, "/tmp/x.pdf");
        CHECK_STR(t.languages, "jpn+eng");
        CHECK_INT(t.job_id, 7);
        page_range_result r;
        result_for(&t, &r);
        page_board_done(b, &t, &r);
        own++;
    }
    page_range_result *res;
    int n;
    page_board_wait(b, batch, &res, &n);
    CHECK_INT(n, 6);
    int expect_first[] = {2, 3, 7, 8, 10, 11};
    int pages = 0;
    for (int i = 0; i < n; i++) {
        CHECK_INT(res[i].pages[0].page, expect_first[i]);
        CHECK_STR(res[i].pages[0].method, "ocr");
        pages += res[i].npages;
    }
    CHECK_INT(pages, 10);
    CHECK_STR(res[1].pages[2].text, "text of page 5");
    page_board_results_free(res, n);
    pthread_join(h1, NULL);
    pthread_join(h2, NULL);
    CHECK_INT(own + a1.taken + a2.taken, 6);
    /* The batch is gone: nothing more to take or wait for. */
    CHECK(!page_board_take(b, batch, 0, &t));
    page_board_wait(b, batch, &res, &n);
    CHECK_INT(n, 0);
    page_board_free(b);
}

static void test_a_result_for_an_unknown_range_is_freed(void)
{
    page_board *b = page_board_new(NULL, NULL);
    page_task t = {.batch = 99, .index = 0, .first = 1, .last = 2};
    page_range_result r;
    result_for(&t, &r);
    r.errors = strdup("page 1: nope");
    page_board_done(b, &t, &r);  /* no such batch: freed, not kept (ASan checks) */
    CHECK(r.pages == NULL && r.errors == NULL);
    /* A board freed with a batch still posted frees it too. */
    int ranges[] = {1, 1};
    int64_t id = page_board_post(b, 0, "/x", ranges, 1, NULL, 150, 0);
    page_task got;
    CHECK(page_board_take(b, id, 0, &got));
    CHECK_INT(got.dpi, 150);
    CHECK_STR(got.languages, "");
    page_range_result r2;
    result_for(&got, &r2);
    page_board_done(b, &got, &r2);
    page_board_free(b);
}

static void test_settle_changes_the_ranges_not_taken_yet(void)
{
    page_board *b = page_board_new(NULL, NULL);
    const int ranges[] = {2, 2, 3, 3};
    int64_t batch = page_board_post(b, 0, "/tmp/doc.pdf", ranges, 2, "jpn+eng", 0, 1);
    page_task t1, t2;
    CHECK(!page_board_take_spare(b, 1, &t1));     /* not before a new job */
    CHECK(page_board_take(b, -1, 1, &t1));        /* an idle worker starts at once */
    CHECK_STR(t1.languages, "jpn+eng");
    CHECK_INT(t1.dpi, 0);
    page_board_settle(b, batch, "jpn", 200);      /* the first page settled them */
    CHECK(!page_board_take_spare(b, 0, &t2));     /* never the owner's own */
    CHECK(!page_board_take_spare(b, 1, &t2));     /* its last range: the owner's */
    CHECK(page_board_take(b, batch, 0, &t2));     /* the owner takes it */
    CHECK_INT(t2.first, 3);
    CHECK_STR(t2.languages, "jpn");
    CHECK_INT(t2.dpi, 200);
    page_board_settle(b, batch + 99, "eng", 300);  /* an unknown batch: nothing */
    page_range_result r1, r2;
    result_for(&t1, &r1);
    result_for(&t2, &r2);
    page_board_done(b, &t1, &r1);
    page_board_done(b, &t2, &r2);
    page_range_result *res;
    int n;
    page_board_wait(b, batch, &res, &n);
    CHECK_INT(n, 2);
    page_board_results_free(res, n);
    page_board_free(b);
}

static void test_a_helper_leaves_the_owner_a_range(void)
{
    page_board *b = page_board_new(NULL, NULL);
    const int ranges[] = {2, 2, 3, 3, 4, 4};
    int64_t batch = page_board_post(b, 0, "/tmp/doc.pdf", ranges, 3, "jpn", 150, 1);
    page_board_settle(b, batch, "jpn", 150);
    page_task t[3];
    CHECK(page_board_take_spare(b, 1, &t[0]));
    CHECK(page_board_take_spare(b, 2, &t[1]));
    CHECK(!page_board_take_spare(b, 1, &t[2]));   /* one left: the owner's */
    CHECK(page_board_take(b, -1, 1, &t[2]));      /* unless nothing else is to do */
    for (int i = 0; i < 3; i++) {
        page_range_result r;
        result_for(&t[i], &r);
        page_board_done(b, &t[i], &r);
    }
    page_range_result *res;
    int n;
    page_board_wait(b, batch, &res, &n);
    CHECK_INT(n, 3);
    page_board_results_free(res, n);
    page_board_free(b);
}

int main(void)
{
    static const check_case cases[] = {
        {"ranges are shared with helpers and collected in page order", test_shared_and_collected_in_order},
        {"nothing leaks: unknown ranges, boards freed with batches", test_a_result_for_an_unknown_range_is_freed},
        {"settle changes the ranges nobody took yet", test_settle_changes_the_ranges_not_taken_yet},
        {"a helper leaves the owner a range of its own", test_a_helper_leaves_the_owner_a_range},
        {NULL, NULL}};
    return check_run(cases);
}
