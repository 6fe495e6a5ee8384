#!/usr/bin/python3
"""Bounded work per file and crash isolation (issue 6), through the CLI.

- Limits: a page past page_timeout_seconds is noted as timed out while the
  document's other pages are kept; pages not started within
  job_timeout_seconds are noted as skipped; a page that needs more than
  max_mupdf_mb is drawn again at a lower DPI, and fails with "memory limit"
  when even 72 DPI does not fit.
- The supervisor: the worker process killed mid-run is restarted and every
  file still ends indexed exactly once; a job in flight during two crashes
  is quarantined as a recorded failure instead of crash-looping; when the
  crash journal names the job (a crash on the worker's own thread), only it
  is charged.
"""
import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as U  # noqa: E402


def policy(tmp, body):
    path = os.path.join(tmp, "policy.lua")
    with open(path, "w") as f:
        f.write("return { %s }\n" % body)
    return path


def extract(tmp, name_or_path, pol, *extra):
    path = (name_or_path if os.path.isabs(name_or_path) or "://" in name_or_path
            else os.path.join(U.CORPUS, name_or_path))
    r = U.dm("extract", path, "--json", "--policy", pol, *extra)
    return r, r.json()


class Limits(unittest.TestCase):
    def test_page_timeout_keeps_the_other_pages(self):
        # mixed.pdf: text, scan, text. OCR of the scan takes far more than
        # 0.3 s; reading a text layer far less.
        with tempfile.TemporaryDirectory() as tmp:
            r, doc = extract(tmp, "mixed.pdf", policy(tmp, "page_timeout_seconds = 0.3"),
                             "--dpi", "300")
            self.assertEqual(r.rc, 0, r)
            self.assertEqual([(p["page"], p["method"]) for p in doc["pages"]],
                             [(1, "text"), (3, "text")], r)
            self.assertIn("page 2", doc["note"] or "", r)
            self.assertIn("timed out", doc["note"] or "", r)
            self.assertIn("(page_timeout_seconds)", doc["note"] or "", r)

    def test_job_timeout_skips_the_pages_not_started(self):
        with tempfile.TemporaryDirectory() as tmp:
            pdf = os.path.join(tmp, "scan.pdf")
            U.scanned_pdf(pdf, 8)
            pol = policy(tmp, "job_timeout_seconds = 1, page_parallel_min_pages = 0")
            t0 = time.monotonic()
            r, doc = extract(tmp, pdf, pol)
            elapsed = time.monotonic() - t0
            said = (doc["note"] or "") + (doc["error"] or "")
            # Pages not started are noted; the page under way when the time
            # ran out (the first one, on a slow machine) says it timed out.
            self.assertTrue("not extracted, job_timeout_seconds (1 s) reached" in said
                            or "timed out" in said and "(job_timeout_seconds)" in said, r)
            self.assertLess(len(doc["pages"]), 8, r)
            # Unbounded, 8 pages of OCR take several times longer.
            self.assertLess(elapsed, 30, r)

    def test_memory_cap_lowers_the_dpi_then_fails_the_page(self):
        # A4 at 300 DPI is 8.7 MB of gray pixels, the scan's image as much
        # again. Under a 12 MB cap the page is drawn at 149 DPI, where MuPDF
        # halves the image as it decodes it, and read; under 4 MB nothing
        # fits down to 72 DPI.
        with tempfile.TemporaryDirectory() as tmp:
            r, doc = extract(tmp, "scan_en.pdf", policy(tmp, "max_mupdf_mb = 4"), "--dpi", "300")
            self.assertEqual(r.rc, 1, r)
            self.assertIn("memory limit: MuPDF needed more than 4 MB (max_mupdf_mb)",
                          doc["error"], r)
            r, doc = extract(tmp, "scan_en.pdf", policy(tmp, "max_mupdf_mb = 12"), "--dpi", "300")
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(doc["pages"][0]["dpi"], 149, r)
            self.assertIn("Dear customer", doc["pages"][0]["text"], r)
            r, doc = extract(tmp, "scan_en.pdf", policy(tmp, "max_mupdf_mb = 64"), "--dpi", "300")
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(doc["pages"][0]["dpi"], 300, r)


class _Files(http.server.BaseHTTPRequestHandler):
    """A loopback web server with the faults a fetch meets."""
    body = b""

    def do_GET(self):
        if self.path == "/doc.pdf":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        elif self.path == "/short.pdf":     # the connection drops mid-body
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body[:100])
            self.close_connection = True
        elif self.path == "/busy.pdf":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/moved.pdf":     # must not be followed
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *a):
        pass


