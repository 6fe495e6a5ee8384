/* scan: the folder source. A scan walks the folder on the thread pool (with
 * its own queue connection) and queues new, changed and deleted files; in
 * watch mode it runs again every rescan_seconds. */
#include "daemon/runtime_internal.h"

#include "base/log.h"
#include "queue/queue_sqlite.h"

static void scan_run(uv_work_t *req)
{
    runtime *rt = req->data;
    queue *q = queue_sqlite_open(rt->cfg->queue_path, NULL, &rt->scan_err);
    if (!q) {
        rt->scan_rc = -1;
        return;
    }
    rt->scan_rc = source_dir_scan(q, rt->source_root, (const char *const *)rt->exclude,
                                  rt->nexclude, &rt->scan, &rt->scan_err);
    queue_close(q);
}

static void scan_done(uv_work_t *req, int status)
{
    runtime *rt = req->data;
    (void)status;
    bool first = !rt->scanned_once;
    rt->scanning = false;
    rt->scanned_once = true;
    rt->last_scan_ms = dm_mono_ms();
    if (rt->scan_rc != 0) {
        if (rt->cfg->once)
            runtime_set_fatal(rt, &rt->scan_err);
        else
            log_error("scan failed: %s", rt->scan_err.msg);
        return;
    }
    /* Rescans in watch mode see the same unchanged files again: count
     * them once. */
    if (first)
        rt->sum.unchanged += rt->scan.unchanged;
    rt->total_known += rt->scan.queued + rt->scan.deleted;
    if (first || rt->scan.queued || rt->scan.deleted)
        log_info("scan of %s: %lld files, %lld new or changed, %lld unchanged, %lld removed",
                 rt->source_root, (long long)rt->scan.files, (long long)rt->scan.queued,
                 (long long)rt->scan.unchanged, (long long)rt->scan.deleted);
    /* New jobs: lease now rather than at the next tick. */
    runtime_fill_channel(rt);
}

void runtime_start_scan(runtime *rt)
{
    if (rt->scanning)
        return;
    rt->scanning = true;
    rt->scan_work.data = rt;
    uv_queue_work(&rt->loop, &rt->scan_work, scan_run, scan_done);
}
