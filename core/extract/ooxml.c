#include "extract/ooxml.h"

#include <libxml/xmlreader.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_NAME_MAX 512

/* One read of a package: where the text goes and what went wrong. */
typedef struct ooxml_ctx {
    fz_context *ctx;
    fz_archive *zip;
    expand_budget *budget;
    paged_text *out;
    dm_err *err;
    bool failed;
} ooxml_ctx;

/* A part being streamed: the zip entry's inflating stream under libxml2's
 * reader. */
typedef struct part {
    ooxml_ctx *ox;
    const char *name;
    fz_stream *stm;
    bool stream_failed;
    xmlTextReaderPtr r;
} part;

static int part_io_read(void *ud, char *buf, int len)
{
    part *p = ud;
    fz_context *ctx = p->ox->ctx;
    volatile size_t n = 0;
    /* MuPDF's errors jump; they must not jump across libxml2's frames. */
    fz_try(ctx) n = fz_read(ctx, p->stm, (unsigned char *)buf, (size_t)len);
    fz_catch(ctx)
    {
        p->stream_failed = true;
        return -1;
    }
    if (!expand_budget_take(p->ox->budget, n))
        return -1;
    return (int)n;
}

static int part_io_close(void *ud)
{
    (void)ud;
    return 0;
}

static bool fail(ooxml_ctx *ox, const char *fmt, const char *what)
{
    if (!ox->failed)
        dm_err_set(ox->err, true, fmt, what);
    ox->failed = true;
    return false;
}

/* Opens a part for streaming: 1, or 0 when the package has no such part
 * (absent parts are normal: no footnotes, no shared strings), or -1. */
static int part_open(ooxml_ctx *ox, const char *name, part *p)
{
    memset(p, 0, sizeof *p);
    p->ox = ox;
    p->name = name;
    fz_context *ctx = ox->ctx;
    fz_stream *volatile stm = NULL;
    volatile int found = 0;
    fz_try(ctx)
    {
        found = fz_has_archive_entry(ctx, ox->zip, name);
        if (found)
            stm = fz_open_archive_entry(ctx, ox->zip, name);
    }
    fz_catch(ctx)
    {
        fail(ox, "damaged zip: cannot open part %s", name);
        return -1;
    }
    if (!found)
        return 0;
    p->stm = stm;
    /* No network, no DTD, no entity substitution: a part is data. */
    p->r = xmlReaderForIO(part_io_read, part_io_close, p, name, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                              XML_PARSE_COMPACT);
    if (!p->r) {
        fz_drop_stream(ctx, stm);
        p->stm = NULL;
        fail(ox, "cannot read part %s", name);
        return -1;
    }
    return 1;
}

/* Ends a part; false (with the error set) when its reading failed. */
static bool part_close(part *p, int last_read)
{
    if (p->r)
        xmlFreeTextReader(p->r);
    fz_drop_stream(p->ox->ctx, p->stm);
    p->r = NULL;
    p->stm = NULL;
    if (last_read >= 0)
        return true;
    ooxml_ctx *ox = p->ox;
    if (ox->budget->cut) {
        if (!ox->failed)
            dm_err_set(ox->err, true, "limit %s: part %s inflates past it (a zip bomb?)",
                       ox->budget->cut, p->name);
        ox->failed = true;
        return false;
    }
    if (p->stream_failed)
        return fail(ox, "damaged zip: part %s cannot be inflated", p->name);
    return fail(ox, "part %s is not well-formed XML", p->name);
}

static bool has_part(ooxml_ctx *ox, const char *name)
{
    volatile int found = 0;
    fz_try(ox->ctx) found = fz_has_archive_entry(ox->ctx, ox->zip, name);
    fz_catch(ox->ctx) found = 0;
    return found;
}

/* The package's main part, which must be there. */
static bool open_main(ooxml_ctx *ox, const char *name, part *p)
{
    int rc = part_open(ox, name, p);
    if (rc == 0)
        fail(ox, "the main part %s is missing", name);
    return rc == 1;
}

static const char *local(part *p)
{
    return (const char *)xmlTextReaderConstLocalName(p->r);
}

