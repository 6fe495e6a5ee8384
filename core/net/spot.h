/* spot: the EC2 spot interruption notice (two minutes' warning before the
 * instance is reclaimed), so the worker can drain on notice, and the
 * instance type, for metrics dimensions. Both read instance metadata with
 * IMDSv2 (net/imds.h) and block for at most a few seconds: the runtime calls
 * them on a thread-pool thread. */
#ifndef DOCMILL_AWS_SPOT_H
#define DOCMILL_AWS_SPOT_H

#include "base/common.h"

typedef enum { SPOT_NONE = 0, SPOT_NOTICE = 1, SPOT_UNAVAILABLE = 2 } spot_status;

/* {"action":"terminate","time":"2026-11-28T17:00:00Z"} */
typedef struct spot_notice {
    char action[32];   /* "terminate", "stop", "hibernate"; "unknown" when unparsable */
    char time[64];     /* as IMDS wrote it; "" when absent */
} spot_notice;

/* One check of /latest/meta-data/spot/instance-action: SPOT_NONE (404),
 * SPOT_NOTICE (out filled), or SPOT_UNAVAILABLE with err set (not on EC2,
 * IMDS unreachable or disabled by AWS_EC2_METADATA_DISABLED=true, any other
 * answer). */
spot_status spot_check(spot_notice *out, dm_err *err);
/* The instance type ("c5.xlarge"); -1 with err set when unavailable. */
int aws_instance_type(char out[64], dm_err *err);

#endif
