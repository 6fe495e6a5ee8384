#!/usr/bin/python3
"""Black-box durability tests of `docmill run`: SIGKILL mid-run and resume,
watch mode (new / changed / deleted files, SIGTERM), SIGTERM during a
--once run and resume.

Run: DOCMILL_BIN=build/docmill DOCMILL_CORPUS=/tmp/corpus DOCMILL_SOURCE=. \
         /usr/bin/python3 tests/e2e/test_durability.py [NAME-FILTER...]
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as U  # noqa: E402

OCR_TEMPLATES = ["scan_en.pdf", "scan_ja.pdf", "image_en.png"]
COPIES = 8            # 24 one-page OCR jobs: ~4 s or more on 2 workers


def ocr_folder(dest):
    """COPIES x 3 scanned documents under distinct names; returns their paths."""
    os.makedirs(dest)
    paths = []
    for i in range(COPIES):
        for t in OCR_TEMPLATES:
            stem, ext = os.path.splitext(t)
            p = os.path.join(dest, "%s_%02d%s" % (stem, i, ext))
            shutil.copy2(os.path.join(U.CORPUS, t), p)
            paths.append(p)
    return sorted(paths)


def start_run(tmp, src, db, *extra):
    out, err = os.path.join(tmp, "run.out"), os.path.join(tmp, "run.err")
    p = U.dm_start("run", "--source", src, "--index", "sqlite:" + db, "--workers", U.WORKERS,
                   "--json", *extra, stdout_path=out, stderr_path=err)
    p.out_path, p.err_path = out, err
    return p


def start_queued_run(tmp, *extra):
    """An OCR folder under tmp and a `run --once` on it, returned once the
    scan has queued every file: (src, db, paths, process)."""
    src = os.path.join(tmp, "docs")
    paths = ocr_folder(src)
    db = os.path.join(tmp, "index.db")
    # Every copy OCR'd (no reuse of copies): the run must last long enough
    # to be interrupted.
    pol = os.path.join(tmp, "no-reuse.lua")
    with open(pol, "w") as f:
        f.write("return { reuse_copies = false }\n")
    p = start_run(tmp, src, db, "--once", "--policy", pol, *extra)
    U.wait_for(lambda: pending(db) >= len(paths) or p.poll() is not None, 60, 0.05)
    return src, db, paths, p


def output(p):
    with open(p.out_path, encoding="utf-8", errors="replace") as f:
        out = f.read()
    with open(p.err_path, encoding="utf-8", errors="replace") as f:
        err = f.read()
    return out, err


def brief(p):
    """stdout and the non-info lines of stderr of a finished run, for messages."""
    out, err = output(p)
    return out, [l for l in err.splitlines() if " info " not in l][-20:]


def n_docs(db):
    rows = U.db_query(db, "SELECT COUNT(*) FROM documents")
    return rows[0][0] if rows else 0


def pending(db):
    """Jobs pending per `docmill status` (0 while the index is not there)."""
    try:
        return U.status(db)["pending"]
    except AssertionError:
        return 0


def put_file(path, text, mtime_bump_s=0):
    """Writes a file atomically (temp file + rename), so a rescan never sees
    it half-written; optionally with an mtime later than the old file's."""
    old = os.stat(path).st_mtime_ns if os.path.exists(path) else None
    tmp = os.path.join(os.path.dirname(os.path.dirname(path)), ".tmp_" + os.path.basename(path))
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    if old is not None and mtime_bump_s:
        os.utime(tmp, ns=(old + mtime_bump_s * 10**9, old + mtime_bump_s * 10**9))
    os.replace(tmp, path)


