/* Fuzzes the Office Open XML reader (extract/ooxml.c) on zips in memory:
 * MuPDF's archive reader opens the bytes, the package is detected and read
 * under an expansion budget. Checks, beyond memory safety and UB: no more
 * is inflated than the budget allows (plus one read), the text stays
 * within its cap, and every page is valid UTF-8. */
#include "extract/ooxml.h"
#include "extract/textnorm.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include "fuzz_require.h"

#define TEXT_CAP ((size_t)4 << 20)
#define EXPAND_CAP ((int64_t)32 << 20)

static fz_context *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void quiet(void *user, const char *message)
{
    (void)user;
    (void)message;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    ctx = fz_new_context(NULL, NULL, 64 << 20);
    if (!ctx)
        abort();
    /* MuPDF's own warnings about damaged zips are noise here. */
    fz_set_warning_callback(ctx, quiet, NULL);
    fz_set_error_callback(ctx, quiet, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fz_buffer *volatile buf = NULL;
    fz_stream *volatile stm = NULL;
    fz_archive *volatile zip = NULL;
    volatile ooxml_kind kind = OOXML_NONE;
    char main_part[512] = "";
    fz_try(ctx)
    {
        buf = fz_new_buffer_from_copied_data(ctx, data, size);
        stm = fz_open_buffer(ctx, buf);
        zip = fz_open_zip_archive_with_stream(ctx, stm);
        kind = ooxml_detect(ctx, zip, main_part, sizeof main_part);
    }
    fz_catch(ctx) kind = OOXML_NONE;
    if (kind != OOXML_NONE) {
        paged_text pt;
        paged_text_init(&pt, TEXT_CAP);
        expand_budget budget = {.max_bytes = EXPAND_CAP, .max_ratio = 200,
                                .compressed = (int64_t)size};
        dm_err err;
        ooxml_read(ctx, zip, kind, main_part, &budget, &pt, &err);
        REQUIRE(budget.used <= EXPAND_CAP + (1 << 20));
        REQUIRE(pt.bytes <= TEXT_CAP);
        for (int i = 0; i < pt.count; i++) {
            const sbuf *t = &pt.pages[i].text;
            REQUIRE(text_is_utf8(t->data ? t->data : "", t->len));
        }
        paged_text_free(&pt);
    }
    fz_drop_archive(ctx, zip);
    fz_drop_stream(ctx, stm);
    fz_drop_buffer(ctx, buf);
    return 0;
}