static bool is(part *p, const char *name)
{
    const char *l = local(p);
    return l && strcmp(l, name) == 0;
}

/* An attribute by local name whatever its namespace (r:id, Id...), as a
 * copy the caller frees with xmlFree, or NULL. */
static char *attr(part *p, const char *name)
{
    char *v = NULL;
    if (xmlTextReaderMoveToFirstAttribute(p->r) == 1) {
        do {
            const char *l = (const char *)xmlTextReaderConstLocalName(p->r);
            if (l && strcmp(l, name) == 0) {
                v = (char *)xmlTextReaderValue(p->r);
                break;
            }
        } while (xmlTextReaderMoveToNextAttribute(p->r) == 1);
        xmlTextReaderMoveToElement(p->r);
    }
    return v;
}

static bool attr_is(part *p, const char *name, const char *want)
{
    char *v = attr(p, name);
    bool yes = v && strcmp(v, want) == 0;
    xmlFree(v);
    return yes;
}

static int node_type(part *p)
{
    return xmlTextReaderNodeType(p->r);
}

static bool is_start(part *p)
{
    return node_type(p) == XML_READER_TYPE_ELEMENT;
}

/* The end of an element: its end tag, or an empty element (<w:p/>). */
static bool is_end(part *p)
{
    return node_type(p) == XML_READER_TYPE_END_ELEMENT ||
           (is_start(p) && xmlTextReaderIsEmptyElement(p->r) == 1);
}

static bool is_text(part *p)
{
    int t = node_type(p);
    return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
           t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE;
}

/* Skips the element the reader is on, children and all; returns the next
 * read's result. */
static int skip(part *p)
{
    return xmlTextReaderNext(p->r);
}

static void put(ooxml_ctx *ox, const char *s)
{
    paged_text_append(ox->out, s, strlen(s));
}

static void put_value(ooxml_ctx *ox, part *p)
{
    const char *v = (const char *)xmlTextReaderConstValue(p->r);
    if (v)
        put(ox, v);
}

/* ---- package structure: relationships and part names ---- */

typedef struct rel {
    char id[64];
    char type_tail[48];   /* the relationship type after its last '/' */
    char target[PART_NAME_MAX];
} rel;

typedef struct rels {
    rel *items;
    int count, cap;
} rels;

static void rels_free(rels *rs)
{
    free(rs->items);
    memset(rs, 0, sizeof *rs);
}

/* dir of part ("xl/workbook.xml" -> "xl/") joined with a relative target,
 * "." and ".." resolved; a target starting with '/' is from the root.
 * Names inside a package are zip entry names, never file paths. */
static void resolve(const char *base, const char *target, char *out, size_t cap)
{
    char joined[2 * PART_NAME_MAX];
    if (target[0] == '/') {
        snprintf(joined, sizeof joined, "%s", target + 1);
    } else {
        const char *slash = strrchr(base, '/');
        int dir = slash ? (int)(slash - base + 1) : 0;
        snprintf(joined, sizeof joined, "%.*s%s", dir, base, target);
    }
    /* Segment by segment, dropping "." and popping at "..". */
    char *segs[128];
    int n = 0;
    for (char *save = NULL, *s = strtok_r(joined, "/", &save); s && n < 128;
         s = strtok_r(NULL, "/", &save)) {
        if (strcmp(s, ".") == 0)
            continue;
        if (strcmp(s, "..") == 0) {
            if (n > 0)
                n--;
            continue;
        }
        segs[n++] = s;
    }
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", segs[i]);
}

/* The relationships of a part ("xl/workbook.xml" -> "xl/_rels/workbook.xml.rels"),
 * targets resolved to part names; external targets left out. */
