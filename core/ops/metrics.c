#include "ops/metrics.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

double metrics_process_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int64_t files_done(const run_summary *s)
{
    return s->indexed + s->unchanged + s->deleted + s->skipped + s->failed;
}

/* The EMF fields: name, unit. The order is the documented one. */
static const char *const EMF_METRICS[][2] = {
    {"FilesProcessed", "Count"},   {"FilesPerHour", "Count"},     {"PagesProcessed", "Count"},
    {"PagesOCR", "Count"},         {"Failures", "Count"},         {"Retries", "Count"},
    {"QueueLatency", "Milliseconds"}, {"QueueDepth", "Count"},    {"InFlight", "Count"},
    {"CPUUtilization", "Percent"}, {"MemoryUtilization", "Percent"}, {"RSS", "Megabytes"},
    {"FetchSeconds", "Seconds"},   {"TextSeconds", "Seconds"},    {"RenderSeconds", "Seconds"},
    {"OCRSeconds", "Seconds"},     {"IndexSeconds", "Seconds"},   {"ReloadFailures", "Count"},
    {"HealthPaused", "Count"},
};
#define N_EMF (sizeof EMF_METRICS / sizeof *EMF_METRICS)

void metrics_emf_line(const metrics_point *prev, const metrics_point *now,
                      const metrics_context *ctx, int64_t timestamp_ms, sbuf *out)
{
    const runtime_stats *a = &prev->st, *b = &now->st;
    double secs = (double)(now->mono_ms - prev->mono_ms) / 1000.0;
    if (secs <= 0)
        secs = 1e-3;
    int64_t files = files_done(&b->sum) - files_done(&a->sum);
    int64_t nlat = b->queue_latency_count - a->queue_latency_count;
    double lat = nlat > 0 ? (b->queue_latency_ms_sum - a->queue_latency_ms_sum) / (double)nlat : 0;
    double cpu = 100.0 * (now->cpu_seconds - prev->cpu_seconds) /
                 (secs * (ctx->ncpu > 0 ? ctx->ncpu : 1));
    double mem = ctx->mem_total_bytes > 0
                     ? 100.0 * (double)b->rss_bytes / (double)ctx->mem_total_bytes
                     : 0;
    double values[N_EMF] = {
        (double)files,
        (double)files * 3600.0 / secs,
        (double)(b->sum.pages - a->sum.pages),
        (double)(b->sum.pages_ocr - a->sum.pages_ocr),
        (double)(b->sum.failed - a->sum.failed),
        (double)(b->sum.retried - a->sum.retried),
        lat,
        b->queue_ok ? (double)b->queue.pending : 0,
        (double)b->in_flight,
        cpu,
        mem,
        (double)b->rss_bytes / 1048576.0,
        b->stage_seconds[STAGE_FETCH] - a->stage_seconds[STAGE_FETCH],
        b->stage_seconds[STAGE_TEXT] - a->stage_seconds[STAGE_TEXT],
        b->stage_seconds[STAGE_RENDER] - a->stage_seconds[STAGE_RENDER],
        b->stage_seconds[STAGE_OCR] - a->stage_seconds[STAGE_OCR],
        b->stage_seconds[STAGE_INDEX] - a->stage_seconds[STAGE_INDEX],
        (double)(b->reload_failures - a->reload_failures),
        b->health_paused || b->paused ? 1 : 0,
    };
    cJSON *root = cJSON_CreateObject();
    cJSON *aws = cJSON_AddObjectToObject(root, "_aws");
    cJSON_AddNumberToObject(aws, "Timestamp", (double)timestamp_ms);
    cJSON *cwm = cJSON_AddArrayToObject(aws, "CloudWatchMetrics");
    cJSON *directive = cJSON_CreateObject();
    cJSON_AddItemToArray(cwm, directive);
    cJSON_AddStringToObject(directive, "Namespace", METRICS_NAMESPACE);
    /* Fleet-wide and per instance type. */
    cJSON *dims = cJSON_AddArrayToObject(directive, "Dimensions");
    const char *fleet[] = {"Service"};
    const char *per_type[] = {"Service", "InstanceType"};
    cJSON_AddItemToArray(dims, cJSON_CreateStringArray(fleet, 1));
    cJSON_AddItemToArray(dims, cJSON_CreateStringArray(per_type, 2));
    cJSON *mlist = cJSON_AddArrayToObject(directive, "Metrics");
    for (size_t i = 0; i < N_EMF; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "Name", EMF_METRICS[i][0]);
        cJSON_AddStringToObject(m, "Unit", EMF_METRICS[i][1]);
        cJSON_AddItemToArray(mlist, m);
    }
    cJSON_AddStringToObject(root, "Service", "docmill");
    cJSON_AddStringToObject(root, "InstanceType",
                            ctx->instance_type && *ctx->instance_type ? ctx->instance_type : "local");
    for (size_t i = 0; i < N_EMF; i++)
        cJSON_AddNumberToObject(root, EMF_METRICS[i][0], values[i]);
    /* Context for log searches; not metrics. */
    cJSON_AddNumberToObject(root, "IntervalSeconds", secs);
    cJSON_AddNumberToObject(root, "PolicyGeneration", b->policy_generation);
    char *text = cJSON_PrintUnformatted(root);
    sbuf_append(out, text, strlen(text));
    sbuf_putc(out, '\n');
    free(text);
    cJSON_Delete(root);
}

