/* page_board: page-parallel extraction of one large document. The worker
 * that owns a job posts ranges of its pages; idle workers take them before
 * new jobs, extract them in their own Lua state and MuPDF context, and post
 * the pages back as copied text; the owner takes ranges of its own batch
 * too (so it never just waits while work is left), then collects every
 * range in page order. Plain C, thread-safe, no Lua. */
#ifndef DOCMILL_PAGE_BOARD_H
#define DOCMILL_PAGE_BOARD_H

#include "base/common.h"

#include <pthread.h>

typedef struct page_board page_board;

typedef struct page_task {
    int64_t batch;
    int64_t job_id;          /* the owner's job (for the crash journal) */
    int index;               /* the range's position in its batch */
    char path[4096];         /* a local file (downloaded once by the owner) */
    int first, last;         /* 1-based, inclusive */
    char languages[64];
    int dpi;                 /* 0 = the policy decides per page */
} page_task;

typedef struct page_text {
    int page;
    char method[8];          /* "text" | "ocr" */
    int dpi;                 /* 0 for text */
    int confidence;          /* OCR's mean word confidence; -1 for a text layer */
    int rotate;              /* degrees clockwise the page was turned for OCR */
    bool vertical;           /* read as vertical Japanese */
    double deskew;           /* degrees clockwise it was levelled by (0 = none) */
    char *text;
} page_text;

typedef struct page_range_result {
    int npages;
    page_text *pages;        /* in page order */
    char *errors;            /* "page N: ...; page M: ..." or NULL */
    int pages_ocr;
    int64_t stage_ms[3];     /* text, render, ocr */
} page_range_result;

/* wake(ud) is called when a batch is posted, so idle workers look at once. */
page_board *page_board_new(void (*wake)(void *ud), void *ud);
void page_board_free(page_board *b);

/* Owner: posts n ranges (ranges[2*i], ranges[2*i+1]); returns the batch id. */
int64_t page_board_post(page_board *b, int owner, const char *path, const int *ranges, int n,
                        const char *languages, int dpi, int64_t job_id);
/* Owner: the languages and DPI for the ranges of batch not taken yet (the
 * batch is posted before the document's first page settles them, so idle
 * workers start at once). */
void page_board_settle(page_board *b, int64_t batch, const char *languages, int dpi);
/* Takes an unclaimed range: of `batch`, or (batch < 0) of any batch not
 * owned by `me`. Never blocks. */
bool page_board_take(page_board *b, int64_t batch, int me, page_task *out);
/* The same of any batch not owned by `me` whose languages and DPI are
 * settled and that keeps another open range for its owner. A worker takes
 * these before a new job, and the others only when no job waits: a range
 * read before its document's first page settled them may be read with more
 * models than it needs, and taking a batch's last range can leave its owner
 * waiting for it with nothing to do. */
bool page_board_take_spare(page_board *b, int me, page_task *out);
/* Hands in a taken range's result (the board takes ownership of r's memory). */
void page_board_done(page_board *b, const page_task *t, page_range_result *r);
/* Owner: blocks until every range of the batch is done, then returns them
 * in order (*out malloc'd, n ranges; free with page_board_results_free) and
 * forgets the batch. */
void page_board_wait(page_board *b, int64_t batch, page_range_result **out, int *n);
void page_board_results_free(page_range_result *r, int n);

#endif
