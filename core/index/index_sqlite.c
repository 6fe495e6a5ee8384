#include "index/index_sqlite.h"

#include "base/db.h"
#include "base/log.h"
#include "extract/textnorm.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>
#include <string.h>
#include <utf8proc.h>

typedef struct sqlite_sink {
    index_sink base;
    sqlite3 *db;
    sqlite3_stmt *del_fts, *del_pages, *put_doc, *put_page, *put_fts, *lookup, *touch, *del_doc;
    sqlite3_stmt *copy_doc, *copy_pages;
    /* a container's members: removed with it, and when it is indexed again */
    sqlite3_stmt *del_members_fts, *del_members_pages, *del_members;
} sqlite_sink;

static void sink_err(sqlite_sink *s, dm_err *err, const char *what)
{
    dm_err_set(err, !dmdb_is_transient(sqlite3_errcode(s->db)), "index: %s: %s", what,
               sqlite3_errmsg(s->db));
}

static int run_steps(sqlite_sink *s, sqlite3_stmt *const *steps, int n, const char *id,
                     dm_err *err)
{
    for (int i = 0; i < n; i++) {
        sqlite3_reset(steps[i]);
        sqlite3_bind_text(steps[i], 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(steps[i]) != SQLITE_DONE) {
            sink_err(s, err, "delete");
            sqlite3_reset(steps[i]);
            return -1;
        }
        sqlite3_reset(steps[i]);
    }
    return 0;
}

static int delete_doc_rows(sqlite_sink *s, const char *id, dm_err *err)
{
    sqlite3_stmt *steps[] = {s->del_fts, s->del_pages, s->del_doc};
    return run_steps(s, steps, 3, id, err);
}

static int delete_members(sqlite_sink *s, const char *id, dm_err *err)
{
    sqlite3_stmt *steps[] = {s->del_members_fts, s->del_members_pages, s->del_members};
    return run_steps(s, steps, 3, id, err);
}

static int put_doc(sqlite_sink *s, const index_doc *d, dm_err *err)
{
    /* A file of its own may have been a container before (a zip replaced by
     * a PDF of the same name): its old members go, whatever it is now. */
    if (delete_doc_rows(s, d->id, err) != 0 || (!d->parent && delete_members(s, d->id, err) != 0))
        return -1;
    sbuf methods;
    sbuf_init(&methods);
    for (int i = 0; i < d->npages; i++)
        sbuf_putc(&methods, strcmp(d->pages[i].method, "ocr") == 0 ? 'o' : 't');
    sqlite3_stmt *st = s->put_doc;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, d->size);
    sqlite3_bind_int64(st, 4, d->mtime_ms);
    sqlite3_bind_text(st, 5, d->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, d->mime, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, d->page_count);
    sqlite3_bind_int(st, 8, d->npages);
    sqlite3_bind_int(st, 9, d->pages_ocr);
    sqlite3_bind_text(st, 10, methods.data ? methods.data : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, d->extract_ms);
    if (d->note)
        sqlite3_bind_text(st, 12, d->note, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 12);
    sqlite3_bind_int64(st, 13, dm_now_ms());
    const char *opt[] = {d->title, d->meta};
    for (int i = 0; i < 2; i++)
        if (opt[i])
            sqlite3_bind_text(st, 14 + i, opt[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 14 + i);
    if (d->parent)
        sqlite3_bind_text(st, 16, d->parent, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 16);
    sqlite3_bind_int(st, 17, d->members);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sbuf_free(&methods);
    if (rc != SQLITE_DONE) {
        sink_err(s, err, "insert document");
        return -1;
    }
    /* The title is searchable as page 0 of the document. */
    index_page title_page = {.page = 0, .method = "title", .text = d->title,
                             .text_len = d->title ? strlen(d->title) : 0};
    for (int i = d->title ? -1 : 0; i < d->npages; i++) {
        const index_page *p = i < 0 ? &title_page : &d->pages[i];
        st = s->put_page;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, p->page);
        sqlite3_bind_text(st, 3, p->method, -1, SQLITE_STATIC);
        if (p->dpi > 0)
            sqlite3_bind_int(st, 4, p->dpi);
        else
            sqlite3_bind_null(st, 4);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sink_err(s, err, "insert page");
            return -1;
        }
        sqlite3_int64 rowid = sqlite3_last_insert_rowid(s->db);
        st = s->put_fts;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_text(st, 2, p->text ? p->text : "", (int)p->text_len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sink_err(s, err, "insert page text");
            return -1;
        }
    }
    return 0;
}