static bool read_rels(ooxml_ctx *ox, const char *of_part, rels *out)
{
    memset(out, 0, sizeof *out);
    char name[PART_NAME_MAX + 16];
    const char *slash = strrchr(of_part, '/');
    int dir = slash ? (int)(slash - of_part + 1) : 0;
    snprintf(name, sizeof name, "%.*s_rels/%s.rels", dir, of_part, of_part + dir);
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    while ((rc = xmlTextReaderRead(p.r)) == 1) {
        if (!is_start(&p) || !is(&p, "Relationship") || attr_is(&p, "TargetMode", "External"))
            continue;
        char *id = attr(&p, "Id"), *type = attr(&p, "Type"), *target = attr(&p, "Target");
        if (id && type && target) {
            if (out->count == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 16;
                out->items = dm_xrealloc(out->items, (size_t)out->cap * sizeof *out->items);
            }
            rel *r = &out->items[out->count++];
            snprintf(r->id, sizeof r->id, "%s", id);
            const char *tail = strrchr(type, '/');
            snprintf(r->type_tail, sizeof r->type_tail, "%s", tail ? tail + 1 : type);
            resolve(of_part, target, r->target, sizeof r->target);
        }
        xmlFree(id);
        xmlFree(type);
        xmlFree(target);
    }
    return part_close(&p, rc);
}

static const rel *rel_by_id(const rels *rs, const char *id)
{
    for (int i = 0; id && i < rs->count; i++)
        if (strcmp(rs->items[i].id, id) == 0)
            return &rs->items[i];
    return NULL;
}

static const rel *rel_by_type(const rels *rs, const char *type_tail)
{
    for (int i = 0; i < rs->count; i++)
        if (strcmp(rs->items[i].type_tail, type_tail) == 0)
            return &rs->items[i];
    return NULL;
}

/* ---- detection ---- */

const char *ooxml_mime(ooxml_kind kind)
{
    switch (kind) {
    case OOXML_DOCX:
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    case OOXML_XLSX:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    case OOXML_PPTX:
        return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    default:
        return NULL;
    }
}

static ooxml_kind kind_of_content_type(const char *ct)
{
    size_t n = strlen(ct);
    /* "...document.main+xml", "...sheet.macroEnabled.main+xml"; a
     * binary workbook (.xlsb) is "...sheet.binary.macroEnabled.main". */
    if (n < 9 || strcmp(ct + n - 9, ".main+xml") != 0 || strstr(ct, ".binary."))
        return OOXML_NONE;
    if (strstr(ct, "wordprocessingml") || strstr(ct, "ms-word"))
        return OOXML_DOCX;
    if (strstr(ct, "spreadsheetml") || strstr(ct, "ms-excel"))
        return OOXML_XLSX;
    if (strstr(ct, "presentationml") || strstr(ct, "ms-powerpoint"))
        return OOXML_PPTX;
    return OOXML_NONE;
}

ooxml_kind ooxml_detect(fz_context *ctx, fz_archive *zip, char *main_part, size_t cap)
{
    if (!fz_has_archive_entry(ctx, zip, "[Content_Types].xml"))
        return OOXML_NONE;
    /* Content types are a few KB at most; no budget needed beyond a cap. */
    expand_budget budget = {.max_bytes = 4 << 20};
    dm_err err;
    paged_text unused;
    paged_text_init(&unused, 0);
    ooxml_ctx ox = {.ctx = ctx, .zip = zip, .budget = &budget, .out = &unused, .err = &err};
    part p;
    ooxml_kind kind = OOXML_NONE;
    if (part_open(&ox, "[Content_Types].xml", &p) != 1)
        return OOXML_NONE;
    int rc;
    while (kind == OOXML_NONE && (rc = xmlTextReaderRead(p.r)) == 1) {
        if (!is_start(&p) || !is(&p, "Override"))
            continue;
        char *ct = attr(&p, "ContentType"), *name = attr(&p, "PartName");
        if (ct && name && (kind = kind_of_content_type(ct)) != OOXML_NONE)
            resolve("", name, main_part, cap);
        xmlFree(ct);
        xmlFree(name);
    }
    part_close(&p, 0);
    paged_text_free(&unused);
    return kind;
}

/* ---- docx ---- */

