/* converters: the legacy binary Office formats (.doc, .xls, .ppt: OLE2
 * compound files) through Debian's converters run as child processes —
 * antiword (or catdoc) for Word, xls2csv for Excel, catppt for PowerPoint
 * (the catdoc package) — with no shell: the program is found on PATH by the
 * parent and started with a fixed argument list; stdin is /dev/null; its
 * output is captured up to a cap; it may use at most a memory cap of
 * address space, write no file, and is killed at the page deadline. What
 * it prints goes through the encoding detector (textnorm.c); form feeds
 * split pages (xls2csv's sheets). A converter that is not installed is a
 * recorded failure naming the package to install. */
#ifndef DOCMILL_CONVERTERS_H
#define DOCMILL_CONVERTERS_H

#include "extract/paged_text.h"

typedef enum { LEGACY_NONE, LEGACY_DOC, LEGACY_XLS, LEGACY_PPT, LEGACY_OTHER } legacy_kind;

/* What an OLE2 compound file holds, by its directory's stream names
 * (WordDocument, Workbook/Book, PowerPoint Document), else by path's
 * extension; LEGACY_OTHER for another OLE2 file (an Outlook .msg, an
 * encrypted OOXML package: *encrypted set), LEGACY_NONE for no OLE2 file. */
legacy_kind legacy_sniff(const char *path, const unsigned char *head, size_t n, bool *encrypted);
const char *legacy_mime(legacy_kind kind);

typedef struct converter_limits {
    const char *programs;   /* the policy's office_converters: "doc:antiword xls:xls2csv ..." */
    int64_t deadline_ms;    /* monotonic; 0 = none */
    size_t max_memory;      /* the child's address space (0 = no cap) */
    size_t max_output;      /* text kept (0 = no cap) */
} converter_limits;

/* Runs the converter the policy names for kind on path into out. 0, or -1
 * with err (permanent: not installed, refused, failed on the file). */
int legacy_read(legacy_kind kind, const char *path, const converter_limits *lim,
                paged_text *out, dm_err *err);

/* The child-process runner under legacy_read, on its own for the tests:
 * argv[0] is looked up on PATH. Exit status in *status (-signal when it
 * was killed); stderr's last bytes in errbuf. 0, or -1 with err (not found,
 * could not start, timed out). */
int converter_run(const char *const argv[], const converter_limits *lim, sbuf *out,
                  int *status, char *errbuf, size_t errcap, dm_err *err);

#endif
