#!/usr/bin/python3
"""Black-box tests of the docmill CLI over the generated corpus: run --once,
search, status, extract (incl. OCR accuracy), re-runs, changes, deletions,
help/usage/version and policy/config typos.

Run: DOCMILL_BIN=build/docmill DOCMILL_CORPUS=/tmp/corpus DOCMILL_SOURCE=. \
         /usr/bin/python3 tests/e2e/test_cli.py [NAME-FILTER...]
"""
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as U  # noqa: E402

SUMMARY_KEYS = {"indexed", "unchanged", "failed", "deleted", "skipped", "retried", "pages",
                "pages_ocr", "pages_rotated", "pages_vertical", "pages_low_confidence",
                "files_per_hour", "elapsed_ms", "peak_rss", "stage_seconds", "worker_seconds"}
MIME = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
        ".tif": "image/tiff", ".bmp": "image/bmp", ".gif": "image/gif", ".txt": "text/plain"}
MAX_CER = 0.05


def page_kinds(t):
    """Per page: "text" (text layer / plain text) or "ocr" (scan / image)."""
    if "page_kinds" in t:
        return ["ocr" if k == "scan" else "text" for k in t["page_kinds"]]
    kind = "ocr" if t["kind"] in ("scan", "image") else "text"
    return [kind] * len(t["pages"])


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class FirstRun(unittest.TestCase):
    """One run --once over a copy of every corpus document (not truth.json);
    the tests of this class only read the resulting index."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="dm_e2e_cli_")
        cls.root = os.path.realpath(cls.tmp.name)
        cls.docs = U.copy_docs(os.path.join(cls.root, "docs"))
        cls.db = os.path.join(cls.root, "index.db")
        cls.truth = U.truth()
        # Relative --source/--index on purpose: sources must be stored absolute.
        cls.first = U.run_once("docs", "index.db", cwd=cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.docs, name)

    def test_run_summary(self):
        r = self.first
        self.assertEqual(r.rc, 3, r)
        s = r.json()
        self.assertEqual(set(s), SUMMARY_KEYS, s)
        for k in SUMMARY_KEYS - {"stage_seconds", "worker_seconds"}:
            self.assertTrue(is_num(s[k]), (k, s))
        stages = s["stage_seconds"]
        self.assertEqual(set(stages), {"fetch", "text", "render", "ocr", "index", "wait"})
        self.assertTrue(all(is_num(v) and v >= 0 for v in stages.values()), stages)
        self.assertGreater(stages["ocr"], 0, stages)  # the corpus has scans
        # The workers' time: the stages they ran lie within their time at
        # work, and work plus idle at both ends within workers x elapsed.
        ws = s["worker_seconds"]
        self.assertEqual(set(ws), {"busy", "idle_before_first_work", "idle_after_last_work"})
        self.assertTrue(all(is_num(v) and v >= 0 for v in ws.values()), ws)
        in_workers = sum(stages[k] for k in ("fetch", "text", "render", "ocr", "wait"))
        self.assertLessEqual(in_workers, ws["busy"] + 0.05, (stages, ws))
        self.assertLessEqual(sum(ws.values()),
                             int(U.WORKERS) * s["elapsed_ms"] / 1000.0 + 0.05, (ws, s))
        good, bad = U.good_files(), U.bad_files()
        self.assertEqual(sorted(bad), ["corrupt.pdf", "empty.pdf", "truncated.pdf",
                                       "unsupported.xyz"])
        self.assertEqual(s["indexed"], len(good), s)
        self.assertEqual(s["failed"], len(bad), s)
        self.assertEqual(s["unchanged"], 0, s)
        self.assertEqual(s["deleted"], 0, s)
        n_pages = sum(len(self.truth[n]["pages"]) for n in good)
        n_ocr = sum(page_kinds(self.truth[n]).count("ocr") for n in good)
        self.assertEqual(s["pages"], n_pages, s)
        self.assertGreater(s["pages_ocr"], 0, s)
        self.assertEqual(s["pages_ocr"], n_ocr, s)
        self.assertGreater(s["elapsed_ms"], 0, s)
        self.assertGreater(s["peak_rss"], 0, s)

    def test_sources_stored_absolute(self):
        got = U.docs_by_source(self.db)
        want = {self.path(n): 1 for n in U.good_files()}
        self.assertEqual(got, want)

    def test_search_finds_every_phrase(self):
        checked = 0
        for name in U.good_files():
            t = self.truth[name]
            for phrase in t["phrases"]:
                pages = [i + 1 for i, p in enumerate(t["pages"]) if phrase in p]
                hits = U.search(self.db, phrase)
                mine = [h for h in hits if h["source"] == self.path(name)]
                self.assertTrue(mine, "%r: %s not among hits %r" % (phrase, name, hits))
                for h in hits:
                    self.assertEqual(set(h) - {"title"}, {"id", "source", "page", "score",
                                                          "snippet"}, h)
                    self.assertTrue(is_num(h["score"]) and isinstance(h["page"], int), h)
                    self.assertIn("<em>", h["snippet"], h)
                if len(pages) == 1:
                    self.assertIn(pages[0], [h["page"] for h in mine],
                                  "%r should be found on %s page %d: %r" % (phrase, name,
                                                                              pages[0], mine))
                else:
                    self.assertTrue(set(h["page"] for h in mine) & set(pages), (phrase, mine))
                checked += 1
        self.assertGreaterEqual(checked, 20)

    def test_search_english_case_insensitive(self):
        cases = [("ZEBRA CROSSING PROTOCOL", "text_ja_en.pdf", 2),     # text layer
                 ("zebra crossing protocol", "text_ja_en.pdf", 2),
                 ("Harbor LIGHTHOUSE keeper", "image_en.png", 1),       # OCR
                 ("INVOICE NUMBER 48213", "scan_en.pdf", 1),            # OCR'd PDF
                 ("Plain Text NOTES", "notes_utf8.txt", 1)]             # plain text
        for q, name, page in cases:
            hits = U.search(self.db, q)
            self.assertIn((self.path(name), page), [(h["source"], h["page"]) for h in hits],
                          (q, hits))

    def test_search_short_japanese(self):
        # 1-2 character words go through the scan fallback, not the trigram index.
        cases = [("猫", "text_ja_en.pdf"), ("請求", "scan_ja.pdf"), ("田中", "notes_sjis.txt"),
                 ("晴れ", "image_ja.jpg"), ("雨", "text_ja_en.pdf")]
        for q, name in cases:
            hits = U.search(self.db, q)
            self.assertIn(self.path(name), [h["source"] for h in hits], (q, hits))
            self.assertTrue(all("<em>" in h["snippet"] for h in hits), hits)
        # Words are ANDed: a 2-char word with a 3+-char one.
        hits = U.search(self.db, "請求 山田製作所")
        self.assertEqual([h["source"] for h in hits], [self.path("scan_ja.pdf")], hits)

    def test_search_nonsense_is_empty(self):
        for q in ("qwxzvbnplk", "存在しない語句の組み合わせ", "zebra 請求書番号"):
            r = U.dm("search", q, "--index", "sqlite:" + self.db, "--json")
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json(), [], (q, r))

    def test_status_lists_the_failures(self):
        st = U.status(self.db)
        self.assertEqual(set(st), {"indexed", "failed", "pending", "failures", "notes"}, st)
        self.assertEqual(st["notes"], [], st)
        self.assertEqual(st["indexed"], len(U.good_files()), st)
        self.assertEqual(st["failed"], 4, st)
        self.assertEqual(st["pending"], 0, st)
        reasons = {f["source"]: f["error"] for f in st["failures"]}
        self.assertEqual(len(st["failures"]), 4, st)
        self.assertEqual(set(reasons), {self.path(n) for n in U.bad_files()}, st)
        for src, err in reasons.items():
            self.assertIsInstance(err, str)
            self.assertTrue(err.strip(), (src, err))
            self.assertNotIn("\n", err, (src, err))
            self.assertNotIn("traceback", err.lower(), (src, err))
        self.assertIn("empty", reasons[self.path("empty.pdf")].lower())
        self.assertIn("unsupported", reasons[self.path("unsupported.xyz")].lower())
        for n in ("corrupt.pdf", "truncated.pdf"):
            self.assertRegex(reasons[self.path(n)].lower(),
                             r"cannot open|no pages|corrupt|damaged|broken|truncated|"
                             r"syntax|xref|trailer|object", n)


class Rerun(unittest.TestCase):
    def test_second_run_changes_nothing(self):
        with tempfile.TemporaryDirectory(prefix="dm_e2e_rerun_") as tmp:
            docs = U.copy_docs(os.path.join(tmp, "docs"))
            db = os.path.join(tmp, "index.db")
            r1 = U.run_once(docs, db)
            self.assertEqual(r1.rc, 3, r1)
            before = U.status(db)
            r2 = U.run_once(docs, db)
            # Nothing failed in this run: the failed files are unchanged and
            # are not retried, so the exit status is 0.
            self.assertEqual(r2.rc, 0, r2)
            s = r2.json()
            self.assertEqual(s["indexed"], 0, s)
            self.assertEqual(s["failed"], 0, s)
            self.assertEqual(s["deleted"], 0, s)
            self.assertEqual(s["pages"], 0, s)
            self.assertEqual(s["pages_ocr"], 0, s)
            self.assertEqual(s["unchanged"], len(U.documents()), s)
            after = U.status(db)
            self.assertEqual(after, before)       # the failures are still recorded
            self.assertEqual(U.docs_by_source(db),
                             {os.path.join(docs, n): 1 for n in U.good_files()})
            hits = U.search(db, "吾輩は猫である")
            self.assertEqual([h["source"] for h in hits], [os.path.join(docs, "text_ja_en.pdf")])


class Changes(unittest.TestCase):
    NAMES = ["notes_utf8.txt", "notes_sjis.txt", "notes_eucjp.txt", "text_ja_en.pdf"]

    def test_modify_then_delete(self):
        with tempfile.TemporaryDirectory(prefix="dm_e2e_change_") as tmp:
            docs = U.copy_docs(os.path.join(tmp, "docs"), self.NAMES)
            db = os.path.join(tmp, "index.db")
            r = U.run_once(docs, db)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json()["indexed"], len(self.NAMES), r)
            # the same folder spelled differently is the same set of sources
            r = U.run_once("./docs/.//", db, cwd=tmp)
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual((s["indexed"], s["deleted"], s["unchanged"]),
                             (0, 0, len(self.NAMES)), s)

            target = os.path.join(docs, "notes_utf8.txt")
            self.assertEqual([h["source"] for h in U.search(db, "日本語のテキストファイル")],
                             [target])

            # modify: new content with a new phrase, and a later mtime
            st = os.stat(target)
            with open(target, "w", encoding="utf-8") as f:
                f.write("改訂版のメモ\nThe purple elephant memorandum replaced the notes.\n")
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
            r = U.run_once(docs, db)
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual((s["indexed"], s["failed"], s["deleted"], s["unchanged"]),
                             (1, 0, 0, len(self.NAMES) - 1), s)
            self.assertEqual([h["source"] for h in U.search(db, "purple elephant")], [target])
            self.assertEqual([h["source"] for h in U.search(db, "改訂版")], [target])
            self.assertEqual(U.search(db, "日本語のテキストファイル"), [])
            self.assertEqual(U.search(db, "plain text notes"), [])
            self.assertEqual(U.docs_by_source(db)[target], 1)

            # delete
            gone = os.path.join(docs, "notes_sjis.txt")
            self.assertEqual([h["source"] for h in U.search(db, "シフトジス形式")], [gone])
            os.remove(gone)
            r = U.run_once(docs, db)
            self.assertEqual(r.rc, 0, r)
            s = r.json()
            self.assertEqual((s["indexed"], s["failed"], s["deleted"]), (0, 0, 1), s)
            self.assertEqual(U.search(db, "シフトジス形式"), [])
            self.assertEqual(U.search(db, "田中"), [])          # scan fallback too
            self.assertNotIn(gone, U.docs_by_source(db))
            st = U.status(db)
            self.assertEqual((st["indexed"], st["failed"], st["pending"]),
                             (len(self.NAMES) - 1, 0, 0), st)


class Extract(unittest.TestCase):
    """docmill extract on every corpus document (copied to a temp folder)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="dm_e2e_extract_")
        cls.docs = U.copy_docs(os.path.join(os.path.realpath(cls.tmp.name), "docs"))
        cls.truth = U.truth()
        cls._cache = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def extract(self, name, *extra):
        key = (name,) + extra
        if key not in self._cache:
            self._cache[key] = U.dm("extract", os.path.join(self.docs, name), "--json", *extra)
        return self._cache[key]

    def check_shape(self, r, path):
        j = r.json()
        self.assertEqual(set(j), {"source", "mime", "meta", "pages", "note", "error"}, j)
        self.assertEqual(j["source"], path, j)
        self.assertIsInstance(j["pages"], list, j)
        for p in j["pages"]:
            # OCR'd pages say how sure Tesseract was, and how the page was
            # turned when it had to be; text-layer pages carry neither.
            want = {"page", "method", "dpi", "text"}
            if p["method"] == "ocr":
                want = want | {"confidence"} | ({"rotate"} if "rotate" in p else set())
                self.assertIsInstance(p["confidence"], int, p)
            self.assertEqual(set(p), want, p)
            self.assertIsInstance(p["page"], int)
            self.assertIn(p["method"], ("text", "ocr"), p)
            self.assertIsInstance(p["text"], str)
        return j

    def test_extract_json_shape_every_kind(self):
        for name in U.good_files():
            t = self.truth[name]
            path = os.path.join(self.docs, name)
            r = self.extract(name)
            self.assertEqual(r.rc, 0, r)
            j = self.check_shape(r, path)
            self.assertIsNone(j["error"], j)
            self.assertEqual(j["mime"], MIME[os.path.splitext(name)[1]], (name, j["mime"]))
            self.assertEqual([p["page"] for p in j["pages"]],
                             list(range(1, len(t["pages"]) + 1)), name)
            for p, kind in zip(j["pages"], page_kinds(t)):
                where = "%s page %d" % (name, p["page"])
                self.assertEqual(p["method"], kind, where)
                if kind == "text":
                    self.assertIsNone(p["dpi"], where)
                else:
                    self.assertIsInstance(p["dpi"], int, where)
                    self.assertFalse(isinstance(p["dpi"], bool), where)
                    self.assertGreater(p["dpi"], 0, where)
                    if name.endswith(".pdf"):
                        # as each page's text lines ask (dpi_min..dpi_max)
                        self.assertTrue(100 <= p["dpi"] <= 300, where)
                self.assertTrue(p["text"].strip(), where)

    def test_extract_text_pages_match_truth(self):
        for name in U.good_files():
            t = self.truth[name]
            j = self.extract(name).json()
            for p, kind, want in zip(j["pages"], page_kinds(t), t["pages"]):
                if kind != "text":
                    continue
                if t["kind"] == "plain":     # decoded exactly (UTF-8, Shift_JIS, EUC-JP)
                    self.assertEqual(p["text"], want, name)
                else:
                    self.assertEqual(U.norm(p["text"]), U.norm(want), (name, p["page"]))

    def test_ocr_character_error_rate(self):
        rates, worst = [], []
        for name in U.good_files():
            t = self.truth[name]
            if t["kind"] not in ("scan", "image"):
                continue
            j = self.extract(name).json()
            self.assertEqual(len(j["pages"]), len(t["pages"]), name)
            got = "".join(p["text"] for p in j["pages"])
            rate = U.cer("".join(t["pages"]), got)
            rates.append((name, rate))
            if rate > MAX_CER:
                worst.append((name, rate, got))
        print("\n  OCR CER per file: " + ", ".join("%s %.4f" % r for r in rates))
        self.assertGreaterEqual(len(rates), 7)
        self.assertEqual(worst, [], "CER above %.2f" % MAX_CER)

    def test_extract_image_dpi_follows_file_resolution(self):
        # Every corpus image is 300 DPI: PNG pHYs, TIFF and BMP resolution,
        # JPEG JFIF density. (GIF has no resolution field: core/extract/doc.c says
        # images without a usable tag are assumed to be 300 DPI scans.) Asked
        # for more, an image is read at its own resolution, never enlarged;
        # by default it is shrunk to the policy's DPI like a rendered page.
        names = ("image_en.png", "multi.tif", "image.bmp", "image_ja.jpg", "image.gif")
        for dpi, want in (("600", 300), (None, 150)):
            got = {}
            for name in names:
                j = self.extract(name, *(["--dpi", dpi] if dpi else [])).json()
                got[name] = [p["dpi"] for p in j["pages"]]
            bad = {n: d for n, d in got.items() if not d or any(abs(x - want) > 1 for x in d)}
            self.assertEqual(bad, {}, "reported OCR DPI per image (--dpi %s): %r" % (dpi, got))

    def test_extract_bad_files(self):
        for name in U.bad_files() + ["does-not-exist.pdf"]:
            path = os.path.join(self.docs, name)
            for as_json in (False, True):
                args = ["extract", path] + (["--json"] if as_json else [])
                r = U.dm(*args)
                self.assertEqual(r.rc, 1, r)
                lines = r.err.strip("\n").split("\n")
                self.assertEqual(len(lines), 1, r)
                self.assertTrue(lines[0].startswith("docmill extract: "), r)
                if as_json:
                    j = self.check_shape(r, path)
                    self.assertIsInstance(j["error"], str, r)
                    self.assertTrue(j["error"], r)
                    self.assertEqual(j["pages"], [], r)
                    self.assertIsNone(j["mime"], r)
                    self.assertIn(j["error"], lines[0], r)
                else:
                    self.assertEqual(r.out, "", r)
        r = U.dm("extract", os.path.join(self.docs, "empty.pdf"), "--json")
        self.assertIn("empty", r.json()["error"])
        r = U.dm("extract", os.path.join(self.docs, "unsupported.xyz"), "--json")
        self.assertIn("unsupported", r.json()["error"])

    def test_extract_options(self):
        path = os.path.join(self.docs, "scan_en.pdf")
        j = U.dm("extract", path, "--json", "--dpi", "200", "--lang", "eng").json()
        self.assertEqual([(p["method"], p["dpi"]) for p in j["pages"]], [("ocr", 200)])
        self.assertIn("48213", j["pages"][0]["text"])
        for bad in (["--dpi", "50"], ["--dpi", "abc"], ["--lang", "nosuchlang"]):
            r = U.dm("extract", path, *bad)
            self.assertEqual(r.rc, 2, r)
            self.assertTrue(r.err.strip(), r)


