/* archive: zip, tar (all its variants), 7z, rar/rar5 and cpio, bare or in
 * any outer compression libarchive decodes in-process (gzip, bzip2, xz,
 * lzma, lzip, zstd, lz4, compress), and a lone compressed file that holds
 * no archive (report.pdf.gz), read as one member. Members are streamed in
 * 64 KB chunks through container_write, which holds them to the limits.
 *
 * Names: the process runs in the C locale, where libarchive cannot
 * convert a name stored as UTF-8 (a zip entry with the UTF-8 flag, a pax
 * path) or UTF-16 (7z) to the "current locale" and drops it. So every
 * libarchive call here runs with the thread's LC_CTYPE switched to
 * C.UTF-8 (uselocale, per thread, nothing global changes): those names
 * then come out as UTF-8, and names libarchive stores as they are (a zip
 * entry without the UTF-8 flag, a ustar name) come out as their raw
 * bytes, which container_name_utf8 decodes (CP932 for zip). */
#include "container/container_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK_BYTES 65536
/* Past this many ARCHIVE_WARN results in a row from one member's data,
 * the member is taken as ended (a warning never makes progress forever). */
#define MAX_DATA_WARNINGS 8
/* Below this, skipped bytes are not held to the compression ratio (the
 * same floor container_write uses for written ones). */
#define RATIO_FLOOR_BYTES 1048576

typedef struct archive_state {
    struct archive *a;
    bool first_pending;           /* archive_open read the first header; next takes it */
    struct archive_entry *first;
    int first_rc;
    bool lone;                    /* one compressed stream, no archive inside */
    char *lone_name;              /* that member's label */
    bool zip;                     /* names may be CP932 */
    bool stopped;                 /* a -1 was returned: nothing more is read */
    bool at_end;                  /* libarchive said EOF: 0 from now on */
    char fatal_after[256];        /* libarchive failed for good on the member handed out */
    int64_t discarded;            /* bytes decoded for skipped members and not written */
    char *chunk;                  /* CHUNK_BYTES */
} archive_state;

/* ---- the thread's LC_CTYPE while libarchive runs ---- */

static pthread_once_t utf8_locale_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void utf8_locale_create(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!utf8_locale)
        utf8_locale = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

/* Returns the locale to restore, or (locale_t)0 when no UTF-8 locale
 * exists (then names stored as UTF-8/UTF-16 may come out "unnamed"). */
static locale_t utf8_enter(void)
{
    pthread_once(&utf8_locale_once, utf8_locale_create);
    return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

static void utf8_leave(locale_t previous)
{
    if (previous)
        uselocale(previous);
}

/* ---- what the file is ---- */

static const char *filter_mime(int filter)
{
    switch (filter) {
    case ARCHIVE_FILTER_GZIP: return "application/gzip";
    case ARCHIVE_FILTER_BZIP2: return "application/x-bzip2";
    case ARCHIVE_FILTER_XZ: return "application/x-xz";
    case ARCHIVE_FILTER_LZMA: return "application/x-lzma";
    case ARCHIVE_FILTER_LZIP: return "application/x-lzip";
    case ARCHIVE_FILTER_ZSTD: return "application/zstd";
    case ARCHIVE_FILTER_LZ4: return "application/x-lz4";
    case ARCHIVE_FILTER_COMPRESS: return "application/x-compress";
    default: return NULL;
    }
}

/* The outermost layer names the file, as file(1) does: a tar.gz is
 * application/gzip, a bare tar application/x-tar. */
static const char *archive_mime(struct archive *a)
{
    /* Filter 0 is the outermost (the one applied to the file's bytes). */
    if (archive_filter_count(a) > 1) {
        const char *mime = filter_mime(archive_filter_code(a, 0));
        if (mime)
            return mime;
    }
    switch (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP: return "application/zip";
    case ARCHIVE_FORMAT_TAR: return "application/x-tar";
    case ARCHIVE_FORMAT_7ZIP: return "application/x-7z-compressed";
    case ARCHIVE_FORMAT_RAR:
    case ARCHIVE_FORMAT_RAR_V5: return "application/vnd.rar";
    case ARCHIVE_FORMAT_CPIO: return "application/x-cpio";
    default: return "application/octet-stream";
    }
}

/* The label of a lone compressed file's one member: the file's name
 * without its compression suffix ("report.pdf.gz" -> "report.pdf");
 * "data" when it has no such suffix. */
static char *lone_member_name(const char *path)
{
    static const char *suffixes[] = {".gz", ".gzip", ".bz2", ".bz", ".xz", ".lzma", ".lz",
                                     ".zst", ".zstd", ".lz4", ".z"};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && strcasecmp(base + n - m, suffixes[i]) == 0)
            return container_name_utf8(base, n - m, false);
    }
    return dm_xstrdup("data");
}