static void prom(sbuf *out, const char *name, const char *type, const char *help, double v)
{
    sbuf_appendf(out, "# HELP docmill_%s %s\n# TYPE docmill_%s %s\ndocmill_%s %.17g\n", name, help,
                 name, type, name, v);
}

void metrics_prometheus(const metrics_point *now, const metrics_context *ctx, sbuf *out)
{
    const runtime_stats *s = &now->st;
    (void)ctx;
    sbuf_appendf(out,
                 "# HELP docmill_jobs_total Jobs ended, by outcome.\n"
                 "# TYPE docmill_jobs_total counter\n");
    const struct {
        const char *outcome;
        int64_t n;
    } outcomes[] = {{"indexed", s->sum.indexed}, {"unchanged", s->sum.unchanged},
                    {"deleted", s->sum.deleted}, {"skipped", s->sum.skipped},
                    {"failed", s->sum.failed},   {"retried", s->sum.retried}};
    for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++)
        sbuf_appendf(out, "docmill_jobs_total{outcome=\"%s\"} %lld\n", outcomes[i].outcome,
                     (long long)outcomes[i].n);
    sbuf_appendf(out, "# HELP docmill_failures_total Permanent failures, by reason.\n"
                      "# TYPE docmill_failures_total counter\n");
    for (int i = 0; i < s->nreasons; i++) {
        sbuf_appendf(out, "docmill_failures_total{reason=\"");
        for (const char *p = s->reasons[i].reason; *p; p++) {
            if (*p == '"' || *p == '\\')
                sbuf_putc(out, '\\');
            if (*p == '\n')
                sbuf_append(out, "\\n", 2);
            else
                sbuf_putc(out, *p);
        }
        sbuf_appendf(out, "\"} %lld\n", (long long)s->reasons[i].count);
    }
    sbuf_appendf(out, "# HELP docmill_stage_seconds_total Time spent per stage, all workers.\n"
                      "# TYPE docmill_stage_seconds_total counter\n");
    for (int k = 0; k < STAGE_COUNT; k++)
        sbuf_appendf(out, "docmill_stage_seconds_total{stage=\"%s\"} %.3f\n",
                     job_stage_names[k], s->stage_seconds[k]);
    prom(out, "pages_total", "counter", "Pages extracted.", (double)s->sum.pages);
    prom(out, "pages_ocr_total", "counter", "Pages OCR'd.", (double)s->sum.pages_ocr);
    prom(out, "pages_rotated_total", "counter", "OCR'd pages read turned back (EXIF or detected).",
         (double)s->sum.pages_rotated);
    prom(out, "pages_vertical_total", "counter", "OCR'd pages read as vertical Japanese.",
         (double)s->sum.pages_vertical);
    prom(out, "pages_low_confidence_total", "counter",
         "OCR'd pages indexed below the confidence floor (low_confidence_below).",
         (double)s->sum.pages_low_confidence);
    prom(out, "queue_latency_seconds_sum", "counter",
         "Time jobs waited in the queue once available.", s->queue_latency_ms_sum / 1000.0);
    prom(out, "queue_latency_seconds_count", "counter", "Jobs counted in the latency sum.",
         (double)s->queue_latency_count);
    prom(out, "queue_pending", "gauge", "Jobs waiting in the queue (visible).",
         s->queue_ok ? (double)s->queue.pending : 0);
    prom(out, "in_flight", "gauge", "Jobs leased by this worker.", (double)s->in_flight);
    prom(out, "workers", "gauge", "Worker threads.", (double)s->workers);
    prom(out, "paused", "gauge", "1 when not taking jobs (operator or health).",
         s->paused || s->health_paused ? 1 : 0);
    prom(out, "policy_reloads_total", "counter", "Successful reloads (config and policy).",
         (double)s->reloads);
    prom(out, "policy_reload_failures_total", "counter", "Rejected reloads (config or policy).",
         (double)s->reload_failures);
    prom(out, "resident_memory_bytes", "gauge", "Process RSS.", (double)s->rss_bytes);
    prom(out, "cpu_seconds_total", "counter", "Process user + system CPU time.",
         now->cpu_seconds);
    prom(out, "uptime_seconds", "gauge", "Seconds since start.", (double)s->sum.elapsed_ms / 1000.0);
}

