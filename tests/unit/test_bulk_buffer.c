/* The process's indexing buffer (bulk_buffer.c) over the SQLite sink. */
#include "index/bulk_buffer.h"
#include "check.h"
#include "job_recorder.h"
#include "index/index_sqlite.h"

#include <pthread.h>
#include <unistd.h>

static index_doc doc(const char *source, char id[33], index_page *pages, int npages)
{
    index_doc_id(source, id);
    return (index_doc){.id = id, .source = source, .sha256 = "x", .mime = "text/plain",
                       .page_count = npages, .npages = npages, .pages = pages};
}

static void test_flush_by_count_and_one_bad_document(void)
{
    char db[600];
    snprintf(db, sizeof db, "sqlite:%s/buf.db", check_tmpdir());
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    bulk_limits limits = {3, 5 << 20, 600000};  /* flushes at 3 documents */
    dm_err err;
    bulk_buffer *b = bulk_buffer_start(db, &limits, record, &rec, &err);
    CHECK(b != NULL);
    if (!b)
        return;
    index_page good[] = {{1, "text", 0, "一つ目の文書 first", 0}};
    good[0].text_len = strlen(good[0].text);
    /* Two pages numbered 1: the SQLite sink refuses the whole batch. */
    index_page dup[] = {{1, "text", 0, "dup a", 5}, {1, "text", 0, "dup b", 5}};
    index_page other[] = {{1, "ocr", 300, "三つ目 third", 0}};
    other[0].text_len = strlen(other[0].text);
    char ia[33], ib[33], ic[33];
    index_doc a = doc("/b/a.txt", ia, good, 1), bad = doc("/b/bad.txt", ib, dup, 2),
              c = doc("/b/c.txt", ic, other, 1);
    bulk_job_stats st = {.pages = 1, .started_ms = dm_mono_ms()};
    bulk_buffer_submit(b, 1, &a, &st);
    bulk_buffer_submit(b, 2, &bad, &st);
    bulk_buffer_submit(b, 3, &c, &st);  /* the third document triggers the flush */
    for (int i = 0; i < 100 && bulk_buffer_pending(b) > 0; i++)
        usleep(20000);
    bulk_buffer_stop(b);
    CHECK_INT(rec.n, 3);
    const job_result *r1 = result_for(&rec, 1), *r2 = result_for(&rec, 2), *r3 = result_for(&rec, 3);
    CHECK(r1 && r1->outcome == OUTCOME_INDEXED);
    CHECK(r2 && r2->outcome == OUTCOME_FAILED);
    if (r2)
        CHECK_CONTAINS(r2->error, "UNIQUE");
    CHECK(r3 && r3->outcome == OUTCOME_INDEXED);
    int64_t count = 0;
    CHECK_INT(index_sqlite_count(db + 7, &count, &err), 0);
    CHECK_INT(count, 2);
    pthread_mutex_destroy(&rec.mu);
}

static void test_stop_flushes_what_is_left(void)
{
    char db[600];
    snprintf(db, sizeof db, "sqlite:%s/buf2.db", check_tmpdir());
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    bulk_limits limits = {100, 5 << 20, 600000};  /* nothing would flush by itself */
    dm_err err;
    bulk_buffer *b = bulk_buffer_start(db, &limits, record, &rec, &err);
    if (!b)
        return;
    index_page p[] = {{1, "text", 0, "left over", 9}};
    char id[33];
    index_doc d = doc("/b/left.txt", id, p, 1);
    bulk_job_stats st = {.pages = 1, .started_ms = dm_mono_ms()};
    bulk_buffer_submit(b, 9, &d, &st);
    usleep(100000);
    CHECK_INT(rec.n, 0);
    bulk_buffer_stop(b);
    CHECK_INT(rec.n, 1);
    CHECK(rec.n == 1 && rec.r[0].outcome == OUTCOME_INDEXED);
    pthread_mutex_destroy(&rec.mu);
}

static void test_find_copy_while_waiting(void)
{
    char db[600];
    snprintf(db, sizeof db, "sqlite:%s/buf3.db", check_tmpdir());
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    bulk_limits limits = {100, 5 << 20, 600000};
    dm_err err;
    bulk_buffer *b = bulk_buffer_start(db, &limits, record, &rec, &err);
    if (!b)
        return;
    index_page p[] = {{1, "ocr", 200, "waiting for its batch", 21}};
    char id[33], other[33];
    index_doc d = doc("/b/one.pdf", id, p, 1);
    d.sha256 = "feed";
    bulk_job_stats st = {.pages = 1, .started_ms = dm_mono_ms()};
    bulk_buffer_submit(b, 11, &d, &st);
    index_doc_id("/b/two.pdf", other);
    index_doc c;
    CHECK_INT(bulk_buffer_find_copy(b, "feed", other, &c), 1);
    CHECK_STR(c.source, "/b/one.pdf");
    CHECK_INT(c.npages, 1);
    if (c.npages == 1)
        CHECK_STR(c.pages[0].text, "waiting for its batch");
    index_doc_free(&c);
    CHECK_INT(bulk_buffer_find_copy(b, "feed", id, &c), 0);
    CHECK_INT(bulk_buffer_find_copy(b, "other", other, &c), 0);
    bulk_buffer_stop(b);
    pthread_mutex_destroy(&rec.mu);
}

/* A copy is looked for in the buffer, then in the index: at no moment of
 * the flush may the document be in neither. */
