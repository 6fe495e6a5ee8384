/* metrics: what the worker reports to monitoring, in two formats from one
 * snapshot — CloudWatch embedded metric format (one JSON line per interval,
 * shipped by the CloudWatch agent without API calls) and Prometheus text
 * (served on a loopback port for scraping). Plain C: formatting is tested
 * without a runtime. */
#ifndef DOCMILL_METRICS_H
#define DOCMILL_METRICS_H

#include "base/common.h"
#include "ops/run_stats.h"

#include <uv.h>

#define METRICS_NAMESPACE "docmill"

typedef struct metrics_point {
    runtime_stats st;
    double cpu_seconds;         /* process user + system time */
    int64_t mono_ms;
} metrics_point;

typedef struct metrics_context {
    const char *instance_type;  /* dimension: "local" off EC2 */
    int ncpu;
    int64_t mem_total_bytes;
} metrics_context;

double metrics_process_cpu_seconds(void);
/* One EMF line (with '\n') for the interval from prev to now. */
void metrics_emf_line(const metrics_point *prev, const metrics_point *now,
                      const metrics_context *ctx, int64_t timestamp_ms, sbuf *out);
/* Prometheus text exposition format of the cumulative counters. */
void metrics_prometheus(const metrics_point *now, const metrics_context *ctx, sbuf *out);

/* A minimal HTTP/1.0 responder: GET /metrics answers render(ud)'s text,
 * anything else 404. HOST:PORT; port 0 picks one (see metrics_server_port). */
typedef struct metrics_server metrics_server;
typedef void (*metrics_render_fn)(void *ud, sbuf *out);
metrics_server *metrics_serve(uv_loop_t *loop, const char *host_port, metrics_render_fn render,
                              void *ud, dm_err *err);
int metrics_server_port(metrics_server *m);
void metrics_server_close(metrics_server *m);

#endif
