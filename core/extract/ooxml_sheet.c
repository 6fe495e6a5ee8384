/* The SpreadsheetML half of ooxml.c: a workbook's sheets as named pages,
 * values as Excel shows them (shared strings, numbers, dates, booleans). */
#include "extract/ooxml_part.h"

#include <libxml/xmlreader.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    while (rc == 1 && !(part_node_type(p) == XML_READER_TYPE_END_ELEMENT &&
                        xmlTextReaderDepth(p->r) == depth)) {
        if (part_is_start(p) && (part_is(p, "rPh") || part_is(p, "phoneticPr"))) {
            rc = part_skip(p);
            continue;
        }
        if (part_is_start(p) && part_is(p, "t") && !xmlTextReaderIsEmptyElement(p->r))
            in_t = 1;
        else if (part_node_type(p) == XML_READER_TYPE_END_ELEMENT && part_is(p, "t"))
            in_t = 0;
        else if (in_t && part_is_text(p)) {
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
        if (part_is_start(&p) && part_is(&p, "si")) {
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
        if (part_is_start(&p) && part_is(&p, "numFmt") && nfmt < 512) {
            char *id = part_attr(&p, "numFmtId");
            fmt_ids[nfmt] = id ? atoi(id) : -1;
            fmt_codes[nfmt++] = part_attr(&p, "formatCode");
            xmlFree(id);
        } else if (part_is(&p, "cellXfs")) {
            in_xfs = part_is_start(&p) && !xmlTextReaderIsEmptyElement(p.r);
        } else if (in_xfs && part_is_start(&p) && part_is(&p, "xf")) {
            char *id = part_attr(&p, "numFmtId");
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
    long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
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
        if (part_is_start(&p) && part_is(&p, "c")) {
            xmlFree(type);
            type = part_attr(&p, "t");
            char *s = part_attr(&p, "s");
            style = s ? atoi(s) : -1;
            xmlFree(s);
            sbuf_reset(&value);
        } else if (part_is_start(&p) && part_is(&p, "is")) {
            rc = rich_string(&p, &value);
            continue;
        } else if (part_is_start(&p) && part_is(&p, "v") && !xmlTextReaderIsEmptyElement(p.r)) {
            in_v = 1;
        } else if (in_v && part_is_text(&p)) {
            const char *v = (const char *)xmlTextReaderConstValue(p.r);
            if (v)
                sbuf_append(&value, v, strlen(v));
        } else if (part_is_end(&p) && part_is(&p, "v")) {
            in_v = 0;
        }
        if (part_is_end(&p) && part_is(&p, "c")) {
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
                    ox_put(ox, "\t");
                ox_put(ox, text);
            }
        }
        if (part_is_end(&p) && part_is(&p, "row")) {
            if (cells_in_row > 0)
                ox_put(ox, "\n");
            cells_in_row = 0;
        }
        rc = xmlTextReaderRead(p.r);
    }
    xmlFree(type);
    sbuf_free(&value);
    return part_close(&p, rc);
}

bool ooxml_read_xlsx(ooxml_ctx *ox, const char *main_part)
{
    rels rs;
    if (!ox_read_rels(ox, main_part, &rs))
        return false;
    strings sst = {0};
    styles st = {0};
    sheet_ctx sc = {.sst = &sst, .st = &st};
    const rel *r = ox_rel_by_type(&rs, "sharedStrings");
    bool ok = !r || shared_strings(ox, r->target, &sst);
    r = ox_rel_by_type(&rs, "styles");
    ok = ok && (!r || read_styles(ox, r->target, &st));
    /* The workbook: its sheets in order, each a page named after it. */
    part p;
    int rc = 0;
    bool opened = ok && ox_open_main(ox, main_part, &p);
    ok = opened;
    while (ok && (rc = xmlTextReaderRead(p.r)) == 1) {
        if (!part_is_start(&p))
            continue;
        if (part_is(&p, "workbookPr")) {
            sc.date1904 = part_attr_is(&p, "date1904", "1") || part_attr_is(&p, "date1904", "true");
        } else if (part_is(&p, "sheet")) {
            char *name = part_attr(&p, "name"), *id = part_attr(&p, "id");
            const rel *sr = ox_rel_by_id(&rs, id);
            /* Chart sheets and dialog sheets hold no cells. */
            if (sr && strcmp(sr->type_tail, "worksheet") == 0) {
                paged_text_new_page(ox->out, name);
                if (name) {
                    ox_put(ox, name);
                    ox_put(ox, "\n");
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
    ox_rels_free(&rs);
    return ok;
}

