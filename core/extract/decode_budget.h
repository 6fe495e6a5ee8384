/* decode_budget: what drawing a page at a DPI makes MuPDF hold, judged
 * from the images the page draws, and the highest DPI at which that fits
 * a budget. MuPDF decodes an image whole unless it is drawn at less than
 * half its size; then it halves it while decoding, as often as it stays
 * larger than drawn. So a 9000x9000 RGB poster drawn at 150 DPI on a
 * 30-inch page holds 243 MB decoded, at 149 DPI a quarter of that. */
#ifndef DOCMILL_DECODE_BUDGET_H
#define DOCMILL_DECODE_BUDGET_H

#include <mupdf/fitz.h>
#include <stddef.h>

/* The lowest DPI a page is drawn at to fit the memory cap: below it body
 * text is too small to read. */
#define FIT_MIN_DPI 72

typedef struct drawn_image {
    int w, h, n;          /* the image's own pixels, and bytes per pixel decoded */
    double w_pt, h_pt;    /* the size it is drawn at, in points */
    int max_halvings;     /* how often MuPDF can halve it while decoding */
} drawn_image;

/* The largest images of a page; a page with more keeps these. */
#define DRAWN_IMAGES_MAX 16
typedef struct drawn_images {
    drawn_image v[DRAWN_IMAGES_MAX];
    int n;
} drawn_images;

/* Adds im, dropping the smallest image when the list is full. */
void drawn_images_add(drawn_images *list, drawn_image im);

/* Bytes MuPDF holds to draw im at dpi: the image decoded (halved as far as
 * it may be) and the copy scaled to the drawn size. */
size_t drawn_image_bytes(const drawn_image *im, double dpi);

/* Bytes to draw a w_in x h_in inch page at dpi in gray: its pixels and
 * its costliest image. */
size_t page_draw_bytes(const drawn_images *list, double w_in, double h_in, double dpi);

/* The highest DPI from dpi down to min_dpi at which page_draw_bytes fits
 * budget; dpi itself when none does (the memory cap then decides). */
int page_dpi_within(const drawn_images *list, double w_in, double h_in, int dpi, int min_dpi,
                    size_t budget);

/* The images page pg draws, as MuPDF will decode them: its content run
 * through a device that only looks at images. May throw. */
void drawn_images_survey(fz_context *ctx, fz_page *pg, fz_cookie *cookie, drawn_images *out);

#endif
