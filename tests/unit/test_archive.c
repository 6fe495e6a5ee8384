/* The archive reader (container/archive.c) through the container interface:
 * inputs are built here with libarchive's write API (and, for a zip whose
 * names are CP932 or flagged UTF-8, byte by byte), read back in the C
 * locale the worker runs in, and held to the limits. */
#include "check.h"
#include "container/container.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_READ 16

typedef struct test_entry {
    const char *name;   /* UTF-8 */
    const char *data;   /* a regular file's bytes */
    size_t len;
    unsigned type;      /* AE_IFREG (0 is taken as that), AE_IFDIR, AE_IFLNK */
    const char *link;   /* a symlink's target, or a hardlink's (type AE_IFREG) */
} test_entry;

enum test_format { ZIP, PAX, USTAR, SEVEN_ZIP, RAW };

typedef struct read_result {
    int count;
    container_member m[MAX_READ];
    int rc;             /* what the last container_next returned */
    dm_err err;
} read_result;

static const char *input_path(const char *name)
{
    static char buf[4][512];
    static int turn;
    char *p = buf[turn++ % 4];
    snprintf(p, 512, "%s/%s", check_tmpdir(), name);
    return p;
}

static const char *member_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/members", check_tmpdir());
        mkdir(dir, 0700);
    }
    return dir;
}

/* The writer runs with a UTF-8 LC_CTYPE, so it stores the UTF-8 names as
 * each format wants them (UTF-16 in 7z, a pax path); the reader under test
 * runs in the C locale. */
static void write_archive(const char *path, enum test_format format, int filter,
                          const char *options, const test_entry *entries, size_t count)
{
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t previous = utf8 ? uselocale(utf8) : (locale_t)0;
    struct archive *a = archive_write_new();
    switch (format) {
    case ZIP: archive_write_set_format_zip(a); break;
    case PAX: archive_write_set_format_pax_restricted(a); break;
    case USTAR: archive_write_set_format_ustar(a); break;
    case SEVEN_ZIP: archive_write_set_format_7zip(a); break;
    case RAW: archive_write_set_format_raw(a); break;
    }
    if (filter != ARCHIVE_FILTER_NONE)
        CHECK_INT(archive_write_add_filter(a, filter), ARCHIVE_OK);
    if (options) {
        CHECK_INT(archive_write_set_options(a, options), ARCHIVE_OK);
        CHECK_INT(archive_write_set_passphrase(a, "secret"), ARCHIVE_OK);
    }
    CHECK_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < count; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname_utf8(e, entries[i].name);
        unsigned type = entries[i].type ? entries[i].type : AE_IFREG;
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (type == AE_IFLNK)
            archive_entry_set_symlink(e, entries[i].link);
        else if (entries[i].link)
            archive_entry_set_hardlink(e, entries[i].link);
        bool has_data = type == AE_IFREG && !entries[i].link;
        archive_entry_set_size(e, has_data ? (la_int64_t)entries[i].len : 0);
        CHECK(archive_write_header(a, e) >= ARCHIVE_WARN);
        if (has_data && entries[i].len)
            CHECK_INT(archive_write_data(a, entries[i].data, entries[i].len),
                      entries[i].len);
        archive_entry_free(e);
    }
    CHECK_INT(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    if (previous)
        uselocale(previous);
    if (utf8)
        freelocale(utf8);
}

