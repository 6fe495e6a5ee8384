#include "extract/doc.h"
#include "extract/decode_budget.h"
#include "extract/gray_geometry.h"
#include "extract/text_formats.h"
#include "extract/pdf_meta.h"

#include "base/log.h"
#include "extract/textnorm.h"

#include <mupdf/fitz.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

struct doc_ctx {
    fz_context *ctx;
    /* Read by mem_stats from the loop thread while the worker allocates. */
    atomic_size_t allocated;
    atomic_size_t peak;
    int warnings;
    /* The per-worker cap (0 = none) and whether an allocation hit it since
     * the current operation began: MuPDF swallows some failed allocations
     * (a broken image becomes a warning), so the flag, not the exception,
     * says the page hit the cap. */
    size_t limit;
    atomic_bool limit_hit;
    text_limits text_limits;
    /* The current page's deadline (monotonic ms, 0 = none), read by the
     * loop thread's watchdog; MuPDF polls cookie.abort between operators. */
    atomic_llong deadline_ms;
    fz_cookie cookie;
};

struct doc {
    doc_ctx *dc;
    doc_kind kind;
    const char *mime;
    fz_document *fzdoc;       /* PDF / MUPDF */
    fz_buffer *buf;           /* IMAGE: the encoded file */
    int image_pages;
    paged_text pt;            /* TEXT: the pages read (and every kind's metadata) */
    const char *encoding;
    int page_count;
    int warnings_at_open;
    bool meta_read;
};

/* A size header in front of every MuPDF allocation lets us count what MuPDF
 * holds per worker — the number mem_stats reports and the later memory cap
 * enforces. 16 bytes keeps the payload aligned for any type. */
#define ALLOC_HDR 16

/* False when size more bytes would pass the cap. Also where a passed
 * deadline turns into an abort: MuPDF allocates all the time, so the
 * worker notices its own deadline without a timer thread. */
static bool within_budget(doc_ctx *dc, size_t size)
{
    if (atomic_load(&dc->deadline_ms) > 0)
        doc_ctx_abort_if_late(dc, dm_mono_ms());
    if (dc->limit > 0 && atomic_load(&dc->allocated) + size > dc->limit) {
        atomic_store(&dc->limit_hit, true);
        return false;
    }
    return true;
}

static void *counting_malloc(void *opaque, size_t size)
{
    doc_ctx *dc = opaque;
    if (!within_budget(dc, size))
        return NULL;
    unsigned char *p = malloc(size + ALLOC_HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    size_t now = atomic_fetch_add(&dc->allocated, size) + size;
    size_t peak = atomic_load(&dc->peak);
    while (now > peak && !atomic_compare_exchange_weak(&dc->peak, &peak, now)) {
    }
    return p + ALLOC_HDR;
}

static void counting_free(void *opaque, void *ptr)
{
    doc_ctx *dc = opaque;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *)ptr - ALLOC_HDR;
    size_t size;
    memcpy(&size, p, sizeof size);
    atomic_fetch_sub(&dc->allocated, size);
    free(p);
}

static void *counting_realloc(void *opaque, void *old, size_t size)
{
    doc_ctx *dc = opaque;
    if (!old)
        return counting_malloc(opaque, size);
    if (size == 0) {
        counting_free(opaque, old);
        return NULL;
    }
    unsigned char *p = (unsigned char *)old - ALLOC_HDR;
    size_t old_size;
    memcpy(&old_size, p, sizeof old_size);
    if (size > old_size && !within_budget(dc, size - old_size))
        return NULL;
    unsigned char *q = realloc(p, size + ALLOC_HDR);
    if (!q)
        return NULL;
    memcpy(q, &size, sizeof size);
    if (size >= old_size) {
        size_t now = atomic_fetch_add(&dc->allocated, size - old_size) + (size - old_size);
        size_t peak = atomic_load(&dc->peak);
        while (now > peak && !atomic_compare_exchange_weak(&dc->peak, &peak, now)) {
        }
    } else {
        atomic_fetch_sub(&dc->allocated, old_size - size);
    }
    return q + ALLOC_HDR;
}

static void on_warning(void *user, const char *message)
{
    doc_ctx *dc = user;
    dc->warnings++;
    log_debug("mupdf: %s", message);
}

static void on_error(void *user, const char *message)
{
    (void)user;
    log_debug("mupdf error: %s", message);
}

