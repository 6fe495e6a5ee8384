#include "extract/decode_budget.h"

#include <math.h>

static double pixels(const drawn_image *im)
{
    return (double)im->w * im->h;
}

void drawn_images_add(drawn_images *list, drawn_image im)
{
    if (list->n < DRAWN_IMAGES_MAX) {
        list->v[list->n++] = im;
        return;
    }
    int smallest = 0;
    for (int i = 1; i < list->n; i++)
        if (pixels(&list->v[i]) < pixels(&list->v[smallest]))
            smallest = i;
    if (pixels(&im) > pixels(&list->v[smallest]))
        list->v[smallest] = im;
}

size_t drawn_image_bytes(const drawn_image *im, double dpi)
{
    double dw = im->w_pt * dpi / 72.0, dh = im->h_pt * dpi / 72.0;
    /* MuPDF halves while the image stays more than twice the drawn size:
     * 9000 px drawn at 4500 is decoded whole, drawn at 4470 halved. */
    int k = 0;
    while (k < im->max_halvings && (double)(im->w >> k) > 2 * dw &&
           (double)(im->h >> k) > 2 * dh)
        k++;
    double decoded = ceil(im->w / (double)(1 << k)) * ceil(im->h / (double)(1 << k)) * im->n;
    return (size_t)(decoded + ceil(dw) * ceil(dh) * im->n);
}

size_t page_draw_bytes(const drawn_images *list, double w_in, double h_in, double dpi)
{
    size_t most = 0;
    for (int i = 0; i < list->n; i++) {
        size_t b = drawn_image_bytes(&list->v[i], dpi);
        if (b > most)
            most = b;
    }
    return (size_t)(ceil(w_in * dpi) * ceil(h_in * dpi)) + most;
}

int page_dpi_within(const drawn_images *list, double w_in, double h_in, int dpi, int min_dpi,
                    size_t budget)
{
    for (int d = dpi; d >= min_dpi && d >= 1; d--)
        if (page_draw_bytes(list, w_in, h_in, d) <= budget)
            return d;
    return dpi;
}

typedef struct survey_device {
    fz_device super;
    drawn_images *out;
} survey_device;

static void note_image(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm)
{
    drawn_image im = {.w = img->w, .h = img->h, .n = img->n > 0 ? img->n : 1};
    im.w_pt = sqrt((double)ctm.a * ctm.a + (double)ctm.b * ctm.b);
    im.h_pt = sqrt((double)ctm.c * ctm.c + (double)ctm.d * ctm.d);
    /* JPEG halves in its decoder up to 1/8; a stream filter as often as
     * asked; JPEG 2000 is decoded whole, and so is an image that is
     * already a pixmap. */
    fz_compressed_buffer *cb = fz_compressed_image_buffer(ctx, img);
    im.max_halvings = !cb ? 0
                      : cb->params.type == FZ_IMAGE_JPEG ? 3
                      : cb->params.type == FZ_IMAGE_JPX  ? 0
                                                          : 8;
    drawn_images_add(((survey_device *)dev)->out, im);
}

static void survey_fill_image(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm,
                              float alpha, fz_color_params cp)
{
    (void)alpha, (void)cp;
    note_image(ctx, dev, img, ctm);
}

static void survey_fill_image_mask(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm,
                                   fz_colorspace *cs, const float *color, float alpha,
                                   fz_color_params cp)
{
    (void)cs, (void)color, (void)alpha, (void)cp;
    note_image(ctx, dev, img, ctm);
}

static void survey_clip_image_mask(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm,
                                   fz_rect scissor)
{
    (void)scissor;
    note_image(ctx, dev, img, ctm);
}

void drawn_images_survey(fz_context *ctx, fz_page *pg, fz_cookie *cookie, drawn_images *out)
{
    out->n = 0;
    survey_device *dev = fz_new_derived_device(ctx, survey_device);
    dev->out = out;
    dev->super.fill_image = survey_fill_image;
    dev->super.fill_image_mask = survey_fill_image_mask;
    dev->super.clip_image_mask = survey_clip_image_mask;
    fz_try(ctx)
    {
        fz_run_page(ctx, pg, &dev->super, fz_identity, cookie);
        fz_close_device(ctx, &dev->super);
    }
    fz_always(ctx) fz_drop_device(ctx, &dev->super);
    fz_catch(ctx) fz_rethrow(ctx);
}
