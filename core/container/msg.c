/* msg: Outlook .msg files (MS-OXMSG), an OLE2 compound file read through
 * libgsf. A property is a stream "__substg1.0_IIIITTTT" (id, type) when
 * it is a string or binary, else a 16-byte entry of the
 * "__properties_version1.0" stream. The text and metadata take the shape
 * of a mail's (mail.c): one page, subject then body. Attachments are the
 * storages "__attach_version1.0_#XXXXXXXX"; an attached Outlook message
 * (a storage of its own, not bytes) is handed out skipped.
 *
 * Every size here comes from the file, so each read is capped. */
#include "container/container_internal.h"
#include "base/log.h"
#include "extract/textnorm.h"

#include <gsf/gsf-infile-msole.h>
#include <gsf/gsf-infile.h>
#include <gsf/gsf-input-stdio.h>
#include <gsf/gsf-input.h>
#include <gsf/gsf-utils.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define PROPERTIES "__properties_version1.0"
#define ATTACH_PREFIX "__attach_version1.0_#"
/* A header field (subject, names, addresses) read at most. */
#define MAX_FIELD_BYTES (1 << 20)
/* A body read at most when the text has no cap of its own. */
#define MAX_BODY_BYTES (256 << 20)
/* The property stream's header before its entries: top-level message,
 * attachment (MS-OXMSG 2.4). */
#define TOP_HEADER 32
#define ATTACH_HEADER 8

/* Property types. */
#define PT_LONG 0x0003
#define PT_STRING8 0x001E
#define PT_UNICODE 0x001F
#define PT_SYSTIME 0x0040
#define PT_BINARY 0x0102

#define ATTACH_EMBEDDED_MSG 5
#define ATTACH_OLE 6

typedef struct msg_reader {
    GsfInfile *root;
    char **attachments;   /* storage names, in order */
    int nattachments, next;
    char charset_buf[16];
    const char *charset;  /* of the 8-bit strings (NULL: detected) */
} msg_reader;

static pthread_once_t gsf_once = PTHREAD_ONCE_INIT;
/* libgsf reports a damaged file through GLib's log (g_critical on stderr,
 * which is docmill's log stream): those lines go to docmill's log at debug
 * level instead; the reader's own error says what failed. */
static void gsf_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud)
{
    (void)level;
    (void)ud;
    log_debug("%s: %s", domain ? domain : "glib", msg);
}

static void gsf_start(void)
{
    gsf_init();
    static const char *domains[] = {"libgsf", "libgsf:msole", "libgsf:utils"};
    for (size_t i = 0; i < sizeof domains / sizeof *domains; i++)
        g_log_set_handler(domains[i], G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                          gsf_log, NULL);
}

static GsfInfile *open_ole(const char *path, char *why, size_t why_len)
{
    pthread_once(&gsf_once, gsf_start);
    GError *gerr = NULL;
    GsfInput *in = gsf_input_stdio_new(path, &gerr);
    GsfInfile *ole = in ? gsf_infile_msole_new(in, &gerr) : NULL;
    if (in)
        g_object_unref(in);   /* the infile holds its own reference */
    if (!ole)
        snprintf(why, why_len, "%s", gerr && gerr->message ? gerr->message : "unreadable");
    if (gerr)
        g_error_free(gerr);
    return ole;
}

/* A storage (a directory of streams), as opposed to a stream. */
static bool is_storage(GsfInput *in)
{
    return in && GSF_IS_INFILE(in) && gsf_infile_num_children(GSF_INFILE(in)) >= 0;
}

bool msg_sniff(const char *path)
{
    char why[256];
    GsfInfile *ole = open_ole(path, why, sizeof why);
    if (!ole)
        return false;
    bool props = false, substg = false;
    int n = gsf_infile_num_children(ole);
    for (int i = 0; i < n && !(props && substg); i++) {
        const char *name = gsf_infile_name_by_index(ole, i);
        if (!name)
            continue;
        if (strcmp(name, PROPERTIES) == 0)
            props = true;
        else if (strncmp(name, "__substg1.0_", 12) == 0)
            substg = true;
    }
    g_object_unref(ole);
    return props && substg;
}

/* ---- reading streams ----------------------------------------------- */

/* At most cap bytes of the stream name in dir into out: false when there
 * is no such stream or it cannot be read. */