/* MuPDF keeps a few process-wide pieces (the HarfBuzz allocator hook, font
 * caches) that it guards with the locks of the context that touches them.
 * Every worker's context is independent, but they must share one set of
 * real mutexes for those globals. */
static pthread_mutex_t mupdf_mutexes[FZ_LOCK_MAX] = {
    [0 ... FZ_LOCK_MAX - 1] = PTHREAD_MUTEX_INITIALIZER};

static void mupdf_lock(void *user, int lock)
{
    (void)user;
    pthread_mutex_lock(&mupdf_mutexes[lock]);
}

static void mupdf_unlock(void *user, int lock)
{
    (void)user;
    pthread_mutex_unlock(&mupdf_mutexes[lock]);
}

static fz_locks_context mupdf_locks = {NULL, mupdf_lock, mupdf_unlock};

doc_ctx *doc_ctx_new(size_t store_bytes, dm_err *err)
{
    doc_ctx *dc = dm_xcalloc(1, sizeof *dc);
    fz_alloc_context alloc = {dc, counting_malloc, counting_realloc, counting_free};
    dc->ctx = fz_new_context(&alloc, &mupdf_locks, store_bytes);
    if (!dc->ctx) {
        dm_err_set(err, false, "cannot create a MuPDF context");
        free(dc);
        return NULL;
    }
    fz_set_warning_callback(dc->ctx, on_warning, dc);
    fz_set_error_callback(dc->ctx, on_error, dc);
    fz_try(dc->ctx) fz_register_document_handlers(dc->ctx);
    fz_catch(dc->ctx)
    {
        dm_err_set(err, false, "cannot register MuPDF handlers: %s", fz_caught_message(dc->ctx));
        fz_drop_context(dc->ctx);
        free(dc);
        return NULL;
    }
    return dc;
}

void doc_ctx_free(doc_ctx *dc)
{
    if (!dc)
        return;
    fz_drop_context(dc->ctx);
    free(dc);
}

size_t doc_ctx_allocated(const doc_ctx *dc) { return atomic_load(&dc->allocated); }
size_t doc_ctx_peak(const doc_ctx *dc) { return atomic_load(&dc->peak); }
void doc_ctx_shrink_store(doc_ctx *dc) { fz_empty_store(dc->ctx); }
void doc_ctx_set_limit(doc_ctx *dc, size_t bytes) { dc->limit = bytes; }

void doc_ctx_set_text_limits(doc_ctx *dc, size_t max_text_bytes, int64_t max_expanded_bytes,
                             double max_ratio, const char *converters, int max_images,
                             const char *html_default_charset)
{
    dc->text_limits.max_images = max_images;
    snprintf(dc->text_limits.html_default_charset, sizeof dc->text_limits.html_default_charset,
             "%s", html_default_charset ? html_default_charset : "");
    dc->text_limits.max_text_bytes = max_text_bytes;
    dc->text_limits.max_expanded_bytes = max_expanded_bytes;
    dc->text_limits.max_ratio = max_ratio;
    snprintf(dc->text_limits.converters, sizeof dc->text_limits.converters, "%s",
             converters ? converters : "");
}
int64_t doc_ctx_deadline(const doc_ctx *dc) { return atomic_load(&dc->deadline_ms); }

void doc_ctx_set_deadline(doc_ctx *dc, int64_t deadline_ms)
{
    atomic_store(&dc->deadline_ms, deadline_ms);
    dc->cookie.abort = 0;
}

void doc_ctx_abort_if_late(doc_ctx *dc, int64_t now_ms)
{
    int64_t deadline = atomic_load(&dc->deadline_ms);
    if (deadline > 0 && now_ms > deadline)
        dc->cookie.abort = 1;
}

/* Starts one bounded operation: a clean cookie and cap flag, and the abort
 * already raised when the deadline has passed. */
static void op_begin(doc_ctx *dc)
{
    memset(&dc->cookie, 0, sizeof dc->cookie);
    atomic_store(&dc->limit_hit, false);
    doc_ctx_abort_if_late(dc, dm_mono_ms());
}

/* Why an operation failed or was cut short: the memory cap or the deadline
 * when either was hit (MuPDF's own message is then a mere consequence, or
 * there is none, because it swallowed the failure), else NULL. */
