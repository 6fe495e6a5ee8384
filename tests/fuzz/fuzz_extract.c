/* Fuzzes the extract path (doc.c over MuPDF, textnorm.c for plain text)
 * on in-memory documents: open, page count, then the text layer and a
 * grayscale render of the first pages, as the pipeline does before OCR.
 * Checks, beyond memory safety and UB: an opened document has pages; text
 * and page facts are sane (coverage 0..1, no negative DPI); a render fits
 * max_pixels and every byte of it is readable. The work is bounded as a
 * worker bounds it: a MuPDF memory cap, a deadline per call, at most
 * MAX_PAGES pages, low-DPI renders.
 *
 * doc_open takes a path, so each input is written to a file (tmpfs when
 * there is one). The content decides the type, except for ZIP containers,
 * which MuPDF tells apart by name: the input's last byte picks .epub, .cbz,
 * .xps or no suffix for those. */
#include "base/common.h"
#include "extract/doc.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_require.h"

#define MUPDF_CAP ((size_t)256 << 20)
#define MUPDF_STORE ((size_t)16 << 20)
#define CALL_MS 3000
#define MAX_PAGES 3
#define RENDER_DPI 50
#define MAX_PIXELS 2000000

static doc_ctx *dc;
static char input_dir[64];
static char input_path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void remove_input_dir(void)
{
    rmdir(input_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    dm_err err;
    dc = doc_ctx_new(MUPDF_STORE, &err);
    if (!dc) {
        fprintf(stderr, "doc_ctx_new: %s\n", err.msg);
        abort();
    }
    doc_ctx_set_limit(dc, MUPDF_CAP);
    snprintf(input_dir, sizeof input_dir, "%s/docmill-fuzz-extract-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(input_dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(remove_input_dir);
    return 0;
}

static void write_input(const unsigned char *data, size_t size)
{
    static const char *const zip_suffix[] = {"", ".epub", ".cbz", ".xps"};
    const char *suffix = "";
    if (size >= 4 && memcmp(data, "PK\x03\x04", 4) == 0)
        suffix = zip_suffix[data[size - 1] & 3];
    snprintf(input_path, sizeof input_path, "%s/doc%s", input_dir, suffix);
    FILE *f = fopen(input_path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, size, f) == size);
    REQUIRE(fclose(f) == 0);
}

static void start_call(void)
{
    doc_ctx_set_deadline(dc, dm_mono_ms() + CALL_MS);
}

static void check_text(doc *d, int page)
{
    sbuf text;
    sbuf_init(&text);
    page_info info;
    dm_err err;
    start_call();
    if (doc_page_text(d, page, &text, &info, &err) == 0) {
        REQUIRE(info.image_coverage >= 0 && info.image_coverage <= 1);
        REQUIRE(info.image_dpi >= 0);
        REQUIRE(text.len == 0 || text.data[text.len] == '\0');
    } else {
        REQUIRE(err.msg[0] != '\0');
    }
    sbuf_free(&text);
}

static void check_render(doc *d, int page)
{
    gray_image img;
    dm_err err;
    start_call();
    if (doc_render_gray(d, page, RENDER_DPI, MAX_PIXELS, &img, &err) != 0) {
        REQUIRE(err.msg[0] != '\0');
        return;
    }
    REQUIRE(img.width >= 0 && img.height >= 0);
    REQUIRE((int64_t)img.width * img.height <= MAX_PIXELS);
    REQUIRE(img.stride >= img.width);
    REQUIRE(img.dpi > 0);
    /* Reads every pixel, so ASan checks the raster is as big as it says. */
    unsigned sum = 0;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++)
            sum += img.samples[(size_t)y * (size_t)img.stride + (size_t)x];
    (void)sum;
    gray_image_free(dc, &img);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    write_input(data, size);
    dm_err err;
    start_call();
    doc *d = doc_open(dc, input_path, &err);
    if (!d) {
        REQUIRE(err.msg[0] != '\0');
    } else {
        int pages = doc_page_count(d);
        REQUIRE(pages >= 1);
        REQUIRE(doc_mime(d) != NULL);
        for (int p = 1; p <= pages && p <= MAX_PAGES; p++) {
            check_text(d, p);
            if (doc_get_kind(d) != DOC_KIND_TEXT)
                check_render(d, p);
        }
        doc_close(d);
    }
    unlink(input_path);
    /* What one input decoded must not make the next one hit the cap. */
    doc_ctx_shrink_store(dc);
    return 0;
}
