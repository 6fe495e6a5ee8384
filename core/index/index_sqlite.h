/* The embedded index: SQLite with an FTS5 trigram table, one row per page.
 * Also answers searches and status queries for the CLI. */
#ifndef DOCMILL_INDEX_SQLITE_H
#define DOCMILL_INDEX_SQLITE_H

#include "index/index.h"


typedef struct search_hit {
    char *id;
    char *source;
    int page;
    double score;
    char *snippet;   /* matches wrapped in <em>…</em> */
    char *title;     /* the document's title, NULL when it has none */
} search_hit;

index_sink *index_sqlite_open(const char *path, dm_err *err);

/* Words are ANDed. Words of 3+ characters go through FTS5; shorter ones
 * (a trigram index cannot hold them) are matched by a scan of the stored
 * text, which is slower but correct. */
int index_sqlite_search(const char *path, const char *query, int limit, search_hit **hits,
                        int *nhits, dm_err *err);
void search_hits_free(search_hit *hits, int n);
/* Documents in the index; fails when PATH is missing or not an index. */
int index_sqlite_count(const char *path, int64_t *docs, dm_err *err);
/* Indexed documents that carry a note (pages that failed or read with low
 * confidence, pages left out...), newest first. */
typedef struct index_note {
    char *source;
    char *note;
} index_note;
int index_sqlite_notes(const char *path, int limit, index_note **out, int *n, dm_err *err);
void index_notes_free(index_note *notes, int n);

#endif
