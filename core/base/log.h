/* Logging: one line per event to stderr, safe from any thread. The loop
 * thread and the workers share it; a line is written with a single write(2)
 * so lines from different threads never interleave. Two formats: text for
 * people on a TTY, JSON (one object per line) for journald/CloudWatch:
 *   {"time","level","event","msg"[,"job","source","outcome","ms","pages","pages_ocr","worker"]} */
#ifndef DOCMILL_LOG_H
#define DOCMILL_LOG_H

#include <stdint.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level level);
log_level log_get_level(void);
int log_parse_level(const char *name, log_level *out);
/* Clears the TTY progress line before a log line is printed over it. */
void log_set_progress_active(int active);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON } log_format;
void log_set_format(log_format f);
/* "text", "json", or "auto" (text when stderr is a TTY). */
int log_parse_format(const char *name, log_format *out);

/* A job's event with its fields (JSON keys; text shows only the message). */
typedef struct log_fields {
    const char *event;       /* "job" */
    int64_t job_id;          /* 0 = none */
    const char *source;
    const char *outcome;
    int64_t ms;              /* < 0 = none */
    int pages, pages_ocr;    /* < 0 = none */
    int worker;              /* < 0 = none */
} log_fields;
void log_fields_msg(log_level level, const log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
