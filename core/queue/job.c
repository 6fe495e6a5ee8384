#include "queue/job.h"

#include <string.h>

const char *const job_stage_names[STAGE_COUNT] = {"fetch", "text", "render", "ocr", "index", "wait"};

static const char *const OUTCOME_NAMES[] = {"indexed", "unchanged", "deleted", "skipped",
                                            "failed",  "retry",     "poison"};

bool job_outcome_parse(const char *name, job_outcome *out)
{
    for (int i = 0; i < (int)(sizeof OUTCOME_NAMES / sizeof *OUTCOME_NAMES); i++)
        if (strcmp(name, OUTCOME_NAMES[i]) == 0) {
            *out = (job_outcome)i;
            return true;
        }
    return false;
}

const char *job_outcome_name(job_outcome o)
{
    return OUTCOME_NAMES[o];
}
