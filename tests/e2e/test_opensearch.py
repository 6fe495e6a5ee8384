#!/usr/bin/python3
"""docmill with an OpenSearch index, end to end against the strict fake
(tests/servers/fake_opensearch.py, 127.0.0.1 only): a folder is indexed as
one document per file with the right _id and text and no wire-format
violation, a re-run writes nothing, a 429 storm and an index outage lose
nothing and index every document exactly once, and a per-item mapping error
fails only its own file, for good.

A folder source with an OpenSearch index keeps its job queue in
./docmill-queue.db, so docmill runs with a private working directory."""
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import zipfile

import e2e_util as U

FAKE = os.path.join(U.SOURCE, "tests", "servers", "fake_opensearch.py")
INDEX = "docs"
TRIES = 4  # DOCMILL_OPENSEARCH_RETRIES: tries per request or bulk item


def doc_id(path):
    """docmill's document id: the first 32 hex digits of the SHA-256 of the
    absolute source path."""
    return hashlib.sha256(path.encode()).hexdigest()[:32]


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def squash(text):
    return U.norm(text).lower()


class OpenSearchIndex(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.truth = U.truth()
        cls.good = U.good_files()
        cls.bad = U.bad_files()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="docmill-os-")
        self.fake = subprocess.Popen([sys.executable, FAKE], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        line = self.fake.stdout.readline()
        if not line.strip().isdigit():
            self.fake.kill()
            self.fake.wait()
            raise RuntimeError("fake_opensearch.py did not print its port: %r" % line)
        self.base = "http://127.0.0.1:%d" % int(line)
        self.src = os.path.realpath(U.copy_docs(os.path.join(self.tmp, "src")))
        self.wd = os.path.join(self.tmp, "wd")
        os.makedirs(self.wd)

    def tearDown(self):
        self.fake.kill()
        self.fake.wait(timeout=10)
        self.fake.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers -----------------------------------------------------------
    def ctl(self, what, **query):
        url = "%s/_fake/%s?%s" % (self.base, what, urllib.parse.urlencode(query))
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"),
                                    timeout=10) as r:
            self.assertEqual(r.status, 200)

    def dump(self):
        with urllib.request.urlopen("%s/_fake/docs?index=%s" % (self.base, INDEX),
                                    timeout=30) as r:
            return json.load(r)

    def docs(self):
        return self.dump()["indices"].get(INDEX, {}).get("docs", {})

    def run_env(self):
        env = dict(os.environ)
        for k in ("OPENSEARCH_AUTH", "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD",
                  "OPENSEARCH_ENDPOINT", "SQS_QUEUE_URL", "MAX_WORKERS"):
            env.pop(k, None)
        env.update(DOCMILL_OPENSEARCH_RETRY_BASE_MS="10", DOCMILL_OPENSEARCH_RETRIES=str(TRIES))
        return env

    def run_argv(self, *extra):
        return ("run", "--once", "--source", self.src, "--index", "%s/%s" % (self.base, INDEX),
                "--workers", U.WORKERS, "--json") + extra

    def run_docmill(self, *extra):
        return U.dm(*self.run_argv(*extra), cwd=self.wd, env=self.run_env())

    def path(self, name):
        return os.path.join(self.src, name)

    def jobs(self):
        """source -> (state, error) from the folder's job queue."""
        db = os.path.join(self.wd, "docmill-queue.db")
        self.assertTrue(os.path.exists(db), "no docmill-queue.db in the working directory")
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        try:
            rows = con.execute("SELECT source, state, error FROM jobs").fetchall()
        finally:
            con.close()
        return {s: (st, err) for s, st, err in rows}

    def assert_no_violations(self):
        self.assertEqual(self.dump()["violations"], [], "wire-format violations")

    def assert_indexed(self, names):
        """Exactly these corpus files are documents, each with its _id,
        source, content hash and the text of its truth phrases."""
        docs = self.docs()
        want = {doc_id(self.path(n)): n for n in names}
        self.assertEqual(sorted(docs), sorted(want),
                         "documents in the index: %r" % sorted(d["source"] for d in docs.values()))
        for i, name in want.items():
            d = docs[i]
            self.assertEqual(d["source"], self.path(name))
            self.assertEqual(d["sha256"], file_sha256(self.path(name)), name)
            pages = d["pages"]
            self.assertTrue(pages, name)
            self.assertEqual(d["pages_ocr"], sum(p["method"] == "ocr" for p in pages), name)
            text = squash(" ".join(p["text"] for p in pages))
            for phrase in self.truth[name]["phrases"]:
                self.assertIn(squash(phrase), text, "%s: %r not in its pages" % (name, phrase))

    def assert_jobs(self, done, failed):
        jobs = self.jobs()
        self.assertEqual({s: st for s, (st, _) in jobs.items()},
                         {**{self.path(n): "done" for n in done},
                          **{self.path(n): "failed" for n in failed}}, jobs)
        return jobs

    def assert_bad_files_failed(self, jobs):
        for n in self.bad:
            err = jobs[self.path(n)][1] or ""
            self.assertNotIn("opensearch", err.lower(), "%s failed because of the index" % n)

    # --- scenarios -----------------------------------------------------------
    def test_a_zips_members_are_replaced_and_removed_with_it(self):
        src = os.path.join(self.tmp, "zips")
        os.makedirs(src)
        zpath = os.path.join(src, "r.zip")

        def write_zip(members):
            with zipfile.ZipFile(zpath, "w") as z:
                for name, text in members:
                    z.writestr(name, text)

        def run():
            r = U.dm("run", "--once", "--source", src, "--index", "%s/%s" % (self.base, INDEX),
                     "--workers", U.WORKERS, "--json", cwd=self.wd, env=self.run_env())
            self.assertEqual(r.rc, 0, r)
            return self.docs()

        def members(docs):
            return sorted(d["source"] for d in docs.values() if d.get("parent") == zid)

        zid = doc_id(zpath)
        write_zip([("a.txt", "ZIPMEMBERONE text"), ("sub/b.txt", "ZIPMEMBERTWO text")])
        # a member refused once: the zip is stored without its hash, so the
        # next run reads it again instead of finding it unchanged
        self.ctl("item_error", id=doc_id(zpath + "#sub/b.txt"), status=400,
                 type="mapper_parsing_exception", count=1)
        r = U.dm("run", "--once", "--source", src, "--index", "%s/%s" % (self.base, INDEX),
                 "--workers", U.WORKERS, "--json", cwd=self.wd, env=self.run_env())
        self.assertEqual(r.rc, 3, r)
        self.assertIsNone(self.docs()[zid].get("sha256"))
        # the same bytes seen again (touched; an SQS redelivery): not "unchanged"
        os.utime(zpath, (time.time() + 2, time.time() + 2))
        docs = run()
        self.assertEqual(members(docs), [zpath + "#a.txt", zpath + "#sub/b.txt"])
        self.assertEqual(docs[zid]["members"], 2)
        self.assertEqual(docs[zid]["sha256"], file_sha256(zpath))
        for s in members(docs):
            self.assertIn(doc_id(s), docs)
        write_zip([("c.txt", "ZIPMEMBERTHREE text")])
        os.utime(zpath, (time.time() + 5, time.time() + 5))
        docs = run()
        self.assertEqual(members(docs), [zpath + "#c.txt"])
        self.assertEqual(docs[zid]["members"], 1)
        os.remove(zpath)
        docs = run()
        self.assertEqual(members(docs), [])
        self.assertNotIn(zid, docs)
        self.assertGreaterEqual(self.dump()["counters"]["delete_by_query"], 2)
        self.assert_no_violations()

    def test_corpus_is_indexed_then_rerun_writes_nothing(self):
        r = self.run_docmill()
        self.assertEqual(r.rc, 3, r)
        s = r.json()
        self.assertEqual((s["indexed"], s["failed"], s["retried"]),
                         (len(self.good), len(self.bad), 0), s)
        self.assert_indexed(self.good)
        self.assert_no_violations()
        self.assert_bad_files_failed(self.assert_jobs(self.good, self.bad))
        mapping = self.dump()["indices"][INDEX]["mappings"]
        self.assertEqual(mapping["properties"]["pages"]["type"], "nested", mapping)
        # words (kuromoji or cjk) and character bigrams, for text and titles
        text = mapping["properties"]["pages"]["properties"]["text"]
        self.assertEqual(text["fields"]["ngram"]["analyzer"], "docmill_ngram", text)
        self.assertEqual(mapping["properties"]["title"]["fields"]["ngram"]["analyzer"],
                         "docmill_ngram", mapping)
        # metadata travels with the document
        docs = self.dump()["indices"][INDEX]["docs"]
        titled = [d for d in docs.values() if d and d.get("title")]
        self.assertTrue(titled, "no document with a title reached the index")
        for d in docs.values():
            if d:
                self.assertIn(d.get("meta", {}).get("language"), ("ja", "en", None), d)

        before = self.dump()["counters"]
        r = self.run_docmill()
        self.assertEqual(r.rc, 0, r)
        s = r.json()
        self.assertEqual((s["indexed"], s["unchanged"], s["failed"]),
                         (0, len(self.good) + len(self.bad), 0), s)
        after = self.dump()["counters"]
        for k in ("bulk_requests", "bulk_items", "update", "put_index"):
            self.assertEqual(after[k], before[k], "%s changed on a re-run: %r" % (k, after))
        self.assert_no_violations()

    def test_429_storm_indexes_every_document_once(self):
        storm = 10 * TRIES  # > 3 per document: some bulk items run out of tries
        self.ctl("fail", status=429, count=storm, scope="item")
        self.ctl("fail", status=429, count=3, scope="request")
        r = self.run_docmill()
        self.assertEqual(r.rc, 3, r)
        s = r.json()
        self.assertEqual((s["indexed"], s["failed"]), (len(self.good), len(self.bad)), s)
        # More injected failures than the sink can absorb with its tries
        # per item: at least one job went back to the queue.
        self.assertGreater(s["retried"], 0, r)
        self.assertIn("will retry", r.err)
        self.assertIn("429", r.err)
        self.assert_indexed(self.good)
        self.assert_no_violations()
        # The storm items come first; every other item written is a success:
        # exactly one per document.
        c = self.dump()["counters"]
        self.assertEqual(c["bulk_items"] - storm, len(self.good), c)
        self.assertGreaterEqual(c["rejected"], 3, c)
        self.assert_bad_files_failed(self.assert_jobs(self.good, self.bad))

    def test_index_outage_loses_nothing(self):
        self.ctl("down", seconds=3)
        runs = []
        for _ in range(3):
            r = self.run_docmill()
            self.assertIn(r.rc, (0, 3), r)
            runs.append(r.json())
            if len(self.docs()) == len(self.good):
                break
        self.assertGreater(runs[0]["retried"], 0, runs)
        self.assertEqual(sum(s["indexed"] for s in runs), len(self.good), runs)
        self.assert_indexed(self.good)
        self.assert_no_violations()
        self.assertGreater(self.dump()["counters"]["rejected"], 0)
        jobs = self.assert_jobs(self.good, self.bad)
        self.assert_bad_files_failed(jobs)

    def test_outage_outlasting_the_retries_loses_nothing(self):
        # The outage outlasts the sink's own retries inside one bulk call
        # (4 tries, ~0.1 s here): the jobs go back to the queue with backoff
        # (capped at 200 ms by this policy) and are retried until the index
        # returns. Transient never turns into failed: the run ends with every
        # file indexed, and only the bad files failed.
        policy = os.path.join(self.tmp, "short_retries.lua")
        with open(policy, "w") as f:
            f.write("return { retry_base_ms = 50, retry_max_ms = 200 }\n")
        self.ctl("down", seconds=3)
        r = self.run_docmill("--policy", policy)
        self.assertEqual(r.rc, 3, r)
        s = r.json()
        self.assertGreater(s["retried"], 0, s)
        self.assertEqual((s["indexed"], s["failed"]), (len(self.good), len(self.bad)), s)
        self.assertEqual(len(self.docs()), len(self.good))
        self.assert_indexed(self.good)
        jobs = self.assert_jobs(self.good, self.bad)
        self.assert_bad_files_failed(jobs)
        r = self.run_docmill("--policy", policy)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()["indexed"], 0, r)

    def test_garbage_answers_during_a_sighup_storm_lose_nothing(self):
        # A proxy answering 200 with an HTML page instead of the bulk
        # response, while the policy is reloaded every 50 ms: no document
        # may be taken as indexed, none lost, none written twice.
        policy = os.path.join(self.tmp, "short_retries.lua")
        with open(policy, "w") as f:
            f.write("return { retry_base_ms = 50, retry_max_ms = 200 }\n")
        self.ctl("down", seconds=2, mode="garbage")
        out = os.path.join(self.tmp, "storm.out")
        pid_file = os.path.join(self.tmp, "storm.pid")
        p = U.dm_start(*self.run_argv("--policy", policy, "--socket", "off", "--pid-file", pid_file),
                       cwd=self.wd, env=self.run_env(), stdout_path=out,
                       stderr_path=os.path.join(self.tmp, "storm.err"))
        hups = 0
        # From the moment the worker is up (before, the dynamic loader is
        # still at work and a SIGHUP has its default action).
        U.wait_for(lambda: os.path.exists(pid_file) or p.poll() is not None, 30, 0.005)
        try:
            while p.poll() is None and hups < 400:
                p.send_signal(signal.SIGHUP)
                hups += 1
                time.sleep(0.05)
            p.wait(timeout=120)
        finally:
            U.stop(p)
        with open(out) as f:
            text = f.read()
        with open(os.path.join(self.tmp, "storm.err"), errors="replace") as f:
            log = f.read()
        self.assertGreater(hups, 10, (p.returncode, log[-2000:]))
        self.assertEqual(p.returncode, 3, log[-2000:])
        s = json.loads(text)
        self.assertGreater(s["retried"], 0, s)
        self.assertEqual((s["indexed"], s["failed"]), (len(self.good), len(self.bad)), s)
        self.assert_indexed(self.good)
        self.assert_no_violations()
        self.assertGreater(self.dump()["counters"]["rejected"], 0)
        self.assert_bad_files_failed(self.assert_jobs(self.good, self.bad))

    def test_index_that_does_not_answer_loses_nothing(self):
        # The first bulk requests get no answer for 3 s; docmill gives up
        # on each after 1 s (a transient failure) and retries until the
        # index answers.
        policy = os.path.join(self.tmp, "short_retries.lua")
        with open(policy, "w") as f:
            f.write("return { retry_base_ms = 50, retry_max_ms = 200 }\n")
        self.ctl("hang", count=6, seconds=3)
        env = self.run_env()
        env["DOCMILL_OPENSEARCH_BULK_TIMEOUT_MS"] = "1000"
        r = U.dm(*self.run_argv("--policy", policy), cwd=self.wd, env=env)
        self.assertEqual(r.rc, 3, r)
        s = r.json()
        self.assertGreater(s["retried"], 0, s)
        self.assertRegex(r.err, r"(?i)timed? ?out", r)
        # A request docmill gave up on may still have been applied: the job's
        # retry then finds its document already there ("unchanged").
        self.assertEqual((s["indexed"] + s["unchanged"], s["failed"]),
                         (len(self.good), len(self.bad)), s)
        self.assert_indexed(self.good)
        self.assert_no_violations()
        self.assert_bad_files_failed(self.assert_jobs(self.good, self.bad))

    def test_mapping_error_fails_only_its_document(self):
        victim = "text_ja_en.pdf"
        self.ctl("item_error", id=doc_id(self.path(victim)), status=400,
                 type="mapper_parsing_exception", reason="failed to parse field [pages.text]")
        r = self.run_docmill()
        self.assertEqual(r.rc, 3, r)
        s = r.json()
        others = [n for n in self.good if n != victim]
        self.assertEqual((s["indexed"], s["failed"], s["retried"]),
                         (len(others), len(self.bad) + 1, 0), s)
        self.assert_indexed(others)
        self.assert_no_violations()
        jobs = self.assert_jobs(others, self.bad + [victim])
        self.assertIn("mapper_parsing_exception", jobs[self.path(victim)][1] or "", jobs)
        self.assertIn("mapper_parsing_exception", r.err)
        # Recorded for good: a second run does not try it again.
        before = self.dump()["counters"]["bulk_items"]
        r = self.run_docmill()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()["indexed"], 0, r)
        self.assertEqual(self.dump()["counters"]["bulk_items"], before)


if __name__ == "__main__":
    U.main()
