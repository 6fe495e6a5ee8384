/* index: the sinks behind one interface, chosen by URI. */
#include "index/index.h"

#include "index/index_opensearch.h"
#include "index/index_sqlite.h"

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
