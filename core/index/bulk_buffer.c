#include "index/bulk_buffer.h"

#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pending_doc {
    int64_t job_id;
    index_doc doc;          /* owns every string and the pages array */
    bulk_job_stats stats;
    int64_t bytes;
} pending_doc;

struct bulk_buffer {
    bulk_complete_fn complete;
    void *ud;
    index_sink *sink;
    bulk_limits limits;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* wakes the indexer */
    pthread_cond_t space;    /* wakes submitters waiting for room */
    pending_doc *docs;
    int ndocs, cap;
    int64_t bytes;
    int64_t oldest_ms;
    bool nudged, stopping;
    int in_flight;           /* documents being sent right now */
    /* Those documents: find_copy still sees them until the index has them
     * (read under mu; freed only after they leave this). */
    pending_doc *flying;
};

/* Takes up to one request's worth of documents from the front. Caller
 * holds mu. */
static int take_batch(bulk_buffer *b, pending_doc **out)
{
    int n = 0;
    int64_t bytes = 0;
    while (n < b->ndocs && n < b->limits.max_docs &&
           (n == 0 || bytes + b->docs[n].bytes <= b->limits.max_bytes)) {
        bytes += b->docs[n].bytes;
        n++;
    }
    *out = dm_xmalloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    memcpy(*out, b->docs, (size_t)n * sizeof **out);
    memmove(b->docs, b->docs + n, (size_t)(b->ndocs - n) * sizeof *b->docs);
    b->ndocs -= n;
    b->bytes -= bytes;
    b->in_flight = n;
    b->flying = *out;
    b->oldest_ms = b->ndocs > 0 ? dm_mono_ms() : 0;
    return n;
}

static void flush_batch(bulk_buffer *b, pending_doc *batch, int n)
{
    index_doc *docs = dm_xcalloc((size_t)n, sizeof *docs);
    index_item_result *results = dm_xcalloc((size_t)n, sizeof *results);
    for (int i = 0; i < n; i++)
        docs[i] = batch[i].doc;
    dm_err err;
    int64_t t0 = dm_mono_ms();
    int rc = b->sink->ops->bulk(b->sink, docs, n, results, &err);
    if (rc != 0 && err.permanent && n > 1) {
        /* An all-or-nothing sink (SQLite) refused the batch for good: one
         * bad document must not fail the others. Send them one by one. */
        for (int i = 0; i < n; i++) {
            dm_err one;
            if (b->sink->ops->bulk(b->sink, &docs[i], 1, &results[i], &one) != 0) {
                results[i].ok = false;
                results[i].permanent = one.permanent;
                snprintf(results[i].error, sizeof results[i].error, "%.250s", one.msg);
            }
        }
        rc = 0;
    }
    int64_t now = dm_mono_ms();
    for (int i = 0; i < n; i++) {
        job_result r = {.job_id = batch[i].job_id, .worker_id = batch[i].stats.worker_id};
        r.pages = batch[i].stats.pages;
        r.pages_ocr = batch[i].stats.pages_ocr;
        r.looks = batch[i].stats.looks;
        r.elapsed_ms = now - batch[i].stats.started_ms;
        memcpy(r.stage_ms, batch[i].stats.stage_ms, sizeof r.stage_ms);
        /* One request served them all: each carries its share. */
        r.stage_ms[STAGE_INDEX] += (now - t0) / n;
        if (rc != 0) {
            r.outcome = err.permanent ? OUTCOME_FAILED : OUTCOME_RETRY;
            snprintf(r.error, sizeof r.error, "index: %.500s", err.msg);
        } else if (results[i].ok) {
            r.outcome = OUTCOME_INDEXED;
        } else {
            r.outcome = results[i].permanent ? OUTCOME_FAILED : OUTCOME_RETRY;
            snprintf(r.error, sizeof r.error, "index: %.500s", results[i].error);
        }
        b->complete(b->ud, &r);
    }
    /* Indexed (or not): from now on a copy is found in the index. */
    pthread_mutex_lock(&b->mu);
    b->flying = NULL;
    b->in_flight = 0;
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < n; i++)
        index_doc_free(&batch[i].doc);
    free(docs);
    free(results);
}

