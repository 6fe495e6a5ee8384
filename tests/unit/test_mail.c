/* The mail readers (container/mail.c, container/msg.c) on mails built
 * here: encodings Japanese mail really uses, attachments, mbox, Outlook
 * .msg, the limits, and input that is not a mail at all. */
#include "check.h"
#include "container/container.h"
#include "extract/textnorm.h"

#include <glib.h>
#include <gsf/gsf-outfile-msole.h>
#include <gsf/gsf-outfile.h>
#include <gsf/gsf-output-stdio.h>
#include <gsf/gsf-output.h>
#include <gsf/gsf-utils.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building inputs ------------------------------------------------ */

static char *convert(const char *to, const char *utf8, size_t *out_len)
{
    iconv_t cd = iconv_open(to, "UTF-8");
    if (cd == (iconv_t)-1) {
        perror("iconv_open");
        exit(2);
    }
    size_t cap = strlen(utf8) * 4 + 16, inleft = strlen(utf8), oleft = cap;
    char *out = calloc(1, cap + 1), *in = (char *)utf8, *o = out;
    if (iconv(cd, &in, &inleft, &o, &oleft) == (size_t)-1 ||
        iconv(cd, NULL, NULL, &o, &oleft) == (size_t)-1) {
        perror("iconv");
        exit(2);
    }
    iconv_close(cd);
    *out_len = (size_t)(o - out);
    return out;
}

/* "=?charset?B?...?=" of utf8 converted to charset. */
static char *encoded_word(const char *charset, const char *utf8)
{
    size_t len;
    char *raw = convert(charset, utf8, &len);
    char *b64 = g_base64_encode((const guchar *)raw, len);
    char *word = g_strdup_printf("=?%s?B?%s?=", charset, b64);
    free(raw);
    g_free(b64);
    return word;
}

static char *quoted_printable(const char *s, size_t len)
{
    sbuf out;
    sbuf_init(&out);
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x80 || b == '=')
            sbuf_appendf(&out, "=%02X", b);
        else
            sbuf_putc(&out, (char)b);
    }
    sbuf_putc(&out, '\0');
    return sbuf_take(&out);
}

static const char *write_input(const char *name, const void *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    gchar *data = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &data, &n, NULL))
        return NULL;
    *len = n;
    return data;
}

static container_limits no_limits(void)
{
    container_limits lim;
    memset(&lim, 0, sizeof lim);
    return lim;
}

/* The members' directory: under the test's temp dir, empty at the start. */
static const char *members_dir(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/members", check_tmpdir());
    mkdir(dir, 0700);
    return dir;
}

static container *open_as(const char *path, container_kind kind, const container_limits *lim,
                          dm_err *err)
{
    memset(err, 0, sizeof *err);
    return container_open(path, kind, lim, members_dir(), err);
}

static const char *page_text(container *c)
{
    const paged_text *t = container_text(c);
    return t->count > 0 && t->pages[0].text.data ? t->pages[0].text.data : "";
}

/* The next member, which must be written out: its bytes equal want. */
static void check_member(container *c, const char *name, const void *want, size_t want_len)
{
    container_member m;
    dm_err err;
    CHECK_INT(container_next(c, &m, &err), 1);
    CHECK_STR(m.name, name);
    CHECK(m.path && strncmp(m.path, members_dir(), strlen(members_dir())) == 0);
    CHECK_INT(m.size, want_len);
    size_t len = 0;
    char *got = m.path ? slurp(m.path, &len) : NULL;
    CHECK(got && len == want_len && memcmp(got, want, want_len) == 0);
    g_free(got);
    if (m.path)
        unlink(m.path);
    container_member_free(&m);
}

static void check_no_more(container *c)
{
    container_member m;
    dm_err err;
    CHECK_INT(container_next(c, &m, &err), 0);
}

/* ---- mail ------------------------------------------------------------ */

