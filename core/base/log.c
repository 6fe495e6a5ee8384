#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = LOG_INFO;
static atomic_int progress_active = 0;

void log_set_level(log_level level) { atomic_store(&current_level, (int)level); }
log_level log_get_level(void) { return (log_level)atomic_load(&current_level); }
void log_set_progress_active(int active) { atomic_store(&progress_active, active); }

int log_parse_level(const char *name, log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    return -1;
}

static atomic_int current_format = LOG_FORMAT_TEXT;

void log_set_format(log_format f) { atomic_store(&current_format, (int)f); }

int log_parse_format(const char *name, log_format *out)
{
    if (strcmp(name, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (strcmp(name, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else if (strcmp(name, "auto") == 0)
        *out = isatty(STDERR_FILENO) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

typedef struct line_buf {
    char data[4096];
    size_t len;
} line_buf;

static void put(line_buf *b, const char *s, size_t n)
{
    if (n > sizeof b->data - 2 - b->len)
        n = sizeof b->data - 2 - b->len;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void putf(line_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, sizeof b->data - 1 - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n < sizeof b->data - 1 - b->len ? (size_t)n : sizeof b->data - 2 - b->len;
}

/* Room kept at the end of a JSON line so a long message cut short still
 * closes its string and its object. */
#define JSON_TAIL_ROOM 16

/* A JSON string: quotes, backslashes and control characters escaped; cut
 * (on a UTF-8 character boundary, marked "...") where the line would
 * overflow. */
static void put_json_string(line_buf *b, const char *s)
{
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (b->len + 8 + JSON_TAIL_ROOM > sizeof b->data && (*p & 0xC0) != 0x80) {
            put(b, "...", 3);
            break;
        }
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            put(b, esc, 2);
        } else if (*p < 0x20) {
            putf(b, "\\u%04x", *p);
        } else {
            put(b, (const char *)p, 1);
        }
    }
    put(b, "\"", 1);
}

static void emit(log_level level, const log_fields *f, const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&current_level))
        return;
    static const char *tags[] = {"debug", "info", "warn", "error"};
    char msg[4096];
    int mn = vsnprintf(msg, sizeof msg, fmt, ap);
    if (mn >= (int)sizeof msg) {
        /* Cut on a UTF-8 character boundary, and say so. */
        size_t end = sizeof msg - 4;
        while (end > 0 && ((unsigned char)msg[end] & 0xC0) == 0x80)
            end--;
        memcpy(msg + end, "...", 4);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wn = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof when - wn, ".%03ldZ", ts.tv_nsec / 1000000);
    line_buf b = {.len = 0};
    if (atomic_load(&progress_active))
        put(&b, "\r\033[K", 4);
    if (atomic_load(&current_format) == LOG_FORMAT_JSON) {
        putf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":", when, tags[level]);
        put_json_string(&b, f && f->event ? f->event : "log");
        if (f && f->job_id)
            putf(&b, ",\"job\":%lld", (long long)f->job_id);
        if (f && f->source) {
            /* The message repeats the source: keep the line's room for it. */
            size_t keep = b.len;
            put(&b, ",\"source\":", 10);
            put_json_string(&b, f->source);
            if (b.len > sizeof b.data / 2)
                b.len = keep;
        }
        if (f && f->outcome)
            putf(&b, ",\"outcome\":\"%s\"", f->outcome);
        if (f && f->ms >= 0)
            putf(&b, ",\"ms\":%lld", (long long)f->ms);
        if (f && f->pages >= 0)
            putf(&b, ",\"pages\":%d,\"pages_ocr\":%d", f->pages, f->pages_ocr);
        if (f && f->worker >= 0)
            putf(&b, ",\"worker\":%d", f->worker);
        put(&b, ",\"msg\":", 7);
        put_json_string(&b, msg);
        put(&b, "}", 1);
    } else {
        putf(&b, "%s %s %s", when, tags[level], msg);
    }
    b.data[b.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, b.data, b.len);
    (void)w;
}

void log_msg(log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, NULL, fmt, ap);
    va_end(ap);
}

void log_fields_msg(log_level level, const log_fields *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, f, fmt, ap);
    va_end(ap);
}
