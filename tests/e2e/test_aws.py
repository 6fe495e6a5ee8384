#!/usr/bin/python3
"""AWS mode end to end against local stand-ins (fauxqs for SQS and S3, a
fake IMDS), all on 127.0.0.1: S3 events in, documents out, messages deleted
only after indexing, poison messages to the DLQ, permanent failures deleted,
enqueue and DLQ replay, and the IMDSv2 credential path."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import e2e_util as U
from aws_standins import Fauxqs, FakeIMDS, FaultProxy, s3_event

BUCKET = "docmill-test"
SECRETS = ("fauxqs-secret-key", "fauxqs-session-token")

# Every docmill invocation of this module is recorded, so the last test can
# check that no secret ever reached a log line or an output.
_seen = []
_dm = U.dm


def _recording_dm(*args, **kw):
    r = _dm(*args, **kw)
    _seen.append(r)
    return r


U.dm = _recording_dm


class AwsMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fq = Fauxqs()
        cls.fq.create_bucket(BUCKET)
        cls.truth = U.truth()

    @classmethod
    def tearDownClass(cls):
        cls.fq.stop()

    def queues(self, name):
        dlq = self.fq.create_queue(name + "-dlq")
        q = self.fq.create_queue(name, dlq_url=dlq, max_receive=2)
        return q, dlq

    def upload(self, name, key):
        with open(os.path.join(U.CORPUS, name), "rb") as f:
            data = f.read()
        self.fq.put_object(BUCKET, key, data)
        return len(data)

    def run_queue(self, queue_url, db, *extra, env_extra=None):
        return U.dm("run", "--source", queue_url, "--index", "sqlite:" + db, "--workers",
                    U.WORKERS, "--once", "--json", *extra, env=self.fq.env(**(env_extra or {})))

    def test_s3_events_are_indexed_and_deleted(self):
        q, dlq = self.queues("events")
        files = {  # corpus file -> key with spaces and Japanese
            "text_ja_en.pdf": "受信箱/text ja en.pdf",
            "scan_ja.pdf": "scans/請求書 スキャン.pdf",
            "image_en.png": "images/harbor light.png",
            "notes_sjis.txt": "notes/メモ.txt",
        }
        for name, key in files.items():
            size = self.upload(name, key)
            self.fq.send(q, s3_event(BUCKET, key, size))
        self.fq.send(q, {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "index.db")
            r = self.run_queue(q, db)
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual((s["indexed"], s["failed"]), (len(files), 0), s)
            for name, key in files.items():
                for phrase in self.truth[name]["phrases"]:
                    hits = U.search(db, phrase)
                    self.assertIn("s3://%s/%s" % (BUCKET, key), [h["source"] for h in hits],
                                  (phrase, hits))
            self.assertEqual(self.fq.counts(q), (0, 0), "every message deleted")
            self.assertEqual(self.fq.counts(dlq), (0, 0))

    def test_queue_and_s3_faults_lose_nothing(self):
        # SQS calls answered 500, S3 GETs answered 503 or cut halfway: every
        # file still ends indexed exactly once, and the queue ends empty.
        dlq = self.fq.create_queue("faults-dlq")
        q = self.fq.create_queue("faults", dlq_url=dlq, max_receive=10, visibility=5)
        names = ["text_ja_en.pdf", "scan_en.pdf", "notes_utf8.txt", "image_en.png"]
        for name in names:
            self.fq.send(q, s3_event(BUCKET, "faults/" + name, self.upload(name, "faults/" + name)))
        proxy = FaultProxy(self.fq.endpoint, sqs_500=4, s3_503=3, s3_cut=2)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                pol = os.path.join(tmp, "policy.lua")
                with open(pol, "w") as f:
                    f.write("return { retry_base_ms = 50, retry_max_ms = 500 }\n")
                db = os.path.join(tmp, "index.db")
                r = U.dm("run", "--source", proxy.url(q), "--index", "sqlite:" + db,
                         "--workers", U.WORKERS, "--once", "--json", "--policy", pol,
                         env=self.fq.env(AWS_ENDPOINT_URL=proxy.endpoint), timeout=300)
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(proxy.injected, {"sqs_500": 4, "s3_503": 3, "s3_cut": 2}, r)
                by_source = U.docs_by_source(db)
                self.assertEqual(by_source, {"s3://%s/faults/%s" % (BUCKET, n): 1 for n in names})
                for name in names:
                    for phrase in self.truth[name]["phrases"][:1]:
                        self.assertIn("s3://%s/faults/%s" % (BUCKET, name),
                                      [h["source"] for h in U.search(db, phrase)])
        finally:
            proxy.stop()
        self.assertEqual(self.fq.counts(q), (0, 0))
        self.assertEqual(self.fq.counts(dlq), (0, 0))

    def test_unwritable_temp_dir_delays_but_loses_nothing(self):
        # TEMP_DIR missing (as unusable as a full one): downloads fail as
        # transient, the jobs wait; once it is back, everything is indexed.
        # (Each retry is a receive: the redrive policy must allow several.)
        dlq = self.fq.create_queue("tempdir-dlq")
        q = self.fq.create_queue("tempdir", dlq_url=dlq, max_receive=10)
        names = ["notes_utf8.txt", "text_ja_en.pdf"]
        for name in names:
            self.fq.send(q, s3_event(BUCKET, "tmpdir/" + name, self.upload(name, "tmpdir/" + name)))
        with tempfile.TemporaryDirectory() as tmp:
            temp = os.path.join(tmp, "not-yet")
            pol = os.path.join(tmp, "policy.lua")
            with open(pol, "w") as f:
                f.write("return { retry_base_ms = 1000, retry_max_ms = 2000 }\n")
            err_path = os.path.join(tmp, "run.err")
            p = U.dm_start("run", "--source", q, "--index", "sqlite:" + os.path.join(tmp, "i.db"),
                           "--once", "--json", "--policy", pol, "--socket", "off",
                           "--pid-file", "off", stdout_path=os.path.join(tmp, "run.out"),
                           stderr_path=err_path, env=self.fq.env(TEMP_DIR=temp))
            try:
                def log():
                    with open(err_path, errors="replace") as f:
                        return f.read()
                self.assertTrue(U.wait_for(lambda: "cannot create a temporary file" in log()
                                           or p.poll() is not None,
                                           60), log())
                self.assertIsNone(p.poll(), log())
                os.makedirs(temp)
                p.wait(timeout=120)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, log())
            self.assertEqual(set(U.docs_by_source(os.path.join(tmp, "i.db"))),
                             {"s3://%s/tmpdir/%s" % (BUCKET, n) for n in names})
        self.assertEqual(self.fq.counts(q), (0, 0))
        self.assertEqual(self.fq.counts(dlq), (0, 0))

    def test_sns_plain_jobs_and_removal(self):
        q, _ = self.queues("shapes")
        size = self.upload("scan_en.pdf", "sns/scan en.pdf")
        import json
        inner = json.dumps(s3_event(BUCKET, "sns/scan en.pdf", size))
        self.fq.send(q, {"Type": "Notification", "MessageId": "x", "Message": inner})
        self.upload("notes_utf8.txt", "plain/notes.txt")
        self.fq.send(q, {"bucket": BUCKET, "key": "plain/notes.txt"})
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "index.db")
            r = self.run_queue(q, db)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json()["indexed"], 2, r)
            self.assertTrue(U.search(db, "invoice number 48213"))
            self.assertTrue(U.search(db, "plain text notes"))
            self.fq.send(q, s3_event(BUCKET, "plain/notes.txt", 0, "ObjectRemoved:Delete"))
            r = self.run_queue(q, db)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json()["deleted"], 1, r)
            self.assertEqual(U.search(db, "plain text notes"), [])
            self.assertEqual(self.fq.counts(q), (0, 0))

    def test_poison_message_goes_to_the_dlq_and_missing_object_is_deleted(self):
        q, dlq = self.queues("poison")
        self.fq.send(q, "this is not json {")
        self.fq.send(q, s3_event(BUCKET, "no/such/object.pdf", 10))
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "index.db")
            r = self.run_queue(q, db)
            # The missing object is a permanent, recorded failure.
            self.assertEqual(r.rc, 3, r)
            self.assertEqual(r.json()["failed"], 1, r)
            self.assertIn("no such object", r.err)
            self.assertIn("dead-letter", r.err)
        self.assertEqual(self.fq.counts(q), (0, 0))
        dead = self.fq.receive_all(dlq)
        self.assertEqual([m["Body"] for m in dead], ["this is not json {"])

    def test_big_object_downloads_in_ranged_parts(self):
        q, _ = self.queues("big")
        data = os.urandom(60 * 1048576 + 12345)  # not a document: fails after download
        self.fq.put_object(BUCKET, "big/blob.bin", data)
        self.fq.send(q, s3_event(BUCKET, "big/blob.bin", len(data)))
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "index.db")
            r = self.run_queue(q, db, env_extra={"TEMP_DIR": tmp, "CLEANUP_TEMP_FILES": "false"})
            self.assertEqual(r.rc, 3, r)
            self.assertIn("in 7 ranged parts, 4 at a time", r.err)
            self.assertIn("unsupported type", r.err)
            kept = [n for n in os.listdir(tmp) if n.startswith("docmill-")]
            self.assertEqual(len(kept), 1, kept)
            path = os.path.join(tmp, kept[0])
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            with open(path, "rb") as f:
                self.assertTrue(f.read() == data, "the download matches byte for byte")

    def test_slow_job_keeps_its_message_invisible(self):
        # lease_seconds 10; the job takes ~13 s (a policy hook that waits).
        # Without the heartbeat the message would come back mid-job and be
        # processed a second time by the other worker.
        q, _ = self.queues("slow")
        size = self.upload("notes_utf8.txt", "slow/notes.txt")
        self.fq.send(q, s3_event(BUCKET, "slow/notes.txt", size))
        with tempfile.TemporaryDirectory() as tmp:
            pol = os.path.join(tmp, "slow.lua")
            with open(pol, "w") as f:
                f.write("return { lease_seconds = 10, hook_budget_ms = 60000,\n"
                        "  route = function(job)\n"
                        "    local t = os.time()\n"
                        "    while os.time() - t < 13 do end\n"
                        "    return 'extract'\n"
                        "  end }\n")
            db = os.path.join(tmp, "index.db")
            r = self.run_queue(q, db, "--policy", pol)
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual((s["indexed"], s["unchanged"], s["failed"]), (1, 0, 0), r)
            self.assertEqual(r.err.count("indexed s3://%s/slow/notes.txt" % BUCKET), 1, r)
        self.assertEqual(self.fq.counts(q), (0, 0))

    def test_message_is_deleted_only_after_its_document_is_indexed(self):
        # OpenSearch is down: the job is retried, the message stays in the
        # queue (invisible while leased, never deleted). When the index comes
        # back, the document is indexed, and only then the message goes.
        fake = subprocess.Popen([sys.executable, os.path.join(U.SOURCE, "tests", "servers",
                                                              "fake_opensearch.py")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        base = "http://127.0.0.1:%d" % int(fake.stdout.readline())

        def ctl(what, **q):
            url = "%s/_fake/%s?%s" % (base, what, "&".join("%s=%s" % kv for kv in q.items()))
            urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
        try:
            q = self.fq.create_queue("order")  # no redrive: retries stay in this queue
            size = self.upload("notes_utf8.txt", "order/notes.txt")
            self.fq.send(q, s3_event(BUCKET, "order/notes.txt", size))
            ctl("down", seconds=600)
            with tempfile.TemporaryDirectory() as tmp:
                pol = os.path.join(tmp, "fast.lua")
                with open(pol, "w") as f:
                    f.write("return { retry_base_ms = 100, retry_max_ms = 500 }\n")
                env = self.fq.env(DOCMILL_OPENSEARCH_RETRY_BASE_MS="10", DOCMILL_OPENSEARCH_RETRIES="2")
                p = subprocess.Popen([U.BIN, "run", "--source", q, "--index", base + "/docs",
                                      "--workers", "1", "--once", "--json", "--policy", pol],
                                     cwd=tmp, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                try:
                    time.sleep(4)
                    if p.poll() is not None:
                        o, e = p.communicate()
                        self.fail("the run must wait for the index: rc %s\n%s\n%s" % (
                            p.returncode, o.decode(), e.decode(errors="replace")[-3000:]))
                    visible, in_flight = self.fq.counts(q)
                    self.assertEqual(visible + in_flight, 1, "the message is still queued")
                    ctl("down", seconds=0)
                    out, err = p.communicate(timeout=120)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertEqual(p.returncode, 0, err.decode(errors="replace")[-3000:])
                s = json.loads(out)
                self.assertEqual((s["indexed"], s["failed"]), (1, 0), s)
                self.assertGreater(s["retried"], 0, s)
            with urllib.request.urlopen("%s/_fake/docs?index=docs" % base, timeout=10) as r:
                docs = json.load(r)
            self.assertIn("s3://%s/order/notes.txt" % BUCKET, json.dumps(docs, ensure_ascii=False))
            self.assertEqual(self.fq.counts(q), (0, 0), "deleted once indexed")
        finally:
            fake.kill()
            fake.wait()

    def test_enqueue_and_dlq_replay(self):
        q, dlq = self.queues("cli")
        env = self.fq.env(S3_BUCKET=BUCKET)
        r = U.dm("enqueue", "--queue", q, os.path.join(U.CORPUS, "notes_eucjp.txt"), env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("queued s3://%s/notes_eucjp.txt" % BUCKET, r.out)
        # Park the job in the DLQ, then replay it back.
        for m in self.fq.receive_all(q):
            self.fq.send(dlq, m["Body"])
            self.fq.sqs("DeleteMessage", QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])
        r = U.dm("dlq", "replay", "--from", dlq, "--to", q, env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("replayed 1 messages", r.out)
        self.assertEqual(self.fq.counts(dlq), (0, 0))
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "index.db")
            r = self.run_queue(q, db)
            self.assertEqual(r.rc, 0, r)
            self.assertTrue(U.search(db, "ユーロ日本語コード文書"))

    def test_imdsv2_credentials(self):
        imds = FakeIMDS()
        try:
            q, _ = self.queues("imds")
            env = self.fq.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint)
            for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"):
                env.pop(k)
            env["HOME"] = tempfile.gettempdir()  # no ~/.aws/credentials
            r = U.dm("enqueue", "--queue", q, "s3://%s/x.pdf" % BUCKET, env=env)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("AWS credentials from imds", r.err)
            paths = [p for (_, p, _) in imds.requests]
            self.assertEqual(paths[0], "/latest/api/token")
            self.assertIn("/latest/meta-data/iam/security-credentials/docmill-worker", paths)
            # secrets never appear in the log
            for secret in ("imds-secret", "imds-session-token", "TOKEN-123"):
                self.assertNotIn(secret, r.err)
        finally:
            imds.stop()

    def test_zz_no_secret_in_any_log(self):
        # Runs last (unittest sorts by name): a debug-level run with a
        # session token, then every output of every test of this module.
        q, _ = self.queues("secrets")
        self.fq.sqs("SendMessage", QueueUrl=q, MessageBody=json.dumps(
            {"bucket": BUCKET, "key": "missing/secret-test.pdf"}))
        with tempfile.TemporaryDirectory() as tmp:
            r = self.run_queue(q, os.path.join(tmp, "i.db"), "--log-level", "debug",
                               env_extra={"AWS_SESSION_TOKEN": SECRETS[1]})
            self.assertIn(r.rc, (0, 3), r)
        self.assertGreater(len(_seen), 10)
        for res in _seen:
            for secret in SECRETS:
                self.assertNotIn(secret, res.out + res.err, res.argv)

    def test_no_credentials_is_a_clear_error(self):
        q, _ = self.queues("nocreds")
        env = self.fq.env()
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.pop(k)
        env["HOME"] = tempfile.gettempdir()
        r = U.dm("enqueue", "--queue", q, "s3://%s/x.pdf" % BUCKET, env=env)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("no AWS credentials", r.err)


if __name__ == "__main__":
    U.main()
