/* mail: RFC 5322 messages (.eml) and mbox files, through GMime 3.
 *
 * A mail's own text is one page: its subject, a blank line, its body (the
 * text/plain part that is not an attachment; an HTML-only body through
 * html_read). Its members are its attachments, and each attached message
 * (message/rfc822) as an .eml of its own, which the pipeline reads as a
 * mail in turn. An mbox has no text; its members are its mails, "1.eml",
 * "2.eml" ..., each copied byte for byte from the mbox file.
 *
 * The parser keeps parts' contents as ranges of the file (GMime's
 * persistent stream), so an attachment is decoded chunk by chunk into its
 * member file, never held whole in memory. */
#include "container/container_internal.h"
#include "extract/html.h"
#include "extract/textnorm.h"

#include <gmime/gmime.h>

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK 65536
/* MIME nesting walked at most: real mails nest a few levels; a hostile
 * one must not run the walk out of stack. */
#define MAX_DEPTH 48
/* A member name made from an attached message's subject is cut here. */
#define MAX_SUBJECT_NAME 200

/* ---- telling a mail from a text file ------------------------------- */

static const char *const known_headers[] = {
    "from", "to", "subject", "date", "message-id", "mime-version", "received",
    "return-path", "content-type", "content-transfer-encoding", "delivered-to", "cc",
    "bcc", "reply-to", "sender", "in-reply-to", "references", "x-mailer", "user-agent",
    "x-original-to", "dkim-signature", "authentication-results", "received-spf",
    "thread-topic", "thread-index", "list-id", "x-priority", "importance",
};
/* Headers a text note does not start with by chance: one of them is needed. */
static const char *const strong_headers[] = {
    "from", "date", "message-id", "received", "mime-version", "return-path",
};

static bool in_list(const char *const *list, size_t n, const unsigned char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], (const char *)name, len) == 0)
            return true;
    return false;
}

/* The length of a header field's name when line starts one ("Name:"), else 0. */
static size_t field_name_len(const unsigned char *line, size_t n)
{
    size_t i = 0;
    while (i < n && line[i] > ' ' && line[i] < 0x7f && line[i] != ':')
        i++;
    return i > 0 && i < n && line[i] == ':' ? i : 0;
}

/* Whether head starts with a mail's header block: every line a field or a
 * continuation up to the blank line (or the end of head), with at least two
 * known fields, one of them a strong one. */
static bool header_block_is_mail(const unsigned char *head, size_t n)
{
    int known = 0, strong = 0;
    size_t pos = 0;
    bool first = true;
    while (pos < n) {
        const unsigned char *eol = memchr(head + pos, '\n', n - pos);
        size_t len = eol ? (size_t)(eol - (head + pos)) : n - pos;
        const unsigned char *line = head + pos;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0)
            break;   /* the blank line that ends the headers */
        if (line[0] == ' ' || line[0] == '\t') {
            if (first)
                return false;
        } else {
            size_t name = field_name_len(line, len);
            if (name == 0) {
                if (first || eol)
                    return false;
                break;   /* head ends inside this line */
            }
            if (in_list(known_headers, sizeof known_headers / sizeof *known_headers, line, name))
                known++;
            if (in_list(strong_headers, sizeof strong_headers / sizeof *strong_headers, line,
                        name))
                strong++;
        }
        first = false;
        if (!eol)
            break;
        pos = (size_t)(eol - head) + 1;
    }
    return known >= 2 && strong >= 1;
}

container_kind mail_sniff(const unsigned char *head, size_t n)
{
    if (n > 5 && memcmp(head, "From ", 5) == 0 && head[5] > ' ') {
        const unsigned char *eol = memchr(head, '\n', n);
        if (eol && header_block_is_mail(eol + 1, n - (size_t)(eol + 1 - head)))
            return CONTAINER_MBOX;
        return CONTAINER_NONE;
    }
    return header_block_is_mail(head, n) ? CONTAINER_MAIL : CONTAINER_NONE;
}

/* ---- the reader's state --------------------------------------------- */

typedef struct mail_reader {
    GMimeParserOptions *options;   /* lives as long as what was parsed with it */
    GMimeStream *file;             /* the mail or mbox file */
    GMimeParser *parser;
    GMimeMessage *message;         /* MAIL */
    GMimeObject **parts;           /* MAIL: the members to come, ref'd */
    int nparts, parts_cap, next_part;
    /* MBOX: the next mail's bytes in the file, found ahead (have_next). */
    bool have_next;
    gint64 next_begin, next_end;
    int mails;
    char *damaged;                 /* MBOX: why the rest cannot be read (the next call says) */
} mail_reader;

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;
static void gmime_start(void) { g_mime_init(); }

