/* Fuzzes the OpenSearch _bulk response parser (bulk_response.c). The first
 * input byte says what was sent: its low 4 bits the number of actions (ids
 * "d0".."d15"), bit 0x40 that they were deletes; the rest is the response
 * body. Printable first bytes keep the seeds readable: '2' is two index
 * actions, 'B' two deletes. Checks, beyond memory safety and UB: a
 * malformed response says why; otherwise every item has a known outcome
 * and status, and an error text exactly when it is not OK. */
#include "index/bulk_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_require.h"

#define MAX_ACTIONS 16

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    int n = data[0] & 0x0f;
    bool deletes = (data[0] & 0x40) != 0;
    static const char *const ids[MAX_ACTIONS] = {"d0", "d1", "d2",  "d3",  "d4",  "d5",  "d6",  "d7",
                                                 "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"};
    /* The body in a buffer of its own size, so that ASan sees any read past
     * it (libFuzzer's own copy may have slack). */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    memcpy(body, data + 1, len);
    bulk_item *items = malloc(sizeof *items * (n ? (size_t)n : 1));
    char why[160];
    why[0] = '\0';
    int rc = bulk_response_parse(body, len, ids, n, deletes, items, why, sizeof why);
    if (rc != 0) {
        REQUIRE(rc == -1);
        REQUIRE(why[0] != '\0');
    } else {
        for (int m = 0; m < n; m++) {
            const bulk_item *it = &items[m];
            REQUIRE(it->outcome == BULK_ITEM_OK || it->outcome == BULK_ITEM_RETRY ||
                    it->outcome == BULK_ITEM_NO_INDEX || it->outcome == BULK_ITEM_PERMANENT);
            REQUIRE(it->status == 0 || (it->status >= 100 && it->status <= 599));
            REQUIRE(memchr(it->error, '\0', sizeof it->error) != NULL);
            REQUIRE((it->outcome == BULK_ITEM_OK) == (it->error[0] == '\0'));
            if (it->status == 0)
                REQUIRE(it->outcome == BULK_ITEM_RETRY);
        }
    }
    free(items);
    free(body);
    return 0;
}
