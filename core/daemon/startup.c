/* startup: from a config to running workers — the policy validated once
 * (a typo is one clear error, not N), the pid file, the queue and its
 * recovery from a crashed run (its crash journal names the job to blame),
 * the indexing buffer, and the workers, each with its state built. */
#include "daemon/runtime_internal.h"

#include "base/log.h"
#include "index/index.h"
#include "index/index_opensearch.h"
#include "ops/pidfile.h"
#include "queue/crash_journal.h"
#include "queue/queue_sqlite.h"
#include "queue/queue_sqs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The queue: SQS when the source is a queue URL, else the durable local
 * queue the folder scan fills (minus the databases inside that folder). */
static int open_queue(runtime *rt, sbuf *root, dm_err *err)
{
    const runtime_config *cfg = rt->cfg;
    if (cfg->queue_url) {
        /* The queue is the source: nothing to scan. */
        /* The policy decides; the config and SQS_WAIT_TIME/SQS_MAX_MESSAGES
         * override it. */
        queue_sqs_options qo = {
            cfg->sqs_wait_seconds >= 0 ? cfg->sqs_wait_seconds : rt->settings.sqs_wait_seconds,
            cfg->sqs_max_messages >= 0 ? cfg->sqs_max_messages : rt->settings.sqs_max_messages};
        rt->q = queue_sqs_open(cfg->queue_url, &qo, err);
        if (!rt->q)
            return -1;
        rt->scanned_once = true;
    } else {
        if (source_dir_resolve(cfg->source_dir, root, err) != 0)
            return -1;
        rt->source_root = sbuf_take(root);
        rt->q = queue_sqlite_open(cfg->queue_path, NULL, err);
        if (!rt->q)
            return -1;
        /* The database may live inside the folder it indexes. */
        char real[4096];
        const char *index_path = index_sqlite_path(cfg->index_uri);
        if (realpath(cfg->queue_path, real))
            rt->exclude[rt->nexclude++] = dm_xstrdup(real);
        if (index_path && realpath(index_path, real) &&
            (rt->nexclude == 0 || strcmp(real, rt->exclude[0]) != 0))
            rt->exclude[rt->nexclude++] = dm_xstrdup(real);
    }
    return 0;
}

/* Jobs an earlier process left in flight go back to the queue; the ones it
 * crashed on count a crash (quarantined at max_crashes). */
static int recover_crashed_run(runtime *rt, dm_err *err)
{
    const runtime_config *cfg = rt->cfg;
    /* The crash journal of the process that held these leases, if it
     * died: it names the jobs to blame (the queue's own folder keeps it). */
    int64_t culprits[CRASH_JOURNAL_MAX];
    int nculprits = 0, sig = -1;
    if (cfg->queue_path && !cfg->queue_url) {
        rt->crash_journal = dm_xmalloc(strlen(cfg->queue_path) + 16);
        sprintf(rt->crash_journal, "%s-crashes", cfg->queue_path);
        nculprits = crash_journal_take(rt->crash_journal, culprits, CRASH_JOURNAL_MAX, &sig);
    }
    /* How the last worker process died, for the quarantine reason: its
     * journal, else what the supervisor saw (SIGKILL leaves no journal). */
    char cause[128];
    const char *last = getenv("DOCMILL_LAST_CRASH");
    if (sig >= 0)
        crash_describe(sig, cause, sizeof cause);
    else if (last && *last)
        snprintf(cause, sizeof cause, "%s", last);
    else
        snprintf(cause, sizeof cause, "died or stalled");
    queue_recovery rec = {rt->settings.max_crashes, culprits, nculprits, cause, 0};
    int recovered = queue_recover(rt->q, &rec, err);
    if (recovered < 0)
        return -1;
    if (recovered > 0)
        log_info("resuming %d jobs left in flight by an earlier run%s", recovered,
                 nculprits ? " (the crash is blamed on the job its journal names)" : "");
    if (rec.quarantined > 0)
        log_error("quarantined %d jobs: their worker process died on them max_crashes (%d) times",
                  rec.quarantined, rt->settings.max_crashes);
    rt->sum.failed += rec.quarantined;
    if (crash_journal_open(rt->crash_journal, err) != 0)
        return -1;
    return 0;
}

/* Starts the worker threads and waits until each has built its state, or
 * stops them all when one could not. */
