/* s3: download an object to a private temporary file. Path-style requests
 * to AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set (stand-ins), virtual-
 * hosted style on AWS. The size is checked (HEAD) before any byte is
 * downloaded; the length, and the MD5 ETag of single-part uploads, are
 * verified after. */
#ifndef DOCMILL_AWS_S3_H
#define DOCMILL_AWS_S3_H

#include "base/common.h"

/* Splits s3://bucket/key. */
int s3_parse_uri(const char *uri, char bucket[64], sbuf *key, dm_err *err);
typedef struct s3_download_options {
    int64_t max_bytes;            /* 0 = no limit */
    int64_t multipart_threshold;  /* larger objects come in ranged parts; 0 = never */
    int64_t part_size;
    int parallel;                 /* parts in flight at once */
} s3_download_options;

/* Downloads uri into dest (created 0600, must not exist). A missing object
 * is permanent with err->code "not_found". */
int s3_download(const char *uri, const char *dest, const s3_download_options *opt,
                int64_t *size, dm_err *err);

/* Uploads a local file to uri with one PUT (objects up to 5 GB). */
int s3_upload(const char *path, const char *uri, dm_err *err);

#endif
