#include "queue/queue_sqs.h"

#include "net/job_message.h"
#include "net/sqs.h"
#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sqs_msg {
    bool used;
    char *receipt;
    char *message_id;
    int receive_count;
    int open_jobs;
    bool retry;            /* some job failed transiently: redeliver */
    int64_t retry_ms;
} sqs_msg;

typedef struct sqs_job {
    int64_t id;
    int msg;               /* index into msgs */
} sqs_job;

typedef struct sqs_queue {
    queue base;
    queue_sqs_options opt;
    sqs_client *lease_client;   /* pool thread: receive */
    sqs_client *counts_client;  /* queue depth, from any thread (under counts_mu) */
    pthread_mutex_t counts_mu;
    sqs_client *client;         /* loop thread: everything else */
    pthread_mutex_t mu;         /* guards msgs, jobs, next_id */
    sqs_msg *msgs;
    int nmsgs;
    sqs_job *jobs;
    int njobs, jobs_cap;
    int64_t next_id;
    /* Finished messages waiting for DeleteMessageBatch (loop thread only). */
    char *deletes[10];
    int ndeletes;
} sqs_queue;

static sqs_queue *QS(queue *q)
{
    return (sqs_queue *)q;
}

static int new_msg(sqs_queue *s, const sqs_message *m, int njobs)
{
    int slot = -1;
    for (int i = 0; i < s->nmsgs; i++)
        if (!s->msgs[i].used) {
            slot = i;
            break;
        }
    if (slot < 0) {
        s->msgs = dm_xrealloc(s->msgs, (size_t)(s->nmsgs + 1) * sizeof *s->msgs);
        slot = s->nmsgs++;
    }
    sqs_msg *g = &s->msgs[slot];
    memset(g, 0, sizeof *g);
    g->used = true;
    g->receipt = dm_xstrdup(m->receipt);
    g->message_id = dm_xstrdup(m->message_id);
    g->receive_count = m->receive_count;
    g->open_jobs = njobs;
    return slot;
}

static int64_t add_job(sqs_queue *s, int msg)
{
    if (s->njobs == s->jobs_cap) {
        s->jobs_cap = s->jobs_cap ? s->jobs_cap * 2 : 64;
        s->jobs = dm_xrealloc(s->jobs, (size_t)s->jobs_cap * sizeof *s->jobs);
    }
    int64_t id = ++s->next_id;
    s->jobs[s->njobs++] = (sqs_job){id, msg};
    return id;
}

/* Removes job id; returns its message slot or -1. Caller holds mu. */
static int take_job(sqs_queue *s, int64_t id)
{
    for (int i = 0; i < s->njobs; i++) {
        if (s->jobs[i].id == id) {
            int msg = s->jobs[i].msg;
            s->jobs[i] = s->jobs[--s->njobs];
            return msg;
        }
    }
    return -1;
}

static void drop_msg(sqs_msg *g)
{
    free(g->receipt);
    free(g->message_id);
    memset(g, 0, sizeof *g);
}