/* Options for real-world mail: encoded words that break the RFC's rules
 * (inside quotes, mid-word, unencoded 8-bit) are decoded anyway, and 8-bit
 * headers that name no charset are tried in these, in order. */
static GMimeParserOptions *loose_options(void)
{
    static const char *fallback[] = {"UTF-8", "CP932", "EUC-JP", "windows-1252", NULL};
    GMimeParserOptions *o = g_mime_parser_options_new();
    g_mime_parser_options_set_rfc2047_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_fallback_charsets(o, fallback);
    return o;
}

/* ---- text in any charset as UTF-8 ------------------------------------ */

/* Undecodable bytes become U+FFFD; an incomplete sequence at the end (a
 * body cut at its cap) is dropped. */
static bool iconv_lenient(const char *from, const char *s, size_t len, sbuf *out)
{
    return text_iconv(from, s, len, true, out) == 0;
}

/* ISO-2022-JP rewritten as Shift_JIS, for CP932 to decode: glibc's
 * ISO-2022-JP refuses the NEC and IBM extensions (①, ㈱) that Japanese
 * mail from Windows uses all the time; CP932 has them. */
static void iso2022jp_to_sjis(const unsigned char *s, size_t len, sbuf *out)
{
    enum { ASCII, JIS0208, KATAKANA } mode = ASCII;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0x1b) {
            /* An escape that is not one of these is dropped alone. */
            if (i + 2 < len && s[i + 1] == '$' && (s[i + 2] == 'B' || s[i + 2] == '@'))
                mode = JIS0208, i += 2;
            else if (i + 2 < len && s[i + 1] == '(' && s[i + 2] == 'I')
                mode = KATAKANA, i += 2;
            else if (i + 2 < len && s[i + 1] == '(')
                mode = ASCII, i += 2;
        } else if (s[i] == '\n' || s[i] == '\r' || mode == ASCII) {
            if (s[i] == '\n')
                mode = ASCII;   /* a line that forgot to switch back */
            sbuf_putc(out, (char)s[i]);
        } else if (mode == KATAKANA) {
            sbuf_putc(out, (char)(s[i] >= 0x21 && s[i] <= 0x5f ? s[i] + 0x80 : '?'));
        } else if (i + 1 < len && s[i] >= 0x21 && s[i] <= 0x7e && s[i + 1] >= 0x21 &&
                   s[i + 1] <= 0x7e) {
            unsigned j1 = s[i], j2 = s[++i];
            unsigned s1 = ((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0);
            unsigned s2 = j2 + ((j1 & 1) ? (j2 >= 0x60 ? 0x20 : 0x1f) : 0x7e);
            sbuf_putc(out, (char)s1);
            sbuf_putc(out, (char)s2);
        } else {
            sbuf_putc(out, '?');
        }
    }
}

static bool has_jis_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (s[i] == 0x1b && s[i + 1] == '$' && (s[i + 2] == 'B' || s[i + 2] == '@'))
            return true;
    return false;
}

/* The iconv name to read a declared charset with: the Windows supersets of
 * the Japanese and Western charsets, which mail in them really uses. */
static const char *charset_for_iconv(const char *charset)
{
    const char *name = g_mime_charset_iconv_name(charset);
    if (!name)
        return NULL;
    static const struct {
        const char *declared, *read_as;
    } supersets[] = {
        {"shift_jis", "CP932"}, {"shift-jis", "CP932"},  {"sjis", "CP932"},
        {"x-sjis", "CP932"},    {"ms_kanji", "CP932"},   {"windows-31j", "CP932"},
        {"euc-jp", "EUC-JP-MS"}, {"iso-8859-1", "windows-1252"}, {"latin1", "windows-1252"},
    };
    for (size_t i = 0; i < sizeof supersets / sizeof *supersets; i++)
        if (strcasecmp(name, supersets[i].declared) == 0)
            return supersets[i].read_as;
    return name;
}

/* s (in charset, which may be NULL) as UTF-8 into out. A charset that is
 * missing, ASCII or unknown to iconv: UTF-8 when the bytes are, else
 * textnorm's detection (Shift_JIS, EUC-JP), else windows-1252. msg.c
 * reads Outlook's 8-bit strings with it too. */
