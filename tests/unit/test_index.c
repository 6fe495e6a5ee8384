#include "check.h"
#include "index/index_sqlite.h"

#include <sqlite3.h>

static char db[600];

static index_doc make_doc(const char *source, const char *sha, index_page *pages, int n)
{
    static char ids[8][33];
    static int k;
    char *id = ids[k++ % 8];
    index_doc_id(source, id);
    index_doc d = {.id = id, .source = source, .sha256 = sha, .mime = "application/pdf",
                   .size = 100, .mtime_ms = 5, .page_count = n, .npages = n, .pages = pages};
    return d;
}

static int hits_for(const char *q, search_hit **hits)
{
    int n = -1;
    dm_err err;
    if (index_sqlite_search(db, q, 10, hits, &n, &err) != 0) {
        fprintf(stderr, "search %s: %s\n", q, err.msg);
        return -1;
    }
    return n;
}

static void test_bulk_search_replace_remove(void)
{
    snprintf(db, sizeof db, "%s/idx.db", check_tmpdir());
    dm_err err;
    index_sink *s = index_open(db, &err);  /* a bare .db path works too */
    CHECK(s != NULL);
    if (!s)
        return;
    index_page p1[] = {{1, "text", 0, "吾輩は猫である。名前はまだ無い。", 0},
                       {2, "ocr", 300, "The Quarterly Revenue Forecast is up.", 0}};
    for (int i = 0; i < 2; i++)
        p1[i].text_len = strlen(p1[i].text);
    index_page p2[] = {{1, "text", 0, "東京都千代田区の会議", 0}};
    p2[0].text_len = strlen(p2[0].text);
    index_doc docs[] = {make_doc("/c/a.pdf", "aaa", p1, 2), make_doc("/c/b.pdf", "bbb", p2, 1)};
    index_item_result res[2];
    memset(res, 0xff, sizeof res);  /* the sink must fill every result */
    CHECK_INT(s->ops->bulk(s, docs, 2, res, &err), 0);
    for (int i = 0; i < 2; i++) {
        CHECK(res[i].ok);
        CHECK(!res[i].permanent);
    }

    search_hit *hits;
    int n = hits_for("猫である", &hits);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(hits[0].source, "/c/a.pdf");
        CHECK_INT(hits[0].page, 1);
        CHECK_CONTAINS(hits[0].snippet, "<em>猫である</em>");
        CHECK(hits[0].score > 0);
    }
    search_hits_free(hits, n);
    n = hits_for("quarterly REVENUE", &hits);  /* case-insensitive, words ANDed */
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_INT(hits[0].page, 2);
    search_hits_free(hits, n);
    n = hits_for("千代", &hits);  /* two characters: below a trigram */
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_CONTAINS(hits[0].snippet, "<em>千代</em>");
    search_hits_free(hits, n);
    n = hits_for("会議 東京", &hits);  /* short words only */
    CHECK_INT(n, 1);
    search_hits_free(hits, n);
    n = hits_for("\"quoted\" nothing", &hits);
    CHECK_INT(n, 0);
    search_hits_free(hits, n);

    char sha[65];
    CHECK_INT(s->ops->lookup(s, docs[0].id, sha, &err), 1);
    CHECK_STR(sha, "aaa");
    CHECK_INT(s->ops->lookup(s, "nope", sha, &err), 0);

    /* Re-indexing replaces the old pages. */
    index_page p3[] = {{1, "text", 0, "entirely new content", 0}};
    p3[0].text_len = strlen(p3[0].text);
    index_doc again = make_doc("/c/a.pdf", "ccc", p3, 1);
    CHECK_INT(s->ops->bulk(s, &again, 1, res, &err), 0);
    CHECK(res[0].ok);
    n = hits_for("猫である", &hits);
    CHECK_INT(n, 0);
    search_hits_free(hits, n);
    n = hits_for("entirely", &hits);
    CHECK_INT(n, 1);
    search_hits_free(hits, n);

    const char *ids[] = {docs[1].id};
    CHECK_INT(s->ops->remove(s, ids, 1, &err), 0);
    n = hits_for("千代田", &hits);
    CHECK_INT(n, 0);
    search_hits_free(hits, n);
    int64_t count;
    CHECK_INT(index_sqlite_count(db, &count, &err), 0);
    CHECK_INT(count, 1);
    index_close(s);
}

