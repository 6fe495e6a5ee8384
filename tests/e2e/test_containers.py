#!/usr/bin/python3
"""Mail and archives: one file, many documents (issue 16). A Japanese
mail (ISO-2022-JP subject and body, PDF and docx attachments with encoded
names), a zip with CP932 names holding a PDF, a text file and a nested
zip, a tar.gz, an mbox and a zip bomb (tests/corpus/make_containers.py):
every probe is found in the right PARENT#MEMBER, the bomb is a recorded
failure in seconds under the memory cap, a re-run changes nothing, and
deleting the zip removes exactly its members."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import e2e_util as U

sys.path.insert(0, os.path.join(os.environ.get("DOCMILL_SOURCE", "."), "tests", "corpus"))
import make_containers as C  # noqa: E402


def sources(db, prefix):
    return sorted(s for (s,) in U.db_query(db, "SELECT source FROM documents WHERE source LIKE ?",
                                           (prefix + "%",)))


class Containers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.src = os.path.join(cls.tmp.name, "share")
        C.make(cls.src)
        cls.db = os.path.join(cls.tmp.name, "index.db")
        cls.first_run = U.run_once(cls.src, cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.src, name)

    def test_a_every_probe_is_found_in_its_member(self):
        for probe, where in C.PROBES.items():
            hits = {h["source"] for h in U.search(self.db, probe)}
            self.assertIn(self.path(where), hits, (probe, hits))

    def test_bomb_fails_the_run_and_says_which_limit(self):
        # the container counts as failed: --once exits 3
        self.assertEqual(self.first_run.rc, 3, self.first_run)
        failures = {os.path.basename(f["source"]): f["error"] for f in U.status(self.db)["failures"]}
        self.assertEqual(set(failures), {C.BOMB}, failures)
        self.assertRegex(failures[C.BOMB], "max_compression_ratio|max_expanded_mb")

    def test_bomb_ends_in_seconds_under_the_memory_cap(self):
        temp = os.path.join(self.tmp.name, "bomb-temp")
        os.makedirs(temp)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r = U.dm("extract", self.path(C.BOMB), "--json", env=dict(os.environ, TEMP_DIR=temp))
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertEqual(r.rc, 1, r)
        self.assertLess(r.elapsed, 10, r)
        self.assertIn("max_compression_ratio", r.json()["note"], r)
        # ru_maxrss is the largest child so far: it says something when it grew
        if peak_kb > before:
            self.assertLess(peak_kb / 1024, 600)
        # nothing of the bomb is left behind
        self.assertEqual(os.listdir(temp), [])

    def test_nesting_past_the_depth_limit_fails_and_keeps_what_was_read(self):
        # zip 1 holds zip 2 ... holds zip 5: like a quine, it never ends on its own
        import io
        import zipfile
        data = b""
        for level in range(5, 0, -1):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("level%d.txt" % level, "DEPTHPROBE%d" % level)
                if data:
                    z.writestr("next.zip", data)
            data = buf.getvalue()
        path = os.path.join(self.tmp.name, "nested.zip")
        with open(path, "wb") as f:
            f.write(data)
        r = U.dm("extract", path, "--json")
        self.assertEqual(r.rc, 1, r)
        j = r.json()
        self.assertIn("max_container_depth", j["note"])
        texts = " ".join(p["text"] for c in j["children"] for p in c["pages"])
        for level in (1, 2, 3):
            self.assertIn("DEPTHPROBE%d" % level, texts)
        self.assertNotIn("DEPTHPROBE4", texts)

    def test_same_names_and_a_lone_gz_member_keep_stable_sources(self):
        import gzip
        import warnings
        import zipfile
        path = os.path.join(self.tmp.name, "dups.zip")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # zipfile warns of the duplicate name
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("資料.txt", "FIRSTCOPYPROBE")
                z.writestr("資料.txt", "SECONDCOPYPROBE")
                z.writestr("notes.txt.gz", gzip.compress(b"GZMEMBERPROBE inside"))
        sources = []
        for _ in range(2):   # the same sources on every run (no temp names)
            r = U.dm("extract", path, "--json")
            self.assertEqual(r.rc, 0, r)
            sources.append([(c["source"].split("#", 1)[1], " ".join(p["text"] for p in c["pages"]))
                            for c in r.json()["children"]])
        self.assertEqual(sources[0], sources[1])
        names = [n for n, _ in sources[0]]
        self.assertEqual(names, ["資料.txt", "資料.txt~2", "notes.txt.gz",
                                 "notes.txt.gz#notes.txt"], sources[0])
        self.assertIn("SECONDCOPYPROBE", sources[0][1][1])
        self.assertIn("GZMEMBERPROBE", sources[0][3][1])

    def test_mail_text_metadata_and_children(self):
        r = U.dm("extract", self.path(C.MAIL), "--json")
        self.assertEqual(r.rc, 0, r)
        j = r.json()
        self.assertEqual(j["mime"], "message/rfc822")
        self.assertEqual(j["meta"]["title"], C.SUBJECT)
        self.assertIn("山田太郎", j["meta"]["from"])
        self.assertIn("佐藤花子", j["meta"]["to"])
        self.assertTrue(j["meta"]["date"].startswith("2024-05-01T09:30:00"), j["meta"])
        text = j["pages"][0]["text"]
        self.assertTrue(text.startswith(C.SUBJECT), text)
        self.assertIn("議事録本文確認", text)
        self.assertNotIn("ESC", text)
        self.assertNotIn("\x1b", text)
        names = [c["source"].split("#", 1)[1] for c in j["children"]]
        self.assertEqual(names, ["会議資料.pdf", "報告書.docx"], j["children"])
        self.assertEqual(j["children"][0]["mime"], "application/pdf")
        self.assertIn("MAILPDFPROBE", j["children"][0]["pages"][0]["text"])

    def test_zip_names_are_decoded_and_nested_members_listed(self):
        r = U.dm("extract", self.path(C.ZIP), "--json")
        self.assertEqual(r.rc, 0, r)
        members = [c["source"].split("#", 1)[1] for c in r.json()["children"]]
        self.assertEqual(members, ["2024/議事録.pdf", "メモ.txt", "内部/inner.zip",
                                   "内部/inner.zip#deep/奥.txt"], members)

    def test_subject_hits_show_the_mail(self):
        hits = U.search(self.db, "定例会議")
        self.assertIn(self.path(C.MAIL), {h["source"] for h in hits}, hits)
        r = U.dm("search", "ZIPTEXTPROBE", "--index", "sqlite:" + self.db)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(self.path(C.ZIP) + "#メモ.txt", r.out)

    def test_members_point_at_their_outermost_parent(self):
        parent_of = dict(U.db_query(self.db, "SELECT source, parent FROM documents"))
        zip_id = dict(U.db_query(self.db, "SELECT source, id FROM documents"))[self.path(C.ZIP)]
        for s in sources(self.db, self.path(C.ZIP) + "#"):
            self.assertEqual(parent_of[s], zip_id, s)
        self.assertIsNone(parent_of[self.path(C.ZIP)])

    def test_zz_rerun_is_idempotent_and_deleting_the_zip_removes_its_members(self):
        before = U.db_query(self.db, "SELECT id, source, sha256 FROM documents ORDER BY id")
        again = U.run_once(self.src, self.db)
        self.assertIn(again.rc, (0, 3), again)
        self.assertEqual(again.json()["indexed"], 0, again)
        self.assertEqual(U.db_query(self.db, "SELECT id, source, sha256 FROM documents ORDER BY id"),
                         before)
        zip_docs = sources(self.db, self.path(C.ZIP))
        self.assertEqual(len(zip_docs), 5, zip_docs)   # the zip, 3 members, 1 nested member
        os.remove(self.path(C.ZIP))
        gone = U.run_once(self.src, self.db)
        self.assertIn(gone.rc, (0, 3), gone)
        self.assertEqual(sources(self.db, self.path(C.ZIP)), [])
        left = {s for (_, s, _) in U.db_query(self.db, "SELECT id, source, sha256 FROM documents")}
        self.assertEqual(left, {s for (_, s, _) in before} - set(zip_docs))
        self.assertEqual(U.search(self.db, "NESTEDPROBE"), [])
        self.assertNotEqual(U.search(self.db, "MAILPDFPROBE"), [])

    def test_changed_container_replaces_its_members(self):
        work = os.path.join(self.tmp.name, "changing")
        os.makedirs(work)
        db = os.path.join(self.tmp.name, "changing.db")
        shutil.copy(self.path("bundle.tar.gz"), work)
        self.assertEqual(U.run_once(work, db).rc, 0)
        self.assertEqual(len(sources(db, os.path.join(work, "bundle.tar.gz#"))), 2)
        # the same name, other members
        subprocess.run(["tar", "-czf", os.path.join(work, "bundle.tar.gz"), "-C",
                        os.path.dirname(os.path.abspath(__file__)), "e2e_util.py"], check=True)
        time.sleep(0.01)
        self.assertEqual(U.run_once(work, db).rc, 0)
        self.assertEqual(sources(db, os.path.join(work, "bundle.tar.gz#")),
                         [os.path.join(work, "bundle.tar.gz#e2e_util.py")])
        self.assertEqual(U.search(db, "TARTEXTPROBE"), [])


if __name__ == "__main__":
    U.main()
