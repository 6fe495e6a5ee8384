/* ooxml: Office Open XML (.docx, .xlsx, .pptx and their macro-enabled,
 * template and slideshow variants) to paged text. The zip is MuPDF's
 * archive reader, each part is streamed through libxml2's reader: no part
 * (no sheet) is ever held whole in memory, and every inflated byte counts
 * against an expand_budget, so a zip bomb ends as an error in moments.
 *   docx: the body (paragraphs, tables, text boxes, hyperlinks; field
 *         codes dropped, their shown results kept; deleted text dropped),
 *         then headers, footers, footnotes, endnotes and comments; a new
 *         page at each page break Word recorded.
 *   xlsx: one page per sheet, named, in the workbook's order: rows as
 *         lines, cells split by tabs; shared and inline strings (phonetic
 *         guides dropped), numbers, booleans, and dates as ISO dates.
 *   pptx: one page per slide in the presentation's order, its notes after.
 * Metadata from docProps/core.xml. */
#ifndef DOCMILL_OOXML_H
#define DOCMILL_OOXML_H

#include "extract/paged_text.h"

#include <mupdf/fitz.h>

typedef enum { OOXML_NONE, OOXML_DOCX, OOXML_XLSX, OOXML_PPTX } ooxml_kind;

/* What kind of OOXML package the zip holds (by its [Content_Types].xml),
 * and its main part's name; OOXML_NONE for another zip (EPUB, XPS...).
 * An Excel binary workbook (.xlsb) is OOXML_NONE. May throw. */
ooxml_kind ooxml_detect(fz_context *ctx, fz_archive *zip, char *main_part, size_t cap);
const char *ooxml_mime(ooxml_kind kind);

/* Reads the package's text into out (initialised by the caller). Returns
 * 0, or -1 with err: a part that is not well-formed XML, a limit of the
 * budget (err names it), a damaged zip. Never throws. */
int ooxml_read(fz_context *ctx, fz_archive *zip, ooxml_kind kind, const char *main_part,
               expand_budget *budget, paged_text *out, dm_err *err);

#endif