/* A zip of one member of zero bytes, size bytes long, written in chunks. */
static void write_zero_zip(const char *path, int64_t size)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    CHECK_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "zeros.bin");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    CHECK_INT(archive_write_header(a, e), ARCHIVE_OK);
    static char zeros[1 << 20];
    for (int64_t left = size; left > 0; left -= (int64_t)sizeof zeros)
        archive_write_data(a, zeros, left < (int64_t)sizeof zeros ? (size_t)left : sizeof zeros);
    archive_entry_free(e);
    CHECK_INT(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static void put16(unsigned char **p, unsigned v)
{
    (*p)[0] = v & 0xff, (*p)[1] = (v >> 8) & 0xff, *p += 2;
}

static void put32(unsigned char **p, unsigned long v)
{
    put16(p, v & 0xffff), put16(p, (v >> 16) & 0xffff);
}

/* A stored zip of one member, made by MS-DOS as Windows' own zip tool
 * makes it, its name bytes as given and its UTF-8 flag (bit 11) as asked. */
static void write_plain_zip(const char *path, const char *name_bytes, bool utf8_flag,
                            const char *data)
{
    unsigned char buf[1024], *p = buf;
    size_t name_len = strlen(name_bytes), len = strlen(data);
    unsigned long crc = crc32(0, (const unsigned char *)data, (unsigned)len);
    unsigned flags = utf8_flag ? 0x0800 : 0;
    put32(&p, 0x04034b50), put16(&p, 20), put16(&p, flags), put16(&p, 0);
    put16(&p, 0), put16(&p, 0x5821), put32(&p, crc), put32(&p, len), put32(&p, len);
    put16(&p, (unsigned)name_len), put16(&p, 0);
    memcpy(p, name_bytes, name_len), p += name_len;
    memcpy(p, data, len), p += len;
    unsigned long central_at = (unsigned long)(p - buf);
    put32(&p, 0x02014b50), put16(&p, 20), put16(&p, 20), put16(&p, flags), put16(&p, 0);
    put16(&p, 0), put16(&p, 0x5821), put32(&p, crc), put32(&p, len), put32(&p, len);
    put16(&p, (unsigned)name_len), put16(&p, 0), put16(&p, 0), put16(&p, 0), put16(&p, 0);
    put32(&p, 0x20), put32(&p, 0);
    memcpy(p, name_bytes, name_len), p += name_len;
    unsigned long central_len = (unsigned long)(p - buf) - central_at;
    put32(&p, 0x06054b50), put16(&p, 0), put16(&p, 0), put16(&p, 1), put16(&p, 1);
    put32(&p, central_len), put32(&p, central_at), put16(&p, 0);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(buf, 1, (size_t)(p - buf), f);
        fclose(f);
    }
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static bool file_holds(const char *path, const char *data, size_t len)
{
    size_t n = 0;
    char *got = path ? read_file(path, &n) : NULL;
    bool same = got && n == len && memcmp(got, data, len) == 0;
    free(got);
    return same;
}

/* Whether a member's file lies directly in the member dir. */
static bool inside_member_dir(const char *path)
{
    char real[PATH_MAX], dir[PATH_MAX];
    if (!path || !realpath(path, real) || !realpath(member_dir(), dir))
        return false;
    size_t n = strlen(dir);
    return strncmp(real, dir, n) == 0 && real[n] == '/' && !strchr(real + n + 1, '/');
}

static container_limits no_limits(void)
{
    container_limits lim;
    memset(&lim, 0, sizeof lim);
    return lim;
}

static container *open_archive(const char *path, const container_limits *lim, dm_err *err)
{
    return container_open(path, CONTAINER_ARCHIVE, lim, member_dir(), err);
}

static void read_all(container *c, read_result *r)
{
    memset(r, 0, sizeof *r);
    for (;;) {
        container_member m;
        r->rc = container_next(c, &m, &r->err);
        if (r->rc != 1)
            break;
        if (r->count < MAX_READ)
            r->m[r->count++] = m;
        else
            container_member_free(&m);
    }
}

static void free_result(read_result *r)
{
    for (int i = 0; i < r->count; i++) {
        if (r->m[i].path)
            unlink(r->m[i].path);
        container_member_free(&r->m[i]);
    }
    r->count = 0;
}

/* Opens, reads every member, closes. The container's MIME type is put in
 * mime (static) when asked for. */
static void read_archive(const char *path, const container_limits *lim, read_result *r,
                         const char **mime)
{
    dm_err err;
    container *c = open_archive(path, lim, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  open %s: %s\n", path, err.msg);
        memset(r, 0, sizeof *r);
        r->rc = -1;
        return;
    }
    read_all(c, r);
    if (mime)
        *mime = container_mime(c);
    container_close(c);
}

#define TEXT(s) s, sizeof s - 1

static void test_zip_nested_dirs(void)
{
    static const char inner[] = "inner file\n";
    test_entry entries[] = {
        {"2024/", NULL, 0, AE_IFDIR, NULL},
        {"2024/minutes/", NULL, 0, AE_IFDIR, NULL},
        {"2024/minutes/議事録.pdf", TEXT("%PDF-1.4 not really\n"), 0, NULL},
        {"top.txt", TEXT("top level\n"), 0, NULL},
        {"2024/empty.txt", "", 0, 0, NULL},
        {"2024/minutes/deep/inner.txt", TEXT(inner), 0, NULL},
    };
    const char *path = input_path("nested.zip");
    write_archive(path, ZIP, ARCHIVE_FILTER_NONE, NULL, entries, 6);
    read_result r;
    const char *mime = NULL;
    read_archive(path, &(container_limits){0}, &r, &mime);
    CHECK_INT(r.rc, 0);
    CHECK_STR(mime, "application/zip");
    CHECK_INT(r.count, 4);
    if (r.count == 4) {
        CHECK_STR(r.m[0].name, "2024/minutes/議事録.pdf");
        CHECK(file_holds(r.m[0].path, TEXT("%PDF-1.4 not really\n")));
        CHECK_STR(r.m[1].name, "top.txt");
        CHECK_STR(r.m[2].name, "2024/empty.txt");
        CHECK(file_holds(r.m[2].path, "", 0));
        CHECK_INT(r.m[2].size, 0);
        CHECK_STR(r.m[3].name, "2024/minutes/deep/inner.txt");
        CHECK(file_holds(r.m[3].path, TEXT(inner)));
        CHECK_INT(r.m[3].size, sizeof inner - 1);
        for (int i = 0; i < 4; i++) {
            CHECK(r.m[i].skipped == NULL);
            CHECK(inside_member_dir(r.m[i].path));
            struct stat st;
            CHECK(stat(r.m[i].path, &st) == 0 && (st.st_mode & 0777) == 0600);
        }
    }
    free_result(&r);
}

static void test_zip_names_cp932_and_utf8_flag(void)
{
    /* 議事録/報告.txt and 表.txt (whose second byte is '\') in CP932, no
     * UTF-8 flag, as Windows' Japanese zip tool writes them. */
    const char *path = input_path("cp932.zip");
    write_plain_zip(path, "\x8b\x63\x8e\x96\x98\x5e/\x95\xf1\x8d\x90.txt", false, "hello");
    read_result r;
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 1);
    if (r.count == 1) {
        CHECK_STR(r.m[0].name, "議事録/報告.txt");
        CHECK(file_holds(r.m[0].path, "hello", 5));
    }
    free_result(&r);
    path = input_path("cp932-backslash.zip");
    write_plain_zip(path, "\x95\x5c.txt", false, "table");
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.count, 1);
    if (r.count == 1)
        CHECK_STR(r.m[0].name, "表.txt");
    free_result(&r);
    /* The same name in UTF-8 with the flag set stays as it is. */
    path = input_path("utf8.zip");
    write_plain_zip(path, "議事録/報告.txt", true, "hello");
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 1);
    if (r.count == 1)
        CHECK_STR(r.m[0].name, "議事録/報告.txt");
    free_result(&r);
    /* UTF-8 bytes without the flag (macOS, 7-Zip) are taken as UTF-8. */
    path = input_path("utf8-noflag.zip");
    write_plain_zip(path, "議事録/報告.txt", false, "hello");
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.count, 1);
    if (r.count == 1)
        CHECK_STR(r.m[0].name, "議事録/報告.txt");
    free_result(&r);
}