static const char *op_limit_reason(doc_ctx *dc, char *buf, size_t cap)
{
    if (atomic_load(&dc->limit_hit)) {
        snprintf(buf, cap, "memory limit: MuPDF needed more than %zu MB (max_mupdf_mb)",
                 dc->limit >> 20);
        return buf;
    }
    if (dc->cookie.abort)
        return "timed out";
    return NULL;
}

/* Inside fz_try, after an operation MuPDF may have cut short. */
static void op_check(doc_ctx *dc)
{
    char buf[128];
    const char *why = op_limit_reason(dc, buf, sizeof buf);
    if (why)
        fz_throw(dc->ctx, FZ_ERROR_GENERIC, "%s", why);
}

/* Inside fz_catch: the message to record. */
static const char *op_failure(doc_ctx *dc, char *buf, size_t cap)
{
    const char *why = op_limit_reason(dc, buf, cap);
    return why ? why : fz_caught_message(dc->ctx);
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Content sniffing. Returns the MIME type and kind, or NULL for "not a
 * MuPDF/image format" (the caller then tries plain text). */
static const char *sniff(const unsigned char *p, size_t n, const char *path, doc_kind *kind)
{
    if (n >= 5 && memcmp(p, "%PDF-", 5) == 0) {
        *kind = DOC_KIND_PDF;
        return "application/pdf";
    }
    *kind = DOC_KIND_IMAGE;
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && memcmp(p, "\xff\xd8\xff", 3) == 0)
        return "image/jpeg";
    if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
        return "image/tiff";
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        return "image/gif";
    if (n >= 18 && p[0] == 'B' && p[1] == 'M') {
        /* "BM" starts plenty of text; a real BMP has a known DIB header size. */
        unsigned dib = (unsigned)p[14] | (unsigned)p[15] << 8 | (unsigned)p[16] << 16 |
                       (unsigned)p[17] << 24;
        if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 ||
            dib == 124)
            return "image/bmp";
    }
    if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0) {
        *kind = DOC_KIND_MUPDF;
        if (ends_with_ci(path, ".epub"))
            return "application/epub+zip";
        if (ends_with_ci(path, ".cbz"))
            return "application/x-cbz";
        if (ends_with_ci(path, ".xps") || ends_with_ci(path, ".oxps"))
            return "application/oxps";
        return NULL;
    }
    /* PDF readers accept a header anywhere in the first KB (some producers
     * put junk first), but a text note that merely mentions "%PDF-1.7" is
     * text: a late header counts only after bytes that are not text. */
    const unsigned char *hdr = memmem(p, n < 1024 ? n : 1024, "%PDF-", 5);
    if (hdr) {
        size_t off = (size_t)(hdr - p);
        if (text_looks_binary(p, off) || !text_is_utf8((const char *)p, off)) {
            *kind = DOC_KIND_PDF;
            return "application/pdf";
        }
    }
    return NULL;
}

static int read_head(const char *path, unsigned char *buf, size_t cap, size_t *n, dm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dm_err_set(err, true, "cannot open %s", path);
        return -1;
    }
    *n = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

/* The formats read as text (text_formats.c). 1 when the file was one. */
static int open_text_format(doc *d, const char *path, const unsigned char *head, size_t n,
                            bool plain_fallback, dm_err *err)
{
    const char *mime = NULL;
    /* A converter runs under the worker's deadline and memory cap. */
    d->dc->text_limits.deadline_ms = atomic_load(&d->dc->deadline_ms);
    d->dc->text_limits.max_memory = d->dc->limit;
    int rc = text_formats_open(d->dc->ctx, path, head, n, &d->dc->text_limits, plain_fallback,
                               &d->pt, &mime, &d->encoding, err);
    if (rc == 1) {
        d->kind = DOC_KIND_TEXT;
        d->mime = mime;
        /* the text pages, then the embedded images to OCR */
        d->page_count = d->pt.count + d->pt.nimages;
    }
    return rc;
}

static int open_image(doc *d, const char *path, dm_err *err)
{
    fz_context *ctx = d->dc->ctx;
    fz_var(d);
    fz_try(ctx)
    {
        d->buf = fz_read_file(ctx, path);
        if (strcmp(d->mime, "image/tiff") == 0)
            d->image_pages = fz_load_tiff_subimage_count(ctx, d->buf->data, d->buf->len);
        else
            d->image_pages = 1;
    }
    fz_catch(ctx)
    {
        char why[128];
        dm_err_set(err, true, "cannot read image: %s", op_failure(d->dc, why, sizeof why));
        return -1;
    }
    if (d->image_pages < 1) {
        dm_err_set(err, true, "image has no pages");
        return -1;
    }
    d->page_count = d->image_pages;
    return 0;
}

