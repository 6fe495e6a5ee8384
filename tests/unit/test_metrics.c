/* Metrics formatting without a runtime: the EMF line's shape and interval
 * arithmetic, Prometheus text, and the loopback responder. */
#include "check.h"
#include "ops/metrics.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void points(metrics_point *a, metrics_point *b)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->mono_ms = 1000;
    b->mono_ms = 61000;  /* a 60 s interval */
    a->st.sum.indexed = 10;
    b->st.sum.indexed = 40;
    b->st.sum.failed = 2;
    b->st.sum.pages = 300;
    b->st.sum.pages_ocr = 120;
    b->st.sum.pages_rotated = 4;
    b->st.sum.pages_vertical = 2;
    b->st.sum.pages_low_confidence = 3;
    a->st.queue_latency_ms_sum = 1000;
    a->st.queue_latency_count = 10;
    b->st.queue_latency_ms_sum = 7000;
    b->st.queue_latency_count = 40;  /* 30 jobs waited 6000 ms: 200 ms each */
    b->st.queue_ok = true;
    b->st.queue.pending = 77;
    a->cpu_seconds = 10;
    b->cpu_seconds = 70;  /* one core's worth over 60 s on 2 cores */
    b->st.rss_bytes = 512ll << 20;
    b->st.stage_seconds[STAGE_OCR] = 55.5;
    b->st.nreasons = 1;
    snprintf(b->st.reasons[0].reason, sizeof b->st.reasons[0].reason, "unsupported \"type\"");
    b->st.reasons[0].count = 2;
}

static double num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1e300;
}

static void test_emf_line(void)
{
    metrics_point a, b;
    points(&a, &b);
    metrics_context ctx = {"c5.xlarge", 2, 2048ll << 20};
    sbuf out;
    sbuf_init(&out);
    metrics_emf_line(&a, &b, &ctx, 1764000000000, &out);
    CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
    CHECK(memchr(out.data, '\n', out.len) == out.data + out.len - 1);  /* one line */
    cJSON *j = cJSON_ParseWithLength(out.data, out.len);
    CHECK(j != NULL);
    if (!j)
        return;
    cJSON *aws = cJSON_GetObjectItem(j, "_aws");
    CHECK_INT((long long)num(aws, "Timestamp"), 1764000000000ll);
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(aws, "CloudWatchMetrics"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d, "Namespace")), "docmill");
    cJSON *m;
    int n = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(d, "Metrics"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(m, "Name"));
        CHECK(name && cJSON_IsNumber(cJSON_GetObjectItem(j, name)));
        CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(m, "Unit")) != NULL);
        n++;
    }
    CHECK(n >= 15);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "InstanceType")), "c5.xlarge");
    CHECK_INT(num(j, "FilesProcessed"), 32);
    CHECK_INT(num(j, "FilesPerHour"), 1920);
    CHECK_INT(num(j, "PagesOCR"), 120);
    CHECK_INT(num(j, "Failures"), 2);
    CHECK_INT(num(j, "QueueLatency"), 200);
    CHECK_INT(num(j, "QueueDepth"), 77);
    CHECK_INT(num(j, "CPUUtilization"), 50);
    CHECK_INT(num(j, "MemoryUtilization"), 25);
    CHECK_INT(num(j, "RSS"), 512);
    CHECK(num(j, "OCRSeconds") > 55.4 && num(j, "OCRSeconds") < 55.6);
    cJSON_Delete(j);
    sbuf_free(&out);
}

static void test_prometheus_text(void)
{
    metrics_point a, b;
    points(&a, &b);
    metrics_context ctx = {NULL, 2, 0};
    sbuf out;
    sbuf_init(&out);
    metrics_prometheus(&b, &ctx, &out);
    sbuf_append(&out, "", 0);
    CHECK_CONTAINS(out.data, "docmill_jobs_total{outcome=\"indexed\"} 40\n");
    CHECK_CONTAINS(out.data, "docmill_failures_total{reason=\"unsupported \\\"type\\\"\"} 2\n");
    CHECK_CONTAINS(out.data, "docmill_stage_seconds_total{stage=\"ocr\"} 55.500\n");
    CHECK_CONTAINS(out.data, "# TYPE docmill_pages_ocr_total counter\ndocmill_pages_ocr_total 120\n");
    CHECK_CONTAINS(out.data, "docmill_pages_rotated_total 4\n");
    CHECK_CONTAINS(out.data, "docmill_pages_vertical_total 2\n");
    CHECK_CONTAINS(out.data, "docmill_pages_low_confidence_total 3\n");
    CHECK_CONTAINS(out.data, "docmill_queue_pending 77\n");
    /* Every sample line is NAME[{labels}] VALUE. */
    for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        CHECK(strncmp(line, "docmill_", 8) == 0);
        CHECK(strchr(line, ' ') != NULL);
    }
    sbuf_free(&out);
}

static uv_loop_t loop;
static uv_async_t stop_async;
static metrics_server *server;

static void render(void *ud, sbuf *out)
{
    (void)ud;
    sbuf_appendf(out, "docmill_up 1\n");
}

static void on_stop(uv_async_t *a)
{
    metrics_server_close(server);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

static void get(int port, const char *req, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    out[0] = '\0';
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return;
    }
    CHECK(write(fd, req, strlen(req)) > 0);
    size_t off = 0;
    ssize_t n;
    while (off < outlen - 1 && (n = read(fd, out + off, outlen - 1 - off)) > 0)
        off += (size_t)n;
    out[off] = '\0';
    close(fd);
}

static void test_http_responder(void)
{
    dm_err err;
    uv_loop_init(&loop);
    CHECK(metrics_serve(&loop, "127.0.0.1", render, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "HOST:PORT");
    CHECK(metrics_serve(&loop, "localhost:1", render, NULL, &err) == NULL);
    server = metrics_serve(&loop, "127.0.0.1:0", render, NULL, &err);
    CHECK(server != NULL);
    if (!server)
        return;
    int port = metrics_server_port(server);
    CHECK(port > 0);
    uv_async_init(&loop, &stop_async, on_stop);
    pthread_t t;
    pthread_create(&t, NULL, loop_main, NULL);
    char buf[2048];
    get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf);
    CHECK_CONTAINS(buf, "HTTP/1.0 200 OK\r\n");
    CHECK_CONTAINS(buf, "Content-Length: 13\r\n");
    CHECK_CONTAINS(buf, "\r\n\r\ndocmill_up 1\n");
    get(port, "GET / HTTP/1.1\r\n\r\n", buf, sizeof buf);
    CHECK_CONTAINS(buf, "404 Not Found");
    uv_async_send(&stop_async);
    pthread_join(t, NULL);
    CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
    static const check_case cases[] = {
        {"an EMF line: one JSON line, every declared metric present, interval arithmetic",
         test_emf_line},
        {"Prometheus text: counters, labels escaped, one sample per line", test_prometheus_text},
        {"the loopback responder serves GET /metrics and 404s the rest", test_http_responder},
        {NULL, NULL}};
    return check_run(cases);
}