static int q_lease(queue *q, int max, int64_t lease_ms, queue_job **jobs, int *n, dm_err *err)
{
    sqs_queue *s = QS(q);
    *jobs = NULL;
    *n = 0;
    int want = max < s->opt.max_messages ? max : s->opt.max_messages;
    sqs_message *msgs;
    int nm;
    if (sqs_receive(s->lease_client, want, s->opt.wait_seconds, (int)(lease_ms / 1000), &msgs, &nm,
                    err) != 0)
        return -1;
    queue_job *out = NULL;
    int count = 0;
    for (int i = 0; i < nm; i++) {
        message_job *mj;
        dm_err perr;
        int k = job_message_parse(msgs[i].body, strlen(msgs[i].body), &mj, &perr);
        if (k < 0) {
            /* Poison: not ours to delete. It becomes visible again, later
             * each time, until the redrive policy moves it to the DLQ. */
            int backoff = msgs[i].receive_count > 1 ? msgs[i].receive_count - 1 : 0;
            log_error("message %s: %s; leaving it for the dead-letter queue (receive %d)",
                      msgs[i].message_id, perr.msg, msgs[i].receive_count);
            dm_err verr;
            if (sqs_change_visibility(s->lease_client, msgs[i].receipt,
                                      backoff > 900 ? 900 : backoff, &verr) != 0)
                log_warn("message %s: %s", msgs[i].message_id, verr.msg);
            continue;
        }
        if (k == 0) {
            dm_err derr;
            if (sqs_delete(s->lease_client, msgs[i].receipt, &derr) != 0)
                log_warn("message %s (nothing to do): %s", msgs[i].message_id, derr.msg);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        int slot = new_msg(s, &msgs[i], k);
        out = dm_xrealloc(out, (size_t)(count + k) * sizeof *out);
        for (int j = 0; j < k; j++) {
            queue_job *qj = &out[count++];
            memset(qj, 0, sizeof *qj);
            qj->id = add_job(s, slot);
            qj->source = dm_xstrdup(mj[j].source);
            qj->op = dm_xstrdup(mj[j].op);
            qj->size = mj[j].size;
            qj->attempts = msgs[i].receive_count;
            qj->available_ms = msgs[i].sent_ms;
        }
        pthread_mutex_unlock(&s->mu);
        message_jobs_free(mj, k);
    }
    sqs_messages_free(msgs, nm);
    *jobs = out;
    *n = count;
    return 0;
}

static int flush_deletes(sqs_queue *s, dm_err *err)
{
    if (s->ndeletes == 0)
        return 0;
    int rc = sqs_delete_batch(s->client, s->deletes, s->ndeletes, err);
    for (int i = 0; i < s->ndeletes; i++)
        free(s->deletes[i]);
    s->ndeletes = 0;
    return rc < 0 ? -1 : 0;
}

static int q_flush(queue *q, dm_err *err)
{
    return flush_deletes(QS(q), err);
}

/* A job of message `slot` has ended. When it was the message's last, the
 * message is deleted — or made visible again after the backoff if any of
 * its jobs must be retried. Called with mu held; releases it. */
static int finish_job(sqs_queue *s, int slot, dm_err *err)
{
    sqs_msg *g = &s->msgs[slot];
    if (--g->open_jobs > 0) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    sqs_msg done = *g;
    memset(g, 0, sizeof *g);  /* the slot is free; we own the strings now */
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    if (done.retry) {
        rc = sqs_change_visibility(s->client, done.receipt, (int)(done.retry_ms / 1000), err);
    } else {
        /* Deleted ten at a time (or at the next flush): until then the
         * message stays invisible, and a crash only redelivers it. */
        s->deletes[s->ndeletes++] = done.receipt;
        done.receipt = NULL;
        if (s->ndeletes == 10)
            rc = flush_deletes(s, err);
    }
    drop_msg(&done);
    return rc;
}

static int q_end(queue *q, int64_t id, bool retry, int64_t delay_ms, dm_err *err)
{
    sqs_queue *s = QS(q);
    pthread_mutex_lock(&s->mu);
    int slot = take_job(s, id);
    if (slot < 0) {
        pthread_mutex_unlock(&s->mu);
        log_warn("job %lld: not leased from this queue", (long long)id);
        return 0;
    }
    if (retry) {
        s->msgs[slot].retry = true;
        if (delay_ms > s->msgs[slot].retry_ms)
            s->msgs[slot].retry_ms = delay_ms;
    }
    return finish_job(s, slot, err);
}

static int q_ack(queue *q, int64_t id, const char *outcome, dm_err *err)
{
    (void)outcome;
    return q_end(q, id, false, 0, err);
}

static int q_fail(queue *q, int64_t id, const char *reason, dm_err *err)
{
    /* A permanent failure is recorded (logged by the runtime) and its
     * message deleted: retrying cannot help. */
    (void)reason;
    return q_end(q, id, false, 0, err);
}

static int q_retry(queue *q, int64_t id, const char *reason, int64_t delay_ms, dm_err *err)
{
    (void)reason;
    return q_end(q, id, true, delay_ms, err);
}

static int q_poison(queue *q, int64_t id, const char *reason, dm_err *err)
{
    /* Visible again in a minute; after maxReceiveCount receives the
     * redrive policy moves it to the DLQ, where `dlq replay` can bring it
     * back once the bug is fixed. */
    (void)reason;
    return q_end(q, id, true, 60000, err);
}

static int q_release(queue *q, int64_t id, dm_err *err)
{
    return q_end(q, id, true, 0, err);
}

static int q_extend(queue *q, const int64_t *ids, int n, int64_t lease_ms, dm_err *err)
{
    sqs_queue *s = QS(q);
    /* One ChangeMessageVisibility per message, not per job. */
    pthread_mutex_lock(&s->mu);
    char **receipts = dm_xcalloc((size_t)(n > 0 ? n : 1), sizeof *receipts);
    int nr = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < s->njobs; j++) {
            if (s->jobs[j].id != ids[i])
                continue;
            const char *r = s->msgs[s->jobs[j].msg].receipt;
            bool seen = false;
            for (int k = 0; k < nr; k++)
                seen |= strcmp(receipts[k], r) == 0;
            if (!seen)
                receipts[nr++] = dm_xstrdup(r);
        }
    }
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    for (int k = 0; k < nr; k++) {
        /* Every receipt gets its extension even when one fails (a stale
         * receipt must not starve the others); the first error is kept. */
        dm_err one;
        if (sqs_change_visibility(s->client, receipts[k], (int)(lease_ms / 1000), &one) != 0 &&
            rc == 0) {
            *err = one;
            rc = -1;
        }
        free(receipts[k]);
    }
    free(receipts);
    return rc;
}

