/* content_claims: which worker is extracting which content right now.
 * A file share holds copies of one file; two workers that take two copies
 * at the same moment would both OCR it. The first to claim a content hash
 * extracts it; the others wait for its claim to end, then reuse its pages
 * (they are in the indexing buffer by then). Plain C, thread-safe, no Lua. */
#ifndef DOCMILL_CONTENT_CLAIMS_H
#define DOCMILL_CONTENT_CLAIMS_H

#include <stdbool.h>

typedef struct content_claims content_claims;

content_claims *content_claims_new(void);
void content_claims_free(content_claims *c);

/* Claims `key` for worker `me`: true when it is now (or already was) me's,
 * false while another worker holds it. */
bool content_claims_take(content_claims *c, const char *key, int me);
/* Ends me's claim on key (nothing when me does not hold it). */
void content_claims_release(content_claims *c, const char *key, int me);
/* Ends every claim of worker me: after each job, so a claim never outlives
 * the job that made it, whatever path the job took. */
void content_claims_release_all(content_claims *c, int me);
/* Blocks until key is not held by another worker or timeout_ms pass;
 * true when it is free. */
bool content_claims_wait(content_claims *c, const char *key, int me, int timeout_ms);
/* Claims held now (for tests and the REPL). */
int content_claims_count(content_claims *c);

#endif
