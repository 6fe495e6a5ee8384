#include "extract/ooxml.h"
#include "extract/ooxml_part.h"

#include <libxml/xmlreader.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


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

bool ox_fail(ooxml_ctx *ox, const char *fmt, const char *what)
{
    if (!ox->failed)
        dm_err_set(ox->err, true, fmt, what);
    ox->failed = true;
    return false;
}

/* Opens a part for streaming: 1, or 0 when the package has no such part
 * (absent parts are normal: no footnotes, no shared strings), or -1. */
int part_open(ooxml_ctx *ox, const char *name, part *p)
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
        ox_fail(ox, "damaged zip: cannot open part %s", name);
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
        ox_fail(ox, "cannot read part %s", name);
        return -1;
    }
    return 1;
}

/* Ends a part; false (with the error set) when its reading failed. */
bool part_close(part *p, int last_read)
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
        return ox_fail(ox, "damaged zip: part %s cannot be inflated", p->name);
    return ox_fail(ox, "part %s is not well-formed XML", p->name);
}

bool ox_has_part(ooxml_ctx *ox, const char *name)
{
    volatile int found = 0;
    fz_try(ox->ctx) found = fz_has_archive_entry(ox->ctx, ox->zip, name);
    fz_catch(ox->ctx) found = 0;
    return found;
}

/* The package's main part, which must be there. */
bool ox_open_main(ooxml_ctx *ox, const char *name, part *p)
{
    int rc = part_open(ox, name, p);
    if (rc == 0)
        ox_fail(ox, "the main part %s is missing", name);
    return rc == 1;
}

const char *part_local(part *p)
{
    return (const char *)xmlTextReaderConstLocalName(p->r);
}

bool part_is(part *p, const char *name)
{
    const char *l = part_local(p);
    return l && strcmp(l, name) == 0;
}

bool part_is_one_of(part *p, const char *const *names)
{
    const char *l = part_local(p);
    for (; l && *names; names++)
        if (strcmp(l, *names) == 0)
            return true;
    return false;
}

/* An attribute by local name whatever its namespace (r:id, Id...), as a
 * copy the caller frees with xmlFree, or NULL. */
char *part_attr(part *p, const char *name)
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

bool part_attr_is(part *p, const char *name, const char *want)
{
    char *v = part_attr(p, name);
    bool yes = v && strcmp(v, want) == 0;
    xmlFree(v);
    return yes;
}

int part_node_type(part *p)
{
    return xmlTextReaderNodeType(p->r);
}

bool part_is_start(part *p)
{
    return part_node_type(p) == XML_READER_TYPE_ELEMENT;
}

/* The end of an element: its end tag, or an empty element (<w:p/>). */
bool part_is_end(part *p)
{
    return part_node_type(p) == XML_READER_TYPE_END_ELEMENT ||
           (part_is_start(p) && xmlTextReaderIsEmptyElement(p->r) == 1);
}

bool part_is_text(part *p)
{
    int t = part_node_type(p);
    return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
           t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE;
}

/* Skips the element the reader is on, children and all; returns the next
 * read's result. */
int part_skip(part *p)
{
    return xmlTextReaderNext(p->r);
}

void ox_put(ooxml_ctx *ox, const char *s)
{
    paged_text_append(ox->out, s, strlen(s));
}

void ox_put_value(ooxml_ctx *ox, part *p)
{
    const char *v = (const char *)xmlTextReaderConstValue(p->r);
    if (v)
        ox_put(ox, v);
}

/* ---- package structure: relationships and part names ---- */

void ox_rels_free(rels *rs)
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
bool ox_read_rels(ooxml_ctx *ox, const char *of_part, rels *out)
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
        if (!part_is_start(&p) || !part_is(&p, "Relationship") ||
            part_attr_is(&p, "TargetMode", "External"))
            continue;
        char *id = part_attr(&p, "Id"), *type = part_attr(&p, "Type");
        char *target = part_attr(&p, "Target");
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
    if (part_close(&p, rc))
        return true;
    /* On failure the caller owns nothing. */
    ox_rels_free(out);
    return false;
}

const rel *ox_rel_by_id(const rels *rs, const char *id)
{
    for (int i = 0; id && i < rs->count; i++)
        if (strcmp(rs->items[i].id, id) == 0)
            return &rs->items[i];
    return NULL;
}

const rel *ox_rel_by_type(const rels *rs, const char *type_tail)
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
        if (!part_is_start(&p) || !part_is(&p, "Override"))
            continue;
        char *ct = part_attr(&p, "ContentType"), *name = part_attr(&p, "PartName");
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

