/* MuPDF and Tesseract primitives on the generated corpus (ctest fixture). */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include "extract/doc.h"
#include "extract/ocr.h"
#include "extract/textnorm.h"

#include <leptonica/allheaders.h>

static doc_ctx *dc;

static doc *open_doc(const char *name)
{
    dm_err err;
    doc *d = doc_open(dc, corpus_path(name), &err);
    if (!d)
        fprintf(stderr, "  open %s: %s\n", name, err.msg);
    return d;
}

static void test_kinds_and_pages(void)
{
    struct {
        const char *name, *mime;
        doc_kind kind;
        int pages;
    } cases[] = {
        {"text_ja_en.pdf", "application/pdf", DOC_KIND_PDF, 2},
        {"multi.tif", "image/tiff", DOC_KIND_IMAGE, 2},
        {"image_en.png", "image/png", DOC_KIND_IMAGE, 1},
        {"image_ja.jpg", "image/jpeg", DOC_KIND_IMAGE, 1},
        {"image.bmp", "image/bmp", DOC_KIND_IMAGE, 1},
        {"image.gif", "image/gif", DOC_KIND_IMAGE, 1},
        {"notes_sjis.txt", "text/plain", DOC_KIND_TEXT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        doc *d = open_doc(cases[i].name);
        CHECK(d != NULL);
        if (!d)
            continue;
        CHECK_STR(doc_mime(d), cases[i].mime);
        CHECK_INT(doc_get_kind(d), cases[i].kind);
        CHECK_INT(doc_page_count(d), cases[i].pages);
        doc_close(d);
    }
}

static void test_bad_inputs(void)
{
    const char *names[] = {"corrupt.pdf", "empty.pdf", "unsupported.xyz"};
    const char *msgs[] = {"cannot open document", "empty file", "unsupported type"};
    for (int i = 0; i < 3; i++) {
        dm_err err;
        doc *d = doc_open(dc, corpus_path(names[i]), &err);
        CHECK(d == NULL);
        CHECK(err.permanent);
        CHECK_CONTAINS(err.msg, msgs[i]);
        doc_close(d);
    }
}

static void test_sniffing_text_that_looks_binary(void)
{
    /* Text beginning with "BM" or mentioning "%PDF-" is still text. */
    const char *bodies[] = {"BMI results for the whole team are in.\nAll fine.\n",
                            "Please save the form as %PDF-1.7 before sending.\n"};
    for (int i = 0; i < 2; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/note%d.txt", check_tmpdir(), i);
        FILE *f = fopen(path, "w");
        fputs(bodies[i], f);
        fclose(f);
        dm_err err;
        doc *d = doc_open(dc, path, &err);
        CHECK(d != NULL);
        if (d) {
            CHECK_STR(doc_mime(d), "text/plain");
            doc_close(d);
        }
    }
}

static void test_text_layer(void)
{
    doc *d = open_doc("text_ja_en.pdf");
    if (!d)
        return;
    sbuf raw, norm;
    sbuf_init(&raw);
    sbuf_init(&norm);
    page_info pi;
    dm_err err;
    CHECK_INT(doc_page_text(d, 1, &raw, &pi, &err), 0);
    text_normalize(raw.data, raw.len, &norm);
    CHECK_CONTAINS(norm.data, "吾輩は猫である");
    CHECK(pi.width_pt > 500 && pi.width_pt < 700);
    sbuf_reset(&raw);
    sbuf_reset(&norm);
    CHECK_INT(doc_page_text(d, 2, &raw, &pi, &err), 0);
    CHECK_CONTAINS(raw.data, "Zebra Crossing Protocol");
    CHECK_INT(doc_page_text(d, 3, &raw, &pi, &err), -1);
    CHECK_CONTAINS(err.msg, "out of range");
    sbuf_free(&raw);
    sbuf_free(&norm);
    doc_close(d);

    d = open_doc("scan_en.pdf");
    if (!d)
        return;
    sbuf_init(&raw);
    CHECK_INT(doc_page_text(d, 1, &raw, &pi, &err), 0);
    text_stats st;
    text_compute_stats(raw.data ? raw.data : "", raw.len, &st);
    CHECK_INT(st.chars, 0);
    CHECK(pi.image_coverage > 0.9);
    sbuf_free(&raw);
    doc_close(d);
}

static void test_render_and_pixel_cap(void)
{
    doc *d = open_doc("scan_en.pdf");
    if (!d)
        return;
    gray_image img;
    dm_err err;
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), 0);
    CHECK_INT(img.dpi, 150);
    CHECK(img.width > 1200 && img.width < 1260);  /* A4 at 150 DPI: 1240 */
    CHECK(img.stride >= img.width);
    gray_image_free(dc, &img);
    /* 1 megapixel cap: rendered at the largest DPI that fits instead. */
    CHECK_INT(doc_render_gray(d, 1, 300, 1000000, &img, &err), 0);
    CHECK(img.dpi > 72 && img.dpi < 150);
    CHECK((long)img.width * img.height <= 1000000);
    gray_image_free(dc, &img);
    doc_close(d);

    d = open_doc("image_en.png");
    if (!d)
        return;
    CHECK_INT(doc_render_gray(d, 1, 300, 1000, &img, &err), -1);  /* an image is refused */
    CHECK_CONTAINS(err.msg, "exceeds the limit");
    CHECK_INT(doc_render_gray(d, 1, 300, 0, &img, &err), 0);
    CHECK_INT(img.dpi, 300);
    int full_w = img.width, full_h = img.height;
    gray_image_free(dc, &img);
    /* Never enlarged; shrunk to a lower DPI, its text still dark on white. */
    CHECK_INT(doc_render_gray(d, 1, 600, 0, &img, &err), 0);
    CHECK_INT(img.dpi, 300);
    CHECK_INT(img.width, full_w);
    gray_image_free(dc, &img);
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), 0);
    CHECK_INT(img.dpi, 150);
    CHECK(abs(img.width - full_w / 2) <= 1 && abs(img.height - full_h / 2) <= 1);
    int dark = 0, white = 0;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            unsigned char v = img.samples[(size_t)y * img.stride + x];
            dark += v < 96;
            white += v > 224;
        }
    CHECK(dark > 100 && white > img.width * img.height / 2);
    gray_image_free(dc, &img);
    doc_close(d);
}