/* Runs one step per item inside a single IMMEDIATE transaction: all or
 * nothing. */
static int in_transaction(sqlite_sink *s, int n, int (*step)(sqlite_sink *, const void *, int, dm_err *),
                          const void *items, dm_err *err)
{
    if (dmdb_exec(s->db, "BEGIN IMMEDIATE", err) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (step(s, items, i, err) != 0) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    if (dmdb_exec(s->db, "COMMIT", err) != 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int put_doc_at(sqlite_sink *s, const void *docs, int i, dm_err *err)
{
    return put_doc(s, &((const index_doc *)docs)[i], err);
}

/* A file removed takes its members with it. */
static int delete_doc_at(sqlite_sink *s, const void *ids, int i, dm_err *err)
{
    const char *id = ((const char *const *)ids)[i];
    return delete_doc_rows(s, id, err) != 0 ? -1 : delete_members(s, id, err);
}

/* All or nothing: one transaction, so every item is ok or the call fails. */
static int sqlite_bulk(index_sink *sink, const index_doc *docs, int n, index_item_result *results,
                       dm_err *err)
{
    if (in_transaction((sqlite_sink *)sink, n, put_doc_at, docs, err) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        results[i] = (index_item_result){.ok = true};
    return 0;
}

static int sqlite_remove(index_sink *sink, const char *const *ids, int n, dm_err *err)
{
    return in_transaction((sqlite_sink *)sink, n, delete_doc_at, ids, err);
}

static int sqlite_lookup(index_sink *sink, const char *id, char sha256[65], dm_err *err)
{
    sqlite_sink *s = (sqlite_sink *)sink;
    sqlite3_stmt *st = s->lookup;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 0);
        snprintf(sha256, 65, "%s", h ? (const char *)h : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        sink_err(s, err, "lookup");
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

static int sqlite_touch(index_sink *sink, const char *id, int64_t size, int64_t mtime_ms, dm_err *err)
{
    sqlite_sink *s = (sqlite_sink *)sink;
    sqlite3_stmt *st = s->touch;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, size);
    sqlite3_bind_int64(st, 2, mtime_ms);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        sink_err(s, err, "touch");
        return -1;
    }
    return 0;
}

static char *col_copy(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? dm_xstrdup((const char *)t) : NULL;
}

static int sqlite_find_copy(index_sink *sink, const char *sha256, const char *exclude_id,
                            index_doc *out, dm_err *err)
{
    sqlite_sink *s = (sqlite_sink *)sink;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = s->copy_doc;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, exclude_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE)
            sink_err(s, err, "find copy");
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    out->id = col_copy(st, 0);
    out->source = col_copy(st, 1);
    out->sha256 = dm_xstrdup(sha256);
    out->mime = col_copy(st, 2);
    out->page_count = sqlite3_column_int(st, 3);
    out->pages_ocr = sqlite3_column_int(st, 4);
    out->note = col_copy(st, 5);
    out->title = col_copy(st, 6);
    out->meta = col_copy(st, 7);
    sqlite3_reset(st);
    st = s->copy_pages;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, out->id, -1, SQLITE_STATIC);
    int cap = 0;
    index_page *pages = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->npages == cap) {
            cap = cap ? cap * 2 : 16;
            pages = dm_xrealloc(pages, (size_t)cap * sizeof *pages);
        }
        index_page *p = &pages[out->npages++];
        p->page = sqlite3_column_int(st, 0);
        p->method = col_copy(st, 1);
        p->dpi = sqlite3_column_int(st, 2);
        char *text = col_copy(st, 3);
        p->text = text ? text : dm_xstrdup("");
        p->text_len = strlen(p->text);
    }
    out->pages = pages;
    if (rc != SQLITE_DONE) {
        sink_err(s, err, "find copy");
        sqlite3_reset(st);
        index_doc_free(out);
        return -1;
    }
    sqlite3_reset(st);
    return 1;
}