static bool read_stream(GsfInfile *dir, const char *name, size_t cap, sbuf *out)
{
    GsfInput *in = gsf_infile_child_by_name(dir, name);
    if (!in)
        return false;
    bool ok = !is_storage(in);
    gsf_off_t size = gsf_input_size(in);
    size_t want = size < 0 ? 0 : (uint64_t)size > cap ? cap : (size_t)size;
    guint8 buf[4096];
    while (ok && out->len < want) {
        size_t n = want - out->len < sizeof buf ? want - out->len : sizeof buf;
        if (!gsf_input_read(in, n, buf))
            ok = false;
        else
            sbuf_append(out, (const char *)buf, n);
    }
    g_object_unref(in);
    return ok;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The 8-byte value of property id (of type) in a properties stream. */
static bool fixed_prop(const sbuf *props, size_t header, unsigned id, unsigned type,
                       uint64_t *value)
{
    uint32_t tag = (uint32_t)id << 16 | type;
    for (size_t off = header; off + 16 <= props->len; off += 16) {
        const unsigned char *e = (const unsigned char *)props->data + off;
        if (le32(e) == tag) {
            *value = le64(e + 8);
            return true;
        }
    }
    return false;
}

/* UTF-16LE as UTF-8, unpaired surrogates as U+FFFD, up to a NUL. */
static void utf16le_to_utf8(const unsigned char *s, size_t len, sbuf *out)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint32_t u = s[i] | (uint32_t)s[i + 1] << 8;
        if (u == 0)
            break;
        if (u >= 0xd800 && u < 0xdc00 && i + 3 < len) {
            uint32_t low = s[i + 2] | (uint32_t)s[i + 3] << 8;
            if (low >= 0xdc00 && low < 0xe000) {
                u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
                i += 2;
            }
        }
        if (u >= 0xd800 && u < 0xe000)
            u = 0xfffd;
        char buf[4];
        size_t n;
        if (u < 0x80)
            buf[0] = (char)u, n = 1;
        else if (u < 0x800)
            buf[0] = (char)(0xc0 | u >> 6), buf[1] = (char)(0x80 | (u & 0x3f)), n = 2;
        else if (u < 0x10000)
            buf[0] = (char)(0xe0 | u >> 12), buf[1] = (char)(0x80 | ((u >> 6) & 0x3f)),
            buf[2] = (char)(0x80 | (u & 0x3f)), n = 3;
        else
            buf[0] = (char)(0xf0 | u >> 18), buf[1] = (char)(0x80 | ((u >> 12) & 0x3f)),
            buf[2] = (char)(0x80 | ((u >> 6) & 0x3f)), buf[3] = (char)(0x80 | (u & 0x3f)),
            n = 4;
        sbuf_append(out, buf, n);
    }
}

/* The charset of the message's 8-bit strings, from its code page. */
static const char *codepage_charset(const sbuf *props, char *buf, size_t len)
{
    uint64_t cp;
    if (!fixed_prop(props, TOP_HEADER, 0x3FDE, PT_LONG, &cp) &&   /* PR_INTERNET_CPID */
        !fixed_prop(props, TOP_HEADER, 0x3FFD, PT_LONG, &cp))     /* PR_MESSAGE_CODEPAGE */
        return NULL;
    cp &= 0xffffffffu;
    if (cp == 65001)
        return "UTF-8";
    if (cp >= 50220 && cp <= 50222)
        return "ISO-2022-JP";
    if (cp == 51932 || cp == 20932)
        return "EUC-JP";
    if (cp == 20127)
        return "us-ascii";
    if (cp == 0 || cp > 65535)
        return NULL;
    snprintf(buf, len, "CP%u", (unsigned)cp);
    return buf;
}

/* String property id of dir as UTF-8 (malloc'd), or NULL when absent. */
static char *string_prop(GsfInfile *dir, unsigned id, const char *charset, size_t cap)
{
    char name[40];
    sbuf raw, out;
    sbuf_init(&raw);
    sbuf_init(&out);
    snprintf(name, sizeof name, "__substg1.0_%04X%04X", id, PT_UNICODE);
    if (read_stream(dir, name, cap, &raw)) {
        utf16le_to_utf8((const unsigned char *)(raw.data ? raw.data : ""), raw.len, &out);
    } else {
        sbuf_reset(&raw);
        snprintf(name, sizeof name, "__substg1.0_%04X%04X", id, PT_STRING8);
        if (!read_stream(dir, name, cap, &raw)) {
            sbuf_free(&raw);
            return NULL;
        }
        size_t len = raw.len;
        while (len > 0 && raw.data[len - 1] == '\0')
            len--;
        mail_text_to_utf8(raw.data ? raw.data : "", len, charset, &out);
    }
    sbuf_free(&raw);
    if (out.len == 0) {
        sbuf_free(&out);
        return NULL;
    }
    /* A NUL inside would cut the C string short, harmless; keep valid text. */
    sbuf_putc(&out, '\0');
    return sbuf_take(&out);
}