static void test_ocr(void)
{
    ocr_engine *eng = ocr_engine_new(NULL);
    dm_err err;
    CHECK(ocr_languages_available(NULL, "jpn+eng", &err));
    CHECK(!ocr_languages_available(NULL, "xxx", &err));
    CHECK_CONTAINS(err.msg, "not installed");
    CHECK(!ocr_languages_available(NULL, "../eng", &err));
    doc *d = open_doc("scan_en.pdf");
    if (!d)
        return;
    gray_image img;
    CHECK_INT(doc_render_gray(d, 1, 300, 0, &img, &err), 0);
    sbuf out;
    sbuf_init(&out);
    ocr_result res;
    ocr_options opt = {.psm = 3, .skip_inverted = true};
    CHECK_INT(ocr_recognize(eng, "eng", &img, &opt, &out, &res, &err), 0);
    CHECK_CONTAINS(out.data, "invoice number 48213");
    CHECK(res.mean_confidence > 50);
    CHECK_INT(ocr_engine_loaded(eng), 1);
    sbuf_reset(&out);
    /* Same language set again: the instance is reused, not reloaded. */
    CHECK_INT(ocr_recognize(eng, "eng", &img, &opt, &out, &res, &err), 0);
    CHECK_INT(ocr_engine_loaded(eng), 1);
    CHECK_INT(ocr_recognize(eng, "nope", &img, &opt, &out, &res, &err), -1);
    gray_image_free(dc, &img);
    sbuf_free(&out);
    doc_close(d);
    ocr_engine_free(eng);
}