static void sqlite_close(index_sink *sink)
{
    sqlite_sink *s = (sqlite_sink *)sink;
    sqlite3_stmt *all[] = {s->del_fts,         s->del_pages,         s->put_doc,
                           s->put_page,        s->put_fts,           s->lookup,
                           s->touch,           s->del_doc,           s->copy_doc,
                           s->copy_pages,      s->del_members_fts,   s->del_members_pages,
                           s->del_members};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(s->db);
    free(s);
}

static const index_ops SQLITE_OPS = {sqlite_bulk,  sqlite_remove, sqlite_lookup,
                                     sqlite_touch, sqlite_close,  sqlite_find_copy};

index_sink *index_sqlite_open(const char *path, dm_err *err)
{
    sqlite3 *db = dmdb_open(path, false, err);
    if (!db)
        return NULL;
    sqlite_sink *s = dm_xcalloc(1, sizeof *s);
    s->base.ops = &SQLITE_OPS;
    s->db = db;
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&s->del_fts, "DELETE FROM pages_fts WHERE rowid IN (SELECT rowid FROM pages WHERE doc_id=?1)"},
        {&s->del_pages, "DELETE FROM pages WHERE doc_id=?1"},
        {&s->del_doc, "DELETE FROM documents WHERE id=?1"},
        {&s->put_doc,
         "INSERT INTO documents(id, source, size, mtime_ms, sha256, mime, page_count, pages_indexed,"
         " pages_ocr, methods, extract_ms, note, indexed_at, title, meta, parent, members)"
         " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"},
        {&s->del_members_fts, "DELETE FROM pages_fts WHERE rowid IN (SELECT rowid FROM pages"
                              " WHERE doc_id IN (SELECT id FROM documents WHERE parent=?1))"},
        {&s->del_members_pages,
         "DELETE FROM pages WHERE doc_id IN (SELECT id FROM documents WHERE parent=?1)"},
        {&s->del_members, "DELETE FROM documents WHERE parent=?1"},
        {&s->put_page, "INSERT INTO pages(doc_id, page, method, dpi) VALUES(?1,?2,?3,?4)"},
        {&s->put_fts, "INSERT INTO pages_fts(rowid, text) VALUES(?1, ?2)"},
        {&s->lookup, "SELECT sha256 FROM documents WHERE id=?1"},
        {&s->touch, "UPDATE documents SET size=?1, mtime_ms=?2 WHERE id=?3"},
        {&s->copy_doc, "SELECT id, source, mime, page_count, pages_ocr, note, title, meta"
                       " FROM documents"
                       /* a container's copy would come without its members */
                       " WHERE sha256=?1 AND id<>?2 AND COALESCE(members, 0)=0 LIMIT 1"},
        {&s->copy_pages, "SELECT p.page, p.method, p.dpi, f.text FROM pages p"
                         " JOIN pages_fts f ON f.rowid=p.rowid WHERE p.doc_id=?1 AND p.page>0"
                         " ORDER BY p.page"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
        if (sqlite3_prepare_v2(db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK) {
            dm_err_set(err, true, "index: prepare: %s", sqlite3_errmsg(db));
            sqlite_close(&s->base);
            return NULL;
        }
    }
    return &s->base;
}

/* --- search ------------------------------------------------------------ */

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/* Finds the byte offset of needle in hay, ASCII case-insensitively. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return p;
    return NULL;
}

/* A snippet for hits found by scanning (FTS5's snippet() needs a MATCH):
 * about 30 characters either side of the first occurrence. */