static int open_mupdf(doc *d, const char *path, dm_err *err)
{
    fz_context *ctx = d->dc->ctx;
    fz_document *volatile fzdoc = NULL;
    volatile int count = 0;
    volatile bool locked = false;
    fz_stream *volatile stm = NULL;
    fz_var(stm);
    fz_try(ctx)
    {
        stm = fz_open_file(ctx, path);
        /* The document keeps its own reference to the stream. */
        fzdoc = fz_open_document_with_stream(ctx, d->mime, stm);
    }
    fz_always(ctx) fz_drop_stream(ctx, stm);
    fz_catch(ctx)
    {
        char why[128];
        dm_err_set(err, true, "cannot open document: %s", op_failure(d->dc, why, sizeof why));
        return -1;
    }
    d->fzdoc = fzdoc;
    fz_try(ctx)
    {
        if (fz_needs_password(ctx, fzdoc) && !fz_authenticate_password(ctx, fzdoc, ""))
            locked = true;
        else
            count = fz_count_pages(ctx, fzdoc);
    }
    fz_catch(ctx)
    {
        char why[128];
        dm_err_set(err, true, "cannot read document structure: %s", op_failure(d->dc, why, sizeof why));
        return -1;
    }
    if (locked) {
        dm_err_set(err, true, "encrypted: the document needs a password");
        return -1;
    }
    if (count <= 0) {
        dm_err_set(err, true, "document has no pages");
        return -1;
    }
    d->page_count = count;
    return 0;
}

doc *doc_open(doc_ctx *dc, const char *path, dm_err *err)
{
    unsigned char head[1024];
    size_t n = 0;
    if (read_head(path, head, sizeof head, &n, err) != 0)
        return NULL;
    if (n == 0) {
        dm_err_set(err, true, "empty file");
        return NULL;
    }
    doc *d = dm_xcalloc(1, sizeof *d);
    d->dc = dc;
    paged_text_init(&d->pt, 0);
    d->warnings_at_open = dc->warnings;
    op_begin(dc);
    doc_kind kind;
    /* A zip is an Office document by its content types before it is
     * anything by its name; then PDF and images by their signatures; then
     * RTF, HTML, and plain text as the last resort. */
    bool zip = n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0;
    int rc = zip ? open_text_format(d, path, head, n, false, err) : 0;
    if (rc == 0) {
        d->mime = sniff(head, n, path, &kind);
        if (!d->mime) {
            rc = open_text_format(d, path, head, n, !zip, err);
            if (rc == 0)
                dm_err_set(err, true, "unsupported type: a zip archive that is no document "
                                      "format docmill reads");
            rc = rc == 1 ? 0 : -1;
        } else {
            d->kind = kind;
            rc = kind == DOC_KIND_IMAGE ? open_image(d, path, err) : open_mupdf(d, path, err);
        }
    } else {
        rc = rc == 1 ? 0 : -1;
    }
    if (rc != 0) {
        doc_close(d);
        return NULL;
    }
    return d;
}

void doc_close(doc *d)
{
    if (!d)
        return;
    fz_context *ctx = d->dc->ctx;
    fz_drop_document(ctx, d->fzdoc);
    fz_drop_buffer(ctx, d->buf);
    paged_text_free(&d->pt);
    free(d);
}

doc_kind doc_get_kind(const doc *d) { return d->kind; }
const char *doc_mime(const doc *d) { return d->mime; }
const char *doc_text_encoding(const doc *d) { return d->kind == DOC_KIND_TEXT ? d->encoding : NULL; }
int doc_page_count(const doc *d) { return d->page_count; }
int doc_warning_count(const doc *d) { return d->dc->warnings - d->warnings_at_open; }
doc_ctx *doc_get_ctx(const doc *d) { return d->dc; }
bool doc_text_truncated(const doc *d) { return d->pt.truncated; }

const char *doc_page_name(const doc *d, int page)
{
    if (d->kind != DOC_KIND_TEXT || page < 1)
        return NULL;
    if (page <= d->pt.count)
        return d->pt.pages[page - 1].name;
    return page - d->pt.count <= d->pt.nimages ? d->pt.images[page - d->pt.count - 1].name : NULL;
}