static void test_turn_and_orientation(void)
{
    doc *d = open_doc("image_en.png");
    if (!d)
        return;
    dm_err err;
    gray_image img, a, b;
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), 0);
    CHECK_INT(img.turned, 0);
    CHECK_INT(gray_image_turn(dc, &img, 45, &a, &err), -1);
    /* A quarter turn swaps the sides; four of them give the pixels back. */
    CHECK_INT(gray_image_turn(dc, &img, 90, &a, &err), 0);
    CHECK_INT(a.width, img.height);
    CHECK_INT(a.height, img.width);
    CHECK_INT(a.turned, 90);
    for (int k = 0; k < 3; k++) {
        CHECK_INT(gray_image_turn(dc, &a, 90, &b, &err), 0);
        gray_image_free(dc, &a);
        a = b;
    }
    CHECK_INT(a.turned, 0);
    CHECK_INT(a.width, img.width);
    long differ = 0;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++)
            differ += abs(a.samples[(size_t)y * a.stride + x] -
                          img.samples[(size_t)y * img.stride + x]) > 8;
    CHECK(differ < (long)img.width * img.height / 1000);
    gray_image_free(dc, &a);
    /* Skew: turned 3 degrees clockwise, the lines need 3 back; levelled by
     * what skew says, they need none. */
    double deg, sure;
    gray_image_skew(&img, &deg, &sure);
    CHECK(fabs(deg) < 0.5);
    CHECK_INT(gray_image_rotate(dc, &img, 3.0, &a, &err), 0);
    CHECK_INT(a.width, img.width);
    CHECK_INT(a.height, img.height);
    gray_image_skew(&a, &deg, &sure);
    CHECK(deg < -2.0 && deg > -4.0);
    CHECK(sure > 2.0);
    /* The one-bit image skew builds is leptonica's own pixConvertTo1 at
     * the same threshold: the same angle to the last bit. */
    PIX *pix8 = pixCreate(a.width, a.height, 8);
    for (int y = 0; y < a.height; y++)
        for (int x = 0; x < a.width; x++)
            pixSetPixel(pix8, x, y, a.samples[(size_t)y * a.stride + x]);
    PIX *pix1 = pixConvertTo1(pix8, 160);
    l_float32 ref_deg = 0, ref_sure = 0;
    CHECK_INT(pixFindSkew(pix1, &ref_deg, &ref_sure), 0);
    CHECK(deg == ref_deg && sure == ref_sure);
    pixDestroy(&pix1);
    pixDestroy(&pix8);
    CHECK_INT(gray_image_rotate(dc, &a, deg, &b, &err), 0);
    gray_image_skew(&b, &deg, &sure);
    CHECK(fabs(deg) < 0.5);
    gray_image_free(dc, &a);
    gray_image_free(dc, &b);
    /* Tesseract's orientation detection sees the page upside down, and
     * turning it back reads the text. */
    ocr_engine *eng = ocr_engine_new(NULL);
    CHECK_INT(gray_image_turn(dc, &img, 180, &a, &err), 0);
    ocr_orientation o;
    CHECK_INT(ocr_detect_orientation(eng, &a, 0, &o, &err), 0);
    CHECK_INT(o.degrees, 180);
    CHECK(o.confidence > 1.5);
    CHECK_STR(o.script, "Latin");
    CHECK_INT(ocr_detect_orientation(eng, &img, 0, &o, &err), 0);
    CHECK_INT(o.degrees, 0);
    CHECK_INT(gray_image_turn(dc, &a, 180, &b, &err), 0);
    sbuf out;
    sbuf_init(&out);
    ocr_result res;
    ocr_options opt = {.psm = 3, .skip_inverted = true};
    CHECK_INT(ocr_recognize(eng, "eng", &b, &opt, &out, &res, &err), 0);
    CHECK_CONTAINS(out.data, "harbor lighthouse keeper");
    sbuf_free(&out);
    gray_image_free(dc, &a);
    gray_image_free(dc, &b);
    gray_image_free(dc, &img);
    ocr_engine_free(eng);
    doc_close(d);
}

static void test_mupdf_allocations_counted(void)
{
    size_t before = doc_ctx_allocated(dc);
    doc *d = open_doc("text_ja_en.pdf");
    CHECK(doc_ctx_allocated(dc) > before);
    doc_close(d);
    doc_ctx_shrink_store(dc);
    CHECK(doc_ctx_peak(dc) >= doc_ctx_allocated(dc));
}

static void test_memory_cap(void)
{
    doc *d = open_doc("scan_en.pdf");
    if (!d)
        return;
    gray_image img;
    dm_err err;
    /* A4 at 300 DPI is 8.7 MB of gray pixels: more than a 4 MB cap. */
    doc_ctx_set_limit(dc, 4u << 20);
    CHECK_INT(doc_render_gray(d, 1, 300, 0, &img, &err), -1);
    CHECK_CONTAINS(err.msg, "memory limit");
    CHECK(err.permanent);
    CHECK(doc_ctx_allocated(dc) <= (4u << 20));
    /* The same context works again within the cap (nothing left over). */
    CHECK_INT(doc_render_gray(d, 1, 72, 0, &img, &err), 0);
    gray_image_free(dc, &img);
    doc_ctx_set_limit(dc, 0);
    CHECK_INT(doc_render_gray(d, 1, 300, 0, &img, &err), 0);
    gray_image_free(dc, &img);
    doc_close(d);
}