/* One WordprocessingML part (body, header, notes...): its text. */
static bool docx_part(ooxml_ctx *ox, const char *name)
{
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    int in_t = 0;
    rc = xmlTextReaderRead(p.r);
    while (rc == 1) {
        if (is_start(&p)) {
            /* Field codes (" MERGEFORMAT ", " HYPERLINK ..."): the field's
             * shown result follows as ordinary runs. Deleted text, and the
             * VML copy Word keeps of every text box for old readers. */
            if (is(&p, "instrText") || is(&p, "delText") || is(&p, "delInstrText") || is(&p, "Fallback") ||
                is(&p, "pPr") || is(&p, "rPr") || is(&p, "sectPr") || is(&p, "tblPr") || is(&p, "tcPr") ||
                is(&p, "trPr")) {
                /* (properties hold no text; their w:tab are tab stops) */
                rc = skip(&p);
                continue;
            }
            if (is(&p, "t") && !xmlTextReaderIsEmptyElement(p.r))
                in_t = xmlTextReaderDepth(p.r) + 1;
            else if (is(&p, "tab"))
                put(ox, "\t");
            else if (is(&p, "noBreakHyphen"))
                put(ox, "-");
            else if (is(&p, "br") || is(&p, "cr")) {
                if (attr_is(&p, "type", "page"))
                    paged_text_new_page(ox->out, NULL);
                else
                    put(ox, "\n");
            } else if (is(&p, "lastRenderedPageBreak")) {
                paged_text_new_page(ox->out, NULL);
            }
        }
        if (in_t && is_text(&p) && xmlTextReaderDepth(p.r) == in_t)
            put_value(ox, &p);
        if (is_end(&p)) {
            if (is(&p, "t"))
                in_t = 0;
            else if (is(&p, "p"))
                put(ox, "\n");
            else if (is(&p, "tc"))
                put(ox, "\t");
            else if (is(&p, "tr"))
                paged_text_break(ox->out, "\n");
        }
        rc = xmlTextReaderRead(p.r);
    }
    return part_close(&p, rc);
}

static bool read_docx(ooxml_ctx *ox, const char *main_part)
{
    if (!has_part(ox, main_part))
        return fail(ox, "the main part %s is missing", main_part);
    if (!docx_part(ox, main_part))
        return false;
    rels rs;
    if (!read_rels(ox, main_part, &rs))
        return false;
    /* The rest in a fixed order, each kind as listed in the relationships. */
    static const char *const extra[] = {"header", "footer", "footnotes", "endnotes", "comments"};
    bool ok = true;
    for (size_t k = 0; ok && k < sizeof extra / sizeof extra[0]; k++)
        for (int i = 0; ok && i < rs.count; i++)
            if (strcmp(rs.items[i].type_tail, extra[k]) == 0) {
                paged_text_break(ox->out, "\n");
                ok = docx_part(ox, rs.items[i].target);
            }
    rels_free(&rs);
    return ok;
}

/* ---- xlsx ---- */

typedef struct strings {
    char **items;
    int count, cap;
} strings;

static void strings_free(strings *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static void strings_add(strings *s, char *owned)
{
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = dm_xrealloc(s->items, (size_t)s->cap * sizeof *s->items);
    }
    s->items[s->count++] = owned;
}

/* The text of a rich string (<si>, <is>): its <t>s, phonetic guides
 * (<rPh>, furigana) left out. The reader is on the element's start. */
static int rich_string(part *p, sbuf *out)
{
    int depth = xmlTextReaderDepth(p->r);
    if (xmlTextReaderIsEmptyElement(p->r))
        return xmlTextReaderRead(p->r);
    int rc = xmlTextReaderRead(p->r), in_t = 0;
    while (rc == 1 && !(node_type(p) == XML_READER_TYPE_END_ELEMENT &&
                        xmlTextReaderDepth(p->r) == depth)) {
        if (is_start(p) && (is(p, "rPh") || is(p, "phoneticPr"))) {
            rc = skip(p);
            continue;
        }
        if (is_start(p) && is(p, "t") && !xmlTextReaderIsEmptyElement(p->r))
            in_t = 1;
        else if (node_type(p) == XML_READER_TYPE_END_ELEMENT && is(p, "t"))
            in_t = 0;
        else if (in_t && is_text(p)) {
            const char *v = (const char *)xmlTextReaderConstValue(p->r);
            if (v)
                sbuf_append(out, v, strlen(v));
        }
        rc = xmlTextReaderRead(p->r);
    }
    return rc;
}

