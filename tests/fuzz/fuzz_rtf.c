/* Fuzzes the RTF reader (extract/rtf.c) on bytes in memory. Checks,
 * beyond memory safety and UB: every page is valid UTF-8, the text held
 * stays within its cap, and metadata fields are valid UTF-8 too. */
#include "extract/rtf.h"
#include "extract/textnorm.h"

#include <string.h>
#include "fuzz_require.h"

#define TEXT_CAP ((size_t)4 << 20)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_field(const char *s)
{
    REQUIRE(!s || text_is_utf8(s, strlen(s)));
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    paged_text pt;
    paged_text_init(&pt, TEXT_CAP);
    dm_err err;
    rtf_read((const char *)data, size, &pt, &err);
    REQUIRE(pt.bytes <= TEXT_CAP);
    for (int i = 0; i < pt.count; i++) {
        const sbuf *t = &pt.pages[i].text;
        REQUIRE(text_is_utf8(t->data ? t->data : "", t->len));
    }
    check_field(pt.meta.title);
    check_field(pt.meta.author);
    check_field(pt.meta.subject);
    check_field(pt.meta.keywords);
    paged_text_free(&pt);
    return 0;
}
