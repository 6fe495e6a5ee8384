/* index: where extracted text goes. An index_sink is an interface — SQLite
 * FTS5 (index_sqlite.c) or OpenSearch _bulk (index_opensearch.c) — so the
 * pipeline never knows which. */
#ifndef DOCMILL_INDEX_H
#define DOCMILL_INDEX_H

#include "base/common.h"

typedef struct index_page {
    int page;
    const char *method;  /* "text" or "ocr" */
    int dpi;             /* 0 for the text layer */
    const char *text;
    size_t text_len;
} index_page;

typedef struct index_doc {
    const char *id;      /* stable: derived from the source URI */
    const char *source;
    const char *sha256;  /* of the content */
    const char *mime;
    int64_t size;
    int64_t mtime_ms;
    int page_count;      /* pages in the file */
    int pages_ocr;
    int64_t extract_ms;
    const char *note;    /* e.g. pages beyond the limit; NULL when none */
    const char *title;   /* the file's own title (metadata); NULL when none */
    const char *meta;    /* the rest of its metadata as a JSON object ({"author":
                            ...,"language":"ja"}); NULL when none */
    int npages;          /* pages extracted (≤ page_count) */
    const index_page *pages;
    const char *parent;  /* a member's (source "PARENT#MEMBER"): the id of the file it came out
                            of, the outermost one (the job's); NULL for a file of its own */
    int members;         /* a container's (zip, mail): how many member documents it has */
    bool container;      /* a container, or a file indexed before (it may have been one):
                            indexing it removes the members its earlier version had
                            (SQLite does so for every file of its own anyway) */
} index_doc;

typedef struct index_sink index_sink;

/* The fate of one document of a bulk call. */
typedef struct index_item_result {
    bool ok;             /* durably stored, replacing any earlier version */
    bool permanent;      /* when !ok: retrying cannot help (a mapping error) */
    char error[256];     /* when !ok: why, e.g. "400 mapper_parsing_exception: ..." */
} index_item_result;

typedef struct index_ops {
    /* -1: err is set and nothing is known per document: the whole batch
     * failed, transiently unless err->permanent (nothing was stored, or it
     * may have been: re-sending is idempotent).
     * 0: results[i] (n of them, filled by the sink) tells each document's
     * fate; ok documents are durably stored and replace any earlier version
     * with the same id. The SQLite sink is all or nothing; OpenSearch answers
     * per document. */
    int (*bulk)(index_sink *sink, const index_doc *docs, int n, index_item_result *results,
                dm_err *err);
    int (*remove)(index_sink *sink, const char *const *ids, int n, dm_err *err);
    /* 1 and the stored content hash when the id is known, 0 when not. */
    int (*lookup)(index_sink *sink, const char *id, char sha256[65], dm_err *err);
    /* Records that an unchanged document was seen again (new mtime/size). */
    int (*touch)(index_sink *sink, const char *id, int64_t size, int64_t mtime_ms, dm_err *err);
    void (*close)(index_sink *sink);
    /* Optional (NULL: the sink cannot tell). A stored document with this
     * content hash other than exclude_id: 1 with *out filled (free it with
     * index_doc_free), 0 when there is none. A copy of a file found in
     * another folder reuses its pages instead of being extracted again. */
    int (*find_copy)(index_sink *sink, const char *sha256, const char *exclude_id,
                     index_doc *out, dm_err *err);
} index_ops;

struct index_sink {
    const index_ops *ops;
};

/* "sqlite:PATH" (or a bare path ending in .db), or
 * "http[s]://HOST[:PORT][/INDEX]" for OpenSearch (index_opensearch.h). */
index_sink *index_open(const char *uri, dm_err *err);
void index_close(index_sink *sink);
/* Deep copy of src into dst: dst owns every string and its pages array.
 * Returns about how many bytes it holds. */
int64_t index_doc_copy(index_doc *dst, const index_doc *src);
/* Frees what index_doc_copy or find_copy put in d. */
void index_doc_free(index_doc *d);
/* The stable document id: the first 32 hex digits of sha256(source). */
void index_doc_id(const char *source, char out[33]);
/* Parses "sqlite:PATH"; returns PATH or NULL when the URI is not SQLite. */
const char *index_sqlite_path(const char *uri);

#endif