static bool shared_strings(ooxml_ctx *ox, const char *name, strings *out)
{
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    rc = xmlTextReaderRead(p.r);
    while (rc == 1) {
        if (is_start(&p) && is(&p, "si")) {
            sbuf s;
            sbuf_init(&s);
            rc = rich_string(&p, &s);
            sbuf_putc(&s, '\0');
            strings_add(out, sbuf_take(&s));
            continue;
        }
        rc = xmlTextReaderRead(p.r);
    }
    return part_close(&p, rc);
}

/* Whether a number format shows a date or a time: Excel's built-in date
 * formats (Japanese ones included), or a custom code with y/m/d/h/s (or
 * the Japanese era's g/e) outside quotes, brackets and escapes. */
static bool date_format(int id, const char *code)
{
    if ((id >= 14 && id <= 22) || (id >= 27 && id <= 36) || (id >= 45 && id <= 47) ||
        (id >= 50 && id <= 58))
        return true;
    if (!code)
        return false;
    for (const char *c = code; *c; c++) {
        if (*c == '"') {
            const char *q = strchr(c + 1, '"');
            if (!q)
                return false;
            c = q;
        } else if (*c == '\\' || *c == '_' || *c == '*') {
            if (!*++c)
                return false;
        } else if (*c == '[') {
            /* [h], [mm], [ss]: elapsed time; [$-411], [Red]: not a date mark */
            const char *q = strchr(c, ']');
            if (!q)
                return false;
            if (c[1] && strchr("hHmMsS", c[1]))
                return true;
            c = q;
        } else if (strchr("yYmMdDhHsSgGeE", *c)) {
            if ((*c == 'G' || *c == 'g') && strncmp(c, "General", 7) == 0) {
                c += 6;
                continue;
            }
            if ((*c == 'E' || *c == 'e') && (c[1] == '+' || c[1] == '-'))
                continue;   /* 0.00E+00: scientific, not the era */
            return true;
        }
    }
    return false;
}

typedef struct styles {
    bool *is_date;   /* per cell style (cellXfs index) */
    int count;
} styles;

static bool read_styles(ooxml_ctx *ox, const char *name, styles *out)
{
    memset(out, 0, sizeof *out);
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    /* Custom formats first (numFmts), then the cell styles (cellXfs). */
    int fmt_ids[512];
    char *fmt_codes[512];
    int nfmt = 0, cap = 0;
    bool in_xfs = false;
    while ((rc = xmlTextReaderRead(p.r)) == 1) {
        if (is_start(&p) && is(&p, "numFmt") && nfmt < 512) {
            char *id = attr(&p, "numFmtId");
            fmt_ids[nfmt] = id ? atoi(id) : -1;
            fmt_codes[nfmt++] = attr(&p, "formatCode");
            xmlFree(id);
        } else if (is(&p, "cellXfs")) {
            in_xfs = is_start(&p) && !xmlTextReaderIsEmptyElement(p.r);
        } else if (in_xfs && is_start(&p) && is(&p, "xf")) {
            char *id = attr(&p, "numFmtId");
            int fid = id ? atoi(id) : 0;
            xmlFree(id);
            const char *code = NULL;
            for (int i = 0; i < nfmt; i++)
                if (fmt_ids[i] == fid)
                    code = fmt_codes[i];
            if (out->count == cap) {
                cap = cap ? cap * 2 : 64;
                out->is_date = dm_xrealloc(out->is_date, (size_t)cap * sizeof *out->is_date);
            }
            out->is_date[out->count++] = date_format(fid, code);
        }
    }
    for (int i = 0; i < nfmt; i++)
        xmlFree(fmt_codes[i]);
    return part_close(&p, rc);
}

/* A serial date (days since 1899-12-30, or 1904-01-01) as shown: ISO date,
 * with the time when it has one; a time alone below one day. */