class Fetch(unittest.TestCase):
    def test_url_jobs_only_under_the_allowed_prefixes(self):
        with open(os.path.join(U.CORPUS, "text_ja_en.pdf"), "rb") as f:
            _Files.body = f.read()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d/" % srv.server_port
        try:
            with tempfile.TemporaryDirectory() as tmp:
                default = policy(tmp, "")
                r, doc = extract(tmp, base + "doc.pdf", default)
                self.assertEqual(r.rc, 1, r)
                self.assertIn("refused: URL not under a prefix of fetch_allowed_urls", doc["error"])
                allowed = policy(tmp, 'fetch_allowed_urls = "%s"' % base)
                r, doc = extract(tmp, base + "doc.pdf", allowed)
                self.assertEqual(r.rc, 0, r)
                self.assertTrue(doc["pages"] and doc["pages"][0]["method"] == "text", r)
                for path, want in (("short.pdf", "partial file"), ("busy.pdf", "HTTP 503"),
                                   ("moved.pdf", "HTTP 302"), ("none.pdf", "HTTP 404")):
                    r, doc = extract(tmp, base + path, allowed)
                    self.assertEqual(r.rc, 1, r)
                    self.assertIn(want, doc["error"], r)   # (curl sees the short body)
                other = "http://127.0.0.1:%d/doc.pdf" % (srv.server_port + 1)
                r, doc = extract(tmp, other, allowed)
                self.assertIn("refused", doc["error"], r)
                # Nothing of the downloads is left in the temp folder.
                self.assertEqual([n for n in os.listdir(tempfile.gettempdir())
                                  if n.startswith("docmill-") and n.endswith(".part")], [])
        finally:
            srv.shutdown()


def jobs(db):
    return U.db_query(db, "SELECT source, state, crashes, error FROM jobs") or []


def pid_of(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


class Supervisor(unittest.TestCase):
    def start(self, tmp, src, db, *extra, env=None):
        self.pid_file = os.path.join(tmp, "w.pid")
        self.err_path = os.path.join(tmp, "run.err")
        return U.dm_start("run", "--once", "--json", "--source", src, "--index", "sqlite:" + db,
                          "--socket", "off", "--pid-file", self.pid_file, "--log-format", "json",
                          *extra, stdout_path=os.path.join(tmp, "run.out"),
                          stderr_path=self.err_path, env=env)

    def log(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def test_killed_worker_process_is_restarted_and_nothing_is_lost(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            names = []
            for i in range(6):
                for t in ("scan_en.pdf", "image_en.png"):
                    stem, ext = os.path.splitext(t)
                    names.append("%s_%d%s" % (stem, i, ext))
                    os.link(os.path.join(U.CORPUS, t), os.path.join(src, names[-1]))
            db = os.path.join(tmp, "index.db")
            p = self.start(tmp, src, db)
            try:
                self.assertTrue(U.wait_for(
                    lambda: any(s == "leased" for _, s, _, _ in jobs(db)), 60, 0.05), self.log())
                first = pid_of(self.pid_file)
                self.assertEqual(U.parent_pid(first), p.pid)
                os.kill(first, signal.SIGKILL)   # what the OOM killer does
                p.wait(timeout=300)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, self.log())
            self.assertIn("died of signal 9", self.log())
            self.assertNotEqual(pid_of(self.pid_file), first)
            rows = jobs(db)
            self.assertEqual(sorted(os.path.basename(s) for s, st, _, _ in rows
                                    if st == "done"), sorted(names), rows)
            self.assertGreaterEqual(sum(c for _, _, c, _ in rows), 1, rows)
            self.assertEqual(set(U.docs_by_source(db).values()), {1})

    def test_the_job_a_worker_crashes_on_is_quarantined_and_only_it(self):
        # DOCMILL_FAULT_ABORT_ON makes a worker thread abort() on that file,
        # as a decoder bug would: the crash journal names the job, so only
        # it counts the crashes; the jobs in flight beside it are redone.
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            U.scanned_pdf(os.path.join(src, "poison.pdf"), 2)
            for i in range(6):
                with open(os.path.join(src, "note%d.txt" % i), "w") as f:
                    f.write("an innocent note %d\n" % i)
            db = os.path.join(tmp, "index.db")
            env = dict(os.environ, DOCMILL_FAULT_ABORT_ON="poison.pdf")
            p = self.start(tmp, src, db, "--workers", "2", env=env)
            try:
                p.wait(timeout=120)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 3, self.log())   # some files failed
            self.assertEqual(self.log().count("died of signal 6"), 2, self.log())
            by_name = {os.path.basename(s): (st, c, e) for s, st, c, e in jobs(db)}
            state, crashes, error = by_name.pop("poison.pdf")
            self.assertEqual((state, crashes), ("failed", 2), by_name)
            self.assertIn("quarantined: its worker process died of signal 6", error)
            self.assertEqual({n: (st, c) for n, (st, c, _) in by_name.items()},
                             {"note%d.txt" % i: ("done", 0) for i in range(6)})
            self.assertEqual(len(U.docs_by_source(db)), 6)


if __name__ == "__main__":
    U.main()
