/* doc: open a document and get at its pages — text layer, or a grayscale
 * raster for OCR. MuPDF does PDF, XPS, EPUB, CBZ and images; plain-text files
 * are decoded here too so every kind of input has pages. Each worker thread
 * owns one doc_ctx (a MuPDF context of its own with a small store and an
 * allocation counter); nothing here is shared between threads. */
#ifndef DOCMILL_DOC_H
#define DOCMILL_DOC_H

#include "base/common.h"
#include "extract/paged_text.h"

typedef struct doc_ctx doc_ctx;
typedef struct doc doc;

typedef enum {
    DOC_KIND_PDF,    /* text layer + rendering */
    DOC_KIND_MUPDF,  /* XPS, EPUB, CBZ...: same as PDF through MuPDF */
    DOC_KIND_IMAGE,  /* PNG, JPEG, TIFF, BMP, GIF: pages are OCR'd upright (EXIF) */
    DOC_KIND_TEXT,   /* read as text (text_formats.c): plain text, Office Open XML,
                        HTML, RTF; pages of UTF-8, some named (sheets) */
} doc_kind;

/* An 8-bit grayscale raster, one byte per pixel, white = 255. */
typedef struct gray_image {
    unsigned char *samples;
    int width, height, stride;
    int dpi;
    int turned;      /* degrees clockwise the source was turned to get here
                        (a photo's EXIF orientation, or gray_image_turn) */
    void *owner;     /* the MuPDF pixmap that holds the samples */
} gray_image;

typedef struct page_info {
    double image_coverage;  /* share of the page area covered by images, 0..1 */
    int image_dpi;          /* resolution of the page's largest image (0 = none) */
    int width_pt, height_pt;
} page_info;

doc_ctx *doc_ctx_new(size_t store_bytes, dm_err *err);
void doc_ctx_free(doc_ctx *dc);
/* Bytes MuPDF holds right now, and the most it ever held. */
size_t doc_ctx_allocated(const doc_ctx *dc);
size_t doc_ctx_peak(const doc_ctx *dc);
/* Drops everything MuPDF's store caches (decoded images, fonts). */
void doc_ctx_shrink_store(doc_ctx *dc);
/* Caps what MuPDF may hold in this context (0 = no cap). An operation that
 * needs more fails with "memory limit: ..." (the store is emptied first). */
void doc_ctx_set_limit(doc_ctx *dc, size_t bytes);
/* Caps for the formats read as text: text kept per document, what an
 * Office file (a zip) may inflate to, in bytes and per byte of the file,
 * and the converters for legacy Office files ("doc:antiword ..."), which
 * run under the context's deadline and memory cap. */
void doc_ctx_set_text_limits(doc_ctx *dc, size_t max_text_bytes, int64_t max_expanded_bytes,
                             double max_ratio, const char *converters, int max_images,
                             const char *html_default_charset);
/* The deadline (monotonic ms, 0 = none) of what the worker does next: text
 * extraction and rendering past it stop and fail with "timed out ...".
 * Any thread may call doc_ctx_abort_if_late; MuPDF only reads the flag. */
void doc_ctx_set_deadline(doc_ctx *dc, int64_t deadline_ms);
int64_t doc_ctx_deadline(const doc_ctx *dc);
void doc_ctx_abort_if_late(doc_ctx *dc, int64_t now_ms);

/* Sniffs the content, not the name (the name only breaks ties for ZIP-based
 * formats). Unsupported content is a permanent error whose message starts
 * with "unsupported type". */
doc *doc_open(doc_ctx *dc, const char *path, dm_err *err);
void doc_close(doc *d);
doc_kind doc_get_kind(const doc *d);
const char *doc_mime(const doc *d);
const char *doc_text_encoding(const doc *d);  /* DOC_KIND_TEXT only, else NULL */
int doc_page_count(const doc *d);
/* Number of MuPDF warnings so far ("cannot load object"...): a sign of a
 * damaged file whose text layer deserves suspicion. */
int doc_warning_count(const doc *d);

/* Pages are numbered from 1. The text is raw (not normalised). */
int doc_page_text(doc *d, int page, sbuf *out, page_info *info, dm_err *err);
/* Renders at dpi; a page that would exceed max_pixels is rendered at the
 * largest dpi that fits instead (img->dpi says which). Image documents are
 * shrunk to dpi when their own resolution is higher, never enlarged, and
 * one larger than max_pixels is refused. */
int doc_render_gray(doc *d, int page, int dpi, int64_t max_pixels, gray_image *img, dm_err *err);
void gray_image_free(doc_ctx *dc, gray_image *img);
/* The skew of the text on img (leptonica's pixFindSkew): the clockwise turn
 * in degrees that makes its lines level, and leptonica's confidence in it
 * (0 = none found). ~7 ms for a 150-DPI A4 page. */
void gray_image_skew(const gray_image *img, double *degrees, double *confidence);
/* The height in pixels of img's text lines: the median height of the bands
 * of inked rows in eight vertical strips (narrow, so that lines a little
 * askew or in columns stay apart). 0 when it cannot tell: too few lines, or
 * a page mostly dark (a photo, white on black). ~2 ms at 150 DPI. */
int gray_image_line_height(const gray_image *img);
/* The row within y +- reach with the least ink (nearest y among equals):
 * where to cut a page so that no text line is cut. */
int gray_image_quiet_row(const gray_image *img, int y, int reach);
/* out = src turned clockwise by degrees (any angle) about its centre, the
 * same size, white where nothing was; for small angles (deskew). */
int gray_image_rotate(doc_ctx *dc, const gray_image *src, double degrees, gray_image *out,
                      dm_err *err);
/* out = src turned clockwise by degrees (a multiple of 90), a new image;
 * out->turned adds the turn to src's. */
int gray_image_turn(doc_ctx *dc, const gray_image *src, int degrees, gray_image *out,
                    dm_err *err);
doc_ctx *doc_get_ctx(const doc *d);
/* The name of a page (an Excel sheet's, an embedded image's part), or
 * NULL. A text document's embedded images (Office files: max_images) are
 * pages after its text pages, with no text and image_coverage 1: they
 * render like image files, for OCR. */
const char *doc_page_name(const doc *d, int page);
/* Title, author...: from the file's own properties (PDF Info, OOXML's
 * docProps/core.xml, HTML's <title> and <meta>, RTF's {\info}). */
const doc_meta *doc_get_meta(doc *d);
/* True when text past max_text_bytes was left out. */
bool doc_text_truncated(const doc *d);

#endif