static void test_japanese_mail_with_attachments(void)
{
    unsigned char pdf[3000];
    for (size_t i = 0; i < sizeof pdf; i++)
        pdf[i] = (unsigned char)(i * 7 + 3);
    memcpy(pdf, "%PDF-1.4\n", 9);
    static const char docx[] = "PK\x03\x04 not really a docx \x01\x02\xff";
    size_t docx_len = sizeof docx - 1;
    char *subject = encoded_word("ISO-2022-JP", "会議の議事録");
    char *from = encoded_word("ISO-2022-JP", "山田");
    char *to = encoded_word("UTF-8", "佐藤");
    char *docx_name = encoded_word("UTF-8", "資料.docx");
    size_t body_len;
    char *body = convert("ISO-2022-JP", "本日の会議の議事録を送ります。", &body_len);
    char *pdf64 = g_base64_encode(pdf, sizeof pdf);
    char *docx64 = g_base64_encode((const guchar *)docx, docx_len);
    /* ① is in the NEC row that only CP932 has: written by hand. */
    char *mail = g_strdup_printf(
        "From: %s <yamada@example.jp>\r\nTo: %s <sato@example.jp>\r\nSubject: %s\r\n"
        "Date: Wed, 01 May 2024 18:30:00 +0900\r\nMessage-ID: <1@example.jp>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n%s\r\n\x1b$B-!\x1b(B check\r\n"
        "--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''%%E8%%AD%%B0%%E4%%BA%%8B%%E9%%8C"
        "%%B2.pdf\r\n\r\n%s\r\n"
        "--B\r\nContent-Type: application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--B--\r\n",
        from, to, subject, body, pdf64, docx_name, docx64);
    const char *path = write_input("japanese.eml", mail, strlen(mail));
    CHECK_INT(container_sniff(path, (const unsigned char *)mail, strlen(mail)), CONTAINER_MAIL);
    container_limits lim = no_limits();
    dm_err err;
    container *c = open_as(path, CONTAINER_MAIL, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        const paged_text *t = container_text(c);
        CHECK_STR(t->meta.subject, "会議の議事録");
        CHECK_STR(t->meta.title, "会議の議事録");
        CHECK_STR(t->meta.from, "山田 <yamada@example.jp>");
        CHECK_STR(t->meta.to, "佐藤 <sato@example.jp>");
        CHECK_STR(t->meta.date, "2024-05-01T09:30:00Z");
        CHECK_INT(t->count, 1);
        CHECK_CONTAINS(page_text(c),
                       "会議の議事録\n\n本日の会議の議事録を送ります。\n① check");
        CHECK(!strchr(page_text(c), '\r'));
        CHECK_STR(container_mime(c), "message/rfc822");
        check_member(c, "議事録.pdf", pdf, sizeof pdf);
        check_member(c, "資料.docx", docx, docx_len);
        check_no_more(c);
        CHECK_INT(container_members(c), 2);
        CHECK_INT(container_expanded(c), (long long)(sizeof pdf + docx_len));
        container_close(c);
    }
    g_free(mail);
    g_free(subject), g_free(from), g_free(to), g_free(docx_name);
    g_free(pdf64), g_free(docx64);
    free(body);
}

static container *open_mail_text(const char *mail, dm_err *err)
{
    const char *path = write_input("one.eml", mail, strlen(mail));
    container_limits lim = no_limits();
    return open_as(path, CONTAINER_MAIL, &lim, err);
}

