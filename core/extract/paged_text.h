/* paged_text: what the text formats (OOXML, HTML, RTF, legacy Office
 * through converters, plain text) give: pages of UTF-8 text, each with an
 * optional name (a sheet's), and the document's metadata. The text held is
 * capped, so a hostile file cannot fill memory through it; the expansion
 * budget caps what a container (a zip) may inflate to on the way. */
#ifndef DOCMILL_PAGED_TEXT_H
#define DOCMILL_PAGED_TEXT_H

#include "base/common.h"

typedef struct doc_meta {
    char *title, *author, *subject, *keywords;
    char *created, *modified;   /* as the file says (ISO 8601 for OOXML and PDF) */
    char *from, *to, *date;     /* a mail's (decoded; date in ISO 8601) */
} doc_meta;

typedef struct text_page {
    char *name;   /* NULL, or the sheet's name */
    sbuf text;
} text_page;

/* An image embedded in the document (a scan pasted into Word), kept as
 * its file's bytes for OCR after the text pages. */
typedef struct text_image {
    char *name;   /* its part in the package: "word/media/image1.png" */
    sbuf data;
} text_image;

typedef struct paged_text {
    text_page *pages;
    int count, cap;
    text_image *images;
    int nimages, images_cap;
    int max_images;     /* images kept at most (0 = none wanted) */
    doc_meta meta;
    size_t bytes;       /* text held, over every page */
    size_t max_bytes;   /* at most (0 = no cap); past it, truncated */
    bool truncated;
} paged_text;

void paged_text_init(paged_text *pt, size_t max_bytes);
void paged_text_free(paged_text *pt);
/* Starts a page (its name copied, may be NULL). */
text_page *paged_text_new_page(paged_text *pt, const char *name);
/* Appends to the last page (starting one if none): false, and truncated
 * set, once max_bytes would be passed (nothing more is added then). */
bool paged_text_append(paged_text *pt, const char *s, size_t n);
/* A line break, unless the page is empty or already ends one. */
void paged_text_break(paged_text *pt, const char *sep);
/* Keeps a copy of an embedded image (false past max_images). */
bool paged_text_add_image(paged_text *pt, const char *name, const char *data, size_t n);
/* Drops trailing pages with no visible text. */
void paged_text_trim(paged_text *pt);

/* field = a copy of value, whitespace at both ends trimmed; an empty value
 * leaves the field as it was. */
void doc_meta_set(char **field, const char *value, size_t len);
void doc_meta_free(doc_meta *m);

/* What a container may inflate to: total bytes, and bytes per byte read
 * from the file (a zip bomb passes one or the other at once). */
typedef struct expand_budget {
    int64_t max_bytes;     /* 0 = no cap */
    double max_ratio;      /* 0 = no cap */
    int64_t compressed;    /* the container's size on disk */
    int64_t used;
    const char *cut;       /* set when a limit was hit: which */
} expand_budget;

/* Counts n more inflated bytes: false (and cut set) past a limit. */
bool expand_budget_take(expand_budget *b, size_t n);

#endif
