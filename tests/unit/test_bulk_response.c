/* The _bulk response parser (bulk_response.c): per-item outcomes, and the
 * responses that are malformed as a whole. */
#include "index/bulk_response.h"
#include "check.h"

static int parse(const char *body, const char *const *ids, int n, bool deletes, bulk_item *items,
                 char *why)
{
    return bulk_response_parse(body, strlen(body), ids, n, deletes, items, why, 256);
}

static void test_item_outcomes(void)
{
    const char *ids[] = {"a", "b", "c", "d", "e", "f"};
    bulk_item items[6];
    char why[256];
    int rc = parse("{\"errors\":true,\"items\":["
                   "{\"index\":{\"_id\":\"a\",\"status\":201}},"
                   "{\"index\":{\"_id\":\"b\",\"status\":429,\"error\":{\"type\":"
                   "\"es_rejected_execution_exception\",\"reason\":\"queue full\"}}},"
                   "{\"index\":{\"_id\":\"c\",\"status\":400,\"error\":{\"type\":"
                   "\"mapper_parsing_exception\",\"reason\":\"bad field\"}}},"
                   "{\"index\":{\"_id\":\"d\",\"status\":404,\"error\":{\"type\":"
                   "\"index_not_found_exception\"}}},"
                   "{\"index\":{\"_id\":\"e\",\"status\":503,\"error\":\"unavailable\"}},"
                   "{\"index\":{\"_id\":\"f\"}}]}",
                   ids, 6, false, items, why);
    CHECK_INT(rc, 0);
    if (rc != 0)
        return;
    CHECK_INT(items[0].outcome, BULK_ITEM_OK);
    CHECK_STR(items[0].error, "");
    CHECK_INT(items[1].outcome, BULK_ITEM_RETRY);
    CHECK_STR(items[1].error, "429 es_rejected_execution_exception: queue full");
    CHECK_INT(items[2].outcome, BULK_ITEM_PERMANENT);
    CHECK_STR(items[2].error, "400 mapper_parsing_exception: bad field");
    CHECK_INT(items[3].outcome, BULK_ITEM_NO_INDEX);
    CHECK_STR(items[3].error, "404 index_not_found_exception");
    CHECK_INT(items[4].outcome, BULK_ITEM_RETRY);
    CHECK_STR(items[4].error, "503 unavailable");
    CHECK_INT(items[5].outcome, BULK_ITEM_RETRY);  /* no status: try again */
    CHECK_INT(items[5].status, 0);
}

static void test_delete_of_a_missing_document_is_ok(void)
{
    const char *ids[] = {"gone", "kept"};
    bulk_item items[2];
    char why[256];
    CHECK_INT(parse("{\"items\":[{\"delete\":{\"_id\":\"gone\",\"status\":404,\"result\":\"not_found\"}},"
                    "{\"delete\":{\"_id\":\"kept\",\"status\":200}}]}",
                    ids, 2, true, items, why),
              0);
    CHECK_INT(items[0].outcome, BULK_ITEM_OK);
    CHECK_INT(items[1].outcome, BULK_ITEM_OK);
    /* The same 404 to an index action is a failure. */
    CHECK_INT(parse("{\"items\":[{\"index\":{\"_id\":\"gone\",\"status\":404}}]}", ids, 1, false,
                    items, why),
              0);
    CHECK_INT(items[0].outcome, BULK_ITEM_PERMANENT);
}

static void test_statuses_that_are_not_http_statuses(void)
{
    /* A number no server sends is no status at all: retried, not cast. */
    const char *bodies[] = {
        "{\"items\":[{\"index\":{\"status\":1e999}}]}",
        "{\"items\":[{\"index\":{\"status\":-1e300}}]}",
        "{\"items\":[{\"index\":{\"status\":9223372036854775808}}]}",
        "{\"items\":[{\"index\":{\"status\":-5}}]}",
        "{\"items\":[{\"index\":{\"status\":\"200\"}}]}",
    };
    for (size_t b = 0; b < sizeof bodies / sizeof *bodies; b++) {
        bulk_item item;
        char why[256];
        CHECK_INT(parse(bodies[b], NULL, 1, false, &item, why), 0);
        CHECK_INT(item.outcome, BULK_ITEM_RETRY);
        CHECK_INT(item.status, 0);
    }
}

static void test_malformed_as_a_whole(void)
{
    const char *ids[] = {"a", "b"};
    bulk_item items[2];
    char why[256];
    CHECK_INT(parse("not json", ids, 1, false, items, why), -1);
    CHECK_STR(why, "malformed _bulk response (-1 items for 1 actions)");
    CHECK_INT(parse("{\"items\":[{\"index\":{\"_id\":\"a\",\"status\":201}}]}", ids, 2, false, items,
                    why),
              -1);
    CHECK_STR(why, "malformed _bulk response (1 items for 2 actions)");
    CHECK_INT(parse("{\"items\":[{\"index\":{\"_id\":\"a\",\"status\":201}},"
                    "{\"index\":{\"_id\":\"x\",\"status\":201}}]}",
                    ids, 2, false, items, why),
              -1);
    CHECK_STR(why, "malformed _bulk response (item 1 answers another id)");
    CHECK_INT(parse("{\"items\":[{}]}", ids, 1, false, items, why), -1);
    CHECK_INT(bulk_response_parse(NULL, 0, ids, 0, false, items, why, sizeof why), -1);
    CHECK_INT(parse("{\"items\":[]}", ids, 0, false, items, why), 0);
}

int main(void)
{
    static const check_case cases[] = {
        {"2xx ok, 429/5xx/no status retry, 4xx permanent, missing index", test_item_outcomes},
        {"a 404 to a delete is ok, to an index action a failure", test_delete_of_a_missing_document_is_ok},
        {"statuses out of any HTTP range are no status", test_statuses_that_are_not_http_statuses},
        {"not JSON, wrong item count, another id: malformed as a whole", test_malformed_as_a_whole},
        {NULL, NULL}};
    return check_run(cases);
}
