/* What drawing a page costs MuPDF, and the DPI that fits a budget
 * (extract/decode_budget.c): the arithmetic on made-up pages, the survey
 * and the render on the generated corpus. */
#include "check.h"

#include "extract/decode_budget.h"
#include "extract/doc.h"

#define MB (1024.0 * 1024.0)

/* ocrmypdf/enormous.pdf of the robust corpus: a 9000x9000 RGB image drawn
 * over a 30-inch square page. */
static drawn_images poster(int max_halvings)
{
    drawn_images list = {0};
    drawn_images_add(&list, (drawn_image){.w = 9000, .h = 9000, .n = 3, .w_pt = 2160,
                                          .h_pt = 2160, .max_halvings = max_halvings});
    return list;
}

static void test_an_image_drawn_at_half_its_size_is_decoded_whole(void)
{
    drawn_images list = poster(8);
    /* 150 DPI draws it 4500 px wide: whole, 232 MiB, and 58 MiB scaled. */
    double at150 = drawn_image_bytes(&list.v[0], 150) / MB;
    CHECK(at150 > 285 && at150 < 295);
    /* 149 DPI: halved while decoding, 58 MiB, and 57 MiB scaled. */
    double at149 = drawn_image_bytes(&list.v[0], 149) / MB;
    CHECK(at149 > 110 && at149 < 120);
    /* Drawn 900 px wide, halved as often as it stays over twice that:
     * three times, to 1125 px (3.6 MiB), and 2.3 MiB scaled. */
    double at30 = drawn_image_bytes(&list.v[0], 30) / MB;
    CHECK(at30 > 5.5 && at30 < 6.5);
    /* JPEG 2000 is decoded whole at any size. */
    drawn_images jpx = poster(0);
    CHECK(drawn_image_bytes(&jpx.v[0], 30) > 230 * MB);
    /* The page adds its own gray pixels: 4500 x 4500. */
    CHECK_INT(page_draw_bytes(&list, 30, 30, 150) - drawn_image_bytes(&list.v[0], 150),
              4500 * 4500);
}

static void test_the_highest_dpi_that_fits(void)
{
    drawn_images list = poster(8);
    size_t budget = 256u << 20;
    /* Whole it does not fit 256 MB; one DPI less, halved, it does. */
    CHECK_INT(page_dpi_within(&list, 30, 30, 150, FIT_MIN_DPI, budget), 149);
    /* What fits is left alone. */
    CHECK_INT(page_dpi_within(&list, 30, 30, 120, FIT_MIN_DPI, budget), 120);
    /* Nothing fits down to the floor: the DPI asked, for the cap to decide. */
    CHECK_INT(page_dpi_within(&list, 30, 30, 150, FIT_MIN_DPI, 1u << 20), 150);
    /* No image: only the page's pixels count. */
    drawn_images none = {0};
    CHECK_INT(page_dpi_within(&none, 10, 10, 300, FIT_MIN_DPI, 2000 * 2000), 200);
}

static void test_the_list_keeps_the_largest_images(void)
{
    drawn_images list = {0};
    for (int i = 1; i <= DRAWN_IMAGES_MAX + 5; i++)
        drawn_images_add(&list, (drawn_image){.w = i * 10, .h = i * 10, .n = 1});
    CHECK_INT(list.n, DRAWN_IMAGES_MAX);
    int smallest = list.v[0].w;
    for (int i = 1; i < list.n; i++)
        if (list.v[i].w < smallest)
            smallest = list.v[i].w;
    CHECK_INT(smallest, 60);
}

/* scan_en.pdf: an A4 page that is one 300-DPI gray image. */
static void test_a_scan_is_surveyed_and_drawn_to_fit(void)
{
    dm_err err;
    doc_ctx *dc = doc_ctx_new(16u << 20, &err);
    doc *d = doc_open(dc, corpus_path("scan_en.pdf"), &err);
    CHECK(d != NULL);
    if (!d) {
        doc_ctx_free(dc);
        return;
    }
    gray_image img;
    /* At 150 DPI MuPDF would decode the scan whole (8.7 MB) and scale a
     * copy: under a 10 MB cap the page is drawn at 149 DPI instead. */
    doc_ctx_set_limit(dc, 10u << 20);
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), 0);
    CHECK_INT(img.dpi, 149);
    CHECK(doc_ctx_peak(dc) <= (10u << 20));
    gray_image_free(dc, &img);
    /* Without a cap, the DPI asked. */
    doc_ctx_set_limit(dc, 0);
    CHECK_INT(doc_render_gray(d, 1, 150, 0, &img, &err), 0);
    CHECK_INT(img.dpi, 150);
    gray_image_free(dc, &img);
    doc_close(d);
    doc_ctx_free(dc);
}

int main(void)
{
    static const check_case cases[] = {
        {"an image drawn at half its size is decoded whole", test_an_image_drawn_at_half_its_size_is_decoded_whole},
        {"the highest DPI whose drawing fits the budget", test_the_highest_dpi_that_fits},
        {"a page's list keeps its largest images", test_the_list_keeps_the_largest_images},
        {"a scan is surveyed and drawn at the DPI that fits the cap", test_a_scan_is_surveyed_and_drawn_to_fit},
        {NULL, NULL}};
    return check_run(cases);
}
