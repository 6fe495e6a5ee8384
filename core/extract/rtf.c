#include "extract/rtf.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTF_MAX_DEPTH 256
#define RTF_MAX_FONTS 512

typedef enum {
    DEST_TEXT,     /* the document's text */
    DEST_SKIP,     /* not text: tables, pictures, field instructions... */
    DEST_FONTTBL,  /* the font table: read for the fonts' charsets */
    DEST_INFO,     /* {\info}: only its fields below */
    DEST_META,     /* {\title}, {\author}...: into a metadata field */
    DEST_DATE,     /* {\creatim}, {\revtim}: \yr \mo \dy \hr \min */
} rtf_dest;

typedef struct rtf_group {
    rtf_dest dest;
    char **field;      /* DEST_META, DEST_DATE: which metadata field */
    int uc;            /* bytes of fallback after each \uN */
    int codepage;      /* of the current font; 0 = the document's */
    bool fresh;        /* right after '{' (or \*): a destination word may follow */
    bool starred;      /* \* seen: an unknown destination is skipped */
} rtf_group;

typedef struct rtf_reader {
    const unsigned char *p, *end;
    rtf_group stack[RTF_MAX_DEPTH];
    int depth;
    int ansicpg;
    int font_num;      /* in the font table: the font being described */
    struct {
        int num, charset;
    } fonts[RTF_MAX_FONTS];
    int nfonts;
    sbuf bytes;        /* 8-bit text waiting for its code page */
    int bytes_cp;
    sbuf field;        /* a metadata field's text */
    int date[5];       /* yr mo dy hr min of a DEST_DATE group */
    int skip;          /* fallback bytes still to drop after a \uN */
    unsigned high;     /* a high surrogate waiting for its pair */
    iconv_t cd;
    int cd_cp;
    paged_text *out;
} rtf_reader;

static rtf_group *top(rtf_reader *r)
{
    return &r->stack[r->depth];
}

static void put_utf8(rtf_reader *r, const char *s, size_t n)
{
    rtf_dest d = top(r)->dest;
    if (d == DEST_TEXT)
        paged_text_append(r->out, s, n);
    else if (d == DEST_META)
        sbuf_append(&r->field, s, n);
}

static void put_codepoint(rtf_reader *r, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    put_utf8(r, u, n);
}

static int codepage_of_charset(int charset, int ansicpg)
{
    switch (charset) {
    case 128: return 932;   /* SHIFTJIS_CHARSET */
    case 129: return 949;
    case 134: return 936;
    case 136: return 950;
    case 161: return 1253;
    case 162: return 1254;
    case 177: return 1255;
    case 178: return 1256;
    case 186: return 1257;
    case 204: return 1251;
    case 222: return 874;
    case 238: return 1250;
    case 0: return 1252;
    default: return ansicpg;
    }
}

/* The waiting 8-bit text, converted from its code page. */
static void flush(rtf_reader *r)
{
    if (r->bytes.len == 0)
        return;
    int cp = r->bytes_cp ? r->bytes_cp : 1252;
    if (r->cd == (iconv_t)-1 || r->cd_cp != cp) {
        if (r->cd != (iconv_t)-1)
            iconv_close(r->cd);
        char name[32];
        if (cp == 65001)
            snprintf(name, sizeof name, "UTF-8");
        else if (cp == 10001)
            snprintf(name, sizeof name, "SHIFT_JIS");
        else
            snprintf(name, sizeof name, "CP%d", cp);
        r->cd = iconv_open("UTF-8", name);
        if (r->cd == (iconv_t)-1)
            r->cd = iconv_open("UTF-8", "CP1252");
        r->cd_cp = cp;
    }
    char *in = r->bytes.data;
    size_t inleft = r->bytes.len;
    char buf[1024];
    while (inleft > 0 && r->cd != (iconv_t)-1) {
        char *o = buf;
        size_t oleft = sizeof buf;
        size_t rc = iconv(r->cd, &in, &inleft, &o, &oleft);
        put_utf8(r, buf, (size_t)(o - buf));
        if (rc == (size_t)-1 && errno != E2BIG) {
            /* A byte that is not text in that code page. */
            put_codepoint(r, 0xFFFD);
            in++, inleft--;
            iconv(r->cd, NULL, NULL, NULL, NULL);
        }
    }
    sbuf_reset(&r->bytes);
}

static void put_byte(rtf_reader *r, unsigned char b)
{
    if (r->skip > 0) {
        r->skip--;
        return;
    }
    rtf_dest d = top(r)->dest;
    if (d != DEST_TEXT && d != DEST_META)
        return;
    int cp = top(r)->codepage ? top(r)->codepage : r->ansicpg;
    if (r->bytes.len && cp != r->bytes_cp)
        flush(r);
    r->bytes_cp = cp;
    sbuf_putc(&r->bytes, (char)b);
}

static void put_text(rtf_reader *r, const char *s)
{
    flush(r);
    put_utf8(r, s, strlen(s));
}

