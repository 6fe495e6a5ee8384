/* Text primitives: encoding detection for plain-text files, NFKC
 * normalisation of everything that gets indexed, and the statistics policy
 * uses to judge whether a PDF text layer is worth keeping. Plain C, no Lua. */
#ifndef DOCMILL_TEXTNORM_H
#define DOCMILL_TEXTNORM_H

#include "base/common.h"

typedef struct text_stats {
    long chars;        /* code points that are not white space */
    long replacement;  /* U+FFFD: what MuPDF emits for unmappable glyphs */
    long control;      /* C0/C1 controls other than tab/newline */
    long cjk;          /* Han, kana, CJK punctuation */
    long letters;      /* letters and digits of any script */
} text_stats;

bool text_is_utf8(const char *s, size_t len);
/* s in charset `from`, as UTF-8 appended to out. Lenient: each byte iconv
 * cannot decode becomes U+FFFD and an incomplete sequence at the end (text
 * cut at a cap) is dropped; strict: -1 at the first such byte. -1 too when
 * iconv does not know `from`. */
int text_iconv(const char *from, const char *s, size_t len, bool lenient, sbuf *out);
/* s as valid UTF-8 into out (appended): each invalid sequence as U+FFFD. */
void text_utf8_repair(const char *s, size_t len, sbuf *out);
/* True when the bytes cannot be text in any encoding we read. */
bool text_looks_binary(const unsigned char *s, size_t len);
/* Decodes UTF-8 (BOM stripped), Shift_JIS (CP932) or EUC-JP into UTF-8.
 * *encoding names what was detected. Fails (permanent) on anything else. */
int text_decode(const char *s, size_t len, sbuf *out, const char **encoding, dm_err *err);
/* NFKC only (invalid UTF-8 replaced by U+FFFD). Appends to out. */
void text_nfkc(const char *s, size_t len, sbuf *out);
/* NFKC, with invalid UTF-8 replaced by U+FFFD, spaces that OCR puts between
 * CJK characters removed, runs of blank lines folded and trailing space
 * trimmed. Appends to out. */
void text_normalize(const char *s, size_t len, sbuf *out);
void text_compute_stats(const char *s, size_t len, text_stats *st);

#endif