/* A FILETIME (100 ns since 1601) as ISO 8601 UTC. */
static bool filetime_iso(uint64_t ft, char *buf, size_t len)
{
    const uint64_t unix_epoch = 116444736000000000ULL;
    if (ft < unix_epoch)
        return false;
    uint64_t secs = (ft - unix_epoch) / 10000000ULL;
    if (secs > 253402300799ULL)   /* past 9999-12-31 */
        return false;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return false;
    return strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

/* ---- the message's own text ---------------------------------------- */

static void meta_take(char **field, char *value)
{
    if (value)
        doc_meta_set(field, value, strlen(value));
    free(value);
}

static void msg_meta_and_text(container *c, GsfInfile *root, const sbuf *props,
                              const char *charset)
{
    doc_meta *meta = &c->text.meta;
    char *subject = string_prop(root, 0x0037, charset, MAX_FIELD_BYTES);
    doc_meta_set(&meta->title, subject, subject ? strlen(subject) : 0);
    meta_take(&meta->subject, subject);

    char *name = string_prop(root, 0x0C1A, charset, MAX_FIELD_BYTES);        /* sender */
    if (!name)
        name = string_prop(root, 0x0042, charset, MAX_FIELD_BYTES);   /* sent representing */
    char *email = string_prop(root, 0x5D01, charset, MAX_FIELD_BYTES);     /* SMTP address */
    if (!email)
        email = string_prop(root, 0x0C1F, charset, MAX_FIELD_BYTES);
    sbuf from;
    sbuf_init(&from);
    if (name && email && strcmp(name, email) != 0)
        sbuf_appendf(&from, "%s <%s>", name, email);
    else if (name || email)
        sbuf_appendf(&from, "%s", name ? name : email);
    if (from.len)
        doc_meta_set(&meta->from, from.data, from.len);
    sbuf_free(&from);
    free(name);
    free(email);
    meta_take(&meta->to, string_prop(root, 0x0E04, charset, MAX_FIELD_BYTES));

    uint64_t ft;
    char iso[32];
    if ((fixed_prop(props, TOP_HEADER, 0x0039, PT_SYSTIME, &ft) ||
         fixed_prop(props, TOP_HEADER, 0x0E06, PT_SYSTIME, &ft)) &&
        filetime_iso(ft, iso, sizeof iso))
        doc_meta_set(&meta->date, iso, strlen(iso));

    /* The body: plain text, else the HTML one; a body kept only as
     * compressed RTF is not read. */
    size_t cap = c->lim.max_text_bytes > 0 ? c->lim.max_text_bytes * 8 + CHUNK
                                           : MAX_BODY_BYTES;
    sbuf body;
    sbuf_init(&body);
    char *plain = string_prop(root, 0x1000, charset, cap);
    if (plain) {
        for (const char *p = plain; *p; p++)
            if (!(p[0] == '\r' && p[1] == '\n'))
                sbuf_putc(&body, *p);
        free(plain);
    } else {
        sbuf html;
        sbuf_init(&html);
        char *html_utf8 = string_prop(root, 0x1013, charset, cap);
        if (html_utf8)
            mail_html_text(html_utf8, strlen(html_utf8), "UTF-8", &c->lim, &body);
        else if (read_stream(root, "__substg1.0_10130102", cap, &html))
            mail_html_text(html.data, html.len, charset, &c->lim, &body);
        free(html_utf8);
        sbuf_free(&html);
    }
    mail_page(c, meta->subject, body.data, body.len);
    sbuf_free(&body);
}

/* ---- attachments ----------------------------------------------------- */

/* Streams an attachment's data into a new member file called name (taken
 * over): 1 with *m filled, -1 with err when reading must stop. */
static int write_attachment(container *c, GsfInput *data, char *name, container_member *m,
                            dm_err *err)
{
    /* The stream's size is known: one too big is skipped before a byte is
     * written, and one past the container's budget stops it at once. */
    int declared = container_check_declared(c, gsf_input_size(data), err);
    if (declared != 0) {
        if (declared == -2)
            container_member_skip(m, name, gsf_input_size(data), "larger than max_file_mb");
        free(name);
        return declared == -2 ? 1 : -1;
    }
    char *path = NULL;
    int fd = container_temp_file(c, &path, err);
    if (fd < 0) {
        free(name);
        return -1;
    }
    guint8 *buf = dm_xmalloc(CHUNK);
    gsf_off_t left = gsf_input_size(data);
    int64_t bytes = 0;
    int rc = 0;
    const char *skipped = NULL;
    while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        if (!gsf_input_read(data, n, buf)) {
            skipped = "damaged";
            break;
        }
        rc = container_write(c, fd, buf, n, &bytes, err);
        if (rc == -2) {
            skipped = "larger than max_file_mb";
            bytes = gsf_input_size(data);
        }
        if (rc != 0)
            break;
        left -= (gsf_off_t)n;
    }
    free(buf);
    if (close(fd) != 0 && rc == 0 && !skipped) {
        dm_err_set(err, false, "cannot write a member to %s: %s", c->tmpdir, strerror(errno));
        rc = -1;
    }
    if (rc == -1 || skipped) {
        unlink(path);
        free(path);
        if (rc != -1)
            container_member_skip(m, name, bytes, skipped);
        free(name);
        return rc == -1 ? -1 : 1;
    }
    m->name = name;
    m->path = path;
    m->size = bytes;
    return 1;
}

