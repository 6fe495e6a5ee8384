/* container: files that hold other files. Mail (.eml, .mbox, Outlook .msg)
 * and archives (zip, tar and its gzip/bzip2/xz forms, 7z) are read as a
 * stream of members, each written to a temp file of its own, for the
 * pipeline to extract as a child document ("PARENT#MEMBER"). A mail also
 * has text of its own: its body, and its headers as metadata.
 *
 * Names inside the data are data: a member's name is only ever a label
 * (decoded to UTF-8); its temp file is named by a counter in the temp
 * dir. Every member and the whole container are held to the limits, and
 * nothing is read into memory whole that the limits do not bound. */
#ifndef DOCMILL_CONTAINER_H
#define DOCMILL_CONTAINER_H

#include "base/common.h"
#include "extract/paged_text.h"

typedef enum container_kind {
    CONTAINER_NONE = 0,
    CONTAINER_MAIL,     /* RFC 5322 message (.eml) */
    CONTAINER_MBOX,     /* mails one after the other, "From " lines between */
    CONTAINER_MSG,      /* Outlook .msg (an OLE2 compound file) */
    CONTAINER_ARCHIVE,  /* zip, tar, tar.gz/bz2/xz, 7z, or a lone .gz/.bz2/.xz file */
} container_kind;

typedef struct container_limits {
    int max_members;            /* members handed out at most (0 = no cap) */
    int64_t max_member_bytes;   /* one member's size (0 = no cap): larger ones are skipped */
    int64_t max_expanded_bytes; /* all members together (0 = no cap): past it, reading stops */
    double max_ratio;           /* expanded bytes per byte of the container file (0 = no cap) */
    int64_t deadline_ms;        /* dm_mono_ms() past which reading stops (0 = none) */
    size_t max_text_bytes;      /* the container's own text (a mail body) kept (0 = no cap) */
    char html_default_charset[64];  /* an HTML body that names no charset ("" = windows-1252) */
    const char *label;          /* the container's name as its source has it, which names a
                                   lone compressed file's member (report.pdf.gz: report.pdf);
                                   NULL = the file's own; read by container_open only */
} container_limits;

typedef struct container_member {
    char *name;          /* UTF-8: the path inside an archive, an attachment's file name,
                            "3.eml" for an mbox's third mail */
    char *path;          /* its bytes, in a 0600 temp file the caller removes; NULL when
                            the member was not written out (skipped says why) */
    int64_t size;        /* bytes written (or, when skipped, as the container says) */
    const char *skipped; /* NULL, or a static reason: "encrypted", "larger than
                            max_file_mb", "not a regular file" ... */
} container_member;

typedef struct container container;

/* What the file is, from its first bytes (head, n of them) and, for zip
 * and OLE2, a look at its entries (a zip that is an Office document, an
 * EPUB or an XPS is a document, not a container; an OLE2 file is a .msg
 * when it has Outlook's property streams). CONTAINER_NONE otherwise. */
container_kind container_sniff(const char *path, const unsigned char *head, size_t n);
/* The same from the file at path (its first 4 KB); NONE when unreadable. */
container_kind container_sniff_file(const char *path);
const char *container_kind_name(container_kind kind);   /* "mail", "mbox", "msg", "archive" */
/* The MIME type reported for the container itself. */
const char *container_mime(const container *c);

/* Opens path as kind; members are written under tmpdir. NULL with err set
 * (permanent) when it cannot be read at all. */
container *container_open(const char *path, container_kind kind, const container_limits *lim,
                          const char *tmpdir, dm_err *err);
/* The container's own text: a mail's body as one page (its subject first,
 * then the body), its headers in the metadata (title = subject, from, to,
 * date). An archive has none (count 0). Valid until container_close. */
const paged_text *container_text(const container *c);
/* The next member: 1 with *m filled (container_member_free), 0 when there
 * are no more, -1 with err when reading stopped: a limit cut it (err names
 * the setting: "max_container_members", "max_expanded_mb",
 * "max_compression_ratio", "job_timeout_seconds") or the rest is damaged.
 * The members handed out before stay valid. */
int container_next(container *c, container_member *m, dm_err *err);
void container_member_free(container_member *m);
/* Members handed out so far, and the bytes written for them. */
int container_members(const container *c);
int64_t container_expanded(const container *c);
void container_close(container *c);

#endif