static void format_date(double serial, bool date1904, char *out, size_t cap)
{
    /* Excel's dates end with 9999-12-31; beyond, it shows ##### */
    if (serial < 0 || serial >= 2958466) {
        snprintf(out, cap, "%.15g", serial);
        return;
    }
    double whole = floor(serial);
    int secs = (int)llround((serial - whole) * 86400.0);
    if (secs >= 86400)
        whole += 1, secs -= 86400;
    if (serial < 1 && !date1904) {
        snprintf(out, cap, "%02d:%02d:%02d", secs / 3600 % 100, secs / 60 % 60, secs % 60);
        return;
    }
    /* Excel's 1900 system counts a 29 February 1900 that never was. */
    long days = (long)whole + (date1904 ? 1462 : 0);
    if (!date1904 && whole < 61)
        days += 1;
    /* Days since 1970-01-01, then the civil date (Howard Hinnant's). */
    long z = days - 25569 + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* (the moduli only tell the compiler the widths: the values fit) */
    int yy = (int)(y % 10000), mm = (int)(m % 100), dd = (int)(d % 100);
    if (secs == 0)
        snprintf(out, cap, "%04d-%02d-%02d", yy, mm, dd);
    else
        snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d", yy, mm, dd, secs / 3600 % 100,
                 secs / 60 % 60, secs % 60);
}

typedef struct sheet_ctx {
    const strings *sst;
    const styles *st;
    bool date1904;
} sheet_ctx;

/* A number or boolean cell's value as shown, into out. */
static void number_text(const sheet_ctx *sc, const char *type, int style, const char *v, char *out,
                        size_t cap)
{
    out[0] = '\0';
    if (!v || !*v)
        return;
    if (type && strcmp(type, "b") == 0) {
        snprintf(out, cap, "%s", strcmp(v, "1") == 0 ? "TRUE" : "FALSE");
    } else {
        char *end;
        double x = strtod(v, &end);
        if (end == v || !isfinite(x))
            snprintf(out, cap, "%s", v);
        else if (style >= 0 && style < sc->st->count && sc->st->is_date[style])
            format_date(x, sc->date1904, out, cap);
        else
            /* 15 digits: what Excel shows, without binary noise
             * (0.30000000000000004 is 0.3). */
            snprintf(out, cap, "%.15g", x);
    }
}

static bool read_sheet(ooxml_ctx *ox, const char *name, const sheet_ctx *sc)
{
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    char *type = NULL;
    int style = -1, in_v = 0, cells_in_row = 0;
    sbuf value;
    sbuf_init(&value);
    rc = xmlTextReaderRead(p.r);
    while (rc == 1) {
        if (is_start(&p) && is(&p, "c")) {
            xmlFree(type);
            type = attr(&p, "t");
            char *s = attr(&p, "s");
            style = s ? atoi(s) : -1;
            xmlFree(s);
            sbuf_reset(&value);
        } else if (is_start(&p) && is(&p, "is")) {
            rc = rich_string(&p, &value);
            continue;
        } else if (is_start(&p) && is(&p, "v") && !xmlTextReaderIsEmptyElement(p.r)) {
            in_v = 1;
        } else if (in_v && is_text(&p)) {
            const char *v = (const char *)xmlTextReaderConstValue(p.r);
            if (v)
                sbuf_append(&value, v, strlen(v));
        } else if (is_end(&p) && is(&p, "v")) {
            in_v = 0;
        }
        if (is_end(&p) && is(&p, "c")) {
            sbuf_putc(&value, '\0');
            value.len--;
            char buf[64];
            const char *text = buf;
            if (type && (strcmp(type, "inlineStr") == 0 || strcmp(type, "str") == 0 ||
                         strcmp(type, "e") == 0 || strcmp(type, "d") == 0))
                text = value.data ? value.data : "";
            else if (type && strcmp(type, "s") == 0) {
                long i = value.data ? strtol(value.data, NULL, 10) : -1;
                text = i >= 0 && i < sc->sst->count ? sc->sst->items[i] : "";
            } else
                number_text(sc, type, style, value.data, buf, sizeof buf);
            if (*text) {
                if (cells_in_row++ > 0)
                    put(ox, "\t");
                put(ox, text);
            }
        }
        if (is_end(&p) && is(&p, "row")) {
            if (cells_in_row > 0)
                put(ox, "\n");
            cells_in_row = 0;
        }
        rc = xmlTextReaderRead(p.r);
    }
    xmlFree(type);
    sbuf_free(&value);
    return part_close(&p, rc);
}