static void *indexer_main(void *arg)
{
    bulk_buffer *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        bool due = b->ndocs > 0 &&
                   (b->stopping || b->nudged || b->ndocs >= b->limits.max_docs ||
                    b->bytes >= b->limits.max_bytes ||
                    dm_mono_ms() - b->oldest_ms >= b->limits.max_age_ms);
        if (!due) {
            if (b->stopping)
                break;
            b->nudged = false;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait_ms = b->ndocs > 0 ? b->limits.max_age_ms - (dm_mono_ms() - b->oldest_ms) : 1000;
            if (wait_ms < 1)
                wait_ms = 1;
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            continue;
        }
        pending_doc *batch;
        int n = take_batch(b, &batch);
        if (b->ndocs == 0)
            b->nudged = false;
        pthread_cond_broadcast(&b->space);
        pthread_mutex_unlock(&b->mu);
        flush_batch(b, batch, n);
        free(batch);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

bulk_buffer *bulk_buffer_start(const char *index_uri, const bulk_limits *limits,
                               bulk_complete_fn complete, void *ud, dm_err *err)
{
    index_sink *sink = index_open(index_uri, err);
    if (!sink)
        return NULL;
    bulk_buffer *b = dm_xcalloc(1, sizeof *b);
    b->complete = complete;
    b->ud = ud;
    b->sink = sink;
    b->limits = *limits;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    pthread_cond_init(&b->space, NULL);
    if (pthread_create(&b->thread, NULL, indexer_main, b) != 0) {
        dm_err_set(err, false, "cannot start the indexer thread");
        index_close(sink);
        free(b);
        return NULL;
    }
    return b;
}

void bulk_buffer_submit(bulk_buffer *b, int64_t job_id, const index_doc *doc,
                        const bulk_job_stats *stats)
{
    pending_doc p = {.job_id = job_id, .stats = *stats};
    p.bytes = index_doc_copy(&p.doc, doc);
    pthread_mutex_lock(&b->mu);
    /* Back-pressure: workers wait rather than pile up text in memory. */
    while (!b->stopping && b->bytes > 4 * b->limits.max_bytes)
        pthread_cond_wait(&b->space, &b->mu);
    if (b->ndocs == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->docs = dm_xrealloc(b->docs, (size_t)b->cap * sizeof *b->docs);
    }
    if (b->ndocs == 0)
        b->oldest_ms = dm_mono_ms();
    b->docs[b->ndocs++] = p;
    b->bytes += p.bytes;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void bulk_buffer_nudge(bulk_buffer *b)
{
    pthread_mutex_lock(&b->mu);
    if (b->ndocs > 0) {
        b->nudged = true;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
}

int bulk_buffer_pending(bulk_buffer *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->ndocs + b->in_flight;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void bulk_buffer_stop(bulk_buffer *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->cv);
    pthread_cond_broadcast(&b->space);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    index_close(b->sink);
    free(b->docs);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    pthread_cond_destroy(&b->space);
    free(b);
}

int bulk_buffer_find_copy(bulk_buffer *b, const char *sha256, const char *exclude_id,
                          index_doc *out)
{
    int found = 0;
    pthread_mutex_lock(&b->mu);
    int nflying = b->flying ? b->in_flight : 0;
    for (int i = 0; i < b->ndocs + nflying && !found; i++) {
        const index_doc *d = i < b->ndocs ? &b->docs[i].doc : &b->flying[i - b->ndocs].doc;
        if (d->sha256 && strcmp(d->sha256, sha256) == 0 && d->id &&
            strcmp(d->id, exclude_id) != 0) {
            index_doc_copy(out, d);
            found = 1;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return found;
}
