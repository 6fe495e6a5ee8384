/* container: what is common to the readers: telling what a file is,
 * member temp files, the limits, member names. */
#include "container/container_internal.h"
#include "extract/textnorm.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>


static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Entries that make a zip a document rather than an archive: Office Open
 * XML's content types, the "mimetype" of ODF and EPUB, XPS's
 * FixedDocumentSequence. The zip's central directory is read, not its
 * data. */
#define ZIP_ENTRIES_LOOKED_AT 100000

static bool zip_is_document(const char *path)
{
    static const char *suffixes[] = {".epub", ".cbz", ".xps", ".oxps"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (ends_with_ci(path, suffixes[i]))
            return true;
    struct archive *a = archive_read_new();
    archive_read_support_format_zip_seekable(a);
    bool document = false;
    if (archive_read_open_filename(a, path, 65536) == ARCHIVE_OK) {
        struct archive_entry *e;
        for (int i = 0; i < ZIP_ENTRIES_LOOKED_AT; i++) {
            int rc = archive_read_next_header(a, &e);
            if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
                break;
            const char *name = archive_entry_pathname(e);
            if (name && (strcmp(name, "[Content_Types].xml") == 0 ||
                         (i == 0 && strcmp(name, "mimetype") == 0) ||
                         strcmp(name, "FixedDocumentSequence.fdseq") == 0)) {
                document = true;
                break;
            }
        }
    }
    archive_read_free(a);
    return document;
}

container_kind container_sniff(const char *path, const unsigned char *head, size_t n)
{
    if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
        return zip_is_document(path) ? CONTAINER_NONE : CONTAINER_ARCHIVE;
    if (n >= 4 && memcmp(head, "PK\x05\x06", 4) == 0)   /* an empty zip */
        return CONTAINER_ARCHIVE;
    static const struct {
        size_t off, len;
        const char *magic;
    } archives[] = {
        {0, 6, "7z\xbc\xaf\x27\x1c"},  {0, 2, "\x1f\x8b"},      {0, 3, "BZh"},
        {0, 6, "\xfd" "7zXZ\0"},       {257, 5, "ustar"},       {0, 7, "Rar!\x1a\x07"},
    };
    for (size_t i = 0; i < sizeof archives / sizeof *archives; i++)
        if (n >= archives[i].off + archives[i].len &&
            memcmp(head + archives[i].off, archives[i].magic, archives[i].len) == 0)
            return CONTAINER_ARCHIVE;
    if (n >= 8 && memcmp(head, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)
        return msg_sniff(path) ? CONTAINER_MSG : CONTAINER_NONE;
    return mail_sniff(head, n);
}

container_kind container_sniff_file(const char *path)
{
    unsigned char head[4096];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    return n > 0 ? container_sniff(path, head, n) : CONTAINER_NONE;
}

const char *container_kind_name(container_kind kind)
{
    switch (kind) {
    case CONTAINER_MAIL: return "mail";
    case CONTAINER_MBOX: return "mbox";
    case CONTAINER_MSG: return "msg";
    case CONTAINER_ARCHIVE: return "archive";
    default: return "none";
    }
}

const char *container_mime(const container *c) { return c->mime; }

container *container_open(const char *path, container_kind kind, const container_limits *lim,
                          const char *tmpdir, dm_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        dm_err_set(err, true, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    container *c = dm_xcalloc(1, sizeof *c);
    c->kind = kind;
    c->lim = *lim;
    c->label = lim->label && *lim->label ? dm_xstrdup(lim->label) : NULL;
    c->lim.label = NULL;   /* the caller's string: not kept */
    c->tmpdir = dm_xstrdup(tmpdir && *tmpdir ? tmpdir : "/tmp");
    c->file_bytes = st.st_size;
    paged_text_init(&c->text, lim->max_text_bytes);
    int rc;
    switch (kind) {
    case CONTAINER_MAIL:
    case CONTAINER_MBOX: rc = mail_open(c, path, err); break;
    case CONTAINER_MSG: rc = msg_open(c, path, err); break;
    case CONTAINER_ARCHIVE: rc = archive_open(c, path, err); break;
    default:
        dm_err_set(err, true, "not a container");
        rc = -1;
    }
    if (rc != 0) {
        c->reader = NULL;
        container_close(c);
        return NULL;
    }
    return c;
}

const paged_text *container_text(const container *c) { return &c->text; }
int container_members(const container *c) { return c->members; }
int64_t container_expanded(const container *c) { return c->expanded; }

static bool past_deadline(const container *c, dm_err *err)
{
    if (c->lim.deadline_ms > 0 && dm_mono_ms() > c->lim.deadline_ms) {
        dm_err_set(err, true, "timed out after %d members (job_timeout_seconds)", c->members);
        return true;
    }
    return false;
}

int container_next(container *c, container_member *m, dm_err *err)
{
    memset(m, 0, sizeof *m);
    if (past_deadline(c, err))
        return -1;
    if (c->lim.max_members > 0 && c->members >= c->lim.max_members) {
        /* Only a cut when there is more to read. */
        container_member extra;
        int rc = c->reader->next(c, &extra, err);
        if (rc <= 0)
            return rc;
        if (extra.path)
            unlink(extra.path);
        container_member_free(&extra);
        dm_err_set(err, true, "more than %d members (max_container_members)",
                   c->lim.max_members);
        return -1;
    }
    int rc = c->reader->next(c, m, err);
    if (rc == 1)
        c->members++;
    return rc;
}

void container_member_free(container_member *m)
{
    free(m->name);
    free(m->path);
    memset(m, 0, sizeof *m);
}

void container_close(container *c)
{
    if (!c)
        return;
    if (c->reader && c->reader->close)
        c->reader->close(c);
    paged_text_free(&c->text);
    free(c->label);
    free(c->tmpdir);
    free(c);
}

int container_temp_file(container *c, char **path, dm_err *err)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s/docmill-member-%ld-%u-%u", c->tmpdir, (long)getpid(),
                 (unsigned)(uintptr_t)c & 0xffffffu, c->serial++);
        int fd = open(buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            *path = dm_xstrdup(buf);
            return fd;
        }
        if (errno != EEXIST) {
            dm_err_set(err, false, "cannot create a member file in %s: %s", c->tmpdir,
                       strerror(errno));
            return -1;
        }
    }
    dm_err_set(err, false, "cannot create a member file in %s", c->tmpdir);
    return -1;
}

