/* index: the sinks behind one interface, chosen by URI. */
#include "index/index.h"

#include "index/index_opensearch.h"
#include "index/index_sqlite.h"

#include <stdlib.h>
#include <string.h>

const char *index_sqlite_path(const char *uri)
{
    if (dm_str_has_prefix(uri, "sqlite:"))
        return uri + 7;
    size_t n = strlen(uri);
    if (!strstr(uri, "://") && n > 3 && strcmp(uri + n - 3, ".db") == 0)
        return uri;
    return NULL;
}

index_sink *index_open(const char *uri, dm_err *err)
{
    const char *path = index_sqlite_path(uri);
    if (path)
        return index_sqlite_open(path, err);
    if (index_opensearch_is_uri(uri))
        return index_opensearch_open(uri, err);
    /* Not echoed when it may carry a password (user:pw@host). */
    dm_err_set(err, true,
               "unsupported index URI '%s' (expected sqlite:PATH or http[s]://HOST[:PORT][/INDEX])",
               strchr(uri, '@') ? "..." : uri);
    return NULL;
}

void index_close(index_sink *sink)
{
    if (sink)
        sink->ops->close(sink);
}

void index_doc_id(const char *source, char out[33])
{
    char hex[65];
    dm_sha256_hex(source, strlen(source), hex);
    memcpy(out, hex, 32);
    out[32] = '\0';
}

static char *dup_or_null(const char *s)
{
    return s ? dm_xstrdup(s) : NULL;
}

int64_t index_doc_copy(index_doc *dst, const index_doc *src)
{
    *dst = *src;
    int64_t bytes = 512;
    dst->id = dup_or_null(src->id);
    dst->source = dup_or_null(src->source);
    dst->sha256 = dup_or_null(src->sha256);
    dst->mime = dup_or_null(src->mime);
    dst->note = dup_or_null(src->note);
    dst->title = dup_or_null(src->title);
    dst->meta = dup_or_null(src->meta);
    dst->parent = dup_or_null(src->parent);
    index_page *pages = dm_xcalloc(src->npages > 0 ? (size_t)src->npages : 1, sizeof *pages);
    for (int i = 0; i < src->npages; i++) {
        pages[i] = src->pages[i];
        pages[i].method = dup_or_null(src->pages[i].method);
        char *t = dm_xmalloc(src->pages[i].text_len + 1);
        memcpy(t, src->pages[i].text ? src->pages[i].text : "", src->pages[i].text_len);
        t[src->pages[i].text_len] = '\0';
        pages[i].text = t;
        bytes += (int64_t)src->pages[i].text_len + 64;
    }
    dst->pages = pages;
    return bytes;
}

void index_doc_free(index_doc *d)
{
    free((void *)d->id);
    free((void *)d->source);
    free((void *)d->sha256);
    free((void *)d->mime);
    free((void *)d->note);
    free((void *)d->title);
    free((void *)d->meta);
    free((void *)d->parent);
    for (int i = 0; i < d->npages; i++) {
        free((void *)d->pages[i].method);
        free((void *)d->pages[i].text);
    }
    free((void *)d->pages);
}