const doc_meta *doc_get_meta(doc *d)
{
    if (d->fzdoc && !d->meta_read) {
        d->meta_read = true;
        pdf_meta_read(d->dc->ctx, d->fzdoc, &d->pt.meta);
    }
    return &d->pt.meta;
}

static int check_page(const doc *d, int page, dm_err *err)
{
    if (page < 1 || page > d->page_count) {
        dm_err_set(err, true, "page %d out of range 1..%d", page, d->page_count);
        return -1;
    }
    return 0;
}

static void append_rune(sbuf *out, int c)
{
    char enc[8];
    int n = fz_runetochar(enc, c);
    sbuf_append(out, enc, (size_t)n);
}

int doc_page_text(doc *d, int page, sbuf *out, page_info *info, dm_err *err)
{
    memset(info, 0, sizeof *info);
    if (check_page(d, page, err) != 0)
        return -1;
    if (d->kind == DOC_KIND_TEXT) {
        if (page > d->pt.count) {
            info->image_coverage = 1.0;   /* an embedded image: OCR it */
            return 0;
        }
        const sbuf *t = &d->pt.pages[page - 1].text;
        sbuf_append(out, t->data ? t->data : "", t->len);
        return 0;
    }
    if (d->kind == DOC_KIND_IMAGE) {
        info->image_coverage = 1.0;
        return 0;
    }
    fz_context *ctx = d->dc->ctx;
    fz_page *volatile pg = NULL;
    fz_stext_page *volatile st = NULL;
    fz_device *volatile dev = NULL;
    fz_var(pg);
    fz_var(st);
    fz_var(dev);
    int rc = 0;
    op_begin(d->dc);
    fz_try(ctx)
    {
        pg = fz_load_page(ctx, d->fzdoc, page - 1);
        fz_rect bounds = fz_bound_page(ctx, pg);
        double page_area = (double)(bounds.x1 - bounds.x0) * (bounds.y1 - bounds.y0);
        info->width_pt = (int)(bounds.x1 - bounds.x0);
        info->height_pt = (int)(bounds.y1 - bounds.y0);
        fz_stext_options opts = {.flags = FZ_STEXT_PRESERVE_IMAGES};
        st = fz_new_stext_page(ctx, bounds);
        dev = fz_new_stext_device(ctx, st, &opts);
        fz_run_page(ctx, pg, dev, fz_identity, &d->dc->cookie);
        fz_close_device(ctx, dev);
        op_check(d->dc);
        double image_area = 0, largest = 0;
        for (fz_stext_block *b = st->first_block; b; b = b->next) {
            if (b->type == FZ_STEXT_BLOCK_IMAGE) {
                fz_rect r = fz_intersect_rect(b->bbox, bounds);
                double area = (double)(r.x1 - r.x0) * (r.y1 - r.y0);
                if (!fz_is_empty_rect(r))
                    image_area += area;
                /* A scan's native resolution: rendering above it only
                 * makes OCR slower. */
                double wpt = (double)(b->bbox.x1 - b->bbox.x0);
                if (area > largest && b->u.i.image && wpt > 0) {
                    largest = area;
                    info->image_dpi = (int)(b->u.i.image->w * 72.0 / wpt + 0.5);
                }
                continue;
            }
            for (fz_stext_line *l = b->u.t.first_line; l; l = l->next) {
                for (fz_stext_char *c = l->first_char; c; c = c->next)
                    append_rune(out, c->c);
                sbuf_putc(out, '\n');
            }
            sbuf_putc(out, '\n');
        }
        info->image_coverage = page_area > 0 ? image_area / page_area : 0;
        if (info->image_coverage > 1)
            info->image_coverage = 1;
    }
    fz_always(ctx)
    {
        fz_drop_device(ctx, dev);
        fz_drop_stext_page(ctx, st);
        fz_drop_page(ctx, pg);
    }
    fz_catch(ctx)
    {
        char why[128];
        dm_err_set(err, true, "cannot extract text of page %d: %s", page,
                   op_failure(d->dc, why, sizeof why));
        rc = -1;
    }
    return rc;
}

/* Composites gray+alpha (premultiplied) over white into a plain gray copy;
 * transparent areas of a PNG would otherwise come out black. */
