/* job: what a worker reports about one job when it ends. Every layer that
 * finishes jobs shares it: the worker, the indexing buffer (which completes
 * a job only once its document is durably indexed) and the runtime (which
 * acknowledges, retries or fails it in the queue). Plain data: it crosses
 * threads by copy. */
#ifndef DOCMILL_JOB_H
#define DOCMILL_JOB_H

#include "base/common.h"

typedef enum {
    OUTCOME_INDEXED,
    OUTCOME_UNCHANGED,
    OUTCOME_DELETED,
    OUTCOME_SKIPPED,
    OUTCOME_FAILED,   /* permanent: recorded, never retried */
    OUTCOME_RETRY,    /* transient: back to the queue with backoff */
    OUTCOME_POISON,   /* broke the pipeline (a bug or a bad policy): failed locally;
                         left for the dead-letter queue by SQS, never deleted */
} job_outcome;

/* wait: a job's worker waiting for other workers (its pages they read, a
 * copy of its content one of them is making). */
typedef enum {
    STAGE_FETCH,
    STAGE_TEXT,
    STAGE_RENDER,
    STAGE_OCR,
    STAGE_INDEX,
    STAGE_WAIT,
    STAGE_COUNT
} job_stage;

/* "fetch", "text", "render", "ocr", "index", "wait" */
extern const char *const job_stage_names[STAGE_COUNT];

/* A job's pages that OCR took a second look at: read turned back, read as
 * vertical Japanese, or indexed still below the confidence floor. */
typedef struct ocr_looks {
    int rotated, vertical, low_confidence;
} ocr_looks;

typedef struct job_result {
    int64_t job_id;
    job_outcome outcome;
    char error[512];
    int pages, pages_ocr;
    ocr_looks looks;
    int64_t elapsed_ms;
    int64_t stage_ms[STAGE_COUNT];
    int worker_id;
} job_result;

bool job_outcome_parse(const char *name, job_outcome *out);
const char *job_outcome_name(job_outcome o);

/* Where a finished job goes: the runtime in `docmill run`, a recorder in
 * tests. Thread-safe. */
typedef void (*job_complete_fn)(void *ud, const job_result *r);

#endif
