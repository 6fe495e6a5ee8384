/* For the readers of container.c only (mail.c, msg.c, archive.c). */
#ifndef DOCMILL_CONTAINER_INTERNAL_H
#define DOCMILL_CONTAINER_INTERNAL_H

#include "container/container.h"

typedef struct container_reader {
    /* Same contract as container_next, without the member count and the
     * deadline, which container_next checks itself. */
    int (*next)(container *c, container_member *m, dm_err *err);
    void (*close)(container *c);
} container_reader;

struct container {
    container_kind kind;
    const container_reader *reader;
    void *impl;                 /* the reader's state */
    const char *mime;           /* static; the reader sets it */
    container_limits lim;
    char *tmpdir;
    char *label;                /* container_limits.label, or NULL */
    paged_text text;            /* the container's own text (a mail's body) */
    int64_t file_bytes;         /* the container file's size, for the ratio */
    int64_t expanded;           /* bytes written for members so far */
    int members;                /* members handed out */
    unsigned serial;            /* names the next temp file */
};

/* Each reader fills c->reader and c->impl (and c->text); -1 with err when
 * the file cannot be read as that kind. */
int mail_open(container *c, const char *path, dm_err *err);     /* MAIL and MBOX */
int msg_open(container *c, const char *path, dm_err *err);
int archive_open(container *c, const char *path, dm_err *err);

/* What the readers tell from a file's first bytes (mail.c) or its OLE2
 * streams (msg.c), for container_sniff. */
container_kind mail_sniff(const unsigned char *head, size_t n);
bool msg_sniff(const char *path);
/* mail.c's, shared with msg.c (an Outlook message's text takes the same
 * way): s in charset (may be NULL: detected) as UTF-8 into out; an HTML
 * body's visible text; the one page "subject, blank line, body". */
void mail_text_to_utf8(const char *s, size_t len, const char *charset, sbuf *out);
void mail_html_text(const char *html, size_t len, const char *charset,
                    const container_limits *lim, sbuf *out);
void mail_page(container *c, const char *subject, const char *body, size_t len);

/* A new member file: 0600, created exclusively under c->tmpdir with a
 * name of docmill's own. Returns its fd and sets *path (malloc'd). */
int container_temp_file(container *c, char **path, dm_err *err);
/* Writes n bytes of a member to fd, counting them against the limits
 * (*member_bytes counts what this member has written): 0; -2 when this
 * member passed max_member_bytes (the caller removes its file, hands it
 * out skipped as "larger than max_file_mb" and goes on); -1 with err when
 * reading must stop: a container-wide limit (err names it), the deadline,
 * or a write error (the caller removes the member's file). */
int container_write(container *c, int fd, const void *data, size_t n, int64_t *member_bytes,
                    dm_err *err);
/* A member's size as its container declares it, before any byte is
 * written: -1 with err when writing it would pass a container-wide limit
 * (max_compression_ratio, max_expanded_mb: a zip bomb declares its size
 * honestly and is stopped here, at once); -2 when it is larger than
 * max_member_bytes (the member is skipped); 0 otherwise. A size that is
 * not known (< 0) passes; container_write counts the bytes anyway. */
int container_check_declared(container *c, int64_t declared, dm_err *err);
/* A member name (raw bytes from the data) as UTF-8, malloc'd: as is when
 * valid UTF-8; else, with try_cp932, decoded as CP932 (Windows Japanese)
 * when that works; else with each invalid byte as U+FFFD. Control
 * characters become '_'; an empty name becomes "unnamed". */
char *container_name_utf8(const char *raw, size_t n, bool try_cp932);
/* Fills a member that is not written out. */
void container_member_skip(container_member *m, const char *name_utf8, int64_t size,
                           const char *why);

#endif