static fz_pixmap *to_gray_on_white(fz_context *ctx, fz_pixmap *src)
{
    fz_pixmap *volatile gray = NULL;
    if (src->n == 1 && !src->alpha)
        return fz_keep_pixmap(ctx, src);
    fz_pixmap *ga = fz_convert_pixmap(ctx, src, fz_device_gray(ctx), NULL, NULL,
                                      fz_default_color_params, 1);
    fz_try(ctx)
    {
        gray = fz_new_pixmap(ctx, fz_device_gray(ctx), ga->w, ga->h, NULL, 0);
        gray->xres = src->xres;
        gray->yres = src->yres;
        for (int y = 0; y < ga->h; y++) {
            const unsigned char *s = ga->samples + (size_t)y * ga->stride;
            unsigned char *d = gray->samples + (size_t)y * gray->stride;
            if (ga->alpha) {
                for (int x = 0; x < ga->w; x++) {
                    int v = s[2 * x] + (255 - s[2 * x + 1]);
                    d[x] = (unsigned char)(v > 255 ? 255 : v);
                }
            } else {
                memcpy(d, s, (size_t)ga->w);
            }
        }
    }
    fz_always(ctx) fz_drop_pixmap(ctx, ga);
    fz_catch(ctx) fz_rethrow(ctx);
    return gray;
}

/* Images without a usable resolution tag are assumed to be 300 DPI scans:
 * that is what Tesseract's layout heuristics expect. GIF has no resolution
 * field at all (MuPDF reports its 96 default). */
static int native_dpi(const char *mime, int xres)
{
    if (strcmp(mime, "image/gif") == 0 || xres < 70 || xres > 1200)
        return 300;
    return xres;
}

/* MuPDF's reading of a photo's EXIF orientation (fz_image_orientation: 1-4
 * turn counter-clockwise by 0, 90, 180, 270 degrees; 5-8 the same after a
 * mirror) as the clockwise turn that makes it upright. */
static int exif_turn(int orientation)
{
    if (orientation < 1 || orientation > 8)
        return 0;
    int ccw = ((orientation - 1) % 4) * 90;
    return (360 - ccw) % 360;
}

static int render_image_page(doc *d, int page, int dpi, int64_t max_pixels, gray_image *img,
                             dm_err *err)
{
    volatile int image_xres = 0, native = 0, turn = 0;
    volatile bool mirror = false;
    fz_context *ctx = d->dc->ctx;
    fz_pixmap *volatile pix = NULL;
    fz_pixmap *volatile gray = NULL;
    fz_image *volatile image = NULL;
    fz_var(pix);
    fz_var(gray);
    fz_var(image);
    int rc = 0;
    op_begin(d->dc);
    fz_try(ctx)
    {
        if (strcmp(d->mime, "image/tiff") == 0) {
            pix = fz_load_tiff_subimage(ctx, d->buf->data, d->buf->len, page - 1);
            image_xres = pix->xres;
            /* Its Orientation tag in MuPDF's numbering (EXIF 6, "turn
             * clockwise to show", is MuPDF's 4, "turn 270 counter-clockwise"). */
            static const int exif_to_fz[9] = {0, 1, 5, 3, 7, 6, 4, 8, 2};
            int orientation = exif_to_fz[tiff_orientation(d->buf->data, d->buf->len, page - 1)];
            turn = exif_turn(orientation);
            mirror = orientation >= 5 && orientation <= 8;
        } else {
            image = fz_new_image_from_buffer(ctx, d->buf);
            if (max_pixels > 0 && (int64_t)image->w * image->h > max_pixels)
                fz_throw(ctx, FZ_ERROR_GENERIC, "image of %dx%d pixels exceeds the limit of %lld",
                         image->w, image->h, (long long)max_pixels);
            pix = fz_get_pixmap_from_image(ctx, image, NULL, NULL, NULL, NULL);
            /* The decoded pixmap carries MuPDF's default resolution; the
             * file's own (JFIF, pHYs...) is on the image. */
            image_xres = image->xres;
            int orientation = fz_image_orientation(ctx, image);
            turn = exif_turn(orientation);
            mirror = orientation >= 5 && orientation <= 8;
        }
        if (max_pixels > 0 && (int64_t)pix->w * pix->h > max_pixels)
            fz_throw(ctx, FZ_ERROR_GENERIC, "image of %dx%d pixels exceeds the limit of %lld",
                     pix->w, pix->h, (long long)max_pixels);
        gray = to_gray_on_white(ctx, pix);
        /* A phone photo stored sideways says so in its EXIF tag: OCR
         * reads it the way it is shown. */
        if (turn != 0 || mirror) {
            fz_pixmap *upright = gray_turned(ctx, gray, turn, mirror);
            fz_drop_pixmap(ctx, gray);
            gray = upright;
        }
        /* A photo or a 600 DPI scan holds more pixels than OCR needs: it
         * is read at the policy's DPI like a rendered page, never above
         * its own. */
        native = native_dpi(d->mime, image_xres ? image_xres : gray->xres);
        if (dpi > 0 && dpi * 1.05 < native) {
            double f = (double)dpi / native;
            fz_pixmap *small = gray_redraw(ctx, gray, (int)(gray->w * f + 0.5),
                                           (int)(gray->h * f + 0.5), fz_identity);
            fz_drop_pixmap(ctx, gray);
            gray = small;
            native = dpi;
        }
        op_check(d->dc);
    }
    fz_always(ctx)
    {
        fz_drop_pixmap(ctx, pix);
        fz_drop_image(ctx, image);
    }
    fz_catch(ctx)
    {
        fz_drop_pixmap(ctx, gray);
        gray = NULL;
        char why[128];
        dm_err_set(err, true, "cannot decode image page %d: %s", page,
                   op_failure(d->dc, why, sizeof why));
        rc = -1;
    }
    if (rc != 0)
        return -1;
    gray_image_hold(img, gray, native, turn);
    return 0;
}