static void test_deadlines(void)
{
    doc *d = open_doc("text_ja_en.pdf");
    if (!d)
        return;
    sbuf text;
    sbuf_init(&text);
    page_info info;
    dm_err err;
    gray_image img;
    doc_ctx_set_deadline(dc, dm_mono_ms() - 1);
    CHECK_INT(doc_page_text(d, 1, &text, &info, &err), -1);
    CHECK_CONTAINS(err.msg, "timed out");
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), -1);
    CHECK_CONTAINS(err.msg, "timed out");
    /* A deadline in the future changes nothing; clearing it neither. */
    doc_ctx_set_deadline(dc, dm_mono_ms() + 60000);
    CHECK_INT(doc_page_text(d, 1, &text, &info, &err), 0);
    doc_ctx_set_deadline(dc, 0);
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), 0);
    CHECK_INT(doc_ctx_deadline(dc), 0);
    doc_close(d);
    sbuf_free(&text);

    /* Tesseract: a passed deadline refuses; a 1 ms one stops recognition
     * (which takes far longer on a 300 DPI page). */
    d = open_doc("scan_en.pdf");
    gray_image_free(dc, &img);
    if (!d)
        return;
    CHECK_INT(doc_render_gray(d, 1, 300, 0, &img, &err), 0);
    ocr_engine *eng = ocr_engine_new(NULL);
    sbuf out;
    sbuf_init(&out);
    ocr_result res;
    ocr_options opt = {.psm = 3, .skip_inverted = true, .deadline_ms = dm_mono_ms() - 1};
    CHECK_INT(ocr_recognize(eng, "eng", &img, &opt, &out, &res, &err), -1);
    CHECK_CONTAINS(err.msg, "timed out");
    opt.deadline_ms = dm_mono_ms() + 1;
    CHECK_INT(ocr_recognize(eng, "eng", &img, &opt, &out, &res, &err), -1);
    CHECK_CONTAINS(err.msg, "timed out");
    opt.deadline_ms = 0;
    sbuf_reset(&out);
    CHECK_INT(ocr_recognize(eng, "eng", &img, &opt, &out, &res, &err), 0);
    CHECK_CONTAINS(out.data, "invoice number 48213");
    sbuf_free(&out);
    ocr_engine_free(eng);
    gray_image_free(dc, &img);
    doc_close(d);
}

/* Figures of the benchmark's first pages (policies/README.md, "Languages"). */
static void test_languages_refine(void)
{
    char out[64];
    ocr_languages_refine("jpn+eng", 1414, 560, 1.0, "jpn+eng", out);   /* 8 pt manual */
    CHECK_STR(out, "jpn");
    ocr_languages_refine("jpn+eng", 344, 723, 1.0, "jpn+eng", out);    /* English paragraphs */
    CHECK_STR(out, "jpn+eng");
    ocr_languages_refine("jpn+eng", 0, 1450, 1.0, "jpn+eng", out);     /* English */
    CHECK_STR(out, "eng");
    ocr_languages_refine("jpn+eng", 0, 150, 1.0, "jpn+eng", out);      /* too little to judge */
    CHECK_STR(out, "jpn+eng");
    ocr_languages_refine("jpn+eng", 20, 0, 1.0, "jpn+eng", out);
    CHECK_STR(out, "jpn+eng");
    ocr_languages_refine("jpn+eng", 1414, 560, 0, "jpn+eng", out);     /* 0 = never jpn alone */
    CHECK_STR(out, "jpn+eng");
    ocr_languages_refine("jpn+eng", 1414, 560, 0.3, "jpn+eng", out);   /* a stricter threshold */
    CHECK_STR(out, "jpn+eng");
    ocr_languages_refine("eng", 1414, 0, 1.0, "eng", out);             /* never a model not used */
    CHECK_STR(out, "eng");
    ocr_languages_refine("jpn_vert+engx", 1414, 0, 1.0, "jpn+eng", out);  /* whole names only */
    CHECK_STR(out, "jpn+eng");
    ocr_languages_refine("eng+jpn", 0, 900, 1.0, "eng+jpn", out);
    CHECK_STR(out, "eng");
}