static void put_unicode(rtf_reader *r, long n)
{
    flush(r);
    unsigned cp = (unsigned)(n < 0 ? n + 65536 : n) & 0xFFFF;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        r->high = cp;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        if (r->high)
            put_codepoint(r, 0x10000 + ((r->high - 0xD800) << 10) + (cp - 0xDC00));
        r->high = 0;
    } else {
        r->high = 0;
        put_codepoint(r, cp);
    }
    r->skip = top(r)->uc;
}

static bool word_in(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(w, *list) == 0)
            return true;
    return false;
}

/* Destinations whose content is not the document's text. */
static const char *const SKIPPED[] = {
    "colortbl", "stylesheet", "listtable", "listoverridetable", "revtbl", "rsidtbl", "pict",
    "themedata", "colorschememapping", "datastore", "latentstyles", "filetbl", "xmlnstbl",
    "generator", "fldinst", "objdata", "objclass", "sp", "xe", "tc", "pntxtb", "pntxta",
    "nonshppict", "bkmkstart", "bkmkend", "atnid", "atnauthor", "template", "docvar",
    "userprops", "operator", "company", "category", "doccomm", "hlinkbase", "manager", NULL};

static void start_destination(rtf_reader *r, const char *w)
{
    rtf_group *g = top(r);
    doc_meta *m = &r->out->meta;
    if (strcmp(w, "fonttbl") == 0) {
        g->dest = DEST_FONTTBL;
    } else if (strcmp(w, "info") == 0) {
        g->dest = DEST_INFO;
    } else if (g->dest == DEST_INFO && (strcmp(w, "title") == 0 || strcmp(w, "author") == 0 ||
                                        strcmp(w, "subject") == 0 ||
                                        strcmp(w, "keywords") == 0)) {
        g->dest = DEST_META;
        g->field = w[0] == 't' ? &m->title : w[0] == 'a' ? &m->author
                 : w[0] == 's' ? &m->subject : &m->keywords;
        sbuf_reset(&r->field);
    } else if (g->dest == DEST_INFO && (strcmp(w, "creatim") == 0 || strcmp(w, "revtim") == 0)) {
        g->dest = DEST_DATE;
        g->field = w[0] == 'c' ? &m->created : &m->modified;
        memset(r->date, 0, sizeof r->date);
    } else if (g->starred || word_in(w, SKIPPED) || g->dest == DEST_INFO) {
        g->dest = DEST_SKIP;
    }
}

static void end_group(rtf_reader *r)
{
    flush(r);
    rtf_group *g = top(r);
    rtf_group *parent = r->depth > 0 ? &r->stack[r->depth - 1] : NULL;
    if (g->dest == DEST_META && (!parent || parent->dest != DEST_META))
        doc_meta_set(g->field, r->field.data, r->field.len);
    if (g->dest == DEST_DATE && (!parent || parent->dest != DEST_DATE) && r->date[0] > 0) {
        char iso[32];
        snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:00", r->date[0], r->date[1],
                 r->date[2], r->date[3], r->date[4]);
        doc_meta_set(g->field, iso, strlen(iso));
    }
}

static void control_word(rtf_reader *r, const char *w, bool has_n, long n)
{
    rtf_group *g = top(r);
    bool fresh = g->fresh;
    g->fresh = false;
    if (fresh && !(strcmp(w, "u") == 0 || strcmp(w, "uc") == 0))
        start_destination(r, w);
    g = top(r);
    if (g->dest == DEST_FONTTBL) {
        if (strcmp(w, "f") == 0 && has_n)
            r->font_num = (int)n;
        else if (strcmp(w, "fcharset") == 0 && has_n && r->nfonts < RTF_MAX_FONTS)
            r->fonts[r->nfonts].num = r->font_num, r->fonts[r->nfonts++].charset = (int)n;
        return;
    }
    if (g->dest == DEST_DATE) {
        static const char *const parts[] = {"yr", "mo", "dy", "hr", "min"};
        for (int i = 0; i < 5; i++)
            if (strcmp(w, parts[i]) == 0 && has_n && n >= 0 && n < 10000)
                r->date[i] = (int)n;
        return;
    }
    if (strcmp(w, "ansicpg") == 0 && has_n && n > 0 && n < 100000) {
        r->ansicpg = (int)n;
    } else if (strcmp(w, "uc") == 0 && has_n && n >= 0 && n < 16) {
        g->uc = (int)n;
    } else if (strcmp(w, "u") == 0 && has_n) {
        put_unicode(r, n);
    } else if (strcmp(w, "f") == 0 && has_n) {
        g->codepage = 0;
        for (int i = 0; i < r->nfonts; i++)
            if (r->fonts[i].num == n)
                g->codepage = codepage_of_charset(r->fonts[i].charset, r->ansicpg);
    } else if (strcmp(w, "par") == 0 || strcmp(w, "line") == 0 || strcmp(w, "sect") == 0 ||
               strcmp(w, "row") == 0) {
        put_text(r, "\n");
    } else if (strcmp(w, "page") == 0) {
        flush(r);
        if (g->dest == DEST_TEXT)
            paged_text_new_page(r->out, NULL);
    } else if (strcmp(w, "tab") == 0 || strcmp(w, "cell") == 0) {
        put_text(r, "\t");
    } else if (strcmp(w, "emdash") == 0) {
        put_text(r, "\u2014");
    } else if (strcmp(w, "endash") == 0) {
        put_text(r, "\u2013");
    } else if (strcmp(w, "lquote") == 0) {
        put_text(r, "\u2018");
    } else if (strcmp(w, "rquote") == 0) {
        put_text(r, "\u2019");
    } else if (strcmp(w, "ldblquote") == 0) {
        put_text(r, "\u201C");
    } else if (strcmp(w, "rdblquote") == 0) {
        put_text(r, "\u201D");
    } else if (strcmp(w, "bullet") == 0) {
        put_text(r, "\u2022");
    } else if (strcmp(w, "bin") == 0 && has_n && n > 0) {
        /* Raw bytes of a picture: never text. */
        r->p += (size_t)n < (size_t)(r->end - r->p) ? (size_t)n : (size_t)(r->end - r->p);
    }
}