/* All or nothing: a batch that cannot be committed fails as a whole (-1,
 * nothing known per document), and none of it is stored. */
static void test_bulk_all_or_nothing(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/aon.db", check_tmpdir());
    dm_err err;
    index_sink *s = index_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    index_page p[] = {{1, "text", 0, "first document", 0}};
    p[0].text_len = strlen(p[0].text);
    index_doc docs[] = {make_doc("/c/ok.pdf", "h1", p, 1), make_doc("/c/bad.pdf", "h2", p, 1)};
    docs[1].source = NULL;  /* violates NOT NULL: the second insert fails */
    index_item_result res[2];
    CHECK_INT(s->ops->bulk(s, docs, 2, res, &err), -1);
    CHECK_CONTAINS(err.msg, "NOT NULL");
    CHECK(err.permanent);
    char sha[65];
    CHECK_INT(s->ops->lookup(s, docs[0].id, sha, &err), 0);
    CHECK_INT(s->ops->bulk(s, docs, 0, res, &err), 0);  /* an empty batch is fine */
    index_close(s);
}

static void test_find_copy_by_content(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/copies.db", check_tmpdir());
    dm_err err;
    index_sink *s = index_sqlite_open(path, &err);
    CHECK(s != NULL && s->ops->find_copy != NULL);
    if (!s)
        return;
    index_page p[] = {{1, "text", 0, "最初のページ first page", 0},
                      {2, "ocr", 300, "scanned second page", 0}};
    for (int i = 0; i < 2; i++)
        p[i].text_len = strlen(p[i].text);
    index_doc d = make_doc("/share/a/report.pdf", "c0ffee", p, 2);
    d.pages_ocr = 1;
    d.note = "page 3 not extracted";
    d.title = "報告書 Report";
    d.meta = "{\"author\":\"山田\",\"language\":\"ja\"}";
    index_item_result res;
    CHECK_INT(s->ops->bulk(s, &d, 1, &res, &err), 0);
    char other[33];
    index_doc_id("/share/b/report.pdf", other);
    index_doc c;
    CHECK_INT(s->ops->find_copy(s, "c0ffee", other, &c, &err), 1);
    CHECK_STR(c.source, "/share/a/report.pdf");
    CHECK_STR(c.mime, "application/pdf");
    CHECK_INT(c.page_count, 2);
    CHECK_INT(c.pages_ocr, 1);
    CHECK_STR(c.note, "page 3 not extracted");
    CHECK_STR(c.title, "報告書 Report");
    CHECK_STR(c.meta, "{\"author\":\"山田\",\"language\":\"ja\"}");
    CHECK_INT(c.npages, 2);   /* the title's row (page 0) is not a page */
    if (c.npages == 2) {
        CHECK_STR(c.pages[0].text, "最初のページ first page");
        CHECK_STR(c.pages[1].method, "ocr");
        CHECK_INT(c.pages[1].dpi, 300);
        CHECK_INT(c.pages[0].dpi, 0);
        CHECK_INT((int)c.pages[1].text_len, (int)strlen("scanned second page"));
    }
    index_doc_free(&c);
    /* The document itself is not its own copy; other content has none. */
    CHECK_INT(s->ops->find_copy(s, "c0ffee", d.id, &c, &err), 0);
    CHECK_INT(s->ops->find_copy(s, "decaf", other, &c, &err), 0);
    index_close(s);
}

