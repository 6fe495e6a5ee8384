/* Fuzzes the HTML reader (extract/html.c: libxml2's HTML parser fed in
 * chunks, the charset detection before it) on bytes in memory. Checks,
 * beyond memory safety and UB: one page, valid UTF-8, within its cap. */
#include "extract/html.h"
#include "extract/textnorm.h"

#include "fuzz_require.h"

#define TEXT_CAP ((size_t)4 << 20)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    paged_text pt;
    paged_text_init(&pt, TEXT_CAP);
    dm_err err;
    html_sniff(data, size);
    if (html_read((const char *)data, size, "windows-1252", &pt, &err) == 0) {
        REQUIRE(pt.count == 1);
        const sbuf *t = &pt.pages[0].text;
        REQUIRE(text_is_utf8(t->data ? t->data : "", t->len));
    }
    REQUIRE(pt.bytes <= TEXT_CAP);
    paged_text_free(&pt);
    return 0;
}
