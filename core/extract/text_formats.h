/* text_formats: the formats that are text, not pages to render: Office
 * Open XML, legacy Office through converters, HTML, RTF and plain text,
 * each read into paged_text. doc.c
 * calls it after its own sniffing found no PDF or image; not for use
 * elsewhere. */
#ifndef DOCMILL_TEXT_FORMATS_H
#define DOCMILL_TEXT_FORMATS_H

#include "extract/paged_text.h"

#include <mupdf/fitz.h>

typedef struct text_limits {
    size_t max_text_bytes;       /* text kept per document (0 = no cap) */
    int64_t max_expanded_bytes;  /* what a container may inflate to (0 = no cap) */
    double max_ratio;            /* ...per byte of the file (0 = no cap) */
    char converters[256];        /* office_converters: legacy .doc/.xls/.ppt */
    size_t max_memory;           /* a converter's address space (0 = no cap) */
    int64_t deadline_ms;         /* a converter is killed past it (0 = none) */
    int max_images;              /* embedded images kept for OCR (0 = none) */
    char html_default_charset[64];   /* for a page that names none and is not
                                        UTF-8, Shift_JIS or EUC-JP */
} text_limits;

/* head: the file's first bytes. Returns 1 when the file is one of these
 * formats and was read (out filled, *mime set), 0 when it is not (a zip
 * that is no OOXML package: EPUB, XPS...), -1 on error (permanent: the
 * file is what it is). Plain text is the last resort: with plain_fallback,
 * anything else that decodes as text is read as such. */
int text_formats_open(fz_context *ctx, const char *path, const unsigned char *head, size_t n,
                      const text_limits *lim, bool plain_fallback, paged_text *out,
                      const char **mime, const char **encoding, dm_err *err);

#endif
