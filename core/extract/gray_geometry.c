/* Geometry on gray rasters: turning by quarter turns (EXIF, turned scans),
 * levelling a page askew, the height of its text lines, shrinking an image
 * to the policy's DPI (doc.c). MuPDF's draw device does the resampling,
 * leptonica finds the skew. */
#include "extract/gray_geometry.h"

#include "base/common.h"

#include <leptonica/allheaders.h>
#include <stdlib.h>
#include <string.h>

void gray_image_hold(gray_image *img, fz_pixmap *pix, int dpi, int turned)
{
    img->owner = pix;
    img->samples = pix->samples;
    img->width = pix->w;
    img->height = pix->h;
    img->stride = (int)pix->stride;
    img->dpi = dpi;
    img->turned = turned;
}

/* The unit-square map that turns an image clockwise by degrees (a multiple
 * of 90), after mirroring it left to right when `mirror`. Device space has
 * y down and an image's unit square has its origin at the top left. */
static fz_matrix turn_matrix(int degrees, bool mirror)
{
    static const fz_matrix turns[4] = {
        {1, 0, 0, 1, 0, 0}, {0, 1, -1, 0, 1, 0}, {-1, 0, 0, -1, 1, 1}, {0, -1, 1, 0, 0, 1}};
    fz_matrix m = turns[((degrees / 90) % 4 + 4) % 4];
    return mirror ? fz_concat(fz_make_matrix(-1, 0, 0, 1, 1, 0), m) : m;
}

/* A w x h gray copy of `gray` drawn through the unit-square map m (see
 * turn_matrix) by MuPDF's draw device, which filters as it shrinks: plain
 * decimation would drop thin strokes. */
fz_pixmap *gray_redraw(fz_context *ctx, fz_pixmap *gray, int w, int h, fz_matrix m)
{
    fz_image *volatile image = NULL;
    fz_device *volatile dev = NULL;
    fz_pixmap *volatile out = NULL;
    fz_var(image);
    fz_var(dev);
    fz_var(out);
    fz_try(ctx)
    {
        image = fz_new_image_from_pixmap(ctx, gray, NULL);
        out = fz_new_pixmap(ctx, fz_device_gray(ctx), w < 1 ? 1 : w, h < 1 ? 1 : h, NULL, 0);
        fz_clear_pixmap_with_value(ctx, out, 255);
        dev = fz_new_draw_device(ctx, fz_identity, out);
        fz_fill_image(ctx, dev, image, fz_concat(m, fz_scale((float)out->w, (float)out->h)),
                      1.0f, fz_default_color_params);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx)
    {
        fz_drop_device(ctx, dev);
        fz_drop_image(ctx, image);
    }
    fz_catch(ctx)
    {
        fz_drop_pixmap(ctx, out);
        fz_rethrow(ctx);
    }
    return out;
}

/* A copy of `gray` turned clockwise by degrees (mirrored first when asked). */
fz_pixmap *gray_turned(fz_context *ctx, fz_pixmap *gray, int degrees, bool mirror)
{
    bool sideways = (degrees / 90) % 2 != 0;
    return gray_redraw(ctx, gray, sideways ? gray->h : gray->w, sideways ? gray->w : gray->h,
                       turn_matrix(degrees, mirror));
}

/* Darker than this is ink, for the skew and the text lines alike. */
enum { INK_BELOW = 160 };

