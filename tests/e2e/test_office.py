#!/usr/bin/python3
"""What a file share holds besides PDFs (issue 15): Word, Excel and
PowerPoint (Office Open XML), HTML in Japanese encodings, RTF in code page
932, mislabelled copies of them. Every word probe is found by `docmill
search` in the right file, no markup probe is found at all, the metadata
reaches `extract --json` and the hits' titles, slides and sheets are pages
in order, and an Office file that inflates past its limits (a zip bomb) is
a recorded failure in moments."""
import os
import sqlite3
import sys
import tempfile
import time
import unittest
import zipfile

import e2e_util as U

sys.path.insert(0, os.path.join(os.environ.get("DOCMILL_SOURCE", "."), "tests", "corpus"))
import make_office as O  # noqa: E402
import make_legacy as L  # noqa: E402


class Office(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.src = os.path.join(cls.tmp.name, "share")
        O.make(cls.src)
        cls.db = os.path.join(cls.tmp.name, "index.db")
        cls.first_run = U.run_once(cls.src, cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def extract(self, name):
        r = U.dm("extract", os.path.join(self.src, name), "--json")
        self.assertEqual(r.rc, 0, r)
        return r.json()

    def test_every_file_is_indexed(self):
        self.assertEqual(self.first_run.rc, 0, self.first_run)
        self.assertEqual(self.first_run.json()["indexed"], len(O.PROBES), self.first_run)

    def test_every_word_probe_is_found_in_its_file(self):
        for name, probes in O.PROBES.items():
            for probe in probes:
                hits = {os.path.basename(h["source"]) for h in U.search(self.db, probe)}
                self.assertIn(name, hits, (name, probe, hits))

    def test_no_markup_is_indexed(self):
        for probe in O.MARKUP:
            self.assertEqual(U.search(self.db, probe), [], probe)
        # and none in the stored text either (short probes, raw check)
        con = sqlite3.connect(self.db)
        text = "\n".join(t for (t,) in con.execute("SELECT text FROM pages_fts"))
        con.close()
        for probe in O.MARKUP:
            self.assertNotIn(probe, text, probe)

    def test_docx_metadata_and_pages(self):
        j = self.extract("report.docx")
        self.assertEqual(j["mime"], "application/vnd.openxmlformats-officedocument."
                         "wordprocessingml.document")
        self.assertEqual(j["meta"]["title"], O.DOCX_TITLE, j["meta"])
        self.assertEqual(j["meta"]["author"], "山田太郎")
        self.assertEqual(j["meta"]["created"], "2024-03-15T09:00:00Z")
        self.assertEqual(j["meta"]["language"], "ja")
        # the page break Word recorded splits the body; the picture pasted
        # into it is OCR'd as a page after the text
        self.assertEqual(len(j["pages"]), 3, [p["text"] for p in j["pages"]])
        self.assertIn("次のページへ", j["pages"][0]["text"])
        self.assertIn("second page text", j["pages"][1]["text"])
        picture = j["pages"][2]
        self.assertEqual((picture["method"], picture["name"]), ("ocr", "word/media/image1.png"))
        self.assertIn("pasted picture text", picture["text"])
        self.assertIn("貼り付けた画像", picture["text"].replace(" ", ""))
        text = "".join(p["text"] for p in j["pages"][:2])
        # a text box once, not twice (its VML fallback is dropped)
        self.assertEqual(text.count("テキストボックス"), 1, text)
        # the field's shown result, not its code
        self.assertIn("結果の表示", text)
        self.assertNotIn("DOCPROPERTY", text)

    def test_embedded_images_are_ocrd_only_when_the_policy_says_so(self):
        with tempfile.TemporaryDirectory() as tmp:
            pol = os.path.join(tmp, "p.lua")
            with open(pol, "w") as f:
                f.write("return { max_office_images = 0 }\n")
            r = U.dm("extract", os.path.join(self.src, "report.docx"), "--json", "--policy", pol)
            pages = r.json()["pages"]
            self.assertEqual([p["method"] for p in pages], ["text", "text"], pages)

    def test_pptx_slides_are_pages_in_the_presentations_order(self):
        j = self.extract("deck.pptx")
        self.assertEqual([p["page"] for p in j["pages"]], [1, 2, 3])
        for page, want in zip(j["pages"], O.SLIDES):
            self.assertIn(want, page["text"], page)
        # the notes of the second slide are on its page
        self.assertIn("発表者メモ", j["pages"][1]["text"])

    def test_xlsx_sheets_are_named_pages_with_values_as_shown(self):
        j = self.extract("budget.xlsx")
        self.assertEqual([p.get("name") for p in j["pages"]], O.SHEETS)
        first = j["pages"][0]["text"]
        self.assertIn("売上高 1234.5", first)
        self.assertIn("東京支店 2024-03-15 TRUE", first)   # a date, a boolean
        self.assertIn("phonetic-free 0.3 12345", first)    # no float noise; not a date
        self.assertNotIn("ふりがな", first)
        self.assertIn("inlinestring formula", j["pages"][1]["text"])

    def test_html_and_rtf_metadata(self):
        j = self.extract("page_sjis.html")
        self.assertEqual(j["mime"], "text/html")
        self.assertEqual(j["meta"]["title"], "日本語のページ Title")
        self.assertEqual(j["meta"]["author"], "佐藤")
        text = j["pages"][0]["text"]
        self.assertIn("internationalization & Résumé M&A 日本", text)
        self.assertIn("セル一 cell two", text)
        j = self.extract("memo.rtf")
        self.assertEqual(j["mime"], "application/rtf")
        self.assertEqual(j["meta"]["title"], "議事録 memo")
        self.assertEqual(j["meta"]["created"], "2024-03-15T09:30:00")

    def test_mislabelled_files_are_read_as_what_they_are(self):
        self.assertEqual(self.extract("budget_as.doc")["mime"],
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        self.assertEqual(self.extract("memo_as.txt")["mime"], "application/rtf")
        self.assertEqual(self.extract("page_as.txt")["mime"], "text/html")

    def test_search_shows_and_matches_titles(self):
        hits = U.search(self.db, "Quarterly Report")
        self.assertEqual([os.path.basename(h["source"]) for h in hits], ["report.docx"], hits)
        self.assertEqual(hits[0]["page"], 0)          # found in the title
        self.assertEqual(hits[0]["title"], O.DOCX_TITLE)
        hits = U.search(self.db, "quarterly revenue")
        self.assertEqual(hits[0]["title"], O.DOCX_TITLE)
        self.assertGreater(hits[0]["page"], 0)
        out = U.dm("search", "--index", "sqlite:" + self.db, "Quarterly Report")
        self.assertIn("report.docx  title  — " + O.DOCX_TITLE, out.out)
        # files without a title carry none
        hits = U.search(self.db, "文字コードの判定")
        self.assertNotIn("title", hits[0])

    def test_zip_bomb_in_an_office_file_is_a_recorded_failure(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in")
            os.makedirs(src)
            bomb = os.path.join(src, "bomb.docx")
            O.report_docx(bomb)
            # The main part rebuilt as 400 MB of one paragraph, which
            # deflates to well under a MB (a ratio near 1000).
            para = ("<w:p><w:r><w:t>" + "A" * 1000 + "</w:t></w:r></w:p>").encode()
            with zipfile.ZipFile(os.path.join(src, "tmp.zip"), "w", zipfile.ZIP_DEFLATED) as out, \
                    zipfile.ZipFile(bomb) as zin:
                for item in zin.infolist():
                    if item.filename == "word/document.xml":
                        continue
                    out.writestr(item, zin.read(item.filename))
                info = zipfile.ZipInfo("word/document.xml")
                info.compress_type = zipfile.ZIP_DEFLATED
                with out.open(info, "w", force_zip64=True) as f:
                    f.write(b'<w:document xmlns:w="%s"><w:body>' % O.W.encode())
                    for _ in range(40000):
                        f.write(para * 10)
                    f.write(b"</w:body></w:document>")
            os.replace(os.path.join(src, "tmp.zip"), bomb)
            self.assertLess(os.path.getsize(bomb), 1 << 20)
            db = os.path.join(tmp, "index.db")
            t0 = time.monotonic()
            r = U.run_once(src, db)
            took = time.monotonic() - t0
            self.assertEqual(r.rc, 3, r)      # a recorded failure
            self.assertLess(took, 60, took)
            self.assertLess(r.json()["peak_rss"], 600 << 20, r.json())
            failures = U.status(db)["failures"]
            self.assertEqual(len(failures), 1, failures)
            self.assertIn("limit max_compression_ratio", failures[0]["error"], failures)


class Legacy(unittest.TestCase):
    """.doc, .xls and .ppt through antiword/catdoc, xls2csv and catppt run as
    child processes (make deps-test installs them)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.src = os.path.join(cls.tmp.name, "old")
        L.make(cls.src)
        cls.db = os.path.join(cls.tmp.name, "index.db")
        cls.first_run = U.run_once(cls.src, cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_probe_is_found_in_its_file(self):
        self.assertEqual(self.first_run.rc, 0, self.first_run)
        self.assertEqual(self.first_run.json()["indexed"], 3, self.first_run)
        for name, probes in (("legacy.doc", L.DOC_PROBES), ("legacy.xls", L.XLS_PROBES),
                             ("legacy.ppt", L.PPT_PROBES)):
            for probe in probes:
                hits = {os.path.basename(h["source"]) for h in U.search(self.db, probe)}
                self.assertIn(name, hits, (probe, hits))

    def test_sheets_are_pages_and_types_come_from_the_content(self):
        r = U.dm("extract", os.path.join(self.src, "legacy.xls"), "--json")
        j = r.json()
        self.assertEqual(j["mime"], "application/vnd.ms-excel")
        self.assertEqual(len(j["pages"]), 2, j)
        self.assertIn("二枚目", j["pages"][1]["text"])
        # a .doc named .txt is still a Word file
        with tempfile.TemporaryDirectory() as tmp:
            renamed = os.path.join(tmp, "notes.txt")
            with open(os.path.join(self.src, "legacy.doc"), "rb") as f, open(renamed, "wb") as g:
                g.write(f.read())
            j = U.dm("extract", renamed, "--json").json()
            self.assertEqual(j["mime"], "application/msword", j)
            self.assertIn("旧形式のワード文書", j["pages"][0]["text"])

    def test_a_missing_converter_is_a_recorded_failure_naming_its_package(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "index.db")
            env = dict(os.environ, PATH=os.path.join(tmp, "empty"), OMP_THREAD_LIMIT="1")
            r = U.dm("run", "--source", self.src, "--index", "sqlite:" + db, "--workers", "2",
                     "--once", "--json", env=env)
            self.assertEqual(r.rc, 3, r)
            failures = {os.path.basename(f["source"]): f["error"] for f in U.status(db)["failures"]}
            self.assertEqual(set(failures), {"legacy.doc", "legacy.xls", "legacy.ppt"}, failures)
            self.assertIn("apt-get install antiword", failures["legacy.doc"])
            self.assertIn("apt-get install catdoc", failures["legacy.xls"])
            self.assertIn("apt-get install catdoc", failures["legacy.ppt"])


if __name__ == "__main__":
    U.main()