/* ---- reading ---- */

static void damaged(const container *c, archive_state *st, dm_err *err)
{
    const char *why = archive_error_string(st->a);
    dm_err_set(err, true, "damaged archive after %d members: %s", c->members,
               why ? why : "unreadable header");
    st->stopped = true;
}

static bool past_deadline(container *c, archive_state *st, dm_err *err)
{
    if (c->lim.deadline_ms > 0 && dm_mono_ms() > c->lim.deadline_ms) {
        dm_err_set(err, true, "timed out after %d members (job_timeout_seconds)", c->members);
        st->stopped = true;
        return true;
    }
    return false;
}

/* A member's name as a UTF-8 label, without a leading "/" or "./". */
static char *entry_name(archive_state *st, struct archive_entry *e)
{
    if (st->lone)
        return dm_xstrdup(st->lone_name);
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        raw = archive_entry_pathname_utf8(e);
    if (!raw)
        raw = "";
    for (;;) {
        if (raw[0] == '/')
            raw++;
        else if (raw[0] == '.' && raw[1] == '/')
            raw += 2;
        else
            break;
    }
    return container_name_utf8(raw, strlen(raw), st->zip);
}

static bool message_says_encrypted(struct archive *a)
{
    const char *msg = archive_error_string(a);
    return msg && (strcasestr(msg, "encrypt") || strcasestr(msg, "passphrase") ||
                   strcasestr(msg, "password"));
}

/* Whether skipping a member's data is a seek rather than a decode: a zip
 * entry whose sizes are in its headers (the streaming reader of a zip cut
 * off before its directory decodes an entry whose sizes come after its
 * data), or an uncompressed tar/cpio. */
static bool skip_is_cheap(archive_state *st, struct archive_entry *e)
{
    int format = archive_format(st->a) & ARCHIVE_FORMAT_BASE_MASK;
    if (format == ARCHIVE_FORMAT_ZIP)
        return archive_entry_size_is_set(e);
    return archive_filter_count(st->a) <= 1 &&
           (format == ARCHIVE_FORMAT_TAR || format == ARCHIVE_FORMAT_CPIO);
}

/* Passes over the rest of a skipped member's data. Where that means
 * decoding it (a solid 7z, a tar.gz), the decoded bytes are held to the
 * compression ratio and the deadline as written ones are: a bomb of
 * members too large to keep is still a bomb. 0, or -1 with err. */
static int skip_rest(container *c, archive_state *st, struct archive_entry *e, dm_err *err)
{
    if (skip_is_cheap(st, e)) {
        int rc = archive_read_data_skip(st->a);
        if (rc < ARCHIVE_WARN) {
            damaged(c, st, err);
            return -1;
        }
        return 0;
    }
    int warnings = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(st->a, st->chunk, CHUNK_BYTES);
        if (n == 0)
            return 0;
        if (n == ARCHIVE_WARN && ++warnings <= MAX_DATA_WARNINGS)
            continue;
        if (n < 0)
            return 0;   /* unreadable data: the next header says whether more follows */
        warnings = 0;
        st->discarded += n;
        int64_t decoded = c->expanded + st->discarded;
        if (c->lim.max_ratio > 0 && decoded > RATIO_FLOOR_BYTES &&
            (double)decoded > c->lim.max_ratio * (double)(c->file_bytes + 1)) {
            dm_err_set(err, true, "expanded more than %g times its %lld bytes "
                                  "(max_compression_ratio)",
                       c->lim.max_ratio, (long long)c->file_bytes);
            st->stopped = true;
            return -1;
        }
        if (past_deadline(c, st, err))
            return -1;
    }
}

/* Hands out e skipped for why, after passing over its data. */
static int skip_member(container *c, archive_state *st, struct archive_entry *e,
                       container_member *m, char *name, int64_t size, const char *why,
                       dm_err *err)
{
    int rc = skip_rest(c, st, e, err);
    if (rc == 0)
        container_member_skip(m, name, size, why);
    free(name);
    return rc == 0 ? 1 : -1;
}

static void drop_file(int fd, char **path)
{
    close(fd);
    unlink(*path);
    free(*path);
    *path = NULL;
}