static int msg_next(container *c, container_member *m, dm_err *err)
{
    msg_reader *r = c->impl;
    if (r->next >= r->nattachments)
        return 0;
    int number = ++r->next;
    GsfInput *storage = gsf_infile_child_by_name(r->root, r->attachments[number - 1]);
    if (!is_storage(storage)) {
        if (storage)
            g_object_unref(storage);
        char label[32];
        snprintf(label, sizeof label, "attachment-%d", number);
        container_member_skip(m, label, 0, "damaged");
        return 1;
    }
    GsfInfile *dir = GSF_INFILE(storage);
    sbuf props;
    sbuf_init(&props);
    read_stream(dir, PROPERTIES, MAX_FIELD_BYTES, &props);
    char *raw = string_prop(dir, 0x3707, r->charset, MAX_FIELD_BYTES);   /* long name */
    if (!raw)
        raw = string_prop(dir, 0x3704, r->charset, MAX_FIELD_BYTES);     /* 8.3 name */
    if (!raw)
        raw = string_prop(dir, 0x3001, r->charset, MAX_FIELD_BYTES);     /* display name */
    char *name;
    if (raw) {
        name = container_name_utf8(raw, strlen(raw), true);
    } else {
        char label[32];
        snprintf(label, sizeof label, "attachment-%d", number);
        name = dm_xstrdup(label);
    }
    free(raw);
    uint64_t method = 0;
    fixed_prop(&props, ATTACH_HEADER, 0x3705, PT_LONG, &method);
    sbuf_free(&props);
    int rc = 1;
    GsfInput *object = gsf_infile_child_by_name(dir, "__substg1.0_3701000D");
    GsfInput *data = object ? NULL : gsf_infile_child_by_name(dir, "__substg1.0_37010102");
    if (object) {
        container_member_skip(m, name, 0, (method & 0xffffffffu) == ATTACH_OLE
                                              ? "embedded OLE object"
                                              : "embedded Outlook message");
        free(name);
    } else if (!data || is_storage(data)) {
        container_member_skip(m, name, 0, "not in the message (attached by reference)");
        free(name);
    } else {
        rc = write_attachment(c, data, name, m, err);
    }
    if (object)
        g_object_unref(object);
    if (data)
        g_object_unref(data);
    g_object_unref(storage);
    return rc;
}

static void msg_close(container *c)
{
    msg_reader *r = c->impl;
    if (!r)
        return;
    for (int i = 0; i < r->nattachments; i++)
        free(r->attachments[i]);
    free(r->attachments);
    if (r->root)
        g_object_unref(r->root);
    free(r);
    c->impl = NULL;
}

static const container_reader msg_reader_ops = {msg_next, msg_close};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int msg_open(container *c, const char *path, dm_err *err)
{
    char why[256];
    GsfInfile *root = open_ole(path, why, sizeof why);
    if (!root) {
        dm_err_set(err, true, "not a readable Outlook message: %s", why);
        return -1;
    }
    sbuf props;
    sbuf_init(&props);
    if (!read_stream(root, PROPERTIES, MAX_FIELD_BYTES, &props)) {
        sbuf_free(&props);
        g_object_unref(root);
        dm_err_set(err, true, "not a readable Outlook message: no " PROPERTIES " stream");
        return -1;
    }
    msg_reader *r = dm_xcalloc(1, sizeof *r);
    r->root = root;
    c->impl = r;
    c->reader = &msg_reader_ops;
    c->mime = "application/vnd.ms-outlook";
    int n = gsf_infile_num_children(root);
    for (int i = 0; i < n; i++) {
        const char *name = gsf_infile_name_by_index(root, i);
        if (!name || strncmp(name, ATTACH_PREFIX, strlen(ATTACH_PREFIX)) != 0)
            continue;
        if ((r->nattachments & (r->nattachments - 1)) == 0)   /* 0, 1, 2, 4 ...: grow */
            r->attachments = dm_xrealloc(r->attachments, (size_t)(r->nattachments * 2 + 1) *
                                                             sizeof *r->attachments);
        r->attachments[r->nattachments++] = dm_xstrdup(name);
    }
    if (r->nattachments > 1)
        qsort(r->attachments, (size_t)r->nattachments, sizeof *r->attachments, by_name);
    r->charset = codepage_charset(&props, r->charset_buf, sizeof r->charset_buf);
    msg_meta_and_text(c, root, &props, r->charset);
    sbuf_free(&props);
    return 0;
}
