#include "queue/content_claims.h"

#include "base/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* A worker holds at most a claim or two at a time, and a process has a
 * handful of workers: a short array beats a hash table here. */
typedef struct {
    char key[72];
    int owner;
} claim;

struct content_claims {
    pthread_mutex_t mu;
    pthread_cond_t released;
    claim *items;
    int n, cap;
};

content_claims *content_claims_new(void)
{
    content_claims *c = dm_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->released, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}

void content_claims_free(content_claims *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->released);
    free(c->items);
    free(c);
}

static int find(const content_claims *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->items[i].key, key) == 0)
            return i;
    return -1;
}

bool content_claims_take(content_claims *c, const char *key, int me)
{
    pthread_mutex_lock(&c->mu);
    int i = find(c, key);
    bool mine = i < 0 || c->items[i].owner == me;
    if (i < 0) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 8;
            c->items = dm_xrealloc(c->items, (size_t)c->cap * sizeof *c->items);
        }
        snprintf(c->items[c->n].key, sizeof c->items[c->n].key, "%s", key);
        c->items[c->n++].owner = me;
    }
    pthread_mutex_unlock(&c->mu);
    return mine;
}

/* Called with mu held. */
static void drop(content_claims *c, int i)
{
    c->items[i] = c->items[--c->n];
    pthread_cond_broadcast(&c->released);
}

void content_claims_release(content_claims *c, const char *key, int me)
{
    pthread_mutex_lock(&c->mu);
    int i = find(c, key);
    if (i >= 0 && c->items[i].owner == me)
        drop(c, i);
    pthread_mutex_unlock(&c->mu);
}

void content_claims_release_all(content_claims *c, int me)
{
    pthread_mutex_lock(&c->mu);
    for (int i = c->n - 1; i >= 0; i--)
        if (c->items[i].owner == me)
            drop(c, i);
    pthread_mutex_unlock(&c->mu);
}

bool content_claims_wait(content_claims *c, const char *key, int me, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    int i;
    while ((i = find(c, key)) >= 0 && c->items[i].owner != me)
        if (pthread_cond_timedwait(&c->released, &c->mu, &until) == ETIMEDOUT)
            break;
    i = find(c, key);
    bool free_now = i < 0 || c->items[i].owner == me;
    pthread_mutex_unlock(&c->mu);
    return free_now;
}

int content_claims_count(content_claims *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}
