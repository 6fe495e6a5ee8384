#!/usr/bin/python3
"""Policy code under `docmill run`: a hook that never returns is stopped by
its budget and the job goes on with the default decision; the GC cadence
counts every job, whatever its outcome."""
import os
import signal
import sqlite3
import tempfile
import time
import unittest

import e2e_util as U


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class HookBudget(unittest.TestCase):
    def test_an_endless_hook_costs_its_budget_not_the_job(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            U.copy_docs(src, ["text_ja_en.pdf"])
            db = os.path.join(tmp, "index.db")
            pol = os.path.join(tmp, "endless.lua")
            write(pol, "return {\n"
                       "  hook_budget_ms = 300,\n"
                       "  needs_ocr = function(page) while true do end end,\n"
                       "  route = function(job)\n"
                       "    while true do pcall(function() while true do end end) end\n"
                       "  end,\n"
                       "}\n")
            t0 = time.monotonic()
            r = U.run_once(src, db, "--policy", pol, timeout=90)
            took = time.monotonic() - t0
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json()["indexed"], 1, r)
            self.assertLess(took, 60, "the hooks were stopped by their budget")
            self.assertIn("policy hook route failed, using the default", r.err)
            self.assertIn("policy hook needs_ocr failed, using the default", r.err)
            self.assertIn("ran longer than 300 ms", r.err)
            # The default decided: the text layer, not OCR.
            self.assertEqual(len(U.search(db, "吾輩は猫")), 1)


class Counted(unittest.TestCase):
    def test_stats_count_hook_errors_and_gc_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            write(os.path.join(src, "a.txt"), "theta counted document\n")
            write(os.path.join(src, "b.txt"), "iota counted document\n")
            db = os.path.join(tmp, "index.db")
            pol = os.path.join(tmp, "p.lua")
            write(pol, "return { hook_budget_ms = 50, gc_every_jobs = 1,\n"
                       "  route = function(job) while true do end end }\n")
            sock = os.path.join(tmp, "s.sock")
            p = U.dm_start("run", "--source", src, "--index", "sqlite:" + db, "--policy", pol,
                           "--workers", "1", "--socket", sock,
                           "--pid-file", os.path.join(tmp, "p.pid"))
            try:
                self.assertTrue(U.wait_for(lambda: os.path.exists(db) and
                                           len(U.search(db, "counted document")) == 2, 30))

                def stat(name):
                    r = U.dm("repl", "--socket", sock, "-e", "stats()." + name)
                    return int(r.out.strip()) if r.rc == 0 and r.out.strip().isdigit() else -1
                self.assertTrue(U.wait_for(lambda: stat("hook_errors") == 2, 10))
                self.assertTrue(U.wait_for(lambda: stat("gc_runs") == 2, 10))
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            finally:
                U.stop(p)


class Copies(unittest.TestCase):
    def run_copies(self, tmp, *extra):
        src = os.path.join(tmp, "share")
        for folder in ("2024", "archive", "backup/old"):
            U.copy_docs(os.path.join(src, folder), ["scan_en.pdf"])
        db = os.path.join(tmp, "index.db")
        r = U.dm("run", "--source", src, "--index", "sqlite:" + db, "--workers", "1",
                 "--once", "--json", *extra)
        self.assertEqual(r.rc, 0, r)
        return db, r.json()

    def test_copies_of_a_file_are_ocrd_once(self):
        with tempfile.TemporaryDirectory() as tmp:
            db, s = self.run_copies(tmp)
            self.assertEqual(s["indexed"], 3, s)
            self.assertEqual(s["pages_ocr"], 1, "one OCR for three copies: %r" % s)
            hits = U.search(db, "invoice")
            self.assertEqual(sorted(h["source"].split("/share/")[1] for h in hits),
                             ["2024/scan_en.pdf", "archive/scan_en.pdf",
                              "backup/old/scan_en.pdf"])
            self.assertEqual(len({h["id"] for h in hits}), 3)

    def test_copies_taken_at_once_by_two_workers_are_ocrd_once(self):
        # Only copies in the folder: both workers start on one at the same
        # moment. The second waits for the first's claim on the content
        # (helping with its second page), then reuses its pages.
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "share")
            for folder in ("a", "b", "c"):
                U.copy_docs(os.path.join(src, folder), ["multi.tif"])
            db = os.path.join(tmp, "index.db")
            r = U.dm("run", "--source", src, "--index", "sqlite:" + db, "--workers", "2",
                     "--once", "--json")
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual(s["indexed"], 3, s)
            self.assertEqual(s["pages_ocr"], 2, "two pages OCR'd once for three copies: %r" % s)
            con = sqlite3.connect(db)
            rows = con.execute("SELECT d.source, p.page, f.text FROM pages p JOIN documents d "
                               "ON d.id = p.doc_id JOIN pages_fts f ON f.rowid = p.rowid "
                               "ORDER BY p.page, d.source").fetchall()
            con.close()
            self.assertEqual(len(rows), 6, rows)
            for page in (1, 2):
                texts = {t for _, p, t in rows if p == page}
                self.assertEqual(len(texts), 1, "one text per page for every copy: %r" % rows)
                self.assertTrue(next(iter(texts)).strip())

    def test_reuse_copies_off_extracts_each(self):
        with tempfile.TemporaryDirectory() as tmp:
            pol = os.path.join(tmp, "p.lua")
            write(pol, "return { reuse_copies = false }\n")
            _, s = self.run_copies(tmp, "--policy", pol)
            self.assertEqual((s["indexed"], s["pages_ocr"]), (3, 3), s)


class GcCadence(unittest.TestCase):
    def gc_lines(self, err):
        return err.count("gc_every_jobs (1)")

    def test_every_job_counts_towards_gc_every_jobs(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            write(os.path.join(src, "a.txt"), "zeta first gc document\n")
            write(os.path.join(src, "b.txt"), "eta second gc document\n")
            with open(os.path.join(src, "bad.bin"), "wb") as f:
                f.write(bytes(range(256)) * 4)
            db = os.path.join(tmp, "index.db")
            pol = os.path.join(tmp, "gc.lua")
            write(pol, "return { gc_every_jobs = 1 }\n")
            # Indexed, indexed, failed: three jobs, three collections.
            r = U.run_once(src, db, "--policy", pol, "--log-level", "debug")
            self.assertEqual(r.rc, 3, r)
            self.assertEqual(self.gc_lines(r.err), 3, r.err[-3000:])
            # Unchanged content under a new mtime, and a deletion: no
            # document is indexed, and each job still counts.
            later = time.time() + 5
            for name in ("a.txt", "b.txt"):
                os.utime(os.path.join(src, name), (later, later))
            os.remove(os.path.join(src, "bad.bin"))
            r = U.run_once(src, db, "--policy", pol, "--log-level", "debug")
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual((s["indexed"], s["unchanged"], s["deleted"]), (0, 2, 1), s)
            self.assertEqual(self.gc_lines(r.err), 3, r.err[-3000:])


if __name__ == "__main__":
    U.main()