static void test_zip_inside_zip_and_escape_name(void)
{
    const char *inner_path = input_path("inner.zip");
    test_entry inner[] = {{"a.txt", TEXT("inner a\n"), 0, NULL}};
    write_archive(inner_path, ZIP, ARCHIVE_FILTER_NONE, NULL, inner, 1);
    size_t inner_len = 0;
    char *inner_bytes = read_file(inner_path, &inner_len);
    CHECK(inner_bytes != NULL);
    test_entry outer[] = {
        {"nested/inner.zip", inner_bytes, inner_len, 0, NULL},
        {"../../escape.txt", TEXT("escaped?\n"), 0, NULL},
        {"/abs.txt", TEXT("absolute\n"), 0, NULL},
    };
    const char *path = input_path("outer.zip");
    write_archive(path, ZIP, ARCHIVE_FILTER_NONE, NULL, outer, 3);
    read_result r;
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 3);
    if (r.count == 3) {
        CHECK_STR(r.m[0].name, "nested/inner.zip");
        CHECK(file_holds(r.m[0].path, inner_bytes, inner_len));
        CHECK_STR(r.m[1].name, "../../escape.txt");
        CHECK(inside_member_dir(r.m[1].path));
        CHECK(file_holds(r.m[1].path, TEXT("escaped?\n")));
        CHECK_STR(r.m[2].name, "abs.txt");
    }
    char escaped[600];
    snprintf(escaped, sizeof escaped, "%s/../../escape.txt", member_dir());
    CHECK(access(escaped, F_OK) != 0);
    free_result(&r);
    free(inner_bytes);
}

