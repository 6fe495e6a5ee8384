#include "net/spot.h"

#include "net/imds.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

spot_status spot_check(spot_notice *out, dm_err *err)
{
    memset(out, 0, sizeof *out);
    sbuf body;
    sbuf_init(&body);
    long status;
    spot_status rc;
    if (imds_fetch("/latest/meta-data/spot/instance-action", &body, &status, err) == 0) {
        cJSON *j = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
        const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
        const cJSON *time = cJSON_GetObjectItemCaseSensitive(j, "time");
        /* A 200 here means AWS has scheduled the interruption whatever the
         * body says, so an odd body is still a notice, never "no notice". */
        snprintf(out->action, sizeof out->action, "%s",
                 cJSON_IsString(action) && action->valuestring[0] ? action->valuestring
                                                                  : "unknown");
        if (cJSON_IsString(time))
            snprintf(out->time, sizeof out->time, "%s", time->valuestring);
        cJSON_Delete(j);
        rc = SPOT_NOTICE;
    } else if (status == 404) {
        dm_err_clear(err);
        rc = SPOT_NONE;
    } else {
        rc = SPOT_UNAVAILABLE;
    }
    sbuf_free(&body);
    return rc;
}

int aws_instance_type(char out[64], dm_err *err)
{
    out[0] = '\0';
    sbuf body;
    sbuf_init(&body);
    long status;
    int rc = -1;
    if (imds_fetch("/latest/meta-data/instance-type", &body, &status, err) != 0)
        goto out;
    const char *s = body.data ? body.data : "";
    size_t n = body.len;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    /* It becomes a metrics dimension and a policy name: only what AWS
     * instance types are made of. */
    bool ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-';
    if (!ok) {
        dm_err_set(err, false, "instance metadata: malformed instance type");
        goto out;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    rc = 0;
out:
    sbuf_free(&body);
    return rc;
}
