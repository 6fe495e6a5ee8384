/* html: the visible text of an HTML or XHTML page, through libxml2's HTML
 * parser fed in chunks (SAX: no tree is built, so memory does not grow
 * with the page). Script, style and template content and comments are
 * dropped, entities decoded, whitespace collapsed as a browser does (kept
 * in <pre>); block elements end lines, table cells are split by tabs, and
 * inline elements (<b> inside a word) split nothing. The charset comes
 * from the BOM or <meta charset>/http-equiv; a page that names none is
 * detected as UTF-8, Shift_JIS or EUC-JP (textnorm's detector), else read
 * in the policy's default charset. <title>
 * and <meta name=author|description|keywords> go to the metadata. */
#ifndef DOCMILL_HTML_H
#define DOCMILL_HTML_H

#include "extract/paged_text.h"

/* True when data looks like HTML: after a BOM, whitespace and comments,
 * a doctype or one of the elements a page starts with. */
bool html_sniff(const unsigned char *data, size_t len);
/* out is initialised by the caller; one page. A page that names no
 * charset and is not UTF-8, Shift_JIS or EUC-JP is read in default_charset
 * (an iconv name; NULL or "": such a page fails). Returns 0 or -1 with err. */
int html_read(const char *data, size_t len, const char *default_charset, paged_text *out,
              dm_err *err);

#endif