static void test_tar_forms_and_7z(void)
{
    static const struct {
        const char *file;
        enum test_format format;
        int filter;
        const char *mime;
    } forms[] = {
        {"docs.tar", USTAR, ARCHIVE_FILTER_NONE, "application/x-tar"},
        {"docs.tar.gz", PAX, ARCHIVE_FILTER_GZIP, "application/gzip"},
        {"docs.tar.bz2", PAX, ARCHIVE_FILTER_BZIP2, "application/x-bzip2"},
        {"docs.tar.xz", PAX, ARCHIVE_FILTER_XZ, "application/x-xz"},
        {"docs.tar.zst", PAX, ARCHIVE_FILTER_ZSTD, "application/zstd"},
        {"docs.7z", SEVEN_ZIP, ARCHIVE_FILTER_NONE, "application/x-7z-compressed"},
    };
    char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + (i * 7919 % 26));
    for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
        /* ustar stores names as raw bytes: ASCII there. */
        bool ascii = forms[f].format == USTAR;
        test_entry entries[] = {
            {"./dir/", NULL, 0, AE_IFDIR, NULL},
            {ascii ? "./dir/report.txt" : "./dir/報告.txt", TEXT("report\n"), 0, NULL},
            {"big.txt", big, sizeof big, 0, NULL},
        };
        const char *path = input_path(forms[f].file);
        write_archive(path, forms[f].format, forms[f].filter, NULL, entries, 3);
        read_result r;
        const char *mime = NULL;
        read_archive(path, &(container_limits){0}, &r, &mime);
        CHECK_INT(r.rc, 0);
        CHECK_STR(mime, forms[f].mime);
        CHECK_INT(r.count, 2);
        if (r.count == 2) {
            CHECK_STR(r.m[0].name, ascii ? "dir/report.txt" : "dir/報告.txt");
            CHECK(file_holds(r.m[0].path, TEXT("report\n")));
            CHECK_STR(r.m[1].name, "big.txt");
            CHECK(file_holds(r.m[1].path, big, sizeof big));
        }
        if (check_failures_in_test)
            fprintf(stderr, "  (in %s)\n", forms[f].file);
        free_result(&r);
    }
}

static void test_lone_compressed_file(void)
{
    test_entry pdf[] = {{"data", TEXT("%PDF-1.4 report\n"), 0, NULL}};
    const char *path = input_path("report.pdf.gz");
    write_archive(path, RAW, ARCHIVE_FILTER_GZIP, NULL, pdf, 1);
    read_result r;
    const char *mime = NULL;
    read_archive(path, &(container_limits){0}, &r, &mime);
    CHECK_INT(r.rc, 0);
    CHECK_STR(mime, "application/gzip");
    CHECK_INT(r.count, 1);
    if (r.count == 1) {
        CHECK_STR(r.m[0].name, "report.pdf");
        CHECK(file_holds(r.m[0].path, TEXT("%PDF-1.4 report\n")));
    }
    free_result(&r);
    path = input_path("notes.txt.xz");
    write_archive(path, RAW, ARCHIVE_FILTER_XZ, NULL, pdf, 1);
    read_archive(path, &(container_limits){0}, &r, &mime);
    CHECK_STR(mime, "application/x-xz");
    CHECK_INT(r.count, 1);
    if (r.count == 1)
        CHECK_STR(r.m[0].name, "notes.txt");
    free_result(&r);
    /* A gzip of nothing holds no member, and asking again stays at the end. */
    test_entry nothing[] = {{"data", "", 0, 0, NULL}};
    path = input_path("nothing.txt.gz");
    write_archive(path, RAW, ARCHIVE_FILTER_GZIP, NULL, nothing, 1);
    dm_err err;
    container *c = open_archive(path, &(container_limits){0}, &err);
    CHECK(c != NULL);
    if (c) {
        container_member m;
        int first = container_next(c, &m, &err);
        CHECK(first == 0 || (first == 1 && m.size == 0));
        if (first == 1) {
            unlink(m.path);
            container_member_free(&m);
        }
        CHECK_INT(container_next(c, &m, &err), 0);
        CHECK_INT(container_next(c, &m, &err), 0);
        container_close(c);
    }
    /* No header gives a size: the cap is met while writing, and the member
     * is handed out skipped. */
    static char big[300000];
    memset(big, 'x', sizeof big);
    test_entry large[] = {{"data", big, sizeof big, 0, NULL}};
    path = input_path("large.log.bz2");
    write_archive(path, RAW, ARCHIVE_FILTER_BZIP2, NULL, large, 1);
    container_limits lim = no_limits();
    lim.max_member_bytes = 100000;
    read_archive(path, &lim, &r, &mime);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 1);
    if (r.count == 1) {
        CHECK_STR(r.m[0].name, "large.log");
        CHECK_STR(r.m[0].skipped, "larger than max_file_mb");
        CHECK(r.m[0].path == NULL);
    }
    free_result(&r);
}