static void test_titles_are_searched_once_per_document(void)
{
    snprintf(db, sizeof db, "%s/titles.db", check_tmpdir());
    dm_err err;
    index_sink *s = index_sqlite_open(db, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    index_page p[] = {{1, "text", 0, "議事録の本文 minutes body", 0}};
    p[0].text_len = strlen(p[0].text);
    index_doc d = make_doc("/share/minutes.docx", "d0c", p, 1);
    d.title = "定例会議 Weekly Meeting";
    index_item_result res;
    CHECK_INT(s->ops->bulk(s, &d, 1, &res, &err), 0);
    index_close(s);
    search_hit *hits;
    /* In the title only: a hit on page 0, with the title. */
    int n = hits_for("Weekly Meeting", &hits);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(hits[0].page, 0);
        CHECK_STR(hits[0].title, "定例会議 Weekly Meeting");
        CHECK_CONTAINS(hits[0].snippet, "<em>Weekly</em>");
    }
    search_hits_free(hits, n);
    /* In the body: the page's hit, which carries the title too. */
    n = hits_for("議事録", &hits);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(hits[0].page, 1);
        CHECK_STR(hits[0].title, "定例会議 Weekly Meeting");
    }
    search_hits_free(hits, n);
    /* In both (定例 is short: the scan path): one hit, the page's. */
    index_page p2[] = {{1, "text", 0, "定例の議題", 0}};
    p2[0].text_len = strlen(p2[0].text);
    index_doc d2 = make_doc("/share/agenda.docx", "a9e", p2, 1);
    d2.title = "定例";
    s = index_sqlite_open(db, &err);
    CHECK_INT(s->ops->bulk(s, &d2, 1, &res, &err), 0);
    index_close(s);
    n = hits_for("定例", &hits);
    CHECK_INT(n, 2);   /* the agenda's page, the minutes' title */
    for (int i = 0; i < n; i++)
        CHECK_INT(hits[i].page, strcmp(hits[i].source, "/share/agenda.docx") == 0 ? 1 : 0);
    search_hits_free(hits, n);
}

/* An index made before metadata (schema 1) opens, gains the columns, and
 * its documents are found as before, with no title. */
