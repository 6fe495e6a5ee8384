"""Shared helpers of the black-box (e2e) tests of the docmill CLI.

Not a test file itself (ctest runs only tests/e2e/test_*.py). Standard
library only. Environment (set by ctest, see tests/CMakeLists.txt):
    DOCMILL_BIN     the docmill binary
    DOCMILL_CORPUS  a generated corpus (tests/corpus/make_corpus.py); read-only
    DOCMILL_SOURCE  the repository root
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from textmetrics import canon, cer, levenshtein  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("DOCMILL_SOURCE") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("DOCMILL_BIN") or os.path.join(SOURCE, "build", "docmill")
CORPUS = os.environ.get("DOCMILL_CORPUS") or ""

WORKERS = "2"
TIMEOUT = 180          # any single docmill invocation


def _check_env():
    if not os.access(BIN, os.X_OK):
        sys.exit("DOCMILL_BIN=%r is not an executable" % BIN)
    if not CORPUS or not os.path.isfile(os.path.join(CORPUS, "truth.json")):
        sys.exit("DOCMILL_CORPUS=%r does not hold a generated corpus (truth.json)" % CORPUS)


def truth():
    with open(os.path.join(CORPUS, "truth.json"), encoding="utf-8") as f:
        return json.load(f)


def documents():
    """Names of the corpus documents (everything but truth.json)."""
    return sorted(truth())


def good_files():
    return sorted(n for n, t in truth().items() if t["kind"] != "bad")


def bad_files():
    return sorted(n for n, t in truth().items() if t["kind"] == "bad")


def copy_docs(dest, names=None):
    """Copies corpus documents (never truth.json) into dest; returns dest."""
    os.makedirs(dest, exist_ok=True)
    for n in (documents() if names is None else names):
        shutil.copy2(os.path.join(CORPUS, n), os.path.join(dest, n))
    return dest


class Result:
    def __init__(self, cp, argv, elapsed):
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr
        self.argv = argv
        self.elapsed = elapsed

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError("%s: stdout is not JSON (%s): %r\nstderr: %s"
                                 % (" ".join(self.argv), e, self.out[:500], self.err[-2000:]))

    def __repr__(self):
        return "docmill %s -> rc %s\nstdout: %s\nstderr: %s" % (
            " ".join(self.argv), self.rc, self.out[-1500:], self.err[-3000:])


def dm(*args, cwd=None, timeout=TIMEOUT, env=None):
    """Runs docmill to completion (text mode, UTF-8)."""
    argv = [str(a) for a in args]
    t0 = time.monotonic()
    cp = subprocess.run([BIN] + argv, cwd=cwd, capture_output=True, timeout=timeout,
                        env=env, encoding="utf-8", errors="replace")
    return Result(cp, argv, time.monotonic() - t0)


def dm_start(*args, cwd=None, stdout_path=None, stderr_path=None, env=None):
    """Starts docmill in the background; output goes to files."""
    argv = [BIN] + [str(a) for a in args]
    out = open(stdout_path or os.devnull, "wb")
    err = open(stderr_path or os.devnull, "wb")
    try:
        return subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, env=env)
    finally:
        out.close()
        err.close()


def run_once(src, db, *extra, cwd=None, timeout=TIMEOUT):
    return dm("run", "--source", src, "--index", "sqlite:" + db, "--workers", WORKERS,
              "--once", "--json", *extra, cwd=cwd, timeout=timeout)


def search(db, query, limit=50):
    r = dm("search", query, "--index", "sqlite:" + db, "--limit", limit, "--json")
    if r.rc != 0:
        raise AssertionError("search %r failed: %r" % (query, r))
    hits = r.json()
    if not isinstance(hits, list):
        raise AssertionError("search %r: not a JSON array: %r" % (query, r.out))
    return hits


def status(db):
    r = dm("status", "--index", "sqlite:" + db, "--json")
    if r.rc != 0:
        raise AssertionError("status failed: %r" % r)
    return r.json()


def db_query(db, sql, args=()):
    """Read-only query of the index database; None if it cannot be read yet
    (not created, schema not there, busy)."""
    if not os.path.exists(db):
        return None
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.Error:
        return None
    finally:
        con.close()


def docs_by_source(db):
    rows = db_query(db, "SELECT source, COUNT(*) FROM documents GROUP BY source")
    return dict(rows or [])


norm = canon  # NFKC, all whitespace removed (for OCR comparison)


def wait_for(pred, timeout, interval=0.2):
    """Polls pred() until it returns something truthy; returns it or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def scanned_pdf(path, pages):
    """An image-only PDF (Pillow): 'Page N line L ...' drawn on each page at 200 DPI."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)
    images = []
    for p in range(1, pages + 1):
        im = Image.new("L", (1700, 2200), 255)
        d = ImageDraw.Draw(im)
        for line in range(6):
            d.text((150, 200 + line * 120), "Page %d line %d of the scanned report" % (p, line),
                   font=font, fill=0)
        images.append(im.convert("RGB"))
    images[0].save(path, save_all=True, append_images=images[1:], resolution=200)


def parent_pid(pid):
    """The parent of a process (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def stop(proc):
    """Kills a background docmill we started, if it is still running."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


class _Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self.times = {}
        self._t0 = None

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        self.times[test.id()] = time.monotonic() - self._t0
        super().stopTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    """Runs the calling module's tests; prints per-test times and a closing
    `N passed, M failed` line; exit status 1 when anything failed."""
    _check_env()
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    if len(sys.argv) > 1:    # optional filter: substrings of test names
        keep = sys.argv[1:]

        def flat(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from flat(t)
                else:
                    yield t
        suite = unittest.TestSuite(t for t in flat(suite) if any(k in t.id() for k in keep))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_Result)
    t0 = time.monotonic()
    res = runner.run(suite)
    for name, secs in sorted(res.times.items()):
        print("  %6.1f s  %s" % (secs, name.split(".", 1)[-1]))
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    print("total %.1f s" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (res.passed, failed))
    sys.exit(1 if failed or res.passed == 0 else 0)