static void test_zip_bomb_stops_on_the_ratio(void)
{
    const char *path = input_path("bomb.zip");
    write_zero_zip(path, (int64_t)200 << 20);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size < 2000000);
    container_limits lim = no_limits();
    lim.max_ratio = 200;
    int64_t started = dm_mono_ms();
    dm_err err;
    container *c = open_archive(path, &lim, &err);
    CHECK(c != NULL);
    if (!c)
        return;
    read_result r;
    read_all(c, &r);
    CHECK_INT(r.rc, -1);
    CHECK_CONTAINS(r.err.msg, "max_compression_ratio");
    CHECK(container_expanded(c) <= 200 * (st.st_size + 1));
    CHECK(dm_mono_ms() - started < 5000);
    container_close(c);
    free_result(&r);

    /* The same bomb declaring 1000 bytes in both its headers: caught while
     * it is written, and the member cut short leaves no file behind. */
    size_t len = 0;
    unsigned char *bytes = (unsigned char *)read_file(path, &len);
    CHECK(bytes && len > 100);
    if (!bytes)
        return;
    unsigned char *eocd = bytes + len - 22;
    unsigned long central =
        eocd[16] | eocd[17] << 8 | eocd[18] << 16 | (unsigned long)eocd[19] << 24;
    CHECK(central + 46 < len && memcmp(bytes + central, "PK\x01\x02", 4) == 0);
    unsigned char small[4] = {0xe8, 0x03, 0, 0};
    memcpy(bytes + 22, small, 4);
    memcpy(bytes + central + 24, small, 4);
    const char *lying = input_path("lying-bomb.zip");
    write_bytes(lying, bytes, len);
    free(bytes);
    started = dm_mono_ms();
    c = open_archive(lying, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        read_all(c, &r);
        CHECK_INT(r.rc, -1);
        CHECK_CONTAINS(r.err.msg, "max_compression_ratio");
        CHECK(container_expanded(c) <= 200 * ((int64_t)len + 1));
        CHECK(dm_mono_ms() - started < 5000);
        container_close(c);
        free_result(&r);
    }
    unlink(path);
    unlink(lying);

    /* A lone .gz declares no size at all. (Not zeros: those decode to an
     * empty tar, which libarchive rightly reads as one.) */
    static char letters[1 << 20];
    memset(letters, 'a', sizeof letters);
    path = input_path("aaa.txt.gz");
    struct archive *a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    CHECK_INT(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "data");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)100 * sizeof letters);
    CHECK_INT(archive_write_header(a, e), ARCHIVE_OK);
    for (int i = 0; i < 100; i++)
        archive_write_data(a, letters, sizeof letters);
    archive_entry_free(e);
    CHECK_INT(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, -1);
    CHECK_INT(r.count, 0);
    CHECK_CONTAINS(r.err.msg, "max_compression_ratio");
    free_result(&r);
    /* Cut at max_member_bytes, its rest is still decoded to be passed
     * over, and that is held to the ratio too. */
    lim.max_member_bytes = 100000;
    started = dm_mono_ms();
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, -1);
    CHECK_INT(r.count, 0);
    CHECK_CONTAINS(r.err.msg, "max_compression_ratio");
    CHECK(dm_mono_ms() - started < 5000);
    free_result(&r);
    unlink(path);
}

