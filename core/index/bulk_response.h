/* bulk_response: what an OpenSearch _bulk response says about each action
 * of its request. Pure parsing with no sink state: the OpenSearch sink
 * (index_opensearch.c) acts on the outcomes (retry, recreate the index,
 * give up), and the fuzzer feeds it arbitrary bodies. */
#ifndef DOCMILL_BULK_RESPONSE_H
#define DOCMILL_BULK_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

typedef enum {
    BULK_ITEM_OK,         /* stored (2xx), or a delete of what was not there (404) */
    BULK_ITEM_RETRY,      /* 429, 5xx or no status: the same action may succeed later */
    BULK_ITEM_NO_INDEX,   /* 404 index_not_found_exception: recreate the index, then retry */
    BULK_ITEM_PERMANENT,  /* any other status (400 mapping error...): retrying cannot help */
} bulk_item_outcome;

typedef struct bulk_item {
    bulk_item_outcome outcome;
    long status;          /* the item's HTTP status (100..599); 0 when it has none */
    char error[256];      /* when not OK: "STATUS type: reason"; else "" */
} bulk_item;

/* Reads the body of a 200 _bulk response to n actions whose ids were
 * ids[0..n), in request order (a NULL id is not checked); `deletes` when
 * they were delete actions. 0: items[0..n) hold each action's outcome.
 * -1: the response as a whole is malformed (not JSON, another number of
 * items, an item that answers another id), why says how, and no item may
 * be acted on. */
int bulk_response_parse(const char *body, size_t len, const char *const *ids, int n,
                        bool deletes, bulk_item *items, char *why, size_t why_cap);

/* "STATUS type: reason" from an OpenSearch error value (an object with
 * type and reason, or a plain string), else "STATUS" alone. Response
 * bodies never hold our credentials, so the text is safe to log. */
void bulk_error_describe(long status, const struct cJSON *error, char *out, size_t cap);

#endif