static void test_schema_1_index_is_migrated(void)
{
    snprintf(db, sizeof db, "%s/v1.db", check_tmpdir());
    sqlite3 *raw = NULL;
    CHECK_INT(sqlite3_open(db, &raw), SQLITE_OK);
    CHECK_INT(sqlite3_exec(raw,
        "CREATE TABLE documents (id TEXT PRIMARY KEY, source TEXT NOT NULL, size INTEGER,"
        " mtime_ms INTEGER, sha256 TEXT, mime TEXT, page_count INTEGER, pages_indexed INTEGER,"
        " pages_ocr INTEGER, methods TEXT, extract_ms INTEGER, note TEXT, indexed_at INTEGER);"
        "CREATE TABLE pages (rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, page INTEGER NOT"
        " NULL, method TEXT NOT NULL, dpi INTEGER, UNIQUE(doc_id, page));"
        "CREATE VIRTUAL TABLE pages_fts USING fts5(text, tokenize='trigram');"
        "INSERT INTO documents(id, source, page_count) VALUES('old1', '/old/a.pdf', 1);"
        "INSERT INTO pages(rowid, doc_id, page, method) VALUES(1, 'old1', 1, 'text');"
        "INSERT INTO pages_fts(rowid, text) VALUES(1, 'an older index keeps working');"
        "PRAGMA user_version=1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    dm_err err;
    index_sink *s = index_sqlite_open(db, &err);   /* migrates */
    CHECK(s != NULL);
    if (s)
        index_close(s);
    search_hit *hits;
    int n = hits_for("older index", &hits);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(hits[0].source, "/old/a.pdf");
        CHECK(hits[0].title == NULL);
    }
    search_hits_free(hits, n);
    CHECK_INT(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(raw, "SELECT title, meta FROM documents", -1, &st, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    CHECK_INT(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    CHECK_INT(sqlite3_prepare_v2(raw, "SELECT parent, members FROM documents", -1, &st, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    sqlite3_close(raw);
}

static int64_t count_rows(const char *path, const char *sql)
{
    sqlite3 *raw = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open(path, &raw) == SQLITE_OK &&
        sqlite3_prepare_v2(raw, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
}

/* A container and its members: indexing it again replaces the members its
 * earlier version had, removing it removes them, and it is never anybody's
 * copy (a copy would come without its members). */
static void test_container_families(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/families.db", check_tmpdir());
    dm_err err;
    index_sink *s = index_sqlite_open(path, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    index_page zp[] = {{1, "text", 0, "member one FAMILYPROBE", 0},
                       {1, "text", 0, "member two FAMILYPROBE", 0},
                       {1, "text", 0, "member three FAMILYPROBE", 0}};
    for (int i = 0; i < 3; i++)
        zp[i].text_len = strlen(zp[i].text);
    index_doc fam[4];
    fam[0] = make_doc("/share/r.zip", "aaaa", NULL, 0);
    fam[0].container = true;
    fam[0].members = 2;
    fam[1] = make_doc("/share/r.zip#a.txt", "bbbb", &zp[0], 1);
    fam[2] = make_doc("/share/r.zip#sub/b.txt", "cccc", &zp[1], 1);
    fam[1].parent = fam[2].parent = fam[0].id;
    fam[3] = make_doc("/share/other.txt", "dddd", &zp[2], 1);
    index_item_result res[4];
    CHECK_INT(s->ops->bulk(s, fam, 4, res, &err), 0);
    CHECK_INT(count_rows(path, "SELECT count(*) FROM documents WHERE parent IS NOT NULL"), 2);
    /* the same content elsewhere: a member may be a copy, the container not */
    index_doc c;
    char elsewhere[33];
    index_doc_id("/elsewhere/x", elsewhere);
    CHECK_INT(s->ops->find_copy(s, "bbbb", elsewhere, &c, &err), 1);
    index_doc_free(&c);
    CHECK_INT(s->ops->find_copy(s, "aaaa", elsewhere, &c, &err), 0);
    /* indexed again with one member: the other one is gone, its text too */
    fam[0].members = 1;
    CHECK_INT(s->ops->bulk(s, fam, 2, res, &err), 0);
    CHECK_INT(count_rows(path, "SELECT count(*) FROM documents WHERE parent IS NOT NULL"), 1);
    CHECK_INT(count_rows(path, "SELECT count(*) FROM pages_fts WHERE text MATCH 'FAMILYPROBE'"),
              2);
    /* removed: its members go with it, other documents stay */
    const char *ids[] = {fam[0].id};
    CHECK_INT(s->ops->remove(s, ids, 1, &err), 0);
    CHECK_INT(count_rows(path, "SELECT count(*) FROM documents"), 1);
    CHECK_INT(count_rows(path, "SELECT count(*) FROM pages"), 1);
    CHECK_INT(count_rows(path, "SELECT count(*) FROM pages_fts WHERE text MATCH 'FAMILYPROBE'"),
              1);
    index_close(s);
}

static void test_errors(void)
{
    dm_err err;
    CHECK(index_open("opensearch://x", &err) == NULL);
    CHECK_CONTAINS(err.msg, "unsupported index URI");
    CHECK(index_open("ftp://user:secret@x/y", &err) == NULL);
    CHECK_CONTAINS(err.msg, "unsupported index URI");
    CHECK(!strstr(err.msg, "secret"));
    int64_t count;
    CHECK_INT(index_sqlite_count("/nonexistent/dir/x.db", &count, &err), -1);
    search_hit *hits;
    int n;
    CHECK_INT(index_sqlite_search(db, "   ", 10, &hits, &n, &err), -1);
    CHECK_CONTAINS(err.msg, "empty query");
}

int main(void)
{
    static const check_case cases[] = {
        {"bulk index, search (Japanese, English, short words), replace, remove", test_bulk_search_replace_remove},
        {"a bulk is all or nothing: a failed batch stores nothing", test_bulk_all_or_nothing},
        {"bad URIs, missing databases and empty queries", test_errors},
        {"a stored document is found by its content hash, pages and all", test_find_copy_by_content},
        {"titles are searched, once per document, and carried by every hit", test_titles_are_searched_once_per_document},
        {"a schema 1 index is migrated in place and keeps working", test_schema_1_index_is_migrated},
        {"a container's members are replaced and removed with it", test_container_families},
        {NULL, NULL}};
    return check_run(cases);
}