static void test_limits_expanded_members_member_size(void)
{
    static char block[100000];
    memset(block, 'y', sizeof block);
    test_entry three[] = {
        {"one.txt", block, sizeof block, 0, NULL},
        {"two.txt", block, sizeof block, 0, NULL},
        {"three.txt", TEXT("3\n"), 0, NULL},
    };
    const char *path = input_path("three.zip");
    write_archive(path, ZIP, ARCHIVE_FILTER_NONE, NULL, three, 3);
    read_result r;
    container_limits lim = no_limits();
    lim.max_expanded_bytes = 150000;
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, -1);
    CHECK_INT(r.count, 1);
    CHECK_CONTAINS(r.err.msg, "max_expanded_mb");
    free_result(&r);

    lim = no_limits();
    lim.max_members = 2;
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, -1);
    CHECK_INT(r.count, 2);
    CHECK_CONTAINS(r.err.msg, "max_container_members");
    free_result(&r);

    lim = no_limits();
    lim.max_member_bytes = 50000;
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 3);
    if (r.count == 3) {
        CHECK_STR(r.m[0].skipped, "larger than max_file_mb");
        CHECK_INT(r.m[0].size, sizeof block);
        CHECK(r.m[0].path == NULL);
        CHECK_STR(r.m[1].skipped, "larger than max_file_mb");
        CHECK(r.m[2].skipped == NULL);
        CHECK(file_holds(r.m[2].path, TEXT("3\n")));
    }
    free_result(&r);

    /* In a tar.gz, skipping means decoding: those bytes count toward the
     * ratio too. */
    static char zeros[4 << 20];
    test_entry packed[] = {{"zeros.bin", zeros, sizeof zeros, 0, NULL},
                           {"after.txt", TEXT("after\n"), 0, NULL}};
    path = input_path("zeros.tar.gz");
    write_archive(path, PAX, ARCHIVE_FILTER_GZIP, NULL, packed, 2);
    lim = no_limits();
    lim.max_member_bytes = 1000;
    lim.max_ratio = 100;
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, -1);
    CHECK_CONTAINS(r.err.msg, "max_compression_ratio");
    free_result(&r);
    lim.max_ratio = 0;
    read_archive(path, &lim, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 2);
    if (r.count == 2) {
        CHECK_STR(r.m[0].skipped, "larger than max_file_mb");
        CHECK_STR(r.m[1].name, "after.txt");
    }
    free_result(&r);
}

static void test_links_and_encryption_are_skipped(void)
{
    test_entry entries[] = {
        {"real.txt", TEXT("real\n"), 0, NULL},
        {"link.txt", NULL, 0, AE_IFLNK, "/etc/passwd"},
        {"hard.txt", NULL, 0, AE_IFREG, "real.txt"},
        {"after.txt", TEXT("after\n"), 0, NULL},
    };
    const char *path = input_path("links.tar");
    write_archive(path, PAX, ARCHIVE_FILTER_NONE, NULL, entries, 4);
    read_result r;
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 4);
    if (r.count == 4) {
        CHECK(r.m[0].skipped == NULL);
        CHECK_STR(r.m[1].name, "link.txt");
        CHECK_STR(r.m[1].skipped, "not a regular file");
        CHECK(r.m[1].path == NULL);
        CHECK_STR(r.m[2].skipped, "not a regular file");
        CHECK(file_holds(r.m[3].path, TEXT("after\n")));
    }
    free_result(&r);

    test_entry secret[] = {{"secret.txt", TEXT("the secret\n"), 0, NULL}};
    path = input_path("encrypted.zip");
    write_archive(path, ZIP, ARCHIVE_FILTER_NONE, "zip:encryption=zipcrypt", secret, 1);
    read_archive(path, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.count, 1);
    if (r.count == 1) {
        CHECK_STR(r.m[0].name, "secret.txt");
        CHECK_STR(r.m[0].skipped, "encrypted");
        CHECK(r.m[0].path == NULL);
    }
    free_result(&r);
}

