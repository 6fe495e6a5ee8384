/* ooxml_part: the package layer under ooxml.c and ooxml_sheet.c: parts
 * streamed out of the zip through libxml2's reader, their relationships,
 * and the small helpers both walk XML with. Not for use elsewhere. */
#ifndef DOCMILL_OOXML_PART_H
#define DOCMILL_OOXML_PART_H

#include "extract/ooxml.h"

#include <libxml/xmlreader.h>

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

typedef struct rel {
    char id[64];
    char type_tail[48];   /* the relationship type after its last '/' */
    char target[PART_NAME_MAX];
} rel;

typedef struct rels {
    rel *items;
    int count, cap;
} rels;

/* Opens a part for streaming: 1, or 0 when the package has no such part
 * (absent parts are normal: no footnotes, no shared strings), or -1. */
int part_open(ooxml_ctx *ox, const char *name, part *p);
/* Ends a part; false (with the error set) when its reading failed
 * (last_read < 0: a limit, a damaged zip, XML that is not well formed). */
bool part_close(part *p, int last_read);
bool ox_has_part(ooxml_ctx *ox, const char *name);
/* The package's main part, which must be there. */
bool ox_open_main(ooxml_ctx *ox, const char *name, part *p);
bool ox_fail(ooxml_ctx *ox, const char *fmt, const char *what);

const char *part_local(part *p);
bool part_is(part *p, const char *name);
/* Whether the element's local name is one of the NULL-ended names. */
bool part_is_one_of(part *p, const char *const *names);
/* An attribute by local name whatever its namespace, freed with xmlFree. */
char *part_attr(part *p, const char *name);
bool part_attr_is(part *p, const char *name, const char *want);
int part_node_type(part *p);
bool part_is_start(part *p);
/* The end of an element: its end tag, or an empty element (<w:p/>). */
bool part_is_end(part *p);
bool part_is_text(part *p);
/* Skips the element the reader is on, children and all. */
int part_skip(part *p);
void ox_put(ooxml_ctx *ox, const char *s);
void ox_put_value(ooxml_ctx *ox, part *p);

/* The relationships of a part, targets resolved to part names. */
bool ox_read_rels(ooxml_ctx *ox, const char *of_part, rels *out);
void ox_rels_free(rels *rs);
const rel *ox_rel_by_id(const rels *rs, const char *id);
const rel *ox_rel_by_type(const rels *rs, const char *type_tail);

bool ooxml_read_xlsx(ooxml_ctx *ox, const char *main_part);

#endif
