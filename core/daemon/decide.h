/* decide: the runtime's pure decisions, apart from the loop so they are
 * unit-tested in C (tests/unit/test_decide.c) without threads or a queue. */
#ifndef DOCMILL_DECIDE_H
#define DOCMILL_DECIDE_H

#include "queue/queue.h"
#include "settings/settings.h"

/* Whether worker_id is in the fast lane: the first fast_lane_workers take
 * only small files, when at least one other worker remains. */
bool decide_in_fast_lane(const policy_settings *s, int nworkers, int worker_id);

/* Which waiting job worker_id takes: the first, or for the fast lane the
 * first "index" job of a known size up to fast_lane_max_mb. -1: none. */
int decide_pick_job(const policy_settings *s, int nworkers, int worker_id, const queue_job *chan,
                    int n);

/* How long a transient failure waits before its next try: retry_base_ms,
 * doubling per attempt (attempts counts this one), up to retry_max_ms. */
int64_t decide_retry_delay_ms(const policy_settings *s, int attempts);

/* The reason a failure is counted under: the error up to its first ':'
 * ("unsupported type: ..." -> "unsupported type"); "unknown" when empty. */
void decide_failure_reason(const char *error, char *out, size_t outlen);

/* What --once waits for before it ends. */
typedef struct once_state {
    bool scanned;             /* the folder was scanned (or the source is a queue) */
    bool scanning, leasing;   /* work under way on the pool */
    int in_flight;            /* leased jobs not yet finished */
    int empty_leases;         /* leases in a row that found nothing */
    bool lease_blocks;        /* a network queue (SQS): its counts lag */
} once_state;

/* True when --once may ask the queue whether it is empty and stop: SQS
 * counts are approximate, so a network queue also needs two empty leases. */
bool decide_once_may_finish(const once_state *o);

#endif
