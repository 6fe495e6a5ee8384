/* bulk_buffer: the one indexing buffer of a `docmill run` process. Workers
 * hand it finished documents (deep copies: nothing Lua crosses threads); an
 * indexer thread with its own index connection flushes it by count, bytes or
 * age — or at once when the workers go idle — and completes each document's
 * job from its own bulk result. A job is acknowledged only after its
 * document is durably indexed. */
#ifndef DOCMILL_BULK_BUFFER_H
#define DOCMILL_BULK_BUFFER_H

#include "index/index.h"
#include "queue/job.h"

typedef struct bulk_buffer bulk_buffer;

typedef struct bulk_limits {
    int max_docs;
    int64_t max_bytes;      /* per bulk request; the buffer holds at most 4x before submit waits */
    int64_t max_age_ms;
} bulk_limits;

typedef struct bulk_job_stats {
    int pages, pages_ocr;
    ocr_looks looks;
    int64_t started_ms;     /* dm_mono_ms() when the job began */
    int worker_id;
    int64_t stage_ms[STAGE_COUNT];  /* the worker's stages; index is added here */
} bulk_job_stats;

/* complete is called from the indexer thread once per document, with its
 * job's outcome (indexed, failed or retry); `docmill run` passes the
 * runtime's. */
typedef job_complete_fn bulk_complete_fn;

bulk_buffer *bulk_buffer_start(const char *index_uri, const bulk_limits *limits,
                               bulk_complete_fn complete, void *ud, dm_err *err);
/* Copies doc. May wait while the buffer is full (back-pressure). */
void bulk_buffer_submit(bulk_buffer *b, int64_t job_id, const index_doc *doc,
                        const bulk_job_stats *stats);
/* A container and its members (docs[0] the container), indexed in one
 * request and completing the job together: indexed when every one is;
 * with failure set, the job then fails with it all the same (a limit cut
 * the container: what was read stays indexed). */
void bulk_buffer_submit_family(bulk_buffer *b, int64_t job_id, const index_doc *docs, int n,
                               const bulk_job_stats *stats, const char *failure);
/* The workers are idle: flush what is there now instead of waiting. */
void bulk_buffer_nudge(bulk_buffer *b);
/* Documents waiting (for the --once end condition). */
int bulk_buffer_pending(bulk_buffer *b);
/* A document waiting here, or being sent, with this content hash, other
 * than exclude_id: 1 with a deep copy in *out (index_doc_free), 0 if none.
 * With find_copy on the index, what lets a second copy of a file skip
 * extraction while the first still waits for its batch: a document leaves
 * this buffer only once the index has it, so there is no moment between
 * the two where neither finds it. */
int bulk_buffer_find_copy(bulk_buffer *b, const char *sha256, const char *exclude_id,
                          index_doc *out);
/* Flushes everything, stops the thread, closes the index. */
void bulk_buffer_stop(bulk_buffer *b);

#endif
