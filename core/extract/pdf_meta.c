#include "extract/pdf_meta.h"

#include <mupdf/pdf.h>
#include <stdio.h>

#include <libxml/xmlreader.h>
#include <string.h>

/* Where a property's text goes, by namespace and local name. */
static char **field_of(const char *ns, const char *name, doc_meta *m, doc_meta *seen)
{
    static const char DC[] = "http://purl.org/dc/elements/1.1/";
    static const char PDF[] = "http://ns.adobe.com/pdf/1.3/";
    static const char XMP[] = "http://ns.adobe.com/xap/1.0/";
    (void)seen;
    if (!ns || !name)
        return NULL;
    if (strcmp(ns, DC) == 0) {
        if (strcmp(name, "title") == 0)
            return &m->title;
        if (strcmp(name, "creator") == 0)
            return &m->author;
        if (strcmp(name, "description") == 0)
            return &m->subject;
        if (strcmp(name, "subject") == 0)
            return &m->keywords;
    } else if (strcmp(ns, PDF) == 0 && strcmp(name, "Keywords") == 0) {
        return &m->keywords;
    } else if (strcmp(ns, XMP) == 0) {
        if (strcmp(name, "CreateDate") == 0)
            return &m->created;
        if (strcmp(name, "ModifyDate") == 0)
            return &m->modified;
    }
    return NULL;
}

void xmp_fill_meta(const char *xml, size_t len, doc_meta *m)
{
    if (!xml || len == 0 || len > (64u << 20))
        return;
    xmlTextReaderPtr r = xmlReaderForMemory(xml, (int)len, NULL, NULL,
                                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                XML_PARSE_NOWARNING | XML_PARSE_COMPACT);
    if (!r)
        return;
    doc_meta found = {0};
    char **target = NULL;      /* the field being read (in found) */
    int depth = -1;            /* the property element's depth */
    sbuf v;
    sbuf_init(&v);
    while (xmlTextReaderRead(r) == 1) {
        int type = xmlTextReaderNodeType(r);
        if (type == XML_READER_TYPE_ELEMENT && !target) {
            char **f = field_of((const char *)xmlTextReaderConstNamespaceUri(r),
                                (const char *)xmlTextReaderConstLocalName(r), &found, NULL);
            if (f && !*f && !xmlTextReaderIsEmptyElement(r)) {
                target = f;
                depth = xmlTextReaderDepth(r);
                sbuf_reset(&v);
            }
        } else if (target && (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA)) {
            /* rdf:Alt/Seq/Bag: the first rdf:li is the value (x-default
             * comes first in practice); more items join with ", " */
            const char *t = (const char *)xmlTextReaderConstValue(r);
            if (t) {
                if (v.len)
                    sbuf_append(&v, ", ", 2);
                sbuf_append(&v, t, strlen(t));
            }
        } else if (target && type == XML_READER_TYPE_END_ELEMENT &&
                   xmlTextReaderDepth(r) == depth) {
            doc_meta_set(target, v.data, v.len);
            target = NULL;
        }
    }
    xmlFreeTextReader(r);
    sbuf_free(&v);
    char **dst[] = {&m->title, &m->author, &m->subject, &m->keywords, &m->created, &m->modified};
    char **src[] = {&found.title, &found.author, &found.subject, &found.keywords, &found.created,
                    &found.modified};
    for (int i = 0; i < 6; i++)
        if (!*dst[i] && *src[i]) {
            *dst[i] = *src[i];
            *src[i] = NULL;
        }
    doc_meta_free(&found);
}

/* "D:20240315103000+09'00'" -> "2024-03-15T10:30:00+09:00"; as it is when
 * it is not a PDF date. */
static void pdf_date_iso(const char *v, char *out, size_t cap)
{
    const char *p = strncmp(v, "D:", 2) == 0 ? v + 2 : v;
    int f[6] = {0, 1, 1, 0, 0, 0}, widths[6] = {4, 2, 2, 2, 2, 2}, k = 0;
    for (; k < 6; k++) {
        int x = 0, w = 0;
        while (w < widths[k] && p[w] >= '0' && p[w] <= '9')
            x = x * 10 + (p[w] - '0'), w++;
        if (w != widths[k])
            break;
        f[k] = x;
        p += w;
    }
    if (k == 0) {
        snprintf(out, cap, "%s", v);
        return;
    }
    int len = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d", f[0], f[1], f[2], f[3], f[4],
                       f[5]);
    if (len > 0 && (size_t)len < cap && (*p == '+' || *p == '-') && strlen(p) >= 3)
        snprintf(out + len, cap - (size_t)len, "%c%.2s:%.2s", p[0], p + 1,
                 strlen(p) >= 6 && p[3] == '\'' ? p + 4 : "00");
    else if (len > 0 && (size_t)len < cap && *p == 'Z')
        snprintf(out + len, cap - (size_t)len, "Z");
}

void pdf_meta_read(fz_context *ctx, fz_document *fzdoc, doc_meta *m)
{
    static const char *const keys[] = {"info:Title", "info:Author", "info:Subject",
                                       "info:Keywords", "info:CreationDate", "info:ModDate"};
    char **fields[] = {&m->title, &m->author, &m->subject, &m->keywords, &m->created, &m->modified};
    for (int i = 0; i < 6; i++) {
        char buf[1024];
        volatile int n = -1;
        fz_try(ctx) n = fz_lookup_metadata(ctx, fzdoc, keys[i], buf, sizeof buf);
        fz_catch(ctx) n = -1;
        if (n <= 0 || !buf[0])
            continue;
        if (i >= 4) {
            char iso[64];
            pdf_date_iso(buf, iso, sizeof iso);
            doc_meta_set(fields[i], iso, strlen(iso));
        } else {
            doc_meta_set(fields[i], buf, strlen(buf));
        }
    }
    /* What Info lacks, from the XMP packet (many producers write only it). */
    pdf_document *pdf = pdf_specifics(ctx, fzdoc);
    fz_buffer *volatile xmp = NULL;
    if (pdf) {
        fz_var(xmp);
        fz_try(ctx)
        {
            pdf_obj *md = pdf_dict_getp(ctx, pdf_trailer(ctx, pdf), "Root/Metadata");
            if (pdf_is_stream(ctx, md))
                xmp = pdf_load_stream(ctx, md);
        }
        fz_catch(ctx) xmp = NULL;
        if (xmp)
            xmp_fill_meta((const char *)xmp->data, xmp->len, m);
        fz_drop_buffer(ctx, xmp);
    }
}
