/* xmp: a PDF's XMP metadata packet (its catalog's /Metadata stream, RDF in
 * XML) into doc_meta, for what the Info dictionary left empty: many
 * producers write only XMP, and Japanese titles are often only there
 * (UTF-8, where the Info dictionary has PDFDocEncoding or nothing). Read
 * with libxml2's reader, no network, no DTD. */
#ifndef DOCMILL_XMP_H
#define DOCMILL_XMP_H

#include "extract/paged_text.h"

/* Fills the fields of m that are NULL from the packet: dc:title,
 * dc:creator, dc:description (subject), pdf:Keywords or dc:subject
 * (keywords), xmp:CreateDate, xmp:ModifyDate. Bad XML fills nothing. */
void xmp_fill_meta(const char *xml, size_t len, doc_meta *m);

#endif