static void test_a_document_being_sent_is_still_found(void)
{
    char db[600];
    snprintf(db, sizeof db, "sqlite:%s/buf4.db", check_tmpdir());
    dm_err err;
    index_sink *reader = index_open(db, &err);
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    bulk_limits limits = {1, 5 << 20, 600000};   /* sent at once */
    bulk_buffer *b = bulk_buffer_start(db, &limits, record, &rec, &err);
    if (!b || !reader)
        return;
    char other[33];
    index_doc_id("/c/copy.pdf", other);
    int missing = 0, looks = 0;
    for (int k = 0; k < 12; k++) {    /* the recorder keeps 16 results */
        char source[64], id[33], sha[16];
        snprintf(source, sizeof source, "/c/doc%d.pdf", k);
        snprintf(sha, sizeof sha, "sha%d", k);
        index_page p[] = {{1, "ocr", 150, "a page", 6}};
        index_doc d = doc(source, id, p, 1);
        d.sha256 = sha;
        bulk_job_stats st = {.pages = 1, .started_ms = dm_mono_ms()};
        bulk_buffer_submit(b, 100 + k, &d, &st);
        /* Until its result is in, and a little after. */
        int64_t until = dm_mono_ms() + 5000;
        bool done = false;
        for (int settle = 0; dm_mono_ms() < until && settle < 200;) {
            index_doc c;
            looks++;
            int in_buffer = bulk_buffer_find_copy(b, sha, other, &c);
            if (in_buffer)
                index_doc_free(&c);
            int in_index = !in_buffer && reader->ops->find_copy(reader, sha, other, &c, &err) == 1;
            if (in_index)
                index_doc_free(&c);
            if (!in_buffer && !in_index)
                missing++;
            pthread_mutex_lock(&rec.mu);
            done = rec.n > k;
            pthread_mutex_unlock(&rec.mu);
            if (done)
                settle++;
        }
        CHECK(done);
    }
    CHECK(looks > 1000);
    CHECK_INT(missing, 0);
    bulk_buffer_stop(b);
    index_close(reader);
    pthread_mutex_destroy(&rec.mu);
}

/* A container and its members complete their job once, together, and
 * are never split across requests; a family with a failure is indexed and
 * its job still fails with it; a family with a bad member fails whole
 * while the document beside it is indexed. */
static void test_families_complete_their_job_together(void)
{
    char db[600];
    snprintf(db, sizeof db, "sqlite:%s/families.db", check_tmpdir());
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    bulk_limits limits = {2, 5 << 20, 600000};  /* 2 documents a request */
    dm_err err;
    bulk_buffer *b = bulk_buffer_start(db, &limits, record, &rec, &err);
    CHECK(b != NULL);
    if (!b)
        return;
    index_page p[] = {{1, "text", 0, "member text", 11}};
    index_page dup[] = {{1, "text", 0, "dup a", 5}, {1, "text", 0, "dup b", 5}};
    char ids[8][33];
    index_doc fam[3] = {doc("/f/a.zip", ids[0], NULL, 0), doc("/f/a.zip#1", ids[1], p, 1),
                        doc("/f/a.zip#2", ids[2], p, 1)};
    fam[0].container = true;
    fam[0].members = 2;
    fam[1].parent = fam[2].parent = ids[0];
    index_doc cut[2] = {doc("/f/bomb.zip", ids[3], NULL, 0), doc("/f/bomb.zip#1", ids[4], p, 1)};
    cut[0].container = true;
    cut[1].parent = ids[3];
    index_doc bad[2] = {doc("/f/bad.zip", ids[5], NULL, 0), doc("/f/bad.zip#1", ids[6], dup, 2)};
    bad[0].container = true;
    bad[1].parent = ids[5];
    index_doc alone = doc("/f/alone.txt", ids[7], p, 1);
    bulk_job_stats st = {.pages = 2, .started_ms = dm_mono_ms()};
    bulk_buffer_submit_family(b, 1, fam, 3, &st, NULL);
    bulk_buffer_submit_family(b, 2, cut, 2, &st, "bomb.zip: expanded (max_compression_ratio)");
    bulk_buffer_submit_family(b, 3, bad, 2, &st, NULL);
    bulk_buffer_submit(b, 4, &alone, &st);
    bulk_buffer_stop(b);
    CHECK_INT(rec.n, 4);
    const job_result *r1 = result_for(&rec, 1), *r2 = result_for(&rec, 2),
                     *r3 = result_for(&rec, 3), *r4 = result_for(&rec, 4);
    CHECK(r1 && r1->outcome == OUTCOME_INDEXED);
    CHECK(r2 && r2->outcome == OUTCOME_FAILED);
    if (r2)
        CHECK_CONTAINS(r2->error, "max_compression_ratio");
    CHECK(r3 && r3->outcome == OUTCOME_FAILED);
    CHECK(r4 && r4->outcome == OUTCOME_INDEXED);
    int64_t count = 0;
    CHECK_INT(index_sqlite_count(db + 7, &count, &err), 0);
    CHECK_INT(count, 6);   /* a.zip and 2 members, bomb.zip and 1, alone.txt */
    pthread_mutex_destroy(&rec.mu);
}

int main(void)
{
    static const check_case cases[] = {
        {"a container's family completes its job together", test_families_complete_their_job_together},
        {"flushes at batch_size; one bad document does not fail the batch", test_flush_by_count_and_one_bad_document},
        {"stop flushes what is left", test_stop_flushes_what_is_left},
        {"a document waiting for its batch is found by content", test_find_copy_while_waiting},
        {"a document being sent is found in the buffer or the index, never neither",
         test_a_document_being_sent_is_still_found},
        {NULL, NULL}};
    return check_run(cases);
}