/* Writes the current entry's data to a member file. 1 with m filled
 * (written, or skipped when too large, encrypted or unreadable), -1 with
 * err when reading must stop. Takes name. */
static int write_member(container *c, archive_state *st, struct archive_entry *e,
                        container_member *m, char *name, int64_t header_size, dm_err *err)
{
    char *path = NULL;
    int fd = container_temp_file(c, &path, err);
    if (fd < 0) {
        free(name);
        st->stopped = true;
        return -1;
    }
    int64_t written = 0;
    int warnings = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(st->a, st->chunk, CHUNK_BYTES);
        if (n == 0)
            break;
        if (n == ARCHIVE_WARN) {
            /* A bad CRC and the like: what was read is kept. */
            if (++warnings > MAX_DATA_WARNINGS)
                break;
            continue;
        }
        if (n < 0) {
            drop_file(fd, &path);
            bool encrypted = message_says_encrypted(st->a);
            if (n == ARCHIVE_FATAL && !encrypted) {
                free(name);
                damaged(c, st, err);
                return -1;
            }
            /* This member only (encrypted, an unsupported method): the next
             * may be fine. When libarchive cannot go on past it, the member
             * is still handed out, and the next call says why reading ends
             * (libarchive, in its fatal state, would only name that state). */
            if (n == ARCHIVE_FATAL) {
                const char *why = archive_error_string(st->a);
                snprintf(st->fatal_after, sizeof st->fatal_after, "%s",
                         why ? why : "cannot read past an encrypted member");
            }
            container_member_skip(m, name, header_size, encrypted ? "encrypted" : "unreadable");
            free(name);
            return 1;
        }
        warnings = 0;
        int rc = container_write(c, fd, st->chunk, (size_t)n, &written, err);
        if (rc == -2) {
            drop_file(fd, &path);
            int64_t size = header_size > written ? header_size : written + n;
            return skip_member(c, st, e, m, name, size, "larger than max_file_mb", err);
        }
        if (rc != 0) {
            drop_file(fd, &path);
            free(name);
            st->stopped = true;
            return -1;
        }
    }
    if (close(fd) != 0) {
        dm_err_set(err, false, "cannot write a member to %s", c->tmpdir);
        unlink(path);
        free(path);
        free(name);
        st->stopped = true;
        return -1;
    }
    memset(m, 0, sizeof *m);
    m->name = name;
    m->path = path;
    m->size = written;
    return 1;
}

static int next_header(archive_state *st, struct archive_entry **e)
{
    if (st->first_pending) {
        st->first_pending = false;
        *e = st->first;
        return st->first_rc;
    }
    int rc = archive_read_next_header(st->a, e);
    /* RETRY: "a retry might succeed"; a few are tried, then it is damage. */
    for (int i = 0; rc == ARCHIVE_RETRY && i < 3; i++)
        rc = archive_read_next_header(st->a, e);
    return rc;
}