/* --- the loopback HTTP responder ------------------------------------------- */

#define METRICS_MAX_CONNS 32

typedef struct http_conn {
    uv_tcp_t tcp;
    struct metrics_server *server;
    sbuf in;
    bool answered;
    struct http_conn *next;
} http_conn;

struct metrics_server {
    uv_tcp_t tcp;
    metrics_render_fn render;
    void *ud;
    int port;
    http_conn *conns;   /* open connections, closed with the server */
    int nconns;
};

typedef struct http_write {
    uv_write_t req;
    char *data;
    http_conn *conn;
} http_write;

static void http_conn_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    sbuf_free(&c->in);
    free(c);
}

static void http_conn_close(http_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    metrics_server *m = c->server;
    for (http_conn **pp = &m->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            m->nconns--;
            break;
        }
    uv_close((uv_handle_t *)&c->tcp, http_conn_closed);
}

static void http_written(uv_write_t *req, int status)
{
    (void)status;
    http_write *w = (http_write *)req;
    http_conn_close(w->conn);
    free(w->data);
    free(w);
}

static void http_answer(http_conn *c)
{
    c->answered = true;
    sbuf body, resp;
    sbuf_init(&body);
    sbuf_init(&resp);
    const char *status = "200 OK";
    if (strncmp(c->in.data, "GET /metrics ", 13) == 0 || strncmp(c->in.data, "GET /metrics?", 13) == 0)
        c->server->render(c->server->ud, &body);
    else {
        status = "404 Not Found";
        sbuf_appendf(&body, "only GET /metrics here\n");
    }
    sbuf_appendf(&resp,
                 "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 status, body.len);
    sbuf_append(&resp, body.data ? body.data : "", body.len);
    sbuf_free(&body);
    http_write *w = dm_xmalloc(sizeof *w);
    w->conn = c;
    w->data = resp.data;
    uv_buf_t buf = uv_buf_init(resp.data, (unsigned)resp.len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, http_written) != 0) {
        free(w->data);
        free(w);
        http_conn_close(c);
    }
}

static void http_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = dm_xmalloc(suggested);
    buf->len = suggested;
}

static void http_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    http_conn *c = s->data;
    if (nread > 0 && !c->answered) {
        sbuf_append(&c->in, buf->base, (size_t)nread);
        sbuf_append(&c->in, "", 0);
        if (strstr(c->in.data, "\r\n\r\n") || strstr(c->in.data, "\n\n"))
            http_answer(c);
        else if (c->in.len > 16384)
            http_conn_close(c);
    } else if (nread < 0) {
        http_conn_close(c);
    }
    free(buf->base);
}

static void http_accept(uv_stream_t *listener, int status)
{
    if (status < 0)
        return;
    metrics_server *m = listener->data;
    http_conn *c = dm_xcalloc(1, sizeof *c);
    c->server = m;
    sbuf_init(&c->in);
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, http_conn_closed);
        return;
    }
    c->next = m->conns;
    m->conns = c;
    /* A scraper asks now and then; many open sockets mean something else. */
    if (++m->nconns > METRICS_MAX_CONNS) {
        http_conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, http_alloc, http_read);
}

static void server_closed(uv_handle_t *h)
{
    free(h->data);
}

metrics_server *metrics_serve(uv_loop_t *loop, const char *host_port, metrics_render_fn render,
                              void *ud, dm_err *err)
{
    char host[256];
    const char *colon = strrchr(host_port, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == host_port || (size_t)(colon - host_port) >= sizeof host || !end ||
        *end || port < 0 || port > 65535) {
        dm_err_set(err, true, "--metrics wants HOST:PORT (e.g. 127.0.0.1:9464), got '%s'",
                   host_port);
        return NULL;
    }
    memcpy(host, host_port, (size_t)(colon - host_port));
    host[colon - host_port] = '\0';
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr) != 0) {
        dm_err_set(err, true, "--metrics: '%s' is not an IP address", host);
        return NULL;
    }
    metrics_server *m = dm_xcalloc(1, sizeof *m);
    m->render = render;
    m->ud = ud;
    uv_tcp_init(loop, &m->tcp);
    m->tcp.data = m;
    int rc = uv_tcp_bind(&m->tcp, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&m->tcp, 16, http_accept);
    if (rc != 0) {
        dm_err_set(err, true, "--metrics: cannot listen on %s: %s", host_port, uv_strerror(rc));
        uv_close((uv_handle_t *)&m->tcp, server_closed);
        return NULL;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&m->tcp, (struct sockaddr *)&bound, &len);
    m->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return m;
}

int metrics_server_port(metrics_server *m)
{
    return m->port;
}

void metrics_server_close(metrics_server *m)
{
    if (!m)
        return;
    while (m->conns)
        http_conn_close(m->conns);
    uv_close((uv_handle_t *)&m->tcp, server_closed);
}