class Usage(unittest.TestCase):
    COMMANDS = ["run", "extract", "search", "status", "policy"]

    def test_help_for_every_command(self):
        for args in (["--help"], ["-h"], ["help"]):
            r = U.dm(*args)
            self.assertEqual(r.rc, 0, r)
            self.assertTrue(r.out.startswith("usage: docmill"), r)
            for c in self.COMMANDS:
                self.assertIn(c, r.out)
        for c in self.COMMANDS:
            r = U.dm(c, "--help")
            self.assertEqual(r.rc, 0, r)
            self.assertTrue(r.out.startswith("usage: docmill " + c), r)
            r = U.dm("help", c)
            self.assertEqual(r.rc, 0, r)
            self.assertTrue(r.out.startswith("usage: docmill " + c), r)

    def test_version(self):
        r = U.dm("--version")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"^docmill \d+\.\d+\.\d+\n$")

    def test_unknown_command_and_options_exit_2(self):
        r = U.dm("frobnicate")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("frobnicate", r.err)
        r = U.dm("serach", "x")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("search", r.err)       # did you mean
        for c in self.COMMANDS:
            r = U.dm(c, "--no-such-option")
            self.assertEqual(r.rc, 2, r)
            self.assertIn("--no-such-option", r.err, r)
        with tempfile.TemporaryDirectory() as tmp:
            for args in (["run", "--workers", "two"], ["run", "--once=yes"],
                         ["search", "x", "--limit", "0"], ["extract"], ["search"],
                         ["run", "--index"]):
                r = U.dm(*args, cwd=tmp)
                self.assertEqual(r.rc, 2, r)
                self.assertTrue(r.err.strip(), r)
            self.assertEqual(os.listdir(tmp), [])

    def test_missing_index_exit_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "none.db")
            for args in (["search", "x", "--index", "sqlite:" + db],
                         ["status", "--index", "sqlite:" + db]):
                r = U.dm(*args)
                self.assertEqual(r.rc, 1, r)
                self.assertTrue(r.err.strip(), r)
            self.assertFalse(os.path.exists(db))

    def test_policy_typo_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            docs = U.copy_docs(os.path.join(tmp, "docs"), ["notes_utf8.txt"])
            pol = os.path.join(tmp, "policy.lua")
            with open(pol, "w") as f:
                f.write("return { dpii = 200 }\n")
            db = os.path.join(tmp, "index.db")
            r = U.run_once(docs, db, "--policy", pol)
            self.assertEqual(r.rc, 2, r)
            self.assertIn("dpii", r.err)
            self.assertRegex(r.err, r"did you mean '?dpi'?", r)
            self.assertEqual(U.docs_by_source(db), {})    # nothing was indexed
            r = U.dm("policy", "check", pol)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("dpii", r.err)

    def test_config_typo_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            docs = U.copy_docs(os.path.join(tmp, "docs"), ["notes_utf8.txt"])
            cfg = os.path.join(tmp, "config.lua")
            with open(cfg, "w") as f:
                f.write("return { rescan_secnds = 1 }\n")
            r = U.run_once(docs, os.path.join(tmp, "index.db"), "--config", cfg)
            self.assertEqual(r.rc, 2, r)
            self.assertIn("rescan_secnds", r.err)
            self.assertIn("rescan_seconds", r.err)


if __name__ == "__main__":
    U.main()