void mail_text_to_utf8(const char *s, size_t len, const char *charset, sbuf *out)
{
    pthread_once(&gmime_once, gmime_start);   /* for GMime's charset names */
    const char *name = charset && *charset ? charset_for_iconv(charset) : NULL;
    if (name && strcasecmp(name, "us-ascii") == 0)
        name = NULL;
    if (has_jis_escape(s, len) && (!name || strncasecmp(name, "iso-2022-jp", 11) == 0)) {
        sbuf sjis;
        sbuf_init(&sjis);
        iso2022jp_to_sjis((const unsigned char *)s, len, &sjis);
        iconv_lenient("CP932", sjis.data ? sjis.data : "", sjis.len, out);
        sbuf_free(&sjis);
        return;
    }
    if (name && strcasecmp(name, "utf-8") != 0 && iconv_lenient(name, s, len, out))
        return;
    if (text_is_utf8(s, len)) {
        sbuf_append(out, s, len);
        return;
    }
    sbuf detected;
    sbuf_init(&detected);
    const char *found;
    dm_err ignored;
    if (text_decode(s, len, &detected, &found, &ignored) == 0)
        sbuf_append(out, detected.data ? detected.data : "", detected.len);
    else
        iconv_lenient("windows-1252", s, len, out);
    sbuf_free(&detected);
}

/* A header value GMime decoded, made valid UTF-8 whatever it held. */
static void meta_set_utf8(char **field, const char *value)
{
    if (!value || !*value)
        return;
    if (text_is_utf8(value, strlen(value))) {
        doc_meta_set(field, value, strlen(value));
        return;
    }
    char *fixed = container_name_utf8(value, strlen(value), true);
    doc_meta_set(field, fixed, strlen(fixed));
    free(fixed);
}

/* ---- parts --------------------------------------------------------- */

/* The part's content decoded from its transfer encoding, as a stream to
 * read from (the caller unrefs it); NULL when it has none. */
static GMimeStream *decoded_content(GMimePart *part)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GMimeStream *raw = content ? g_mime_data_wrapper_get_stream(content) : NULL;
    if (!raw)
        return NULL;
    g_mime_stream_reset(raw);
    GMimeStream *filtered = g_mime_stream_filter_new(raw);
    GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
    if (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
        encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeFilter *decoder = g_mime_filter_basic_new(encoding, FALSE);
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), decoder);
        g_object_unref(decoder);
    }
    return filtered;
}

/* At most cap bytes (0 = all) of the part's decoded content into out. */
static void read_content(GMimePart *part, size_t cap, sbuf *out)
{
    GMimeStream *s = decoded_content(part);
    if (!s)
        return;
    char *buf = dm_xmalloc(CHUNK);
    while (cap == 0 || out->len < cap) {
        ssize_t n = g_mime_stream_read(s, buf, CHUNK);
        if (n <= 0)
            break;
        size_t take = (size_t)n;
        if (cap > 0 && out->len + take > cap)
            take = cap - out->len;
        sbuf_append(out, buf, take);
    }
    free(buf);
    g_object_unref(s);
}

static bool is_attachment(GMimeObject *obj)
{
    GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
    if (d && g_mime_content_disposition_is_attachment(d))
        return true;
    const char *name = GMIME_IS_PART(obj) ? g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
    return name && *name;
}