static bool read_xlsx(ooxml_ctx *ox, const char *main_part)
{
    rels rs;
    if (!read_rels(ox, main_part, &rs))
        return false;
    strings sst = {0};
    styles st = {0};
    sheet_ctx sc = {.sst = &sst, .st = &st};
    const rel *r = rel_by_type(&rs, "sharedStrings");
    bool ok = !r || shared_strings(ox, r->target, &sst);
    r = rel_by_type(&rs, "styles");
    ok = ok && (!r || read_styles(ox, r->target, &st));
    /* The workbook: its sheets in order, each a page named after it. */
    part p;
    int rc = 0;
    bool opened = ok && open_main(ox, main_part, &p);
    ok = opened;
    while (ok && (rc = xmlTextReaderRead(p.r)) == 1) {
        if (!is_start(&p))
            continue;
        if (is(&p, "workbookPr")) {
            sc.date1904 = attr_is(&p, "date1904", "1") || attr_is(&p, "date1904", "true");
        } else if (is(&p, "sheet")) {
            char *name = attr(&p, "name"), *id = attr(&p, "id");
            const rel *sr = rel_by_id(&rs, id);
            /* Chart sheets and dialog sheets hold no cells. */
            if (sr && strcmp(sr->type_tail, "worksheet") == 0) {
                paged_text_new_page(ox->out, name);
                if (name) {
                    put(ox, name);
                    put(ox, "\n");
                }
                /* The workbook's reader is mid-part: a sheet is read with
                 * a reader of its own. */
                ok = read_sheet(ox, sr->target, &sc);
            }
            xmlFree(name);
            xmlFree(id);
        }
    }
    if (opened) {
        bool closed = part_close(&p, ok ? rc : 0);
        ok = ok && closed;
    }
    strings_free(&sst);
    free(st.is_date);
    rels_free(&rs);
    return ok;
}

/* ---- pptx ---- */

/* A slide or its notes: DrawingML paragraphs as lines, table cells split
 * by tabs. */
static bool slide_part(ooxml_ctx *ox, const char *name)
{
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    int in_t = 0;
    rc = xmlTextReaderRead(p.r);
    while (rc == 1) {
        if (is_start(&p)) {
            if (is(&p, "Fallback") || is(&p, "pPr") || is(&p, "rPr") || is(&p, "bodyPr") || is(&p, "spPr") ||
                is(&p, "endParaRPr")) {
                rc = skip(&p);
                continue;
            }
            if (is(&p, "t") && !xmlTextReaderIsEmptyElement(p.r))
                in_t = 1;
            else if (is(&p, "br"))
                put(ox, "\n");
        }
        if (in_t && is_text(&p))
            put_value(ox, &p);
        if (is_end(&p)) {
            if (is(&p, "t"))
                in_t = 0;
            else if (is(&p, "p"))
                paged_text_break(ox->out, "\n");
            else if (is(&p, "tc"))
                put(ox, "\t");
            else if (is(&p, "tr"))
                paged_text_break(ox->out, "\n");
        }
        rc = xmlTextReaderRead(p.r);
    }
    return part_close(&p, rc);
}