static char *scan_snippet(const char *text, const char *term)
{
    const char *hit = find_ci(text, term);
    sbuf sb;
    sbuf_init(&sb);
    if (!hit) {
        sbuf_append(&sb, text, strlen(text) < 120 ? strlen(text) : 120);
        return sbuf_take(&sb);
    }
    const char *start = hit;
    for (int k = 0; k < 30 && start > text; k++) {
        start--;
        while (start > text && ((unsigned char)*start & 0xc0) == 0x80)
            start--;
    }
    const char *after = hit + strlen(term);
    const char *end = after;
    for (int k = 0; k < 30 && *end; k++) {
        end++;
        while (*end && ((unsigned char)*end & 0xc0) == 0x80)
            end++;
    }
    if (start > text)
        sbuf_append(&sb, "…", strlen("…"));
    sbuf_append(&sb, start, (size_t)(hit - start));
    sbuf_append(&sb, "<em>", 4);
    sbuf_append(&sb, hit, strlen(term));
    sbuf_append(&sb, "</em>", 5);
    sbuf_append(&sb, after, (size_t)(end - after));
    if (*end)
        sbuf_append(&sb, "…", strlen("…"));
    for (size_t i = 0; i < sb.len; i++)
        if (sb.data[i] == '\n')
            sb.data[i] = ' ';
    return sbuf_take(&sb);
}

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return dm_xstrdup(t ? (const char *)t : "");
}

int index_sqlite_search(const char *path, const char *query, int limit, search_hit **hits,
                        int *nhits, dm_err *err)
{
    *hits = NULL;
    *nhits = 0;
    sbuf norm;
    sbuf_init(&norm);
    /* NFKC like the indexed text, but no CJK space joining: spaces in a
     * query separate words. */
    text_nfkc(query, strlen(query), &norm);
    /* Split into words; long words feed MATCH, short ones instr(). */
    char **terms = dm_xcalloc(norm.len + 1, sizeof *terms);
    int nterms = 0;
    char *save = NULL;
    for (char *tok = strtok_r(norm.data, " \n\t", &save); tok; tok = strtok_r(NULL, " \n\t", &save))
        terms[nterms++] = tok;
    if (nterms == 0) {
        dm_err_set(err, true, "empty query");
        free(terms);
        sbuf_free(&norm);
        return -1;
    }
    sbuf match, sql;
    sbuf_init(&match);
    sbuf_init(&sql);
    int nshort = 0;
    for (int i = 0; i < nterms; i++) {
        if (utf8_chars(terms[i], strlen(terms[i])) >= 3) {
            if (match.len)
                sbuf_putc(&match, ' ');
            sbuf_putc(&match, '"');
            for (const char *c = terms[i]; *c; c++) {
                if (*c == '"')
                    sbuf_putc(&match, '"');
                sbuf_putc(&match, *c);
            }
            sbuf_putc(&match, '"');
        } else {
            nshort++;
        }
    }
    bool use_fts = match.len > 0;
    if (use_fts)
        sbuf_appendf(&sql,
                       "SELECT p.doc_id, d.source, p.page, -bm25(pages_fts),"
                       " snippet(pages_fts, 0, '<em>', '</em>', '…', 24), pages_fts.text, d.title"
                       " FROM pages_fts JOIN pages p ON p.rowid = pages_fts.rowid"
                       " JOIN documents d ON d.id = p.doc_id WHERE pages_fts MATCH ?1");
    else
        sbuf_appendf(&sql,
                       "SELECT p.doc_id, d.source, p.page, 0.0, NULL, pages_fts.text, d.title"
                       " FROM pages_fts JOIN pages p ON p.rowid = pages_fts.rowid"
                       " JOIN documents d ON d.id = p.doc_id WHERE 1");
    for (int i = 0; i < nshort; i++)
        sbuf_appendf(&sql, " AND instr(lower(pages_fts.text), lower(?%d)) > 0", i + 2);
    /* A title hit (page 0) only for documents none of whose pages match:
     * one hit per match, not the title and the page both. */
    sbuf_appendf(&sql, " AND (p.page > 0 OR NOT EXISTS (SELECT 1 FROM pages p2 JOIN pages_fts f2"
                       " ON f2.rowid = p2.rowid WHERE p2.doc_id = p.doc_id AND p2.page > 0");
    if (use_fts)
        sbuf_appendf(&sql, " AND f2.pages_fts MATCH ?1");
    for (int i = 0; i < nshort; i++)
        sbuf_appendf(&sql, " AND instr(lower(f2.text), lower(?%d)) > 0", i + 2);
    sbuf_appendf(&sql, "))");
    sbuf_appendf(&sql, use_fts ? " ORDER BY bm25(pages_fts), d.source, p.page LIMIT %d"
                                 : " ORDER BY d.source, p.page LIMIT %d",
                   limit > 0 ? limit : 10);

    int rc = -1;
    sqlite3 *db = dmdb_open(path, true, err);
    sqlite3_stmt *st = NULL;
    if (!db)
        goto done;
    if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        dm_err_set(err, true, "search: %s", sqlite3_errmsg(db));
        goto done;
    }
    if (use_fts)
        sqlite3_bind_text(st, 1, match.data, -1, SQLITE_STATIC);
    const char *first_short = NULL;
    for (int i = 0, k = 0; i < nterms; i++) {
        if (utf8_chars(terms[i], strlen(terms[i])) < 3) {
            sqlite3_bind_text(st, k + 2, terms[i], -1, SQLITE_STATIC);
            if (!first_short)
                first_short = terms[i];
            k++;
        }
    }
    int cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*nhits == cap) {
            cap = cap ? cap * 2 : 16;
            *hits = dm_xrealloc(*hits, (size_t)cap * sizeof **hits);
        }
        search_hit *h = &(*hits)[(*nhits)++];
        h->id = col_dup(st, 0);
        h->source = col_dup(st, 1);
        h->page = sqlite3_column_int(st, 2);
        h->title = col_copy(st, 6);
        h->score = sqlite3_column_double(st, 3);
        if (use_fts) {
            h->snippet = col_dup(st, 4);
            for (char *c = h->snippet; *c; c++)
                if (*c == '\n')
                    *c = ' ';
        } else {
            const unsigned char *text = sqlite3_column_text(st, 5);
            h->snippet = scan_snippet(text ? (const char *)text : "", first_short);
            h->score = 1.0;
        }
    }
    if (step != SQLITE_DONE) {
        dm_err_set(err, true, "search: %s", sqlite3_errmsg(db));
        search_hits_free(*hits, *nhits);
        *hits = NULL;
        *nhits = 0;
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    sbuf_free(&match);
    sbuf_free(&sql);
    free(terms);
    sbuf_free(&norm);
    return rc;
}