static bool is_type(GMimeObject *obj, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

/* The part holding the body: the first text part that is not an
 * attachment, in a multipart/alternative the text/plain one before any
 * HTML (plain_only asks for text/plain alone). Attached messages are not
 * looked into: their body is theirs. */
static GMimePart *find_body(GMimeObject *obj, bool plain_only, int depth)
{
    if (depth > MAX_DEPTH)
        return NULL;
    if (GMIME_IS_MULTIPART(obj)) {
        if (GMIME_IS_MULTIPART_ENCRYPTED(obj))
            return NULL;
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        if (GMIME_IS_MULTIPART_SIGNED(obj) && n > 1)
            n = 1;   /* the signature is not the body */
        bool alternative = is_type(obj, "multipart", "alternative");
        for (int pass = alternative && !plain_only ? 0 : 1; pass < 2; pass++)
            for (int i = 0; i < n; i++) {
                GMimePart *b = find_body(g_mime_multipart_get_part(mp, i),
                                         pass == 0 ? true : plain_only, depth + 1);
                if (b)
                    return b;
            }
        return NULL;
    }
    if (!GMIME_IS_PART(obj) || is_attachment(obj))
        return NULL;
    if (is_type(obj, "text", "plain") || (!plain_only && is_type(obj, "text", "html")))
        return GMIME_PART(obj);
    return NULL;
}

static bool is_signature(GMimeObject *obj)
{
    return is_type(obj, "application", "pgp-signature") ||
           is_type(obj, "application", "pkcs7-signature") ||
           is_type(obj, "application", "x-pkcs7-signature");
}

static void add_part(mail_reader *r, GMimeObject *obj)
{
    if (r->nparts == r->parts_cap) {
        r->parts_cap = r->parts_cap ? r->parts_cap * 2 : 8;
        r->parts = dm_xrealloc(r->parts, (size_t)r->parts_cap * sizeof *r->parts);
    }
    r->parts[r->nparts++] = g_object_ref(obj);
}

/* The members: attachments (a leaf that says so, has a file name, or is
 * not text: an image, a PDF), attached messages, and encrypted parts
 * (handed out skipped). Text parts that are neither the body nor named
 * (the HTML twin of a plain body) are not members. */
static void collect_parts(mail_reader *r, GMimeObject *obj, GMimePart *body, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    if (GMIME_IS_MULTIPART_ENCRYPTED(obj)) {
        add_part(r, obj);
    } else if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++)
            collect_parts(r, g_mime_multipart_get_part(mp, i), body, depth + 1);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        add_part(r, obj);
    } else if (GMIME_IS_PART(obj) && obj != (GMimeObject *)body && !is_signature(obj) &&
               (is_attachment(obj) || !is_type(obj, "text", "*"))) {
        add_part(r, obj);
    }
}