static void test_bodies_in_other_encodings(void)
{
    /* Quoted-printable Shift_JIS, no subject. */
    size_t sjis_len;
    char *sjis = convert("SHIFT_JIS", "見積書の件、よろしくお願いします。", &sjis_len);
    char *qp = quoted_printable(sjis, sjis_len);
    char *mail = g_strdup_printf("From: a@example.com\r\n"
                                 "Date: Thu, 2 May 2024 10:00:00 +0000\r\n"
                                 "Content-Type: text/plain; charset=Shift_JIS\r\n"
                                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n",
                                 qp);
    dm_err err;
    container *c = open_mail_text(mail, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_CONTAINS(page_text(c), "見積書の件、よろしくお願いします。");
        CHECK(container_text(c)->meta.subject == NULL);
        check_no_more(c);
        container_close(c);
    }
    g_free(mail), free(sjis), free(qp);

    /* HTML only: its text, no tags, and the part's charset wins over the
     * page's stale <meta>. */
    c = open_mail_text("From: a@example.com\r\nMessage-ID: <h@x>\r\nSubject: html\r\n"
                       "Content-Type: text/html; charset=UTF-8\r\n\r\n"
                       "<html><head><meta charset=\"iso-2022-jp\"><style>p{color:red}</style>"
                       "</head><body><p>Hello <b>world</b> 日本</p><p>next</p></body></html>\r\n",
                       &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_CONTAINS(page_text(c), "html\n\nHello world 日本");
        CHECK_CONTAINS(page_text(c), "next");
        CHECK(!strstr(page_text(c), "<") && !strstr(page_text(c), "color"));
        container_close(c);
    }

    /* multipart/alternative: the plain version; the HTML twin is no member. */
    c = open_mail_text("From: a@example.com\r\nMIME-Version: 1.0\r\nSubject: alt\r\n"
                       "Content-Type: multipart/alternative; boundary=x\r\n\r\n"
                       "--x\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
                       "<p>html version</p>\r\n"
                       "--x\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                       "plain version\r\n--x--\r\n",
                       &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_CONTAINS(page_text(c), "alt\n\nplain version");
        CHECK(!strstr(page_text(c), "html version"));
        check_no_more(c);
        container_close(c);
    }
}

static void test_attached_message_becomes_an_eml(void)
{
    const char *inner = "From: b@example.com\r\nDate: Thu, 2 May 2024 10:00:00 +0000\r\n"
                        "Subject: Inner subject\r\n\r\nthe inner body\r\n";
    char *mail = g_strdup_printf(
        "From: a@example.com\r\nMIME-Version: 1.0\r\nSubject: fwd\r\n"
        "Content-Type: multipart/mixed; boundary=z\r\n\r\n"
        "--z\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--z\r\nContent-Type: message/rfc822\r\n\r\n%s"
        "--z\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0K\r\n--z--\r\n",
        inner);
    dm_err err;
    container *c = open_mail_text(mail, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_CONTAINS(page_text(c), "fwd\n\nsee attached");
        CHECK(!strstr(page_text(c), "inner body"));
        container_member m;
        CHECK_INT(container_next(c, &m, &err), 1);
        CHECK_STR(m.name, "Inner subject.eml");
        size_t len = 0;
        char *got = m.path ? slurp(m.path, &len) : NULL;
        CHECK_CONTAINS(got, "Subject: Inner subject");
        CHECK_CONTAINS(got, "the inner body");
        CHECK(got && container_sniff(m.path, (const unsigned char *)got, len) ==
                         CONTAINER_MAIL);
        g_free(got);
        if (m.path)
            unlink(m.path);
        container_member_free(&m);
        /* An unnamed image: a number and the extension of its type. */
        check_member(c, "attachment-2.png", "\x89PNG\r\n", 6);
        check_no_more(c);
        container_close(c);
    }
    g_free(mail);
}