static bool read_pptx(ooxml_ctx *ox, const char *main_part)
{
    rels rs;
    if (!read_rels(ox, main_part, &rs))
        return false;
    /* The slides in the presentation's order (sldIdLst), not the zip's. */
    char (*slides)[PART_NAME_MAX] = NULL;
    int n = 0, cap = 0;
    part p;
    int rc = 0;
    bool opened = open_main(ox, main_part, &p), ok = opened;
    while (ok && (rc = xmlTextReaderRead(p.r)) == 1) {
        if (!is_start(&p) || !is(&p, "sldId"))
            continue;
        /* sldId has an id="256" of its own and the r:id; the latter
         * (the one in a namespace) names a relationship. */
        char *rid = NULL;
        if (xmlTextReaderMoveToFirstAttribute(p.r) == 1) {
            do {
                const char *l = (const char *)xmlTextReaderConstLocalName(p.r);
                const char *ns = (const char *)xmlTextReaderConstNamespaceUri(p.r);
                if (l && ns && strcmp(l, "id") == 0)
                    rid = (char *)xmlTextReaderValue(p.r);
            } while (!rid && xmlTextReaderMoveToNextAttribute(p.r) == 1);
            xmlTextReaderMoveToElement(p.r);
        }
        const rel *r = rel_by_id(&rs, rid);
        if (r) {
            if (n == cap) {
                cap = cap ? cap * 2 : 32;
                slides = dm_xrealloc(slides, (size_t)cap * sizeof *slides);
            }
            snprintf(slides[n++], PART_NAME_MAX, "%s", r->target);
        }
        xmlFree(rid);
    }
    if (opened) {
        bool closed = part_close(&p, rc);
        ok = ok && closed;
    }
    for (int i = 0; ok && i < n; i++) {
        paged_text_new_page(ox->out, NULL);
        ok = slide_part(ox, slides[i]);
        rels srs;
        if (ok && (ok = read_rels(ox, slides[i], &srs))) {
            const rel *notes = rel_by_type(&srs, "notesSlide");
            if (notes) {
                paged_text_break(ox->out, "\n");
                ok = slide_part(ox, notes->target);
            }
            rels_free(&srs);
        }
    }
    free(slides);
    rels_free(&rs);
    return ok;
}

/* ---- metadata ---- */

static bool read_core_props(ooxml_ctx *ox)
{
    rels rs;
    if (!read_rels(ox, "", &rs))
        return false;
    const rel *r = rel_by_type(&rs, "core-properties");
    char name[PART_NAME_MAX];
    snprintf(name, sizeof name, "%s", r ? r->target : "docProps/core.xml");
    rels_free(&rs);
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    doc_meta *m = &ox->out->meta;
    char **field = NULL;
    sbuf v;
    sbuf_init(&v);
    while ((rc = xmlTextReaderRead(p.r)) == 1) {
        if (is_start(&p)) {
            field = is(&p, "title") ? &m->title : is(&p, "creator") ? &m->author
                  : is(&p, "subject") ? &m->subject : is(&p, "keywords") ? &m->keywords
                  : is(&p, "created") ? &m->created : is(&p, "modified") ? &m->modified : NULL;
            sbuf_reset(&v);
        } else if (field && is_text(&p)) {
            const char *t = (const char *)xmlTextReaderConstValue(p.r);
            if (t)
                sbuf_append(&v, t, strlen(t));
        } else if (field && node_type(&p) == XML_READER_TYPE_END_ELEMENT) {
            doc_meta_set(field, v.data, v.len);
            field = NULL;
        }
    }
    sbuf_free(&v);
    /* Metadata is a bonus: damaged properties do not fail the document. */
    if (rc < 0 && !ox->budget->cut) {
        part_close(&p, 0);
        return true;
    }
    return part_close(&p, rc);
}

int ooxml_read(fz_context *ctx, fz_archive *zip, ooxml_kind kind, const char *main_part,
               expand_budget *budget, paged_text *out, dm_err *err)
{
    ooxml_ctx ox = {.ctx = ctx, .zip = zip, .budget = budget, .out = out, .err = err};
    bool ok = kind == OOXML_DOCX   ? read_docx(&ox, main_part)
              : kind == OOXML_XLSX ? read_xlsx(&ox, main_part)
              : kind == OOXML_PPTX ? read_pptx(&ox, main_part)
                                   : fail(&ox, "%s", "not an Office Open XML package");
    ok = ok && read_core_props(&ox);
    if (!ok)
        return -1;
    paged_text_trim(out);
    return 0;
}