int container_write(container *c, int fd, const void *data, size_t n, int64_t *member_bytes,
                    dm_err *err)
{
    if (c->lim.max_expanded_bytes > 0 && c->expanded + (int64_t)n > c->lim.max_expanded_bytes) {
        dm_err_set(err, true, "expanded past %lld bytes (max_expanded_mb)",
                   (long long)c->lim.max_expanded_bytes);
        return -1;
    }
    if (c->lim.max_ratio > 0 && c->expanded + (int64_t)n > 1048576 &&
        (double)(c->expanded + (int64_t)n) > c->lim.max_ratio * (double)(c->file_bytes + 1)) {
        dm_err_set(err, true, "expanded more than %g times its %lld bytes "
                              "(max_compression_ratio)",
                   c->lim.max_ratio, (long long)c->file_bytes);
        return -1;
    }
    if (c->lim.max_member_bytes > 0 && *member_bytes + (int64_t)n > c->lim.max_member_bytes) {
        dm_err_set(err, true, "a member larger than %lld bytes (max_file_mb)",
                   (long long)c->lim.max_member_bytes);
        return -2;
    }
    if (past_deadline(c, err))
        return -1;
    const char *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            dm_err_set(err, false, "cannot write a member to %s: %s", c->tmpdir,
                       strerror(errno));
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    c->expanded += (int64_t)n;
    *member_bytes += (int64_t)n;
    return 0;
}

int container_check_declared(container *c, int64_t declared, dm_err *err)
{
    if (declared < 0)
        return 0;
    int64_t total = c->expanded + declared;
    if (c->lim.max_expanded_bytes > 0 && total > c->lim.max_expanded_bytes) {
        dm_err_set(err, true, "a member of %lld bytes would expand past %lld bytes "
                              "(max_expanded_mb)",
                   (long long)declared, (long long)c->lim.max_expanded_bytes);
        return -1;
    }
    if (c->lim.max_ratio > 0 && total > 1048576 &&
        (double)total > c->lim.max_ratio * (double)(c->file_bytes + 1)) {
        dm_err_set(err, true, "a member of %lld bytes would expand more than %g times the "
                              "container's %lld bytes (max_compression_ratio)",
                   (long long)declared, c->lim.max_ratio, (long long)c->file_bytes);
        return -1;
    }
    if (c->lim.max_member_bytes > 0 && declared > c->lim.max_member_bytes)
        return -2;
    return 0;
}

static char *cp932_to_utf8(const char *raw, size_t n)
{
    sbuf out;
    sbuf_init(&out);
    if (text_iconv("CP932", raw, n, false, &out) != 0) {
        sbuf_free(&out);
        return NULL;
    }
    sbuf_putc(&out, '\0');
    return sbuf_take(&out);
}

/* Invalid bytes as U+FFFD, so the name stays readable and valid. */
static char *utf8_repaired(const char *raw, size_t n)
{
    sbuf out;
    sbuf_init(&out);
    text_utf8_repair(raw, n, &out);
    sbuf_putc(&out, '\0');
    return sbuf_take(&out);
}

char *container_name_utf8(const char *raw, size_t n, bool try_cp932)
{
    if (!raw)
        n = 0;
    char *name = NULL;
    if (text_is_utf8(raw ? raw : "", n)) {
        name = dm_xmalloc(n + 1);
        if (n)
            memcpy(name, raw, n);
        name[n] = '\0';
    } else if (!(try_cp932 && (name = cp932_to_utf8(raw, n)))) {
        name = utf8_repaired(raw, n);
    }
    size_t len = 0;
    for (char *p = name; *p; p++, len++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    if (len == 0) {
        free(name);
        name = dm_xstrdup("unnamed");
    }
    return name;
}

void container_member_skip(container_member *m, const char *name_utf8, int64_t size,
                           const char *why)
{
    memset(m, 0, sizeof *m);
    m->name = dm_xstrdup(name_utf8);
    m->size = size;
    m->skipped = why;
}