static int start_workers(runtime *rt, dm_err *err)
{
    const runtime_config *cfg = rt->cfg;
    rt->workers = dm_xcalloc((size_t)rt->nworkers, sizeof *rt->workers);
    int started = 0;
    for (int i = 0; i < rt->nworkers; i++) {
        if (worker_start(&rt->workers[i], rt, i, cfg, err) != 0)
            break;
        started++;
    }
    /* Wait until every worker has built its state (or failed to). */
    bool init_failed = started < rt->nworkers;
    for (int i = 0; i < started; i++) {
        while (atomic_load(&rt->workers[i].ready) == 0)
            usleep(2000);
        if (atomic_load(&rt->workers[i].ready) < 0 && !init_failed) {
            *err = rt->workers[i].init_err;
            init_failed = true;
        }
    }
    if (init_failed) {
        pthread_mutex_lock(&rt->mu);
        rt->stopping = true;
        pthread_cond_broadcast(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        for (int i = 0; i < started; i++)
            worker_join(&rt->workers[i]);
        uv_loop_close(&rt->loop);
        bulk_buffer_stop(rt->bulk);
        rt->bulk = NULL;
        return -1;
    }
    return 0;
}

static int start(runtime *rt, sbuf *root, dm_err *err)
{
    const runtime_config *cfg = rt->cfg;
    snprintf(rt->policy_path, sizeof rt->policy_path, "%s",
             cfg->policy_path ? cfg->policy_path : "");
    rt->rescan_seconds = cfg->rescan_seconds;
    /* What a SIGHUP compares the config file with. The CLI has just read
     * it; a failure now (the file broken since) keeps what the CLI read. */
    dm_err cerr;
    if (runtime_read_config(rt, &cerr) != 0)
        log_warn("config: %s; going on with the config the run started from", cerr.msg);
    if (runtime_validate_policy(rt, &rt->settings, err) != 0)
        return -1;
    rt->control_wanted = cfg->socket_path != NULL;
    if (cfg->pid_file) {
        rt->pid_fd = pidfile_create(cfg->pid_file, err);
        if (rt->pid_fd < 0 && !cfg->control_optional)
            return -1;
        if (rt->pid_fd < 0) {
            /* The CLI checked too, but another run may have started since. */
            log_warn("%s: this run has no control socket or pid file", err->msg);
            rt->control_wanted = false;
        }
    }
    if (open_queue(rt, root, err) != 0 || recover_crashed_run(rt, err) != 0)
        return -1;
    queue_counts c;
    if (queue_get_counts(rt->q, &c, err) != 0) {
        /* A queue that answers "no such queue" is a setup error; one that
         * is briefly unwell (SQS 5xx, throttling) must not stop the start. */
        if (err->permanent)
            return -1;
        log_warn("queue counts not available yet (%s): going on", err->msg);
        memset(&c, 0, sizeof c);
    }
    if (rt->source_root)
        rt->total_known = c.pending;

    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    rt->pages = page_board_new(runtime_wake_workers, rt);
    rt->claims = content_claims_new();
    if (rt->settings.opensearch_mapping_file[0]) {
        char *json = settings_read_mapping(rt->settings.opensearch_mapping_file, err);
        if (!json)
            return -1;
        index_opensearch_set_create_body(json);
        free(json);
    }
    bulk_limits limits = {rt->settings.batch_size, (int64_t)(rt->settings.batch_max_mb * 1048576),
                          (int64_t)(rt->settings.batch_max_age_seconds * 1000)};
    rt->bulk = bulk_buffer_start(cfg->index_uri, &limits, runtime_complete_from_bulk, rt, err);
    if (!rt->bulk)
        return -1;
    uv_loop_init(&rt->loop);
    /* The config (or MAX_WORKERS, or --workers) wins; else the policy's
     * (per instance type); else one per core. */
    rt->nworkers = cfg->workers > 0           ? cfg->workers
                   : rt->settings.workers > 0 ? rt->settings.workers
                                              : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (rt->nworkers < 1)
        rt->nworkers = 1;
    return start_workers(rt, err);
}

int runtime_start(runtime *rt, dm_err *err)
{
    sbuf root;
    sbuf_init(&root);
    int rc = start(rt, &root, err);
    sbuf_free(&root);
    return rc;
}

void runtime_free(runtime *rt)
{
    const runtime_config *cfg = rt->cfg;
    pidfile_remove(cfg->pid_file, rt->pid_fd);
    if (rt->chan)
        queue_jobs_free(rt->chan, rt->chan_len);
    for (int i = 0; i < rt->nflight; i++)
        free(rt->flight[i].source);
    free(rt->flight);
    free(rt->results);
    free(rt->workers);
    for (int i = 0; i < rt->nexclude; i++)
        free(rt->exclude[i]);
    free(rt->source_root);
    crash_journal_close();
    free(rt->crash_journal);
    queue_close(rt->q);
    page_board_free(rt->pages);
    content_claims_free(rt->claims);
    free(rt);
}