static void test_bad_input_fails_cleanly(void)
{
    dm_err err;
    char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)(i * 2654435761u >> 13);
    const char *path = input_path("garbage.bin");
    write_bytes(path, garbage, sizeof garbage);
    container *c = open_archive(path, &(container_limits){0}, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "not an archive");
    CHECK(err.permanent);
    container_close(c);
    write_bytes(path, "", 0);
    c = open_archive(path, &(container_limits){0}, &err);
    CHECK(c == NULL);
    container_close(c);

    /* A zip cut off in its last member: the members before it, or a
     * refusal; no crash either way. */
    static char block[50000];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i * 7 % 251);
    test_entry three[] = {{"a.bin", block, sizeof block, 0, NULL},
                          {"b.bin", block, sizeof block, 0, NULL},
                          {"c.bin", block, sizeof block, 0, NULL}};
    path = input_path("whole.zip");
    write_archive(path, ZIP, ARCHIVE_FILTER_NONE, NULL, three, 3);
    size_t len = 0;
    char *bytes = read_file(path, &len);
    const char *cut = input_path("cut.zip");
    write_bytes(cut, bytes, len * 3 / 4);
    free(bytes);
    c = open_archive(cut, &(container_limits){0}, &err);
    if (c) {
        read_result r;
        read_all(c, &r);
        CHECK_INT(r.rc, -1);
        CHECK(r.count <= 2);
        CHECK_CONTAINS(r.err.msg, "damaged archive after");
        free_result(&r);
        container_close(c);
    } else {
        CHECK(err.msg[0] != '\0');
    }

    /* A tar cut off in its third member's data: two members, then why. */
    path = input_path("whole.tar");
    write_archive(path, USTAR, ARCHIVE_FILTER_NONE, NULL, three, 3);
    bytes = read_file(path, &len);
    cut = input_path("cut.tar");
    write_bytes(cut, bytes, 3 * 512 + 2 * 50176 + 1000);
    free(bytes);
    read_result r;
    read_archive(cut, &(container_limits){0}, &r, NULL);
    CHECK_INT(r.rc, -1);
    CHECK_INT(r.count, 2);
    CHECK_CONTAINS(r.err.msg, "damaged archive after 2 members: ");
    free_result(&r);
}

static container_kind sniff(const char *path)
{
    return container_sniff_file(path);
}

static void test_sniff(void)
{
    CHECK_INT(sniff(input_path("nested.zip")), CONTAINER_ARCHIVE);
    test_entry docx[] = {{"[Content_Types].xml", TEXT("<Types/>"), 0, NULL},
                         {"word/document.xml", TEXT("<w:document/>"), 0, NULL}};
    const char *path = input_path("doc.zip");
    write_archive(path, ZIP, ARCHIVE_FILTER_NONE, NULL, docx, 2);
    CHECK_INT(sniff(path), CONTAINER_NONE);
    CHECK_INT(sniff(input_path("docs.tar")), CONTAINER_ARCHIVE);
    CHECK_INT(sniff(input_path("docs.tar.gz")), CONTAINER_ARCHIVE);
    CHECK_INT(sniff(input_path("report.pdf.gz")), CONTAINER_ARCHIVE);
    CHECK_INT(sniff(input_path("docs.7z")), CONTAINER_ARCHIVE);
    CHECK_INT(sniff(input_path("garbage.bin")), CONTAINER_NONE);
}

/* Nothing but the inputs is left in the temp dir: every member file was
 * either handed out (and removed by the test) or removed by the reader. */
static void test_no_member_file_left_behind(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", member_dir());
    CHECK_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", check_tmpdir());
    CHECK_INT(system(cmd), 0);
}

int main(void)
{
    static const check_case cases[] = {
        {"zip: nested dirs, names and bytes, dirs not members", test_zip_nested_dirs},
        {"zip names: CP932 without the UTF-8 flag, UTF-8 with it",
         test_zip_names_cp932_and_utf8_flag},
        {"a zip in a zip is a member; ../ names are labels", test_zip_inside_zip_and_escape_name},
        {"tar, tar.gz/bz2/xz/zst and 7z", test_tar_forms_and_7z},
        {"a lone .gz/.xz/.bz2 is one member named without the suffix", test_lone_compressed_file},
        {"zip bomb: stopped on max_compression_ratio in seconds", test_zip_bomb_stops_on_the_ratio},
        {"max_expanded_mb, max_container_members, max_file_mb",
         test_limits_expanded_members_member_size},
        {"links and encrypted members are skipped", test_links_and_encryption_are_skipped},
        {"garbage, empty and cut-off archives fail cleanly", test_bad_input_fails_cleanly},
        {"container_sniff on archives and a docx-like zip", test_sniff},
        {"no member file left behind", test_no_member_file_left_behind},
        {NULL, NULL}};
    return check_run(cases);
}