/* Image k (1-based) embedded in a text document, rendered as an image
 * file's page would be: its bytes stand in for the file for the call. */
static int render_embedded_image(doc *d, int k, int dpi, int64_t max_pixels, gray_image *img,
                                 dm_err *err)
{
    if (k < 1 || k > d->pt.nimages) {
        dm_err_set(err, true, "a text page has nothing to render");
        return -1;
    }
    const sbuf *data = &d->pt.images[k - 1].data;
    doc_kind kind;
    const char *mime = sniff((const unsigned char *)data->data, data->len, "", &kind);
    if (!mime || kind != DOC_KIND_IMAGE) {
        dm_err_set(err, true, "embedded image %s is no image docmill reads",
                   d->pt.images[k - 1].name);
        return -1;
    }
    fz_context *ctx = d->dc->ctx;
    fz_buffer *volatile buf = NULL;
    fz_try(ctx) buf = fz_new_buffer_from_copied_data(ctx, (const unsigned char *)data->data,
                                                     data->len);
    fz_catch(ctx)
    {
        dm_err_set(err, false, "out of memory for an embedded image");
        return -1;
    }
    fz_buffer *saved_buf = d->buf;
    const char *saved_mime = d->mime;
    d->buf = buf;
    d->mime = mime;
    int rc = render_image_page(d, 1, dpi, max_pixels, img, err);
    d->buf = saved_buf;
    d->mime = saved_mime;
    fz_drop_buffer(ctx, buf);
    return rc;
}

/* Page page of a PDF-like document drawn in gray at about dpi (lower when
 * its pixels would pass max_pixels); the DPI used in *dpi_used. */
