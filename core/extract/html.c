#include "extract/html.h"
#include "extract/textnorm.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct html_walk {
    paged_text *out;
    char skip_tag[16];   /* inside this hidden element (script, style...) */
    int skip_depth;      /* its nesting */
    int pre_depth;       /* > 0 inside <pre>: whitespace kept */
    bool in_title;
    bool pending_space;  /* collapsed whitespace not yet written */
    sbuf title;
} html_walk;

static bool one_of(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0)
            return true;
    return false;
}

/* Elements whose content is never shown. */
static const char *const HIDDEN[] = {"script", "style", "template", "noscript", NULL};
/* Elements that end a line (before and after). */
static const char *const BLOCK[] = {
    "address", "article", "aside",  "blockquote", "br",     "caption", "dd",      "details",
    "div",     "dl",      "dt",     "fieldset",   "figcaption", "figure", "footer", "form",
    "h1",      "h2",      "h3",     "h4",         "h5",     "h6",      "header",  "hr",
    "li",      "main",    "nav",    "ol",         "p",      "pre",     "section", "summary",
    "table",   "tbody",   "thead",  "tfoot",      "tr",     "ul",      "body",    "html",
    "option",  "legend",  "dialog", NULL};

static void put(html_walk *w, const char *s, size_t n)
{
    paged_text_append(w->out, s, n);
}

static void line_break(html_walk *w)
{
    w->pending_space = false;
    paged_text_break(w->out, "\n");
}

static void on_start(void *ud, const xmlChar *tag, const xmlChar **attrs)
{
    html_walk *w = ud;
    const char *name = (const char *)tag;
    if (strcasecmp(name, "title") == 0) {
        w->in_title = true;
        return;
    }
    if (strcasecmp(name, "meta") == 0 && attrs) {
        const char *key = NULL, *content = NULL;
        for (int i = 0; attrs[i]; i += 2) {
            if (strcasecmp((const char *)attrs[i], "name") == 0)
                key = (const char *)attrs[i + 1];
            else if (strcasecmp((const char *)attrs[i], "content") == 0)
                content = (const char *)attrs[i + 1];
        }
        doc_meta *m = &w->out->meta;
        char **field = !key || !content                   ? NULL
                       : strcasecmp(key, "author") == 0      ? &m->author
                       : strcasecmp(key, "description") == 0 ? &m->subject
                       : strcasecmp(key, "keywords") == 0    ? &m->keywords
                                                             : NULL;
        if (field)
            doc_meta_set(field, content, strlen(content));
        return;
    }
    if (w->skip_depth > 0) {
        w->skip_depth += strcasecmp(name, w->skip_tag) == 0;
        return;
    }
    if (one_of(name, HIDDEN)) {
        snprintf(w->skip_tag, sizeof w->skip_tag, "%s", name);
        w->skip_depth = 1;
        return;
    }
    if (strcasecmp(name, "pre") == 0)
        w->pre_depth++;
    if (strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0) {
        /* cells: a tab between them, none before the first */
        sbuf *t = w->out->count ? &w->out->pages[w->out->count - 1].text : NULL;
        if (t && t->len && t->data[t->len - 1] != '\n')
            put(w, "\t", 1);
        w->pending_space = false;
    } else if (strcasecmp(name, "img") == 0 && attrs) {
        /* An image's alternative text is what it says to a reader. */
        for (int i = 0; attrs[i]; i += 2)
            if (strcasecmp((const char *)attrs[i], "alt") == 0 && attrs[i + 1] && *attrs[i + 1]) {
                if (w->pending_space)
                    put(w, " ", 1);
                put(w, (const char *)attrs[i + 1], strlen((const char *)attrs[i + 1]));
                w->pending_space = true;
            }
    } else if (one_of(name, BLOCK)) {
        line_break(w);
    }
}

static void on_end(void *ud, const xmlChar *tag)
{
    html_walk *w = ud;
    const char *name = (const char *)tag;
    if (strcasecmp(name, "title") == 0) {
        w->in_title = false;
        doc_meta_set(&w->out->meta.title, w->title.data, w->title.len);
        return;
    }
    if (w->skip_depth > 0) {
        w->skip_depth -= strcasecmp(name, w->skip_tag) == 0;
        return;
    }
    if (strcasecmp(name, "pre") == 0 && w->pre_depth > 0)
        w->pre_depth--;
    if (one_of(name, BLOCK))
        line_break(w);
}

static void on_text(void *ud, const xmlChar *chars, int len)
{
    html_walk *w = ud;
    const char *s = (const char *)chars;
    if (w->in_title) {
        sbuf_append(&w->title, s, (size_t)len);
        return;
    }
    if (w->skip_depth > 0)
        return;
    if (w->pre_depth > 0) {
        put(w, s, (size_t)len);
        return;
    }
    /* Runs of whitespace are one space, none at a line's start. */
    int i = 0;
    while (i < len) {
        int j = i;
        while (j < len && !isspace((unsigned char)s[j]))
            j++;
        if (j > i) {
            sbuf *t = w->out->count ? &w->out->pages[w->out->count - 1].text : NULL;
            if (w->pending_space && t && t->len && t->data[t->len - 1] != '\n' &&
                t->data[t->len - 1] != '\t')
                put(w, " ", 1);
            put(w, s + i, (size_t)(j - i));
            w->pending_space = false;
        }
        if (j < len)
            w->pending_space = true;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        i = j;
    }
}