void search_hits_free(search_hit *hits, int n)
{
    for (int i = 0; i < n; i++) {
        free(hits[i].id);
        free(hits[i].source);
        free(hits[i].snippet);
        free(hits[i].title);
    }
    free(hits);
}

int index_sqlite_count(const char *path, int64_t *docs, dm_err *err)
{
    *docs = 0;
    sqlite3 *db = dmdb_open(path, true, err);
    if (!db)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM documents", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *docs = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        dm_err_set(err, true, "%s is not a docmill index: %s", path, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int index_sqlite_notes(const char *path, int limit, index_note **out, int *n, dm_err *err)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = dmdb_open(path, true, err);
    if (!db)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT source, note FROM documents WHERE note IS NOT NULL AND note != ''"
                           " ORDER BY indexed_at DESC, source LIMIT ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        dm_err_set(err, true, "%s is not a docmill index: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_bind_int(st, 1, limit);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = dm_xrealloc(*out, (size_t)cap * sizeof **out);
        }
        (*out)[*n].source = dm_xstrdup((const char *)sqlite3_column_text(st, 0));
        (*out)[*n].note = dm_xstrdup((const char *)sqlite3_column_text(st, 1));
        (*n)++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}

void index_notes_free(index_note *notes, int n)
{
    for (int i = 0; i < n; i++) {
        free(notes[i].source);
        free(notes[i].note);
    }
    free(notes);
}
