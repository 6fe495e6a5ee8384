#include "queue/page_board.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { RANGE_OPEN, RANGE_TAKEN, RANGE_DONE } range_state;

typedef struct batch {
    int64_t id;
    int owner;
    int64_t job_id;
    char path[4096];
    char languages[64];
    int dpi;
    bool settled;            /* languages and DPI final (page_board_settle) */
    int n, done;
    int *ranges;
    range_state *state;
    page_range_result *results;
    struct batch *next;
} batch;

struct page_board {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a range was done */
    batch *batches;
    int64_t next_id;
    void (*wake)(void *ud);
    void *ud;
};

page_board *page_board_new(void (*wake)(void *ud), void *ud)
{
    page_board *b = dm_xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->wake = wake;
    b->ud = ud;
    return b;
}

static void batch_free(batch *t)
{
    free(t->ranges);
    free(t->state);
    free(t->results);
    free(t);
}

void page_board_results_free(page_range_result *r, int n)
{
    for (int i = 0; r && i < n; i++) {
        for (int k = 0; k < r[i].npages; k++)
            free(r[i].pages[k].text);
        free(r[i].pages);
        free(r[i].errors);
    }
    free(r);
}

void page_board_free(page_board *b)
{
    if (!b)
        return;
    while (b->batches) {
        batch *t = b->batches;
        b->batches = t->next;
        page_board_results_free(t->results, t->n);
        t->results = NULL;
        batch_free(t);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

int64_t page_board_post(page_board *b, int owner, const char *path, const int *ranges, int n,
                        const char *languages, int dpi, int64_t job_id)
{
    batch *t = dm_xcalloc(1, sizeof *t);
    t->owner = owner;
    t->job_id = job_id;
    snprintf(t->path, sizeof t->path, "%s", path);
    snprintf(t->languages, sizeof t->languages, "%s", languages ? languages : "");
    t->dpi = dpi;
    t->n = n;
    t->ranges = dm_xmalloc((size_t)(2 * n > 0 ? 2 * n : 1) * sizeof *t->ranges);
    memcpy(t->ranges, ranges, (size_t)(2 * n) * sizeof *ranges);
    t->state = dm_xcalloc((size_t)(n > 0 ? n : 1), sizeof *t->state);
    t->results = dm_xcalloc((size_t)(n > 0 ? n : 1), sizeof *t->results);
    pthread_mutex_lock(&b->mu);
    t->id = ++b->next_id;
    t->next = b->batches;
    b->batches = t;
    pthread_mutex_unlock(&b->mu);
    if (b->wake)
        b->wake(b->ud);
    return t->id;
}

static batch *find(page_board *b, int64_t id)
{
    for (batch *t = b->batches; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

void page_board_settle(page_board *b, int64_t id, const char *languages, int dpi)
{
    pthread_mutex_lock(&b->mu);
    batch *t = find(b, id);
    if (t) {
        snprintf(t->languages, sizeof t->languages, "%s", languages ? languages : "");
        t->dpi = dpi;
        t->settled = true;
    }
    pthread_mutex_unlock(&b->mu);
}

static int open_ranges(const batch *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        n += t->state[i] == RANGE_OPEN;
    return n;
}

/* spare_only: a settled batch with another open range left for its owner. */
static bool take(page_board *b, int64_t want, int me, bool spare_only, page_task *out)
{
    bool got = false;
    pthread_mutex_lock(&b->mu);
    for (batch *t = b->batches; t && !got; t = t->next) {
        if (want >= 0 ? t->id != want : t->owner == me)
            continue;
        if (spare_only && (!t->settled || open_ranges(t) < 2))
            continue;
        for (int i = 0; i < t->n; i++) {
            if (t->state[i] != RANGE_OPEN)
                continue;
            t->state[i] = RANGE_TAKEN;
            out->batch = t->id;
            out->job_id = t->job_id;
            out->index = i;
            snprintf(out->path, sizeof out->path, "%s", t->path);
            snprintf(out->languages, sizeof out->languages, "%s", t->languages);
            out->dpi = t->dpi;
            out->first = t->ranges[2 * i];
            out->last = t->ranges[2 * i + 1];
            got = true;
            break;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return got;
}

bool page_board_take(page_board *b, int64_t want, int me, page_task *out)
{
    return take(b, want, me, false, out);
}

bool page_board_take_spare(page_board *b, int me, page_task *out)
{
    return take(b, -1, me, true, out);
}

void page_board_done(page_board *b, const page_task *task, page_range_result *r)
{
    pthread_mutex_lock(&b->mu);
    batch *t = find(b, task->batch);
    if (t && task->index >= 0 && task->index < t->n && t->state[task->index] == RANGE_TAKEN) {
        t->results[task->index] = *r;
        t->state[task->index] = RANGE_DONE;
        t->done++;
        memset(r, 0, sizeof *r);
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    /* Not accepted (a bug upstream): do not leak it. */
    if (r->pages || r->errors) {
        page_range_result copy = *r;
        page_range_result *heap = dm_xmalloc(sizeof *heap);
        *heap = copy;
        page_board_results_free(heap, 1);
        memset(r, 0, sizeof *r);
    }
}

void page_board_wait(page_board *b, int64_t id, page_range_result **out, int *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&b->mu);
    batch *t = find(b, id);
    while (t && t->done < t->n)
        pthread_cond_wait(&b->cv, &b->mu);
    if (t) {
        for (batch **pp = &b->batches; *pp; pp = &(*pp)->next)
            if (*pp == t) {
                *pp = t->next;
                break;
            }
    }
    pthread_mutex_unlock(&b->mu);
    if (!t)
        return;
    *out = t->results;
    *n = t->n;
    t->results = NULL;
    batch_free(t);
}