void gray_image_skew(const gray_image *img, double *degrees, double *confidence)
{
    *degrees = 0;
    *confidence = 0;
    if (!img || !img->samples || img->width < 16 || img->height < 16)
        return;
    /* Straight to one bit a pixel, as pixConvertTo1(pix, INK_BELOW) would
     * make it from an 8-bit copy (darker = 1, leptonica's bits from the
     * word's top): the copy and its pass cost more than the search. */
    PIX *bin = pixCreate(img->width, img->height, 1);
    if (!bin)
        return;
    l_uint32 *data = pixGetData(bin);
    int wpl = pixGetWpl(bin);
    for (int y = 0; y < img->height; y++) {
        const unsigned char *row = img->samples + (size_t)y * img->stride;
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x0 = 0; x0 < img->width; x0 += 32) {
            l_uint32 word = 0;
            int n = img->width - x0 < 32 ? img->width - x0 : 32;
            for (int b = 0; b < n; b++)
                word |= (l_uint32)(row[x0 + b] < INK_BELOW) << (31 - b);
            line[x0 / 32] = word;
        }
    }
    l_float32 angle = 0, conf = 0;
    if (pixFindSkew(bin, &angle, &conf) == 0) {
        /* leptonica's angle is the turn that levels the lines, clockwise
         * positive in image coordinates. */
        *degrees = angle;
        *confidence = conf;
    }
    pixDestroy(&bin);
}

/* A band of rows is a text line when it is thicker than specks, thinner
 * than a quarter of the page (not a picture), and somewhere a tenth inked
 * across its strip (specks and dust are not); a page needs three lines'
 * worth. */
enum { LINE_STRIPS = 8, LINE_MIN_PX = 4, LINE_MIN_BANDS = 3 * LINE_STRIPS };

static int cmp_band(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int gray_image_line_height(const gray_image *img)
{
    if (!img || !img->samples || img->width < LINE_STRIPS * 4 || img->height < 32)
        return 0;
    int w = img->width, h = img->height, sw = w / LINE_STRIPS;
    int max_band = h / 4, cap = LINE_STRIPS * (h / (LINE_MIN_PX + 1) + 1);
    /* A row of text has ink here; a speck alone rarely does. */
    int row_ink = sw / 50 > 2 ? sw / 50 : 2, line_ink = sw / 10 > 2 ? sw / 10 : 2;
    int *bands = malloc((size_t)cap * sizeof *bands);
    int *start = malloc(2 * LINE_STRIPS * sizeof *start);
    if (!bands || !start) {
        free(bands);
        free(start);
        return 0;
    }
    int *peak = start + LINE_STRIPS;
    int n = 0;
    int64_t ink_total = 0;
    for (int s = 0; s < LINE_STRIPS; s++)
        start[s] = -1;
    for (int y = 0; y <= h; y++) {
        const unsigned char *row = y < h ? img->samples + (size_t)y * img->stride : NULL;
        for (int s = 0; s < LINE_STRIPS; s++) {
            int ink = 0;
            if (row)
                for (int x = s * sw; x < (s + 1) * sw; x++)
                    ink += row[x] < INK_BELOW;
            ink_total += ink;
            if (ink >= row_ink) {
                if (start[s] < 0) {
                    start[s] = y;
                    peak[s] = 0;
                }
                if (ink > peak[s])
                    peak[s] = ink;
            } else if (start[s] >= 0) {
                int height = y - start[s];
                /* A band cut by the page's edge is not a whole line. */
                if (start[s] > 0 && y < h && height >= LINE_MIN_PX && height <= max_band &&
                    peak[s] >= line_ink && n < cap)
                    bands[n++] = height;
                start[s] = -1;
            }
        }
    }
    free(start);
    int line = 0;
    if (n >= LINE_MIN_BANDS && ink_total * 5 < (int64_t)sw * LINE_STRIPS * h * 2) {
        qsort(bands, (size_t)n, sizeof *bands, cmp_band);
        line = bands[n / 2];
    }
    free(bands);
    return line;
}

int gray_image_quiet_row(const gray_image *img, int y, int reach)
{
    int best = y < 0 ? 0 : y >= img->height ? img->height - 1 : y;
    long least = -1;
    for (int r = y - reach; r <= y + reach; r++) {
        if (r < 0 || r >= img->height)
            continue;
        const unsigned char *row = img->samples + (size_t)r * img->stride;
        long ink = 0;
        for (int x = 0; x < img->width; x++)
            ink += row[x] < INK_BELOW;
        /* Nearest to y among equals: ties keep the first, so walk outward. */
        if (least < 0 || ink < least || (ink == least && abs(r - y) < abs(best - y))) {
            least = ink;
            best = r;
        }
    }
    return best;
}

int gray_image_rotate(doc_ctx *dc, const gray_image *src, double degrees, gray_image *out,
                      dm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!src || !src->owner) {
        dm_err_set(err, true, "no image to rotate");
        return -1;
    }
    fz_context *ctx = doc_ctx_fz(dc);
    fz_pixmap *in = src->owner;
    float w = (float)in->w, h = (float)in->h;
    /* In pixels: turn about the centre; gray_redraw then maps the unit
     * square onto the page, so the turn is wrapped in that scale. */
    fz_matrix m = fz_scale(w, h);
    m = fz_concat(m, fz_translate(-w / 2, -h / 2));
    m = fz_concat(m, fz_rotate((float)degrees));
    m = fz_concat(m, fz_translate(w / 2, h / 2));
    m = fz_concat(m, fz_scale(1 / w, 1 / h));
    fz_pixmap *volatile pix = NULL;
    fz_var(pix);
    fz_try(ctx) pix = gray_redraw(ctx, in, in->w, in->h, m);
    fz_catch(ctx)
    {
        dm_err_set(err, false, "cannot rotate the image: %s", fz_caught_message(ctx));
        return -1;
    }
    gray_image_hold(out, pix, src->dpi, src->turned);
    return 0;
}