static void test_languages_trial(void)
{
    CHECK(ocr_languages_narrower("jpn", "jpn+eng"));
    CHECK(!ocr_languages_narrower("jpn+eng", "jpn+eng"));
    CHECK(!ocr_languages_narrower("eng+jpn", "jpn+eng")); /* the same models */
    CHECK(!ocr_languages_narrower("", "jpn+eng"));
    CHECK(!ocr_languages_narrower("jpn", "eng"));
    CHECK(!ocr_languages_narrower("jpn_vert", "jpn+eng")); /* whole names only */
    CHECK(ocr_languages_narrower("jpn+eng", "jpn+eng+chi_sim"));
    /* Kept: Japanese (0.4 Latin letters per character), English
     * paragraphs between Japanese ones (2.1), nothing read; read again:
     * English with a stray character. */
    CHECK(ocr_trial_kept(1414, 560, 4));
    CHECK(ocr_trial_kept(344, 723, 4));
    CHECK(ocr_trial_kept(0, 0, 4));
    CHECK(!ocr_trial_kept(1, 1449, 4));
    CHECK(!ocr_trial_kept(0, 30, 4));
    CHECK(!ocr_trial_kept(344, 723, 1)); /* a stricter threshold */
}

/* A white w x h raster with `lines` black bars `line_px` tall, a gap of
 * line_px between them, and a speck in every gap. */
static unsigned char *bars(int w, int h, int lines, int line_px)
{
    unsigned char *px = malloc((size_t)w * h);
    memset(px, 255, (size_t)w * h);
    for (int k = 0; k < lines; k++) {
        int top = 40 + k * 2 * line_px;
        for (int y = top; y < top + line_px && y < h; y++)
            memset(px + (size_t)y * w + 20, 0, (size_t)w - 40);
        if (top + line_px + 2 < h)
            px[(size_t)(top + line_px + 2) * w + w / 2] = 0;
    }
    return px;
}

static void test_line_height(void)
{
    gray_image syn = {.width = 800, .height = 1000, .stride = 800, .dpi = 150};
    syn.samples = bars(800, 1000, 20, 18);
    CHECK_INT(gray_image_line_height(&syn), 18);
    /* A cut through the first bar (rows 40..57) moves to the nearest blank
     * row; one in a gap stays. */
    CHECK_INT(gray_image_quiet_row(&syn, 49, 12), 58);
    CHECK_INT(gray_image_quiet_row(&syn, 65, 12), 65);
    free(syn.samples);
    syn.samples = bars(800, 1000, 2, 18); /* too few lines to tell */
    CHECK_INT(gray_image_line_height(&syn), 0);
    memset(syn.samples, 0, 800 * 1000);   /* all dark: a photo, white on black */
    CHECK_INT(gray_image_line_height(&syn), 0);
    free(syn.samples);
    /* A real scan: twice the DPI, twice the line. */
    doc *d = open_doc("scan_ja.pdf");
    if (!d)
        return;
    dm_err err;
    gray_image lo, hi;
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &lo, &err), 0);
    CHECK_INT(doc_render_gray(d, 1, 300, 0, &hi, &err), 0);
    int l150 = gray_image_line_height(&lo), l300 = gray_image_line_height(&hi);
    CHECK(l150 >= 12 && l150 <= 60);
    CHECK(abs(l300 - 2 * l150) <= 3);
    gray_image_free(dc, &hi);
    gray_image_free(dc, &lo);
    doc_close(d);
}

int main(void)
{
    dm_err err;
    dc = doc_ctx_new(16 << 20, &err);
    static const check_case cases[] = {
        {"content sniffing: kinds, MIME types and page counts", test_kinds_and_pages},
        {"corrupt, empty and unsupported files are permanent errors", test_bad_inputs},
        {"text that starts with \"BM\" or mentions %PDF- is text", test_sniffing_text_that_looks_binary},
        {"text layer extraction and image coverage", test_text_layer},
        {"gray rendering at a DPI, pixel cap lowers DPI or refuses images", test_render_and_pixel_cap},
        {"Tesseract reads a rendered scan and reuses its instance", test_ocr},
        {"images turn and level; OSD sees an upside-down page", test_turn_and_orientation},
        {"MuPDF allocations are counted per context", test_mupdf_allocations_counted},
        {"the per-context memory cap fails a page with \"memory limit\"", test_memory_cap},
        {"deadlines stop text, rendering and Tesseract with \"timed out\"", test_deadlines},
        {"the built-in choice of languages after a first page", test_languages_refine},
        {"a first page read with fewer models: when, and when it is kept", test_languages_trial},
        {"text line height: bars, too few, all dark; a scan at two DPIs", test_line_height},
        {NULL, NULL}};
    int rc = check_run(cases);
    doc_ctx_free(dc);
    return rc;
}