/* Whether the first KB names a charset (<meta charset=...> or http-equiv):
 * then libxml2 follows it; otherwise the bytes are detected here. */
static bool names_charset(const char *data, size_t len)
{
    size_t n = len < 4096 ? len : 4096;
    for (size_t i = 0; i + 7 <= n; i++) {
        if (strncasecmp(data + i, "charset", 7) != 0)
            continue;
        size_t j = i + 7;
        while (j < n && (data[j] == ' ' || data[j] == '\t'))
            j++;
        if (j < n && data[j] == '=')
            return true;
    }
    return false;
}

static bool has_bom(const unsigned char *p, size_t n)
{
    return (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) ||
           (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF)));
}

/* data in charset, as UTF-8 into out (undecodable bytes as U+FFFD). */
static int convert(const char *data, size_t len, const char *charset, sbuf *out, dm_err *err)
{
    if (text_iconv(charset, data, len, true, out) != 0) {
        dm_err_set(err, true, "html_default_charset %s is not a charset iconv knows", charset);
        return -1;
    }
    return 0;
}

/* A <meta> charset libxml2 does not know leaves bytes as they came: the
 * text and the metadata are made valid UTF-8 (U+FFFD for what is not). */
static void repair_utf8(sbuf *t)
{
    if (t->len == 0 || text_is_utf8(t->data, t->len))
        return;
    sbuf fixed;
    sbuf_init(&fixed);
    text_utf8_repair(t->data, t->len, &fixed);
    sbuf_free(t);
    *t = fixed;
}

static void repair_meta(char **field)
{
    if (!*field || text_is_utf8(*field, strlen(*field)))
        return;
    sbuf fixed;
    sbuf_init(&fixed);
    text_utf8_repair(*field, strlen(*field), &fixed);
    sbuf_putc(&fixed, '\0');
    free(*field);
    *field = sbuf_take(&fixed);
}

int html_read(const char *data, size_t len, const char *default_charset, paged_text *out,
              dm_err *err)
{
    sbuf decoded;
    sbuf_init(&decoded);
    const char *encoding = NULL;
    if (!has_bom((const unsigned char *)data, len) && !names_charset(data, len)) {
        const char *found;
        /* UTF-8, Shift_JIS or EUC-JP by detection, else the policy's
         * default (a Western page from before UTF-8: windows-1252). */
        if (text_decode(data, len, &decoded, &found, err) != 0) {
            sbuf_reset(&decoded);
            if (!default_charset || !*default_charset ||
                convert(data, len, default_charset, &decoded, err) != 0) {
                sbuf_free(&decoded);
                return -1;
            }
        }
        data = decoded.data ? decoded.data : "";
        len = decoded.len;
        encoding = "UTF-8";
    }
    htmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.startElement = on_start;
    sax.endElement = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text;
    html_walk w = {.out = out};
    sbuf_init(&w.title);
    paged_text_new_page(out, NULL);
    htmlParserCtxtPtr ctxt = htmlCreatePushParserCtxt(&sax, &w, NULL, 0, NULL,
                                                      encoding ? XML_CHAR_ENCODING_UTF8
                                                               : XML_CHAR_ENCODING_NONE);
    if (!ctxt) {
        sbuf_free(&decoded);
        sbuf_free(&w.title);
        dm_err_set(err, false, "out of memory for the HTML parser");
        return -1;
    }
    htmlCtxtUseOptions(ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED);
    /* Decoded here already: the parser must not take it for Latin-1. */
    if (encoding)
        xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
    /* In chunks, so the parser holds a chunk at a time, not the page. */
    for (size_t off = 0; off < len && !out->truncated; off += 65536) {
        size_t n = len - off < 65536 ? len - off : 65536;
        htmlParseChunk(ctxt, data + off, (int)n, 0);
    }
    htmlParseChunk(ctxt, NULL, 0, 1);
    htmlFreeParserCtxt(ctxt);
    sbuf_free(&decoded);
    sbuf_free(&w.title);
    for (int i = 0; i < out->count; i++)
        repair_utf8(&out->pages[i].text);
    char **fields[] = {&out->meta.title, &out->meta.author, &out->meta.subject,
                       &out->meta.keywords};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        repair_meta(fields[i]);
    return 0;
}

bool html_sniff(const unsigned char *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    for (;;) {
        while (i < n && isspace(p[i]))
            i++;
        if (i + 4 <= n && memcmp(p + i, "<!--", 4) == 0) {
            const unsigned char *end = memmem(p + i + 4, n - i - 4, "-->", 3);
            if (!end)
                return false;
            i = (size_t)(end - p) + 3;
            continue;
        }
        if (i + 5 <= n && memcmp(p + i, "<?xml", 5) == 0) {
            /* XHTML: the declaration, then the rest must say html */
            const unsigned char *end = memmem(p + i, n - i, "?>", 2);
            if (!end)
                return false;
            i = (size_t)(end - p) + 2;
            continue;
        }
        break;
    }
    static const char *const starts[] = {"<!doctype html", "<html", "<head", "<body", "<title",
                                         "<meta", NULL};
    for (const char *const *s = starts; *s; s++) {
        size_t k = strlen(*s);
        if (i + k <= n && strncasecmp((const char *)p + i, *s, k) == 0 &&
            (i + k == n || !isalnum(p[i + k])))
            return true;
    }
    return false;
}
