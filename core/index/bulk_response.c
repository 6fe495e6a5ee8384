#include "index/bulk_response.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

void bulk_error_describe(long status, const cJSON *error, char *out, size_t cap)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(error, "type");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(error, "reason");
    if (cJSON_IsString(error))
        snprintf(out, cap, "%ld %s", status, error->valuestring);
    else if (cJSON_IsString(type))
        snprintf(out, cap, "%ld %s: %s", status, type->valuestring,
                 cJSON_IsString(reason) ? reason->valuestring : "");
    else
        snprintf(out, cap, "%ld", status);
}

static bool error_type_is(const cJSON *action, const char *type)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(action, "error"), "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

/* The item's HTTP status, 0 when it has none. Checked before the cast: a
 * number no server sends ("status":1e999 parses as infinity) must not
 * reach (long), whose result would be undefined. */
static long item_status(const cJSON *action)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(action, "status");
    if (!cJSON_IsNumber(st) || !(st->valuedouble >= 100 && st->valuedouble <= 599))
        return 0;
    long status = (long)st->valuedouble;
    return status == st->valuedouble ? status : 0;
}

/* One item of "items": {"index": {"_id":…, "status":…, "error":…}}. */
static void read_item(const cJSON *action, bool deletes, bulk_item *item)
{
    long status = item_status(action);
    item->status = status;
    item->error[0] = '\0';
    if (status >= 200 && status < 300) {
        item->outcome = BULK_ITEM_OK;
    } else if (deletes && status == 404) {
        item->outcome = BULK_ITEM_OK;  /* deleting what is not there */
    } else if (status == 404 && error_type_is(action, "index_not_found_exception")) {
        /* The index was deleted under us (and the cluster does not
         * auto-create it). */
        item->outcome = BULK_ITEM_NO_INDEX;
        snprintf(item->error, sizeof item->error, "404 index_not_found_exception");
    } else {
        bulk_error_describe(status, cJSON_GetObjectItemCaseSensitive(action, "error"), item->error,
                            sizeof item->error);
        item->outcome = status == 0 || status == 429 || status >= 500 ? BULK_ITEM_RETRY
                                                                      : BULK_ITEM_PERMANENT;
    }
}

int bulk_response_parse(const char *body, size_t len, const char *const *ids, int n,
                        bool deletes, bulk_item *items, char *why, size_t why_cap)
{
    cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "items");
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != n) {
        snprintf(why, why_cap, "malformed _bulk response (%d items for %d actions)",
                 cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1, n);
        cJSON_Delete(root);
        return -1;
    }
    /* Items answer in request order; the ids are checked all the same, and
     * all of them before any item is acted on. */
    int m = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it->child, "_id");
        if (!it->child ||
            (ids && ids[m] && cJSON_IsString(id) && strcmp(id->valuestring, ids[m]) != 0)) {
            snprintf(why, why_cap, "malformed _bulk response (item %d answers another id)", m);
            cJSON_Delete(root);
            return -1;
        }
        m++;
    }
    m = 0;
    cJSON_ArrayForEach(it, list)
        read_item(it->child, deletes, &items[m++]);
    cJSON_Delete(root);
    return 0;
}
