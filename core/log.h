/* Logging: one line per event to stderr, safe from any thread. The loop
 * thread and the workers share it; a line is written with a single write(2)
 * so lines from different threads never interleave. */
#ifndef DOCMILL_LOG_H
#define DOCMILL_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level level);
log_level log_get_level(void);
int log_parse_level(const char *name, log_level *out);
/* Clears the TTY progress line before a log line is printed over it. */
void log_set_progress_active(int active);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