/* The elements whose content is not text: Word's field codes (" MERGEFORMAT
 * ", " HYPERLINK ...": the field's shown result follows as ordinary runs),
 * deleted text, the VML copy Office keeps of every text box for old
 * readers (Fallback), and properties (whose w:tab are tab stops). */
static const char *const WORD_SKIPPED[] = {"instrText", "delText", "delInstrText", "Fallback",
                                           "pPr", "rPr", "sectPr", "tblPr", "tcPr", "trPr",
                                           NULL};
static const char *const SLIDE_SKIPPED[] = {"Fallback", "pPr", "rPr", "bodyPr", "spPr",
                                            "endParaRPr", NULL};

/* One part's text, Word's (body, header, notes...) or a slide's (slide,
 * notes): <t> runs, tabs and breaks, paragraphs as lines (every Word
 * paragraph, empty ones too; DrawingML's only when they hold text), table
 * cells split by tabs. Word's page breaks (its own or the last rendering's)
 * start a page. */
static bool text_part(ooxml_ctx *ox, const char *name, const char *const *skipped,
                      bool every_paragraph)
{
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    int in_t = 0;
    rc = xmlTextReaderRead(p.r);
    while (rc == 1) {
        if (part_is_start(&p)) {
            if (part_is_one_of(&p, skipped)) {
                rc = part_skip(&p);
                continue;
            }
            if (part_is(&p, "t") && !xmlTextReaderIsEmptyElement(p.r))
                in_t = xmlTextReaderDepth(p.r) + 1;
            else if (part_is(&p, "tab"))
                ox_put(ox, "\t");
            else if (part_is(&p, "noBreakHyphen"))
                ox_put(ox, "-");
            else if (part_is(&p, "br") || part_is(&p, "cr")) {
                if (part_attr_is(&p, "type", "page"))
                    paged_text_new_page(ox->out, NULL);
                else
                    ox_put(ox, "\n");
            } else if (part_is(&p, "lastRenderedPageBreak")) {
                paged_text_new_page(ox->out, NULL);
            }
        }
        if (in_t && part_is_text(&p) && xmlTextReaderDepth(p.r) == in_t)
            ox_put_value(ox, &p);
        if (part_is_end(&p)) {
            if (part_is(&p, "t"))
                in_t = 0;
            else if (part_is(&p, "p") && every_paragraph)
                ox_put(ox, "\n");
            else if (part_is(&p, "p") || part_is(&p, "tr"))
                paged_text_break(ox->out, "\n");
            else if (part_is(&p, "tc"))
                ox_put(ox, "\t");
        }
        rc = xmlTextReaderRead(p.r);
    }
    return part_close(&p, rc);
}

static bool docx_part(ooxml_ctx *ox, const char *name)
{
    return text_part(ox, name, WORD_SKIPPED, true);
}

/* ---- embedded images (for OCR after the text pages) ---- */

static bool image_name(const char *name)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && strcasecmp(name + n - k, exts[i]) == 0)
            return true;
    }
    return false;
}

/* A part's bytes, inflated under the budget: false when the budget was
 * cut (which fails the file), true otherwise (a damaged entry is
 * skipped: it is only an image). */
static bool read_bytes(ooxml_ctx *ox, const char *name, sbuf *out, bool *got)
{
    fz_context *ctx = ox->ctx;
    fz_stream *volatile stm = NULL;
    volatile bool ok = true;
    *got = false;
    unsigned char buf[65536];
    fz_var(stm);
    fz_try(ctx)
    {
        stm = fz_open_archive_entry(ctx, ox->zip, name);
        size_t n;
        while (ok && (n = fz_read(ctx, stm, buf, sizeof buf)) > 0) {
            if (!expand_budget_take(ox->budget, n))
                ok = false;
            else
                sbuf_append(out, (const char *)buf, n);
        }
        *got = ok;
    }
    fz_always(ctx) fz_drop_stream(ctx, stm);
    fz_catch(ctx) *got = false;
    if (!ok) {
        if (!ox->failed)
            dm_err_set(ox->err, true, "limit %s: image %s inflates past it (a zip bomb?)",
                       ox->budget->cut, name);
        ox->failed = true;
    }
    return ok;
}

/* The images a part shows (its relationships of type image), kept once
 * each while the document wants more. */
