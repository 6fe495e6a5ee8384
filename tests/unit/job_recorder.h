/* Collects the job results a bulk_buffer reports from its indexer thread,
 * for the unit tests that drive one. */
#ifndef DOCMILL_TEST_JOB_RECORDER_H
#define DOCMILL_TEST_JOB_RECORDER_H

#include "queue/job.h"

#include <pthread.h>

typedef struct recorder {
    pthread_mutex_t mu;
    int n;
    job_result r[16];
} recorder;

/* A bulk_complete_fn. */
__attribute__((unused)) static void record(void *ud, const job_result *r)
{
    recorder *rec = ud;
    pthread_mutex_lock(&rec->mu);
    if (rec->n < 16)
        rec->r[rec->n++] = *r;
    pthread_mutex_unlock(&rec->mu);
}

__attribute__((unused)) static int recorded(recorder *rec)
{
    pthread_mutex_lock(&rec->mu);
    int n = rec->n;
    pthread_mutex_unlock(&rec->mu);
    return n;
}

__attribute__((unused)) static const job_result *result_for(recorder *rec, int64_t job)
{
    for (int i = 0; i < rec->n; i++)
        if (rec->r[i].job_id == job)
            return &rec->r[i];
    return NULL;
}

#endif
