#include "daemon/decide.h"

#include <stdio.h>
#include <string.h>

bool decide_in_fast_lane(const policy_settings *s, int nworkers, int worker_id)
{
    return worker_id >= 0 && worker_id < s->fast_lane_workers && s->fast_lane_workers < nworkers;
}

int decide_pick_job(const policy_settings *s, int nworkers, int worker_id, const queue_job *chan,
                    int n)
{
    if (!decide_in_fast_lane(s, nworkers, worker_id))
        return n > 0 ? 0 : -1;
    int64_t max = (int64_t)(s->fast_lane_max_mb * 1048576.0);
    for (int i = 0; i < n; i++)
        if (chan[i].size >= 0 && chan[i].size <= max && strcmp(chan[i].op, "index") == 0)
            return i;
    return -1;
}

int64_t decide_retry_delay_ms(const policy_settings *s, int attempts)
{
    return dm_backoff_ms(attempts > 0 ? attempts : 1, s->retry_base_ms, s->retry_max_ms);
}

void decide_failure_reason(const char *error, char *out, size_t outlen)
{
    size_t n = strcspn(error, ":");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, error, n);
    out[n] = '\0';
    if (!out[0])
        snprintf(out, outlen, "unknown");
}

bool decide_once_may_finish(const once_state *o)
{
    return o->scanned && !o->scanning && !o->leasing && o->in_flight == 0 &&
           o->empty_leases >= (o->lease_blocks ? 2 : 1);
}
