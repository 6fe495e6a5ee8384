#!/usr/bin/python3
"""Every real-world PDF of ../shared/corpora/robust through `docmill run`.

311 files from public test corpora: malformed, encrypted, CJK, huge, bombs.
One run with 2 workers under the supervisor must end with
  - no crash (the supervisor never restarted the worker process) and no hang
    (the run ends within TIMEOUT);
  - every file a document or a recorded failure with a reason, nothing
    pending or leased;
  - peak RSS within the 600 MB cap (not under ASan, whose allocator keeps
    freed memory in quarantine);
  - encrypted files: those with an empty user password indexed, those that
    need one failed as "encrypted";
  - a page over max_mupdf_mb read at a lower DPI (ocrmypdf/enormous.pdf);
  - no Kangxi radical left in the index (MuPDF returns ⼈ for 人 on some
    Japanese PDFs; the text is NFKC-normalised before indexing).
Prints the counts (ctest keeps them in its log). Skipped (77) when the shared
corpus is absent."""
import collections
import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

SOURCE = os.environ.get("DOCMILL_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
BIN = os.environ.get("DOCMILL_BIN") or os.path.join(SOURCE, "build", "docmill")
SANITIZED = os.environ.get("DOCMILL_SANITIZED", "0") in ("1", "ON", "TRUE", "true")
ROOT = os.path.normpath(os.path.join(SOURCE, "..", "shared", "corpora", "robust"))
TIMEOUT = 2400 if SANITIZED else 900
RSS_CAP_MB = 600


def main():
    if not os.path.isfile(os.path.join(ROOT, "MANIFEST.csv")):
        print("skipped: %s is not there" % ROOT)
        return 77
    manifest = {r["path"]: r for r in csv.DictReader(open(os.path.join(ROOT, "MANIFEST.csv")))}
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)
            print("FAIL: " + msg)

    work = tempfile.mkdtemp(prefix="docmill-robust-")
    db = os.path.join(work, "robust.db")
    t0 = time.monotonic()
    try:
        cp = subprocess.run([BIN, "run", "--once", "--json", "--workers", "2", "--source", ROOT,
                             "--index", "sqlite:" + db, "--socket", "off", "--pid-file", "off",
                             "--log-format", "json"],
                            capture_output=True, timeout=TIMEOUT, encoding="utf-8",
                            errors="replace")
    except subprocess.TimeoutExpired:
        print("FAIL: the run did not end within %d s (a hang)" % TIMEOUT)
        return 1
    elapsed = time.monotonic() - t0
    check(cp.returncode in (0, 3), "exit status %d; stderr tail: %s" % (cp.returncode,
                                                                         cp.stderr[-2000:]))
    crashes = [l for l in cp.stderr.splitlines() if "worker process" in l and "restarting" in l]
    check(not crashes, "the worker process crashed or stuck: %s" % crashes[:3])
    try:
        summary = json.loads(cp.stdout)
    except ValueError:
        print("FAIL: no JSON summary: %r" % cp.stdout[-500:])
        return 1

    con = sqlite3.connect(db)
    jobs = {src[len(ROOT) + 1:]: (state, outcome, error)
            for src, state, outcome, error in con.execute(
                "SELECT source, state, outcome, error FROM jobs")}
    pdfs = set(manifest)
    check(pdfs <= set(jobs), "files without a job: %s" % sorted(pdfs - set(jobs))[:5])
    by_state = collections.Counter(state for state, _, _ in jobs.values())
    check(set(by_state) <= {"done", "failed"}, "jobs not ended: %s" % dict(by_state))
    reasons = collections.Counter()
    for path, (state, outcome, error) in sorted(jobs.items()):
        if state == "failed":
            check(bool(error), "%s failed without a reason" % path)
            reasons[re.sub(r"\d+", "N", (error or "")[:60])] += 1

    for path, row in manifest.items():
        state, outcome, error = jobs.get(path, (None, None, None))
        pw = row["password"]
        if row["encrypted"] != "yes":
            continue
        if "empty user pw" in pw:
            check(state == "done", "%s has an empty user password but %s: %s"
                  % (path, state, error))
        elif pw.startswith("user=") and "owner empty" not in pw and "foo owner=baz" not in pw:
            check(state == "failed" and "encrypted" in (error or ""),
                  "%s needs a password but ended %s: %s" % (path, state, error))

    # A 9000x9000 RGB poster: drawn at 150 DPI MuPDF would decode it whole
    # (330 MB, over max_mupdf_mb); drawn at 149 DPI, where MuPDF halves it
    # while decoding (98 MB), it is read.
    poster = os.path.join(ROOT, "ocrmypdf", "enormous.pdf")
    got = con.execute("SELECT p.dpi, f.text FROM pages p JOIN pages_fts f ON f.rowid = p.rowid "
                      "JOIN documents d ON d.id = p.doc_id WHERE d.source = ?",
                      (poster,)).fetchall()
    check(any(dpi < 150 and "pixels" in text for dpi, text in got),
          "ocrmypdf/enormous.pdf was not read at a lower DPI: %r %r"
          % (jobs.get("ocrmypdf/enormous.pdf"), got))

    kangxi = con.execute("SELECT COUNT(*) FROM pages_fts WHERE text GLOB ?",
                         ("*[\u2f00-\u2fdf]*",)).fetchone()[0]
    check(kangxi == 0, "%d pages hold Kangxi radicals (not NFKC-normalised)" % kangxi)
    peak_mb = summary["peak_rss"] / 1048576
    if not SANITIZED:
        check(peak_mb <= RSS_CAP_MB, "peak RSS %.0f MB over the %d MB cap" % (peak_mb, RSS_CAP_MB))

    print("robust corpus: %d PDFs in %.1f s, 2 workers, peak RSS %.0f MB" % (len(pdfs), elapsed,
                                                                           peak_mb))
    print("  indexed %d, failed %d, pages %d (%d OCR'd)" % (
        by_state["done"], by_state["failed"], summary["pages"], summary["pages_ocr"]))
    for reason, n in reasons.most_common():
        print("  %4d  %s" % (n, reason))
    print("%d passed, %d failed" % (1 if not failures else 0, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