/* ".pdf" for application/pdf ...: for attachments that have no name. */
static const char *extension_for(GMimeObject *obj)
{
    static const struct {
        const char *type, *subtype, *ext;
    } known[] = {
        {"application", "pdf", ".pdf"},
        {"application", "vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"},
        {"application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
        {"application", "vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"},
        {"application", "msword", ".doc"},  {"application", "vnd.ms-excel", ".xls"},
        {"application", "vnd.ms-powerpoint", ".ppt"}, {"application", "rtf", ".rtf"},
        {"application", "vnd.ms-outlook", ".msg"}, {"application", "zip", ".zip"},
        {"application", "gzip", ".gz"}, {"application", "x-7z-compressed", ".7z"},
        {"message", "rfc822", ".eml"}, {"text", "plain", ".txt"}, {"text", "html", ".html"},
        {"text", "csv", ".csv"}, {"text", "rtf", ".rtf"}, {"image", "jpeg", ".jpg"},
        {"image", "png", ".png"}, {"image", "gif", ".gif"}, {"image", "tiff", ".tif"},
        {"image", "bmp", ".bmp"}, {"image", "webp", ".webp"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (is_type(obj, known[i].type, known[i].subtype))
            return known[i].ext;
    return "";
}

/* A part's member name: its file name (RFC 2231 or encoded words, GMime
 * decodes them), else "attachment-N" with an extension from its type. */
static char *part_name(GMimeObject *obj, int number)
{
    const char *name = GMIME_IS_PART(obj) ? g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
    if (name && *name)
        return container_name_utf8(name, strlen(name), true);
    char buf[64];
    snprintf(buf, sizeof buf, "attachment-%d%s", number, extension_for(obj));
    return dm_xstrdup(buf);
}

/* An attached message's member name: "<its subject>.eml", the subject cut
 * at a character boundary; "message-N.eml" when it has none. */
static char *message_name(GMimeMessage *message, int number)
{
    const char *subject = message ? g_mime_message_get_subject(message) : NULL;
    char buf[MAX_SUBJECT_NAME + 8];
    if (!subject || !*subject) {
        snprintf(buf, sizeof buf, "message-%d.eml", number);
        return dm_xstrdup(buf);
    }
    char *utf8 = container_name_utf8(subject, strlen(subject), true);
    size_t len = strlen(utf8);
    if (len > MAX_SUBJECT_NAME) {
        len = MAX_SUBJECT_NAME;
        while (len > 0 && ((unsigned char)utf8[len] & 0xc0) == 0x80)
            len--;
    }
    snprintf(buf, sizeof buf, "%.*s.eml", (int)len, utf8);
    free(utf8);
    return dm_xstrdup(buf);
}

/* ---- members out ----------------------------------------------------- */

/* Copies what source holds into a new member file called name (taken
 * over): 1 with *m filled (skipped when the member passed
 * max_member_bytes), -1 with err when reading must stop. */
static int write_member(container *c, GMimeStream *source, char *name, container_member *m,
                        dm_err *err)
{
    char *path = NULL;
    int fd = container_temp_file(c, &path, err);
    if (fd < 0) {
        free(name);
        return -1;
    }
    char *buf = dm_xmalloc(CHUNK);
    int64_t bytes = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = source ? g_mime_stream_read(source, buf, CHUNK) : 0;
        /* A bounded stream says -1 at its end, not 0. */
        if (n < 0 && g_mime_stream_eos(source))
            break;
        if (n < 0) {
            dm_err_set(err, true, "cannot read the part \"%s\" of the mail", name);
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        rc = container_write(c, fd, buf, (size_t)n, &bytes, err);
        if (rc == -2)
            bytes += n;
        if (rc != 0)
            break;
    }
    free(buf);
    if (close(fd) != 0 && rc == 0) {
        dm_err_set(err, false, "cannot write a member to %s: %s", c->tmpdir, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        unlink(path);
        free(path);
        if (rc == -2)
            container_member_skip(m, name, bytes, "larger than max_file_mb");
        free(name);
        return rc == -2 ? 1 : -1;
    }
    m->name = name;
    m->path = path;
    m->size = bytes;
    m->skipped = NULL;
    return 1;
}

/* An attached message: its bytes as GMime writes it back (its headers as
 * they were, its parts in their transfer encoding). It is held in memory
 * on the way, which the mail file's size bounds. */
static int write_message_part(container *c, GMimeMessagePart *part, int number,
                              container_member *m, dm_err *err)
{
    GMimeMessage *message = g_mime_message_part_get_message(part);
    char *name = message_name(message, number);
    GMimeStream *mem = g_mime_stream_mem_new();
    if (message)
        g_mime_object_write_to_stream(GMIME_OBJECT(message), NULL, mem);
    g_mime_stream_reset(mem);
    int rc = write_member(c, mem, name, m, err);
    g_object_unref(mem);
    return rc;
}

static int mail_next(container *c, container_member *m, dm_err *err)
{
    mail_reader *r = c->impl;
    if (r->next_part >= r->nparts)
        return 0;
    GMimeObject *obj = r->parts[r->next_part++];
    int number = r->next_part;
    if (GMIME_IS_MULTIPART_ENCRYPTED(obj)) {
        char name[64];
        snprintf(name, sizeof name, "encrypted-%d", number);
        container_member_skip(m, name, 0, "encrypted");
        return 1;
    }
    if (GMIME_IS_MESSAGE_PART(obj))
        return write_message_part(c, GMIME_MESSAGE_PART(obj), number, m, err);
    GMimeStream *content = decoded_content(GMIME_PART(obj));
    int rc = write_member(c, content, part_name(obj, number), m, err);
    if (content)
        g_object_unref(content);
    return rc;
}

/* The next mail of the mbox: its bytes from its headers to the next
 * "From " line, straight from the file. */
static int mbox_find_next(mail_reader *r, dm_err *err)
{
    r->have_next = false;
    if (g_mime_parser_eos(r->parser))
        return 0;
    GMimeMessage *message = g_mime_parser_construct_message(r->parser, r->options);
    if (!message) {
        if (g_mime_parser_eos(r->parser))
            return 0;
        dm_err_set(err, true, "the mbox is damaged after its mail %d", r->mails);
        return -1;
    }
    r->next_begin = g_mime_parser_get_headers_begin(r->parser);
    r->next_end = g_mime_parser_tell(r->parser);
    g_object_unref(message);
    if (r->next_begin < 0 || r->next_end <= r->next_begin) {
        dm_err_set(err, true, "the mbox is damaged after its mail %d", r->mails);
        return -1;
    }
    r->have_next = true;
    return 1;
}

static int mbox_next(container *c, container_member *m, dm_err *err)
{
    mail_reader *r = c->impl;
    if (r->damaged) {
        dm_err_set(err, true, "%s", r->damaged);
        return -1;
    }
    if (!r->have_next)
        return 0;
    char name[32];
    snprintf(name, sizeof name, "%d.eml", ++r->mails);
    GMimeStream *bytes = g_mime_stream_substream(r->file, r->next_begin, r->next_end);
    g_mime_stream_reset(bytes);
    int rc = write_member(c, bytes, dm_xstrdup(name), m, err);
    g_object_unref(bytes);
    if (rc != 1)
        return rc;
    /* A damaged rest fails the next call, not this mail. */
    dm_err next_err;
    if (mbox_find_next(r, &next_err) < 0) {
        r->have_next = false;
        r->damaged = dm_xstrdup(next_err.msg);
    }
    return 1;
}

static void mail_close(container *c)
{
    mail_reader *r = c->impl;
    if (!r)
        return;
    for (int i = 0; i < r->nparts; i++)
        g_object_unref(r->parts[i]);
    free(r->parts);
    if (r->message)
        g_object_unref(r->message);
    if (r->parser)
        g_object_unref(r->parser);
    if (r->file)
        g_object_unref(r->file);
    if (r->options)
        g_mime_parser_options_free(r->options);
    free(r->damaged);
    free(r);
    c->impl = NULL;
}

static const container_reader mail_reader_ops = {mail_next, mail_close};
static const container_reader mbox_reader_ops = {mbox_next, mail_close};

/* ---- the mail's own text -------------------------------------------- */

/* Appends what fits of s to the page (cut at a character boundary), then
 * marks the text truncated if not all of it did. */
static void append_capped(paged_text *pt, const char *s, size_t len)
{
    if (pt->truncated)
        return;
    size_t room = pt->max_bytes > 0 ? pt->max_bytes - pt->bytes : len;
    if (len > room) {
        size_t cut = room;
        while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
            cut--;
        paged_text_append(pt, s, cut);
        paged_text_append(pt, s + cut, len - cut);   /* sets truncated */
        return;
    }
    paged_text_append(pt, s, len);
}

/* Makes the page name no charset, so that html_read and libxml2 take the
 * UTF-8 it now is as it is: "charset=" inside a tag (<meta charset>, the
 * http-equiv content) becomes "xharset=". A BOM does not do it: libxml2
 * still switches to the <meta> charset. */
static void unname_charsets(sbuf *html)
{
    bool in_tag = false;
    for (size_t i = 0; i < html->len; i++) {
        char ch = html->data[i];
        if (ch == '<' || ch == '>') {
            in_tag = ch == '<';
        } else if (in_tag && (ch == 'c' || ch == 'C') && i + 7 <= html->len &&
                   strncasecmp(html->data + i, "charset", 7) == 0) {
            size_t j = i + 7;
            while (j < html->len && (html->data[j] == ' ' || html->data[j] == '\t'))
                j++;
            if (j < html->len && html->data[j] == '=')
                html->data[i] = 'x';
        }
    }
}

/* HTML (in charset, which may be NULL: then the page's own <meta> or
 * detection decides, else the policy's default) as its visible text. */
void mail_html_text(const char *html, size_t len, const char *charset,
                    const container_limits *lim, sbuf *out)
{
    const char *fallback = lim->html_default_charset[0] ? lim->html_default_charset
                                                         : "windows-1252";
    if (!html)
        html = "", len = 0;   /* an empty body */
    sbuf utf8;
    sbuf_init(&utf8);
    if (charset && *charset) {
        /* Decoded here by the part's charset (it wins over the page's own
         * <meta>: mailers convert bodies and leave the meta stale). */
        mail_text_to_utf8(html, len, charset, &utf8);
        unname_charsets(&utf8);
        html = utf8.data ? utf8.data : "";
        len = utf8.len;
    }
    paged_text page;
    paged_text_init(&page, lim->max_text_bytes);
    dm_err ignored;
    if (html_read(html, len, fallback, &page, &ignored) == 0 && page.count > 0 &&
        page.pages[0].text.data)
        text_utf8_repair(page.pages[0].text.data, page.pages[0].text.len, out);
    paged_text_free(&page);
    sbuf_free(&utf8);
}

/* The body part's text as UTF-8 into out, line ends as "\n". */
static void body_text(container *c, GMimePart *body, sbuf *out)
{
    /* Raw bytes beyond what the kept text could come from are not read;
     * HTML spends many bytes on markup, so the allowance is wide. */
    size_t cap = 0;
    if (c->lim.max_text_bytes > 0)
        cap = c->lim.max_text_bytes * 8 + CHUNK;
    sbuf raw;
    sbuf_init(&raw);
    read_content(body, cap, &raw);
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(body),
                                                                   "charset");
    if (is_type(GMIME_OBJECT(body), "text", "html")) {
        mail_html_text(raw.data, raw.len, charset, &c->lim, out);
    } else {
        sbuf utf8;
        sbuf_init(&utf8);
        mail_text_to_utf8(raw.data ? raw.data : "", raw.len, charset, &utf8);
        for (size_t i = 0; i < utf8.len; i++)
            if (!(utf8.data[i] == '\r' && i + 1 < utf8.len && utf8.data[i + 1] == '\n'))
                sbuf_putc(out, utf8.data[i]);
        sbuf_free(&utf8);
    }
    sbuf_free(&raw);
}

/* The one page of a mail (or a .msg): its subject, a blank line, its body. */
void mail_page(container *c, const char *subject, const char *body, size_t len)
{
    paged_text_new_page(&c->text, NULL);
    if (subject && *subject) {
        append_capped(&c->text, subject, strlen(subject));
        append_capped(&c->text, "\n\n", 2);
    }
    if (body)
        append_capped(&c->text, body, len);
}

static void address_meta(char **field, InternetAddressList *list)
{
    if (!list || internet_address_list_length(list) == 0)
        return;
    char *text = internet_address_list_to_string(list, NULL, FALSE);
    meta_set_utf8(field, text);
    g_free(text);
}

static void mail_meta_and_text(container *c, GMimeMessage *message)
{
    doc_meta *meta = &c->text.meta;
    const char *subject = g_mime_message_get_subject(message);
    meta_set_utf8(&meta->title, subject);
    meta_set_utf8(&meta->subject, subject);
    address_meta(&meta->from, g_mime_message_get_from(message));
    address_meta(&meta->to, g_mime_message_get_to(message));
    GDateTime *date = g_mime_message_get_date(message);
    if (date) {
        GDateTime *utc = g_date_time_to_utc(date);
        char *iso = utc ? g_date_time_format(utc, "%Y-%m-%dT%H:%M:%SZ") : NULL;
        if (iso)
            doc_meta_set(&meta->date, iso, strlen(iso));
        g_free(iso);
        if (utc)
            g_date_time_unref(utc);
    }
    GMimeObject *root = g_mime_message_get_mime_part(message);
    GMimePart *body = root ? find_body(root, false, 0) : NULL;
    sbuf text;
    sbuf_init(&text);
    if (body)
        body_text(c, body, &text);
    mail_page(c, meta->subject, text.data, text.len);
    sbuf_free(&text);
    mail_reader *r = c->impl;
    if (root)
        collect_parts(r, root, body, 0);
}

/* ---- opening ----------------------------------------------------------- */

int mail_open(container *c, const char *path, dm_err *err)
{
    pthread_once(&gmime_once, gmime_start);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dm_err_set(err, true, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    mail_reader *r = dm_xcalloc(1, sizeof *r);
    c->impl = r;
    r->options = loose_options();
    r->file = g_mime_stream_fs_new(fd);   /* owns fd */
    r->parser = g_mime_parser_new_with_stream(r->file);
    g_mime_parser_set_persist_stream(r->parser, TRUE);
    if (c->kind == CONTAINER_MBOX) {
        c->reader = &mbox_reader_ops;
        c->mime = "application/mbox";
        g_mime_parser_set_format(r->parser, GMIME_FORMAT_MBOX);
        dm_err why;
        if (mbox_find_next(r, &why) <= 0) {
            dm_err_set(err, true, "not a readable mbox: no mail in it after a \"From \" line");
            mail_close(c);
            return -1;
        }
        return 0;
    }
    c->reader = &mail_reader_ops;
    c->mime = "message/rfc822";
    r->message = g_mime_parser_construct_message(r->parser, r->options);
    GMimeHeaderList *headers = r->message ? g_mime_object_get_header_list(
                                                GMIME_OBJECT(r->message)) : NULL;
    if (!headers || g_mime_header_list_get_count(headers) == 0) {
        dm_err_set(err, true, "not a readable mail: %s",
                   r->message ? "it has no header fields" : "GMime found no message in it");
        mail_close(c);
        return -1;
    }
    mail_meta_and_text(c, r->message);
    return 0;
}
