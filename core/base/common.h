/* Shared plumbing for the C core: the error value every primitive returns,
 * a growable byte buffer, and small time/hash helpers. */
#ifndef DOCMILL_COMMON_H
#define DOCMILL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Every primitive reports failure through a dm_err. `permanent` tells the
 * runtime whether retrying the job can help (corrupt file: no; index busy:
 * yes), which decides between "record and ack" and "release for retry". */
typedef struct dm_err {
    char msg[512];
    bool permanent;
    /* A machine-readable reason where callers act on it differently
     * ("not_found": the source is gone), else NULL. Static strings only. */
    const char *code;
} dm_err;

void dm_err_set(dm_err *err, bool permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dm_err_clear(dm_err *err);
/* Puts the formatted text before err's message ("file:12: " + message). */
void dm_err_prefix(dm_err *err, bool permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct sbuf {
    char *data;
    size_t len;
    size_t cap;
} sbuf;

void sbuf_init(sbuf *sb);
void sbuf_free(sbuf *sb);
void sbuf_reset(sbuf *sb);
/* Aborts on out-of-memory: a worker cannot do anything useful without the
 * few bytes a text buffer needs, and pretending otherwise hides the bug. */
void sbuf_append(sbuf *sb, const char *s, size_t n);
void sbuf_appendf(sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_putc(sbuf *sb, char c);
/* Hands the buffer to the caller (NUL-terminated, never NULL) and resets sb. */
char *sbuf_take(sbuf *sb);

void *dm_xmalloc(size_t n);
void *dm_xcalloc(size_t n, size_t m);
void *dm_xrealloc(void *p, size_t n);
char *dm_xstrdup(const char *s);

int64_t dm_now_ms(void);      /* wall clock, ms since the epoch */
int64_t dm_mono_ms(void);     /* monotonic, for durations */
/* The one backoff: the delay before the attempt-th retry (1 = the first),
 * base_ms doubled per attempt, capped at max_ms. */
int64_t dm_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);
/* Sleeps ms milliseconds, through signals. */
void dm_sleep_ms(int64_t ms);

/* sha256 of a buffer or a file, as 64 lowercase hex characters + NUL. */
void dm_sha256_hex(const void *data, size_t len, char out[65]);
int dm_sha256_file(const char *path, char out[65], dm_err *err);

bool dm_str_has_prefix(const char *s, const char *prefix);
/* Percent-decodes in (and '+' as a space when plus_is_space, as S3 event
 * keys need) into out. Returns -1 when it would decode a NUL byte. */
int dm_percent_decode(const char *in, bool plus_is_space, sbuf *out);
/* strcmp for qsort/bsearch over arrays of char pointers. */
int dm_strcmp_ptr(const void *a, const void *b);

#endif