static int read_next(container *c, archive_state *st, container_member *m, dm_err *err)
{
    for (;;) {
        if (past_deadline(c, st, err))
            return -1;
        struct archive_entry *e = NULL;
        int rc = next_header(st, &e);
        if (rc == ARCHIVE_EOF) {
            st->at_end = true;
            return 0;
        }
        if (rc < ARCHIVE_WARN || !e) {
            damaged(c, st, err);
            return -1;
        }
        st->zip = (archive_format(st->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;   /* directories are not members: their files are */
        char *name = entry_name(st, e);
        int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        if (size < 0)
            size = 0;
        /* A hardlink in a tar is typed regular but holds no data of its own;
         * a type of 0 is what some zips carry for a plain file. */
        if ((type != AE_IFREG && type != 0) || archive_entry_hardlink(e) ||
            archive_entry_symlink(e))
            return skip_member(c, st, e, m, name, size, "not a regular file", err);
        if (archive_entry_is_data_encrypted(e)) {
            /* Not decoded, so libarchive's own skip is cheap here. */
            container_member_skip(m, name, size, "encrypted");
            free(name);
            return 1;
        }
        /* The declared size is held to the limits before a byte is decoded:
         * an honest zip bomb stops here, and a member too large to keep is
         * passed over. A size that lies is caught by container_write. */
        int declared = container_check_declared(
            c, archive_entry_size_is_set(e) ? archive_entry_size(e) : -1, err);
        if (declared == -1) {
            free(name);
            st->stopped = true;
            return -1;
        }
        if (declared == -2)
            return skip_member(c, st, e, m, name, size, "larger than max_file_mb", err);
        return write_member(c, st, e, m, name, size, err);
    }
}

static int archive_next(container *c, container_member *m, dm_err *err)
{
    archive_state *st = c->impl;
    memset(m, 0, sizeof *m);
    if (st->stopped) {
        dm_err_set(err, true, "archive reading stopped before");
        return -1;
    }
    if (st->at_end)
        return 0;
    if (st->fatal_after[0]) {
        dm_err_set(err, true, "damaged archive after %d members: %s", c->members,
                   st->fatal_after);
        st->stopped = true;
        return -1;
    }
    locale_t previous = utf8_enter();
    int rc = read_next(c, st, m, err);
    utf8_leave(previous);
    return rc;
}

static void archive_state_free(archive_state *st)
{
    if (!st)
        return;
    if (st->a) {
        locale_t previous = utf8_enter();
        archive_read_free(st->a);
        utf8_leave(previous);
    }
    free(st->lone_name);
    free(st->chunk);
    free(st);
}

static void archive_close(container *c)
{
    archive_state_free(c->impl);
    c->impl = NULL;
}

static const container_reader archive_reader = {archive_next, archive_close};

/* The formats and filters read. A filter is registered only when
 * libarchive was built with its library: without it, libarchive would
 * run an outside program (gzip -d, zstd -d) on untrusted bytes. lrzip,
 * lzop and grzip always would, and uu would take text files for input. */
static void support_formats(struct archive *a)
{
    if (archive_zlib_version())
        archive_read_support_filter_gzip(a);
    if (archive_bzlib_version())
        archive_read_support_filter_bzip2(a);
    if (archive_liblzma_version()) {
        archive_read_support_filter_xz(a);
        archive_read_support_filter_lzma(a);
        archive_read_support_filter_lzip(a);
    }
    if (archive_libzstd_version())
        archive_read_support_filter_zstd(a);
    if (archive_liblz4_version())
        archive_read_support_filter_lz4(a);
    archive_read_support_filter_compress(a);   /* built in */
    /* Both zip readers: the seekable one (central directory) wins when the
     * directory is there; the streaming one still reads a cut-off zip. */
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_7zip(a);
    archive_read_support_format_rar(a);
    archive_read_support_format_rar5(a);
    archive_read_support_format_cpio(a);
    archive_read_support_format_empty(a);
    /* Bids last: a compressed stream that holds no archive. */
    archive_read_support_format_raw(a);
}

static int open_in_locale(container *c, archive_state *st, const char *path, dm_err *err)
{
    st->a = archive_read_new();
    if (!st->a) {
        dm_err_set(err, false, "archive: out of memory");
        return -1;
    }
    support_formats(st->a);
    if (archive_read_open_filename(st->a, path, CHUNK_BYTES) != ARCHIVE_OK) {
        const char *why = archive_error_string(st->a);
        dm_err_set(err, true, "not an archive docmill can read: %s", why ? why : "unknown");
        return -1;
    }
    /* The format is known once the first header is read. */
    st->first_rc = archive_read_next_header(st->a, &st->first);
    if (st->first_rc < ARCHIVE_WARN) {
        const char *why = archive_error_string(st->a);
        dm_err_set(err, true, "not an archive docmill can read: %s", why ? why : "unknown");
        st->first = NULL;
        return -1;
    }
    st->first_pending = true;
    int format = archive_format(st->a) & ARCHIVE_FORMAT_BASE_MASK;
    bool compressed = archive_filter_count(st->a) > 1;
    if ((format == ARCHIVE_FORMAT_RAW || format == ARCHIVE_FORMAT_EMPTY) && !compressed) {
        dm_err_set(err, true, "not an archive docmill can read: %s",
                   format == ARCHIVE_FORMAT_EMPTY ? "the file is empty"
                                                  : "no archive or compression format found");
        return -1;
    }
    if (format == ARCHIVE_FORMAT_RAW) {
        st->lone = true;
        st->lone_name = lone_member_name(c->label ? c->label : path);
    }
    c->mime = archive_mime(st->a);
    return 0;
}

int archive_open(container *c, const char *path, dm_err *err)
{
    archive_state *st = dm_xcalloc(1, sizeof *st);
    st->chunk = dm_xmalloc(CHUNK_BYTES);
    locale_t previous = utf8_enter();
    int rc = open_in_locale(c, st, path, err);
    utf8_leave(previous);
    if (rc != 0) {
        archive_state_free(st);
        return -1;
    }
    c->impl = st;
    c->reader = &archive_reader;
    return 0;
}