static int draw_page(doc *d, int page, int dpi, int64_t max_pixels, fz_pixmap **out,
                     int *dpi_used, dm_err *err)
{
    fz_context *ctx = d->dc->ctx;
    fz_page *volatile pg = NULL;
    fz_pixmap *volatile pix = NULL;
    fz_device *volatile dev = NULL;
    fz_var(pg);
    fz_var(pix);
    fz_var(dev);
    int rc = 0;
    volatile double used_dpi = dpi;
    op_begin(d->dc);
    fz_try(ctx)
    {
        pg = fz_load_page(ctx, d->fzdoc, page - 1);
        fz_rect b = fz_bound_page(ctx, pg);
        double w_in = (b.x1 - b.x0) / 72.0, h_in = (b.y1 - b.y0) / 72.0;
        double px = w_in * h_in * used_dpi * used_dpi;
        if (max_pixels > 0 && px > (double)max_pixels) {
            used_dpi = (double)(int)sqrt((double)max_pixels / (w_in * h_in));
            if (used_dpi < 1)
                fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is too large to render", page);
        }
        /* Lower, when drawing at this DPI would pass the cap, to where
         * MuPDF halves the page's images while decoding them: rather than
         * fill the cap first and be drawn again at 2/3 the DPI. */
        if (d->dc->limit > 0) {
            drawn_images imgs;
            drawn_images_survey(ctx, pg, &d->dc->cookie, &imgs);
            size_t held = atomic_load(&d->dc->allocated);
            size_t room = d->dc->limit > held ? d->dc->limit - held : 0;
            int fit = page_dpi_within(&imgs, w_in, h_in, (int)used_dpi, FIT_MIN_DPI, room);
            if (fit < used_dpi)
                log_debug("page %d: drawn at %d DPI, not %d, to fit max_mupdf_mb", page, fit,
                          (int)used_dpi);
            used_dpi = fit;
        }
        fz_matrix m = fz_scale((float)(used_dpi / 72.0), (float)(used_dpi / 72.0));
        fz_irect box = fz_round_rect(fz_transform_rect(b, m));
        /* The box is rounded up: a page one point wide still gets a pixel
         * column, so the area above can undercount. Lower the DPI until
         * the pixels themselves fit. */
        while (max_pixels > 0 &&
               (int64_t)(box.x1 - box.x0) * (int64_t)(box.y1 - box.y0) > max_pixels) {
            used_dpi = (double)(int)(used_dpi * 0.7);
            if (used_dpi < 1)
                fz_throw(ctx, FZ_ERROR_GENERIC, "page %d is too large to render", page);
            m = fz_scale((float)(used_dpi / 72.0), (float)(used_dpi / 72.0));
            box = fz_round_rect(fz_transform_rect(b, m));
        }
        /* fz_new_pixmap_from_page, with the cookie it does not take. */
        pix = fz_new_pixmap_with_bbox(ctx, fz_device_gray(ctx), box, NULL, 0);
        fz_clear_pixmap_with_value(ctx, pix, 255);
        dev = fz_new_draw_device(ctx, m, pix);
        fz_run_page(ctx, pg, dev, fz_identity, &d->dc->cookie);
        fz_close_device(ctx, dev);
        op_check(d->dc);
    }
    fz_always(ctx)
    {
        fz_drop_device(ctx, dev);
        fz_drop_page(ctx, pg);
    }
    fz_catch(ctx)
    {
        fz_drop_pixmap(ctx, pix);
        pix = NULL;
        char why[128];
        dm_err_set(err, true, "cannot render page %d: %s", page,
                   op_failure(d->dc, why, sizeof why));
        rc = -1;
    }
    *out = pix;
    *dpi_used = (int)used_dpi;
    return rc;
}

int doc_render_gray(doc *d, int page, int dpi, int64_t max_pixels, gray_image *img, dm_err *err)
{
    memset(img, 0, sizeof *img);
    if (check_page(d, page, err) != 0)
        return -1;
    if (d->kind == DOC_KIND_TEXT)
        return render_embedded_image(d, page - d->pt.count, dpi, max_pixels, img, err);
    if (d->kind == DOC_KIND_IMAGE)
        return render_image_page(d, page, dpi, max_pixels, img, err);
    fz_pixmap *pix = NULL;
    int used_dpi = dpi;
    /* Over the cap still (what draw_page foresaw was not all), the page is
     * drawn again at 2/3 the DPI, down to FIT_MIN_DPI, cache emptied. */
    for (;;) {
        if (draw_page(d, page, used_dpi, max_pixels, &pix, &used_dpi, err) == 0) {
            dm_err_clear(err);
            break;
        }
        int lower = used_dpi * 2 / 3;
        if (!atomic_load(&d->dc->limit_hit) || d->dc->cookie.abort || lower < FIT_MIN_DPI)
            return -1;
        log_debug("page %d: over max_mupdf_mb at %d DPI, drawn again at %d", page, used_dpi,
                  lower);
        fz_empty_store(d->dc->ctx);
        used_dpi = lower;
    }
    gray_image_hold(img, pix, used_dpi, 0);
    return 0;
}

fz_context *doc_ctx_fz(doc_ctx *dc)
{
    return dc->ctx;
}

void gray_image_free(doc_ctx *dc, gray_image *img)
{
    if (!img || !img->owner)
        return;
    fz_drop_pixmap(dc->ctx, img->owner);
    memset(img, 0, sizeof *img);
}