static void test_mbox_hands_out_each_mail(void)
{
    sbuf box;
    sbuf_init(&box);
    const char *words[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        sbuf_appendf(&box, "From sender@example.com Thu May  2 10:00:00 2024\n"
                           "From: sender@example.com\nDate: Thu, 2 May 2024 10:00:0%d +0000\n"
                           "Subject: mail %s\n\nbody of %s\n>From the quoted line\n\n",
                     i, words[i], words[i]);
    const char *path = write_input("box.mbox", box.data, box.len);
    CHECK_INT(container_sniff(path, (const unsigned char *)box.data, box.len), CONTAINER_MBOX);
    container_limits lim = no_limits();
    dm_err err;
    container *c = open_as(path, CONTAINER_MBOX, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(container_mime(c), "application/mbox");
        CHECK_INT(container_text(c)->count, 0);
        for (int i = 0; i < 3; i++) {
            container_member m;
            CHECK_INT(container_next(c, &m, &err), 1);
            char name[16], want[64];
            snprintf(name, sizeof name, "%d.eml", i + 1);
            CHECK_STR(m.name, name);
            size_t len = 0;
            char *got = m.path ? slurp(m.path, &len) : NULL;
            snprintf(want, sizeof want, "Subject: mail %s\n\nbody of %s", words[i], words[i]);
            CHECK_CONTAINS(got, want);
            CHECK(got && strncmp(got, "From: sender", 12) == 0);
            CHECK(got && !strstr(got, "From sender@"));
            CHECK(got && container_sniff(m.path, (const unsigned char *)got, len) ==
                             CONTAINER_MAIL);
            g_free(got);
            if (m.path)
                unlink(m.path);
            container_member_free(&m);
        }
        check_no_more(c);
        container_close(c);
    }
    sbuf_free(&box);
}

static void test_sniff(void)
{
    const char *mail = "Return-Path: <a@example.com>\nReceived: from x by y;\n"
                       "\tThu, 2 May 2024 10:00:00 +0000\nSubject: s\n\nbody";
    CHECK_INT(container_sniff("x", (const unsigned char *)mail, strlen(mail)), CONTAINER_MAIL);
    const char *box = "From a@b Thu May  2 10:00:00 2024\nFrom: a@b\nDate: x\n\nbody\n";
    CHECK_INT(container_sniff("x", (const unsigned char *)box, strlen(box)), CONTAINER_MBOX);
    const char *notes[] = {
        "Subject: hi\n\nnote",
        "Subject: hi\nTo: you\n\nnote",                   /* no field a mail must have */
        "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        "From now on, all notes go here.\nSubject: x\n",
        "Date: today\nthis is a diary\n",
        "",
    };
    for (size_t i = 0; i < sizeof notes / sizeof *notes; i++)
        CHECK_INT(container_sniff("x", (const unsigned char *)notes[i], strlen(notes[i])),
                  CONTAINER_NONE);
}

static void test_limits(void)
{
    char big[3000];
    memset(big, 'x', sizeof big);
    char *big64 = g_base64_encode((const guchar *)big, sizeof big);
    char *mail = g_strdup_printf(
        "From: a@example.com\r\nMIME-Version: 1.0\r\nSubject: limits\r\n"
        "Content-Type: multipart/mixed; boundary=q\r\n\r\n"
        "--q\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        "--q\r\nContent-Type: application/octet-stream; name=big.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
        "--q\r\nContent-Type: text/plain; name=small.txt\r\n\r\nsmall\r\n--q--\r\n",
        big64);
    const char *path = write_input("limits.eml", mail, strlen(mail));
    container_limits lim = no_limits();
    lim.max_member_bytes = 1000;
    dm_err err;
    container *c = open_as(path, CONTAINER_MAIL, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        container_member m;
        CHECK_INT(container_next(c, &m, &err), 1);
        CHECK_STR(m.name, "big.bin");
        CHECK(m.path == NULL);
        CHECK_STR(m.skipped, "larger than max_file_mb");
        container_member_free(&m);
        check_member(c, "small.txt", "small", 5);
        check_no_more(c);
        container_close(c);
    }
    lim = no_limits();
    lim.max_expanded_bytes = 1500;
    c = open_as(path, CONTAINER_MAIL, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        container_member m;
        CHECK_INT(container_next(c, &m, &err), -1);
        CHECK_CONTAINS(err.msg, "max_expanded_mb");
        container_close(c);
    }
    /* The text kept is capped, at a character boundary. */
    lim = no_limits();
    lim.max_text_bytes = 10;
    const char *long_body = "From: a@b\nDate: x\n\n日本語の本文です\n";
    c = open_as(write_input("cap.eml", long_body, strlen(long_body)), CONTAINER_MAIL, &lim,
                &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(page_text(c), "日本語");
        CHECK(container_text(c)->truncated);
        container_close(c);
    }
    g_free(mail), g_free(big64);
}

/* ---- Outlook .msg ------------------------------------------------------ */

static void put_stream(GsfOutfile *dir, const char *name, const void *data, size_t len)
{
    GsfOutput *out = gsf_outfile_new_child(dir, name, FALSE);
    gsf_output_write(out, len, data);
    gsf_output_close(out);
    g_object_unref(out);
}

static void put_utf16(GsfOutfile *dir, const char *name, const char *utf8)
{
    glong n = 0;
    gunichar2 *u = g_utf8_to_utf16(utf8, -1, NULL, &n, NULL);
    put_stream(dir, name, u, (size_t)n * 2 + 2);
    g_free(u);
}

static void le_put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static size_t build_msg(const char *path, const char *attachment, size_t attachment_len)
{
    gsf_init();
    GsfOutput *sink = gsf_output_stdio_new(path, NULL);
    GsfOutfile *root = gsf_outfile_msole_new(sink);
    g_object_unref(sink);
    /* Header (32 bytes), then the delivery time: 2024-05-01T09:30:00Z. */
    unsigned char props[48];
    memset(props, 0, sizeof props);
    le_put(props + 32, 0x0E060040, 4);
    le_put(props + 40, (1714555800ULL + 11644473600ULL) * 10000000ULL, 8);
    put_stream(root, "__properties_version1.0", props, sizeof props);
    put_utf16(root, "__substg1.0_0037001F", "週報 5月");
    put_utf16(root, "__substg1.0_1000001F", "今週の報告です。\r\n以上");
    put_utf16(root, "__substg1.0_0C1A001F", "鈴木");
    put_utf16(root, "__substg1.0_5D01001F", "suzuki@example.jp");
    put_stream(root, "__substg1.0_0E04001E", "Tanaka", 7);
    GsfOutput *att = gsf_outfile_new_child(root, "__attach_version1.0_#00000000", TRUE);
    unsigned char att_props[24];
    memset(att_props, 0, sizeof att_props);
    le_put(att_props + 8, 0x37050003, 4);
    le_put(att_props + 16, 1, 4);
    put_stream(GSF_OUTFILE(att), "__properties_version1.0", att_props, sizeof att_props);
    put_utf16(GSF_OUTFILE(att), "__substg1.0_3707001F", "報告書.xlsx");
    put_stream(GSF_OUTFILE(att), "__substg1.0_37010102", attachment, attachment_len);
    gsf_output_close(att);
    g_object_unref(att);
    /* A forwarded Outlook message: a storage, not bytes. */
    att = gsf_outfile_new_child(root, "__attach_version1.0_#00000001", TRUE);
    le_put(att_props + 16, 5, 4);
    put_stream(GSF_OUTFILE(att), "__properties_version1.0", att_props, sizeof att_props);
    put_utf16(GSF_OUTFILE(att), "__substg1.0_3001001F", "転送メール");
    GsfOutput *inner = gsf_outfile_new_child(GSF_OUTFILE(att), "__substg1.0_3701000D", TRUE);
    put_stream(GSF_OUTFILE(inner), "__properties_version1.0", props, 24);
    put_utf16(GSF_OUTFILE(inner), "__substg1.0_0037001F", "inner");
    gsf_output_close(inner);
    g_object_unref(inner);
    gsf_output_close(att);
    g_object_unref(att);
    gsf_output_close(GSF_OUTPUT(root));
    g_object_unref(root);
    size_t len = 0;
    g_free(slurp(path, &len));
    return len;
}

static void test_outlook_msg(void)
{
    char data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i % 251);
    char path[512];
    snprintf(path, sizeof path, "%s/report.msg", check_tmpdir());
    size_t file_len = build_msg(path, data, sizeof data);
    size_t len = 0;
    char *bytes = slurp(path, &len);
    CHECK(bytes && len == file_len && len > 512);
    CHECK_INT(container_sniff(path, (const unsigned char *)bytes, len < 4096 ? len : 4096),
              CONTAINER_MSG);
    container_limits lim = no_limits();
    dm_err err;
    container *c = open_as(path, CONTAINER_MSG, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        const paged_text *t = container_text(c);
        CHECK_STR(container_mime(c), "application/vnd.ms-outlook");
        CHECK_STR(t->meta.subject, "週報 5月");
        CHECK_STR(t->meta.from, "鈴木 <suzuki@example.jp>");
        CHECK_STR(t->meta.to, "Tanaka");
        CHECK_STR(t->meta.date, "2024-05-01T09:30:00Z");
        CHECK_STR(page_text(c), "週報 5月\n\n今週の報告です。\n以上");
        check_member(c, "報告書.xlsx", data, sizeof data);
        container_member m;
        CHECK_INT(container_next(c, &m, &err), 1);
        CHECK_STR(m.name, "転送メール");
        CHECK(m.path == NULL);
        CHECK_STR(m.skipped, "embedded Outlook message");
        container_member_free(&m);
        check_no_more(c);
        container_close(c);
    }
    /* Its attachment over max_member_bytes: skipped, the next still comes. */
    lim.max_member_bytes = 1000;
    c = open_as(path, CONTAINER_MSG, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        container_member m;
        CHECK_INT(container_next(c, &m, &err), 1);
        CHECK_STR(m.skipped, "larger than max_file_mb");
        CHECK_INT(m.size, sizeof data);
        CHECK(m.path == NULL);
        container_member_free(&m);
        CHECK_INT(container_next(c, &m, &err), 1);
        CHECK_STR(m.name, "転送メール");
        container_member_free(&m);
        container_close(c);
    }
    lim = no_limits();
    /* Cut short: refused, or read as far as it goes; never a crash. */
    if (bytes) {
        const char *cut = write_input("cut.msg", bytes, 1500);
        c = open_as(cut, CONTAINER_MSG, &lim, &err);
        if (!c)
            CHECK_CONTAINS(err.msg, "Outlook message");
        container_close(c);
        c = open_as(cut, CONTAINER_MSG, &lim, &err);
        container_close(c);
    }
    g_free(bytes);
}

