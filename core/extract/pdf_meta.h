/* pdf_meta: a PDF's metadata: its Info dictionary (MuPDF's lookup; dates as
 * ISO 8601), then its XMP packet (its catalog's /Metadata stream, RDF in
 * XML) into doc_meta, for what the Info dictionary left empty: many
 * producers write only XMP, and Japanese titles are often only there
 * (UTF-8, where the Info dictionary has PDFDocEncoding or nothing). Read
 * with libxml2's reader, no network, no DTD. */
#ifndef DOCMILL_PDF_META_H
#define DOCMILL_PDF_META_H

#include "extract/paged_text.h"

#include <mupdf/fitz.h>

/* Info first, XMP for what Info leaves empty. Never throws. */
void pdf_meta_read(fz_context *ctx, fz_document *fzdoc, doc_meta *m);

/* Fills the fields of m that are NULL from the packet: dc:title,
 * dc:creator, dc:description (subject), pdf:Keywords or dc:subject
 * (keywords), xmp:CreateDate, xmp:ModifyDate. Bad XML fills nothing. */
void xmp_fill_meta(const char *xml, size_t len, doc_meta *m);

#endif
