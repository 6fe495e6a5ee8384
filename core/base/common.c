#include "base/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mupdf/fitz.h>

void dm_err_set(dm_err *err, bool permanent, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->permanent = permanent;
    err->code = NULL;
}

void dm_err_prefix(dm_err *err, bool permanent, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[sizeof err->msg], msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s", err->msg);
    dm_err_set(err, permanent, "%s%s", prefix, msg);
}

void dm_err_clear(dm_err *err)
{
    if (err) {
        err->msg[0] = '\0';
        err->permanent = false;
        err->code = NULL;
    }
}

void *dm_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "docmill: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

void *dm_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fprintf(stderr, "docmill: out of memory allocating %zu bytes\n", n * m);
        abort();
    }
    return p;
}

void *dm_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "docmill: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return q;
}

char *dm_xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = dm_xmalloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

void sbuf_init(sbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void sbuf_free(sbuf *sb)
{
    free(sb->data);
    sbuf_init(sb);
}

void sbuf_reset(sbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

static void sbuf_reserve(sbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need)
        cap *= 2;
    sb->data = dm_xrealloc(sb->data, cap);
    sb->cap = cap;
}

void sbuf_append(sbuf *sb, const char *s, size_t n)
{
    sbuf_reserve(sb, n);
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sbuf_putc(sbuf *sb, char c)
{
    sbuf_append(sb, &c, 1);
}

void sbuf_appendf(sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sbuf_reserve(sb, (size_t)n);
        vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
        sb->len += (size_t)n;
    }
    va_end(ap2);
}

char *sbuf_take(sbuf *sb)
{
    if (!sb->data)
        return dm_xstrdup("");
    char *d = sb->data;
    sbuf_init(sb);
    return d;
}

int64_t dm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hex_digest(const unsigned char digest[32], char out[65])
{
    static const char hexd[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hexd[digest[i] >> 4];
        out[2 * i + 1] = hexd[digest[i] & 15];
    }
    out[64] = '\0';
}

/* MuPDF already links a SHA-256 implementation that needs no context; using
 * it spares another crypto dependency. */
void dm_sha256_hex(const void *data, size_t len, char out[65])
{
    fz_sha256 st;
    unsigned char digest[32];
    fz_sha256_init(&st);
    fz_sha256_update(&st, data, len);
    fz_sha256_final(&st, digest);
    hex_digest(digest, out);
}

int dm_sha256_file(const char *path, char out[65], dm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dm_err_set(err, errno == ENOENT, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    fz_sha256 st;
    fz_sha256_init(&st);
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            dm_err_set(err, false, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        fz_sha256_update(&st, buf, (size_t)n);
    }
    close(fd);
    unsigned char digest[32];
    fz_sha256_final(&st, digest);
    hex_digest(digest, out);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dm_percent_decode(const char *in, bool plus_is_space, sbuf *out)
{
    for (const char *p = in; *p; p++) {
        if (*p == '+' && plus_is_space) {
            sbuf_putc(out, ' ');
        } else if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            char c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            if (c == '\0')
                return -1;
            sbuf_putc(out, c);
            p += 2;
        } else {
            sbuf_putc(out, *p);
        }
    }
    if (!out->data)
        sbuf_append(out, "", 0);
    return 0;
}

int dm_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool dm_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int64_t dm_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

void dm_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
