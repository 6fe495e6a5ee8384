#include "extract/xmp.h"

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