int gray_image_turn(doc_ctx *dc, const gray_image *src, int degrees, gray_image *out,
                    dm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!src || !src->owner || degrees % 90 != 0) {
        dm_err_set(err, true, "cannot turn an image by %d degrees", degrees);
        return -1;
    }
    fz_context *ctx = doc_ctx_fz(dc);
    fz_pixmap *volatile pix = NULL;
    fz_var(pix);
    fz_try(ctx)
    {
        pix = gray_turned(ctx, src->owner, degrees, false);
    }
    fz_catch(ctx)
    {
        dm_err_set(err, false, "cannot turn the image: %s", fz_caught_message(ctx));
        return -1;
    }
    gray_image_hold(out, pix, src->dpi, ((src->turned + degrees) % 360 + 360) % 360);
    return 0;
}


static uint32_t tiff_u16(const unsigned char *p, bool big)
{
    return big ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t tiff_u32(const unsigned char *p, bool big)
{
    return big ? tiff_u16(p, true) << 16 | tiff_u16(p + 2, true)
               : tiff_u16(p + 2, false) << 16 | tiff_u16(p, false);
}

int tiff_orientation(const unsigned char *buf, size_t len, int subimage)
{
    if (len < 8 || subimage < 0)
        return 0;
    bool big = buf[0] == 'M' && buf[1] == 'M';
    if (!big && !(buf[0] == 'I' && buf[1] == 'I'))
        return 0;
    if (tiff_u16(buf + 2, big) != 42)
        return 0;   /* BigTIFF (43) and the rest: not told */
    uint32_t ifd = tiff_u32(buf + 4, big);
    /* A loop of directories ends at the hop count, not never. */
    for (int k = 0; k < subimage && k < 4096; k++) {
        if (ifd < 8 || ifd > len - 2)
            return 0;
        uint32_t n = tiff_u16(buf + ifd, big);
        if ((size_t)ifd + 2 + 12 * (size_t)n + 4 > len)
            return 0;
        ifd = tiff_u32(buf + ifd + 2 + 12 * n, big);
    }
    if (ifd < 8 || ifd > len - 2)
        return 0;
    uint32_t n = tiff_u16(buf + ifd, big);
    for (uint32_t i = 0; i < n; i++) {
        size_t at = (size_t)ifd + 2 + 12 * (size_t)i;
        if (at + 12 > len)
            return 0;
        /* Tag 274, type SHORT (3), one value, held in the entry itself. */
        if (tiff_u16(buf + at, big) == 274 && tiff_u16(buf + at + 2, big) == 3 &&
            tiff_u32(buf + at + 4, big) == 1) {
            uint32_t v = tiff_u16(buf + at + 8, big);
            return v >= 1 && v <= 8 ? (int)v : 0;
        }
    }
    return 0;
}
