/* rtf: the text of an RTF file. No maintained C library reads RTF, so
 * this is a small reader of its own, fuzzed (tests/fuzz/fuzz_extract.c):
 * 8-bit text and \'hh escapes in the document's code page (\ansicpg, 932
 * above all) or the current font's (\fcharset 128 is Shift_JIS), \uN with
 * its \ucN fallback skipped, surrogate pairs joined; destinations that
 * are not text (font and colour tables, styles, pictures, objects, field
 * instructions, anything marked \*) skipped, a field's shown result kept;
 * \par, \line, \tab, \cell, \row and \page as breaks. Title, author,
 * subject and keywords from {\info}. */
#ifndef DOCMILL_RTF_H
#define DOCMILL_RTF_H

#include "extract/paged_text.h"

bool rtf_sniff(const unsigned char *data, size_t len);
/* out is initialised by the caller. Returns 0 or -1 with err. */
int rtf_read(const char *data, size_t len, paged_text *out, dm_err *err);

#endif
