/* The OpenSearch index sink: one OpenSearch document per file, written with
 * _bulk, one http_client per sink (a sink belongs to one worker thread).
 *
 * URI: http[s]://HOST[:PORT][/INDEX] (INDEX defaults to "docmill"). Never
 * credentials in the URI (refused); they come from the environment:
 *   OPENSEARCH_USERNAME + OPENSEARCH_PASSWORD   HTTP basic auth
 *   OPENSEARCH_AUTH=sigv4                       AWS SigV4 (credentials from the
 *   OPENSEARCH_SIGV4_SERVICE=es|aoss            AWS chain, region from
 *                                               AWS_REGION or the host name)
 * Tuning (mostly for tests):
 *   DOCMILL_OPENSEARCH_RETRY_BASE_MS   first backoff step (200)
 *   DOCMILL_OPENSEARCH_RETRIES         tries per request or item (4)
 *   DOCMILL_OPENSEARCH_BULK_MB         target _bulk body size in MiB (5, max 10)
 *
 * Opening checks the index (HEAD) and creates it with docmill's mapping when
 * missing. A cluster that cannot be reached (refused, timeout, 429/5xx) does
 * not fail the open: the sink is returned and every call first finishes that
 * check, failing transiently until the cluster answers. Configuration errors
 * (bad URI, bad auth settings, 401/403 at open) fail the open permanently. */
#ifndef DOCMILL_INDEX_OPENSEARCH_H
#define DOCMILL_INDEX_OPENSEARCH_H

#include "index/index.h"

/* The hard ceiling of a _bulk request body (AWS OpenSearch Service's
 * smallest http payload limit); a document bigger than this alone is a
 * permanent item failure. */
#define INDEX_OPENSEARCH_MAX_BODY (10u << 20)

/* A create-index body (JSON: settings and mappings) to use instead of
 * docmill's own, from the policy's opensearch_mapping_file. Process-wide;
 * set before sinks open. NULL restores the default. */
void index_opensearch_set_create_body(const char *json);

/* True for http:// and https:// URIs. */
bool index_opensearch_is_uri(const char *uri);
index_sink *index_opensearch_open(const char *uri, dm_err *err);

#endif