static void test_not_a_mail(void)
{
    container_limits lim = no_limits();
    dm_err err;
    unsigned char garbage[2048];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)((i * 2654435761u) >> 13);
    const char *path = write_input("garbage.eml", garbage, sizeof garbage);
    container *c = open_as(path, CONTAINER_MAIL, &lim, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "not a readable mail");
    container_close(c);
    path = write_input("empty.eml", "", 0);
    c = open_as(path, CONTAINER_MAIL, &lim, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "not a readable mail");
    c = open_as(path, CONTAINER_MBOX, &lim, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "mbox");
    c = open_as(path, CONTAINER_MSG, &lim, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "Outlook message");
    path = write_input("garbage.msg", garbage, sizeof garbage);
    c = open_as(path, CONTAINER_MSG, &lim, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "Outlook message");
    /* A mail cut inside its attachment: what there is, and no crash. */
    const char *cut = "From: a@b\r\nDate: x\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n"
                      "--w\r\nContent-Type: text/plain\r\n\r\nbody\r\n--w\r\n"
                      "Content-Type: application/pdf; name=a.pdf\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLj";
    c = open_as(write_input("cut.eml", cut, strlen(cut)), CONTAINER_MAIL, &lim, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_CONTAINS(page_text(c), "body");
        container_member m;
        CHECK_INT(container_next(c, &m, &err), 1);
        CHECK_STR(m.name, "a.pdf");
        if (m.path)
            unlink(m.path);
        container_member_free(&m);
        container_close(c);
    }
}

int main(void)
{
    static const check_case cases[] = {
        {"japanese_mail_with_attachments", test_japanese_mail_with_attachments},
        {"bodies_in_other_encodings", test_bodies_in_other_encodings},
        {"attached_message_becomes_an_eml", test_attached_message_becomes_an_eml},
        {"mbox_hands_out_each_mail", test_mbox_hands_out_each_mail},
        {"sniff", test_sniff},
        {"limits", test_limits},
        {"outlook_msg", test_outlook_msg},
        {"not_a_mail", test_not_a_mail},
        {NULL, NULL},
    };
    int rc = check_run(cases);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", check_tmpdir());
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", check_tmpdir());
    return rc;
}