static int hexval(unsigned char c)
{
    return isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
         : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* After a backslash. */
static void control(rtf_reader *r)
{
    if (r->p >= r->end)
        return;
    unsigned char c = *r->p;
    if (isalpha(c)) {
        char w[33];
        int n = 0;
        while (r->p < r->end && isalpha(*r->p)) {
            if (n < 32)
                w[n++] = (char)*r->p;
            r->p++;
        }
        w[n] = '\0';
        bool has_n = false, neg = false;
        long v = 0;
        if (r->p < r->end && *r->p == '-')
            neg = true, r->p++;
        while (r->p < r->end && isdigit(*r->p)) {
            if (v < 100000000)
                v = v * 10 + (*r->p - '0');
            has_n = true;
            r->p++;
        }
        if (neg)
            v = -v;
        if (r->p < r->end && *r->p == ' ')
            r->p++;   /* the delimiter belongs to the word */
        control_word(r, w, has_n, v);
        return;
    }
    r->p++;
    top(r)->fresh = c == '*' ? top(r)->fresh : false;
    switch (c) {
    case '\'': {
        int hi = r->p < r->end ? hexval(r->p[0]) : -1;
        int lo = r->p + 1 < r->end ? hexval(r->p[1]) : -1;
        if (hi >= 0 && lo >= 0) {
            r->p += 2;
            put_byte(r, (unsigned char)(hi << 4 | lo));
        }
        break;
    }
    case '*':
        top(r)->starred = true;
        top(r)->fresh = true;
        break;
    case '~':
        put_text(r, "\u00A0");
        break;
    case '_':
        put_text(r, "-");
        break;
    case '-':
        break;   /* an optional hyphen: not shown unless the line breaks there */
    case '\n':
    case '\r':
        put_text(r, "\n");
        break;
    default:
        put_byte(r, c);   /* \\ \{ \} */
        break;
    }
}

bool rtf_sniff(const unsigned char *p, size_t n)
{
    return n >= 5 && memcmp(p, "{\\rtf", 5) == 0;
}

int rtf_read(const char *data, size_t len, paged_text *out, dm_err *err)
{
    rtf_reader *r = dm_xcalloc(1, sizeof *r);
    r->p = (const unsigned char *)data;
    r->end = r->p + len;
    r->out = out;
    r->ansicpg = 1252;
    r->cd = (iconv_t)-1;
    r->stack[0] = (rtf_group){.dest = DEST_TEXT, .uc = 1};
    sbuf_init(&r->bytes);
    sbuf_init(&r->field);
    paged_text_new_page(out, NULL);
    int rc = 0;
    while (r->p < r->end && !out->truncated) {
        unsigned char c = *r->p++;
        if (c == '{') {
            flush(r);
            if (r->depth + 1 >= RTF_MAX_DEPTH) {
                dm_err_set(err, true, "RTF groups nested deeper than %d", RTF_MAX_DEPTH);
                rc = -1;
                break;
            }
            r->stack[r->depth + 1] = r->stack[r->depth];
            r->depth++;
            top(r)->fresh = true;
            top(r)->starred = false;
            r->skip = 0;
        } else if (c == '}') {
            end_group(r);
            if (r->depth > 0)
                r->depth--;
            r->skip = 0;
        } else if (c == '\\') {
            control(r);
        } else if (c == '\r' || c == '\n') {
            /* line breaks in the file are not text */
        } else {
            top(r)->fresh = false;
            put_byte(r, c);
        }
    }
    flush(r);
    sbuf_free(&r->bytes);
    sbuf_free(&r->field);
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
    free(r);
    return rc;
}