class Durability(unittest.TestCase):

    def assert_complete(self, src_paths, db, label):
        """Every file indexed exactly once, searchable exactly once, nothing
        pending or failed."""
        st = U.status(db)
        self.assertEqual((st["indexed"], st["failed"], st["pending"]),
                         (len(src_paths), 0, 0), (label, st))
        self.assertEqual(U.docs_by_source(db), {p: 1 for p in src_paths}, label)
        # The full-text side has no duplicate pages of re-processed documents.
        for q, stem in (("invoice number 48213", "scan_en"), ("株式会社山田製作所", "scan_ja"),
                        ("harbor lighthouse keeper", "image_en")):
            hits = U.search(db, q, limit=100)
            want = sorted(p for p in src_paths if os.path.basename(p).startswith(stem))
            self.assertEqual(sorted(h["source"] for h in hits), want, (label, q))

    def resume(self, src, db, paths, done_before, label):
        r = U.run_once(src, db, timeout=240)
        self.assertEqual(r.rc, 0, r)
        s = r.json()
        self.assertEqual(s["failed"], 0, s)
        # A document committed just before the kill may still have its job
        # leased (the ack follows the commit): it is processed again (as
        # "indexed" or "unchanged"), never duplicated.
        self.assertGreaterEqual(s["indexed"], len(paths) - done_before, (label, done_before, s))
        self.assertEqual(s["indexed"] + s["unchanged"], len(paths), (label, done_before, s))
        self.assertEqual(s["deleted"], 0, s)
        self.assert_complete(paths, db, label)
        return s

    def test_kill9_after_first_commit_then_resume(self):
        with tempfile.TemporaryDirectory(prefix="dm_e2e_kill_") as tmp:
            src = os.path.join(tmp, "docs")
            paths = ocr_folder(src)
            db = os.path.join(tmp, "index.db")
            # One document per bulk_index transaction, so that documents
            # become visible in the db while the run is still going (with the
            # default batch of 16 per worker all 15 are committed at the end).
            pol = os.path.join(tmp, "policy.lua")
            with open(pol, "w") as f:
                f.write("return { batch_size = 1 }\n")
            p = start_run(tmp, src, db, "--once", "--policy", pol)
            try:
                seen = U.wait_for(lambda: n_docs(db) >= 1 or p.poll() is not None, 120, 0.05)
                self.assertTrue(seen, "no document indexed within 120 s")
                self.assertIsNone(p.poll(), "the run ended before it could be killed: %r"
                                  % (output(p),))
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, -signal.SIGKILL)
            done = n_docs(db)
            st = U.status(db)
            self.assertGreaterEqual(done, 1)
            self.assertLess(done, len(paths), "killed too late to test anything")
            self.assertEqual((st["indexed"], st["failed"]), (done, 0), st)
            # nothing lost: every file not indexed is still pending (a file
            # indexed just before the kill may be pending as well, see resume)
            self.assertGreaterEqual(st["pending"], len(paths) - done, st)
            self.assertLessEqual(st["pending"], len(paths), st)
            self.assertEqual(set(U.docs_by_source(db).values()), {1})
            self.resume(src, db, paths, done, "after kill -9")

    def test_kill9_with_uncommitted_batch_then_resume(self):
        # Default policy: the killed run holds leased jobs and an unflushed
        # batch; nothing of it may be lost or indexed twice.
        with tempfile.TemporaryDirectory(prefix="dm_e2e_kill2_") as tmp:
            src, db, paths, p = start_queued_run(tmp)
            try:
                time.sleep(1.0)  # let OCR get going
                self.assertIsNone(p.poll(), "the run ended before it could be killed: %r"
                                  % (output(p),))
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            done = n_docs(db)
            self.assertLess(done, len(paths), "killed too late to test anything")
            st = U.status(db)
            self.assertEqual((st["indexed"], st["failed"]), (done, 0), st)
            self.assertGreaterEqual(st["pending"], len(paths) - done, st)
            t0 = time.monotonic()
            self.resume(src, db, paths, done, "after kill -9 (unflushed batch)")
            # the dead run's leases (600 s) must be reclaimed, not waited out
            self.assertLess(time.monotonic() - t0, 120)

    def test_watch_mode_picks_up_changes_and_sigterm_exits_0(self):
        with tempfile.TemporaryDirectory(prefix="dm_e2e_watch_") as tmp:
            src = os.path.join(tmp, "docs")
            U.copy_docs(src, ["notes_utf8.txt", "notes_sjis.txt"])
            db = os.path.join(tmp, "index.db")
            cfg = os.path.join(tmp, "config.lua")
            with open(cfg, "w") as f:
                f.write("return { rescan_seconds = 1 }\n")
            utf8, sjis = os.path.join(src, "notes_utf8.txt"), os.path.join(src, "notes_sjis.txt")
            new = os.path.join(src, "new_note.txt")

            def sources(q):
                try:
                    return sorted(h["source"] for h in U.search(db, q))
                except AssertionError:      # index not created yet
                    return None

            p = start_run(tmp, src, db, "--config", cfg)
            try:
                self.assertTrue(U.wait_for(lambda: sources("日本語のテキストファイル") == [utf8],
                                           30), ("initial file not indexed", output(p)))
                self.assertIsNone(p.poll(), output(p))

                put_file(new, "The mauve giraffe ledger was found.\n")
                self.assertTrue(U.wait_for(lambda: sources("mauve giraffe") == [new], 30),
                                ("new file not found by search", output(p)))

                put_file(new, "The teal walrus ledger replaced it.\n", mtime_bump_s=2)
                self.assertTrue(U.wait_for(lambda: sources("teal walrus") == [new], 30),
                                ("changed file not re-indexed", output(p)))
                self.assertEqual(sources("mauve giraffe"), [])

                os.remove(sjis)
                self.assertTrue(U.wait_for(lambda: sources("シフトジス形式") == [], 30),
                                ("deleted file still found", output(p)))
                self.assertEqual(sources("田中"), [])
                self.assertIsNone(p.poll(), output(p))

                t0 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.fail("no exit within 30 s of SIGTERM: %r" % (output(p),))
                elapsed = time.monotonic() - t0
            finally:
                U.stop(p)
            out, err = output(p)
            self.assertEqual(p.returncode, 0, brief(p))
            print("\n  watch mode: exit %.2f s after SIGTERM" % elapsed)
            s = U.Result(subprocess.CompletedProcess([], 0, out, err), ["run"], 0).json()
            self.assertEqual(s["failed"], 0, s)
            self.assertEqual(s["deleted"], 1, s)
            self.assertEqual(s["indexed"], 4, s)      # 2 initial, new file, its change
            st = U.status(db)
            self.assertEqual((st["indexed"], st["failed"], st["pending"]), (2, 0, 0), st)
            self.assertEqual(U.docs_by_source(db), {utf8: 1, new: 1})

    def sigterm_once_run(self, signals, max_exit_s):
        with tempfile.TemporaryDirectory(prefix="dm_e2e_term_") as tmp:
            src, db, paths, p = start_queued_run(tmp)
            try:
                time.sleep(1.0)
                self.assertIsNone(p.poll(), "the run ended before SIGTERM: %r" % (output(p),))
                t0 = time.monotonic()
                for i in range(signals):
                    if i:
                        time.sleep(0.2)
                    p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=max_exit_s)
                except subprocess.TimeoutExpired:
                    self.fail("no exit within %d s of SIGTERM: %r" % (max_exit_s, output(p)))
                elapsed = time.monotonic() - t0
            finally:
                U.stop(p)
            out, err = output(p)
            print("\n  %d x SIGTERM: exit %.2f s later, rc %s" % (signals, elapsed, p.returncode))
            if signals == 1:
                self.assertEqual(p.returncode, 0, brief(p))
            else:
                # quits at once without draining (core/daemon/runtime.c: _exit(130))
                self.assertIn(p.returncode, (0, 130, 128 + signal.SIGTERM), brief(p))
            done = n_docs(db)
            self.assertLess(done, len(paths), "SIGTERM came too late to test anything")
            st = U.status(db)
            # nothing lost, nothing failed: the rest is still pending
            self.assertEqual((st["indexed"], st["failed"], st["pending"]),
                             (done, 0, len(paths) - done), st)
            if signals == 1:
                s = U.Result(subprocess.CompletedProcess([], 0, out, err), ["run"], 0).json()
                self.assertEqual(s["indexed"], done, s)
                self.assertEqual(s["failed"], 0, s)
            t0 = time.monotonic()
            self.resume(src, db, paths, done, "after %d x SIGTERM" % signals)
            self.assertLess(time.monotonic() - t0, 120)

    def test_file_deleted_while_queued_is_not_a_failure(self):
        # A file that vanishes between the scan and its job (the user deleted
        # it while the indexer was busy) did not fail: the run must not exit 3
        # nor leave a "No such file or directory" failure in status.
        with tempfile.TemporaryDirectory(prefix="dm_e2e_vanish_") as tmp:
            src, db, paths, p = start_queued_run(tmp)
            try:
                gone = [x for x in paths if "_%02d." % (COPIES - 1) in x]
                for x in gone:
                    os.remove(x)
                self.assertIsNone(p.poll(), "the run ended before the files were deleted")
                p.wait(timeout=240)
            finally:
                U.stop(p)
            out, err = output(p)
            kept = [x for x in paths if x not in gone]
            self.assertEqual(p.returncode, 0, brief(p))
            s = U.Result(subprocess.CompletedProcess([], 0, out, err), ["run"], 0).json()
            self.assertEqual(s["failed"], 0, s)
            st = U.status(db)
            self.assertEqual((st["failed"], st["failures"], st["pending"]), (0, [], 0), st)
            self.assertTrue(set(kept) <= set(U.docs_by_source(db)), U.docs_by_source(db))
            # the next run leaves exactly the remaining files indexed
            r = U.run_once(src, db)
            self.assertEqual(r.rc, 0, r)
            self.assert_complete(kept, db, "after deleting queued files")

    def test_sigterm_during_once_run_then_resume(self):
        self.sigterm_once_run(1, 60)

    def test_second_sigterm_quits_at_once_then_resume(self):
        # "again to quit at once": leases of the quitting run are reclaimed
        # by the next run (dead pid on this host).
        self.sigterm_once_run(2, 15)


if __name__ == "__main__":
    U.main()