static bool keep_images(ooxml_ctx *ox, const rels *rs)
{
    paged_text *pt = ox->out;
    for (int i = 0; i < rs->count && pt->nimages < pt->max_images; i++) {
        const rel *r = &rs->items[i];
        if (strcmp(r->type_tail, "image") != 0 || !image_name(r->target))
            continue;
        bool seen = false;
        for (int k = 0; k < pt->nimages && !seen; k++)
            seen = strcmp(pt->images[k].name, r->target) == 0;
        if (seen)
            continue;
        sbuf data;
        sbuf_init(&data);
        bool got;
        bool ok = read_bytes(ox, r->target, &data, &got);
        if (ok && got && data.len > 0)
            paged_text_add_image(pt, r->target, data.data, data.len);
        sbuf_free(&data);
        if (!ok)
            return false;
    }
    return true;
}

static bool read_docx(ooxml_ctx *ox, const char *main_part)
{
    if (!ox_has_part(ox, main_part))
        return ox_fail(ox, "the main part %s is missing", main_part);
    if (!docx_part(ox, main_part))
        return false;
    rels rs;
    if (!ox_read_rels(ox, main_part, &rs))
        return false;
    /* The rest in a fixed order, each kind as listed in the relationships. */
    static const char *const extra[] = {"header", "footer", "footnotes", "endnotes", "comments"};
    bool ok = keep_images(ox, &rs);
    for (size_t k = 0; ok && k < sizeof extra / sizeof extra[0]; k++)
        for (int i = 0; ok && i < rs.count; i++)
            if (strcmp(rs.items[i].type_tail, extra[k]) == 0) {
                paged_text_break(ox->out, "\n");
                ok = docx_part(ox, rs.items[i].target);
            }
    ox_rels_free(&rs);
    return ok;
}

/* ---- pptx ---- */

static bool slide_part(ooxml_ctx *ox, const char *name)
{
    return text_part(ox, name, SLIDE_SKIPPED, false);
}

static bool read_pptx(ooxml_ctx *ox, const char *main_part)
{
    rels rs;
    if (!ox_read_rels(ox, main_part, &rs))
        return false;
    /* The slides in the presentation's order (sldIdLst), not the zip's. */
    char (*slides)[PART_NAME_MAX] = NULL;
    int n = 0, cap = 0;
    part p;
    int rc = 0;
    bool opened = ox_open_main(ox, main_part, &p), ok = opened;
    while (ok && (rc = xmlTextReaderRead(p.r)) == 1) {
        if (!part_is_start(&p) || !part_is(&p, "sldId"))
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
        const rel *r = ox_rel_by_id(&rs, rid);
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
        if (ok && (ok = ox_read_rels(ox, slides[i], &srs))) {
            ok = keep_images(ox, &srs);
            const rel *notes = ok ? ox_rel_by_type(&srs, "notesSlide") : NULL;
            if (notes) {
                paged_text_break(ox->out, "\n");
                ok = slide_part(ox, notes->target);
            }
            ox_rels_free(&srs);
        }
    }
    free(slides);
    ox_rels_free(&rs);
    return ok;
}

/* ---- metadata ---- */

static bool read_core_props(ooxml_ctx *ox)
{
    rels rs;
    if (!ox_read_rels(ox, "", &rs))
        return false;
    const rel *r = ox_rel_by_type(&rs, "core-properties");
    char name[PART_NAME_MAX];
    snprintf(name, sizeof name, "%s", r ? r->target : "docProps/core.xml");
    ox_rels_free(&rs);
    part p;
    int rc = part_open(ox, name, &p);
    if (rc <= 0)
        return rc == 0;
    doc_meta *m = &ox->out->meta;
    char **field = NULL;
    sbuf v;
    sbuf_init(&v);
    while ((rc = xmlTextReaderRead(p.r)) == 1) {
        if (part_is_start(&p)) {
            field = part_is(&p, "title") ? &m->title : part_is(&p, "creator") ? &m->author
                  : part_is(&p, "subject") ? &m->subject : part_is(&p, "keywords") ? &m->keywords
                  : part_is(&p, "created") ? &m->created
                  : part_is(&p, "modified") ? &m->modified : NULL;
            sbuf_reset(&v);
        } else if (field && part_is_text(&p)) {
            const char *t = (const char *)xmlTextReaderConstValue(p.r);
            if (t)
                sbuf_append(&v, t, strlen(t));
        } else if (field && part_node_type(&p) == XML_READER_TYPE_END_ELEMENT) {
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
              : kind == OOXML_XLSX ? ooxml_read_xlsx(&ox, main_part)
              : kind == OOXML_PPTX ? read_pptx(&ox, main_part)
                                   : ox_fail(&ox, "%s", "not an Office Open XML package");
    ok = ok && read_core_props(&ox);
    if (!ok)
        return -1;
    paged_text_trim(out);
    return 0;
}