static int q_recover(queue *q, queue_recovery *r, dm_err *err)
{
    /* SQS returns a message whose visibility ran out by itself, and its
     * redrive policy bounds the attempts. */
    (void)q;
    (void)r;
    (void)err;
    return 0;
}

static int q_counts(queue *q, queue_counts *c, dm_err *err)
{
    memset(c, 0, sizeof *c);
    int64_t visible, in_flight;
    pthread_mutex_lock(&QS(q)->counts_mu);
    int rc = sqs_counts(QS(q)->counts_client, &visible, &in_flight, err);
    pthread_mutex_unlock(&QS(q)->counts_mu);
    if (rc != 0)
        return -1;
    c->pending = visible;
    c->leased = in_flight;
    return 0;
}

static void q_close(queue *q)
{
    if (!q)
        return;
    sqs_queue *s = QS(q);
    dm_err err;
    if (flush_deletes(s, &err) != 0)
        log_warn("SQS: final deletes failed (those messages will be redelivered): %s", err.msg);
    for (int i = 0; i < s->nmsgs; i++)
        if (s->msgs[i].used)
            drop_msg(&s->msgs[i]);
    free(s->msgs);
    free(s->jobs);
    sqs_client_free(s->lease_client);
    sqs_client_free(s->client);
    sqs_client_free(s->counts_client);
    pthread_mutex_destroy(&s->counts_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const queue_ops SQS_QUEUE_OPS = {q_lease,   q_ack,    q_fail,   q_retry,  q_release,
                                        q_extend,  q_recover, q_counts, q_poison, q_flush,
                                        q_close};

queue *queue_sqs_open(const char *queue_url, const queue_sqs_options *opt, dm_err *err)
{
    sqs_client *a = sqs_client_new(queue_url, err);
    if (!a)
        return NULL;
    sqs_client *b = sqs_client_new(queue_url, err);
    sqs_client *c = b ? sqs_client_new(queue_url, err) : NULL;
    if (!c) {
        sqs_client_free(a);
        sqs_client_free(b);
        return NULL;
    }
    sqs_queue *s = dm_xcalloc(1, sizeof *s);
    s->base.ops = &SQS_QUEUE_OPS;
    s->base.lease_blocks = true;
    s->lease_client = a;
    s->client = b;
    s->counts_client = c;
    pthread_mutex_init(&s->counts_mu, NULL);
    s->opt = *opt;
    if (s->opt.wait_seconds < 0 || s->opt.wait_seconds > 20)
        s->opt.wait_seconds = 20;
    if (s->opt.max_messages < 1 || s->opt.max_messages > 10)
        s->opt.max_messages = 10;
    pthread_mutex_init(&s->mu, NULL);
    return &s->base;
}
