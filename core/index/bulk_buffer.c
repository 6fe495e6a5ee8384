#include "index/bulk_buffer.h"

#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A job's documents: one, or a container and its members (its family),
 * which go to the index in one request and complete the job together. */
typedef struct pending_doc {
    int64_t job_id;
    index_doc doc;          /* owns every string and the pages array */
    bulk_job_stats stats;
    int64_t bytes;
    int family;             /* on a job's first document: its documents in all; 0 after */
    char *failure;          /* on a job's first document: the job fails with it once indexed */
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
    /* Whole families only: a container's members are never split from it. */
    while (n < b->ndocs) {
        int f = b->docs[n].family;
        int64_t fbytes = 0;
        for (int k = 0; k < f; k++)
            fbytes += b->docs[n + k].bytes;
        if (n > 0 && (n + f > b->limits.max_docs || bytes + fbytes > b->limits.max_bytes))
            break;
        bytes += fbytes;
        n += f;
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

/* A family's fate: ok when every document of it is; else the first
 * failure (permanent only when nothing in it could be retried). */
static index_item_result family_result(const index_item_result *results, int n)
{
    index_item_result r = {.ok = true};
    for (int k = 0; k < n; k++) {
        if (results[k].ok)
            continue;
        if (r.ok) {
            r = results[k];
        } else if (!results[k].permanent) {
            r.permanent = false;
        }
    }
    return r;
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
    if (rc != 0 && err.permanent && n > batch[0].family) {
        /* An all-or-nothing sink (SQLite) refused the batch for good: one
         * bad document must not fail the others. Send them family by family. */
        for (int i = 0; i < n; i += batch[i].family) {
            dm_err one;
            int f = batch[i].family;
            if (b->sink->ops->bulk(b->sink, &docs[i], f, &results[i], &one) != 0) {
                for (int k = i; k < i + f; k++) {
                    results[k].ok = false;
                    results[k].permanent = one.permanent;
                    snprintf(results[k].error, sizeof results[k].error, "%.250s", one.msg);
                }
            }
        }
        rc = 0;
    }
    int64_t now = dm_mono_ms();
    int jobs = 0;
    for (int i = 0; i < n; i += batch[i].family)
        jobs++;
    for (int i = 0; i < n; i += batch[i].family) {
        job_result r = {.job_id = batch[i].job_id, .worker_id = batch[i].stats.worker_id};
        r.pages = batch[i].stats.pages;
        r.pages_ocr = batch[i].stats.pages_ocr;
        r.looks = batch[i].stats.looks;
        r.elapsed_ms = now - batch[i].stats.started_ms;
        memcpy(r.stage_ms, batch[i].stats.stage_ms, sizeof r.stage_ms);
        /* One request served them all: each job carries its share. */
        r.stage_ms[STAGE_INDEX] += (now - t0) / jobs;
        index_item_result fr = rc == 0 ? family_result(&results[i], batch[i].family)
                                       : (index_item_result){.ok = false};
        if (rc != 0) {
            r.outcome = err.permanent ? OUTCOME_FAILED : OUTCOME_RETRY;
            snprintf(r.error, sizeof r.error, "index: %.500s", err.msg);
        } else if (fr.ok && batch[i].failure) {
            /* What was read is indexed; the job still failed (a limit cut it). */
            r.outcome = OUTCOME_FAILED;
            snprintf(r.error, sizeof r.error, "%.500s", batch[i].failure);
        } else if (fr.ok) {
            r.outcome = OUTCOME_INDEXED;
        } else {
            r.outcome = fr.permanent ? OUTCOME_FAILED : OUTCOME_RETRY;
            snprintf(r.error, sizeof r.error, "index: %.500s", fr.error);
        }
        b->complete(b->ud, &r);
    }
    /* Indexed (or not): from now on a copy is found in the index. */
    pthread_mutex_lock(&b->mu);
    b->flying = NULL;
    b->in_flight = 0;
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < n; i++) {
        index_doc_free(&batch[i].doc);
        free(batch[i].failure);
    }
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
    bulk_buffer_submit_family(b, job_id, doc, 1, stats, NULL);
}

void bulk_buffer_submit_family(bulk_buffer *b, int64_t job_id, const index_doc *docs, int n,
                               const bulk_job_stats *stats, const char *failure)
{
    pending_doc *family = dm_xcalloc((size_t)n, sizeof *family);
    int64_t bytes = 0;
    for (int k = 0; k < n; k++) {
        family[k] = (pending_doc){.job_id = job_id, .stats = *stats};
        family[k].bytes = index_doc_copy(&family[k].doc, &docs[k]);
        bytes += family[k].bytes;
    }
    family[0].family = n;
    family[0].failure = failure ? dm_xstrdup(failure) : NULL;
    pthread_mutex_lock(&b->mu);
    /* Back-pressure: workers wait rather than pile up text in memory. */
    while (!b->stopping && b->bytes > 4 * b->limits.max_bytes)
        pthread_cond_wait(&b->space, &b->mu);
    if (b->ndocs + n > b->cap) {
        while (b->ndocs + n > b->cap)
            b->cap = b->cap ? b->cap * 2 : 64;
        b->docs = dm_xrealloc(b->docs, (size_t)b->cap * sizeof *b->docs);
    }
    if (b->ndocs == 0)
        b->oldest_ms = dm_mono_ms();
    memcpy(b->docs + b->ndocs, family, (size_t)n * sizeof *family);
    b->ndocs += n;
    b->bytes += bytes;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    free(family);
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
        /* a container's copy would come without its members */
        if (d->sha256 && strcmp(d->sha256, sha256) == 0 && d->id && d->members == 0 &&
            strcmp(d->id, exclude_id) != 0) {
            index_doc_copy(out, d);
            found = 1;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return found;
}
