/* gray_geometry: the MuPDF-level helpers behind doc.h's gray_image_turn,
 * gray_image_rotate and image decoding (doc.c); not for use elsewhere. */
#ifndef DOCMILL_GRAY_GEOMETRY_H
#define DOCMILL_GRAY_GEOMETRY_H

#include "extract/doc.h"

#include <mupdf/fitz.h>
#include <stdbool.h>

/* The fz_context of a doc_ctx (doc.c owns the struct). */
fz_context *doc_ctx_fz(doc_ctx *dc);
/* img takes pix (and its reference) as its raster. */
void gray_image_hold(gray_image *img, fz_pixmap *pix, int dpi, int turned);
/* A w x h gray copy of `gray` drawn through the unit-square map m by
 * MuPDF's draw device, which filters as it shrinks. May throw. */
fz_pixmap *gray_redraw(fz_context *ctx, fz_pixmap *gray, int w, int h, fz_matrix m);
/* A copy of `gray` turned clockwise by degrees (a multiple of 90),
 * mirrored left to right first when asked. May throw. */
fz_pixmap *gray_turned(fz_context *ctx, fz_pixmap *gray, int degrees, bool mirror);
/* The Orientation tag (274, 1..8 as in EXIF) of a TIFF's subimage-th image
 * (0-based), which MuPDF's TIFF reader does not report; 0 when absent or
 * the file is not well formed enough to tell. Reads only within len. */
int tiff_orientation(const unsigned char *buf, size_t len, int subimage);

#endif
