#!/usr/bin/python3
"""Operating a running worker: the live REPL on its control socket
(`docmill repl`), `docmill reload` through the pid file, reloads under load
and in a storm, the health check that pauses and resumes, `docmill health`,
EC2 spot notices, JSON logs, and metrics (CloudWatch EMF lines and
Prometheus text)."""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.request

import e2e_util as U
from aws_standins import FakeIMDS


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def read(path):
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def json_lines(path):
    out = []
    for line in read(path).splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


class Worker:
    """A `docmill run` in watch mode with its own run directory (socket and
    pid file), log in JSON."""

    def __init__(self, tmp, src, *extra, policy=None, env=None, workers="2"):
        self.tmp = tmp
        self.run_dir = os.path.join(tmp, "run")
        self.db = os.path.join(tmp, "index.db")
        self.err = os.path.join(tmp, "run.err")
        cfg = os.path.join(tmp, "config.lua")
        write(cfg, "return { rescan_seconds = 1 }\n")
        self.env = dict(os.environ, DOCMILL_RUN_DIR=self.run_dir, DOCMILL_LOG_FORMAT="json")
        self.env.update(env or {})
        argv = [U.BIN, "run", "--source", src, "--index", "sqlite:" + self.db, "--config", cfg,
                "--workers", workers] + list(extra)
        if policy:
            argv += ["--policy", policy]
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=err)
        self.socket = os.path.join(self.run_dir, "docmill.sock")
        assert U.wait_for(lambda: os.path.exists(self.socket), 30), self.log()

    def dm(self, *args, timeout=60):
        return U.dm(*args, env=self.env, timeout=timeout)

    def worker_pid(self):
        """The worker process (the supervisor's child), from the pid file."""
        return int(read(os.path.join(self.run_dir, "docmill.pid")))

    def repl(self, code):
        return self.dm("repl", "-e", code)

    def value(self, code):
        """The JSON value of a REPL expression."""
        r = self.repl("print(json.encode(%s))" % code)
        if r.rc != 0:
            raise AssertionError("repl %r: %r" % (code, r))
        return json.loads(r.out)

    def log(self):
        return read(self.err)

    def events(self):
        return json_lines(self.err)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        U.stop(self.proc)
        return self.proc.returncode


def text_files(src, n, word):
    os.makedirs(src, exist_ok=True)
    for i in range(n):
        write(os.path.join(src, "%s%03d.txt" % (word, i)), "%s document number %d\n" % (word, i))


class Repl(unittest.TestCase):
    def test_repl_reads_the_worker_and_survives_bad_code(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            text_files(src, 3, "kappa")
            w = Worker(tmp, src)
            try:
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 3, 30), w.log())
                # Socket: a Unix socket, mode 0600, ours; the pid file names us.
                st = os.stat(w.socket)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
                self.assertEqual(st.st_uid, os.geteuid())
                # The pid file names the worker process, a child of the supervisor.
                self.assertEqual(U.parent_pid(w.worker_pid()), w.proc.pid)

                s = w.value("stats()")
                for k in ("indexed", "failed", "files_per_hour", "pages_per_second", "queue",
                          "failures", "stage_seconds", "workers", "in_flight", "rss_mb"):
                    self.assertIn(k, s)
                self.assertEqual(s["queue"]["done"], 3)
                self.assertEqual(s["workers"], 2)
                ws = w.value("workers()")
                self.assertEqual([x["id"] for x in ws], [0, 1])
                self.assertTrue(all(x["state"] == "idle" and x["lua_heap_kb"] > 0 for x in ws), ws)
                self.assertEqual(sum(x["jobs_done"] for x in ws), 3)
                self.assertEqual(w.value("jobs()"), {})  # cjson: an empty table is {}
                self.assertEqual(w.value("policy().dpi"), 150)
                self.assertGreater(w.value("mem_stats().rss_mb"), 10)

                # Errors come back (exit 1) and harm nothing.
                r = w.repl("error('boom')")
                self.assertEqual(r.rc, 1, r)
                self.assertIn("boom", r.err)
                r = w.repl("local x = ")
                self.assertEqual(r.rc, 1, r)
                r = w.repl("stats(")
                self.assertEqual(r.rc, 1)
                # A runaway loop is stopped by the budget, on the loop thread.
                t0 = time.monotonic()
                r = w.repl("while true do end")
                self.assertEqual(r.rc, 1, r)
                self.assertIn("longer than 2000 ms", r.err)
                self.assertLess(time.monotonic() - t0, 10)
                # ...even when the code catches the stop itself.
                t0 = time.monotonic()
                r = w.repl("while true do pcall(function() while true do end end) end")
                self.assertEqual(r.rc, 1, r)
                self.assertIn("longer than 2000 ms", r.err)
                self.assertLess(time.monotonic() - t0, 10)
                # Nothing that blocks the loop or reaches a worker is in reach.
                for code in ("require('docmill.core')", "io.read()", "os.exit(1)", "_G.os.exit(1)"):
                    r = w.repl(code)
                    self.assertEqual(r.rc, 1, (code, r))
                # A reply over the 1 MiB frame limit is cut, not fatal.
                r = w.repl("string.rep('x', 3000000)")
                self.assertEqual(r.rc, 0, r.err)
                self.assertIn("truncated", r.out)
                self.assertIsNone(w.proc.poll())

                # Interactive use over stdin: multi-line chunks, per-session globals.
                cp = subprocess.run([U.BIN, "repl"], input="function twice(x)\n  return 2 * x\n"
                                    "end\ny = twice(21)\nprint(y)\n", env=w.env,
                                    capture_output=True, text=True, timeout=30)
                self.assertEqual(cp.returncode, 0, cp)
                self.assertEqual(cp.stdout.strip(), "42")
                # ... which do not leak into another session.
                self.assertEqual(w.repl("y").out.strip(), "nil")

                # Still working after all that.
                write(os.path.join(src, "later.txt"), "lambda after the repl\n")
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 4, 30), w.log())
                # Every command is logged.
                logged = [e["msg"] for e in w.events() if e["msg"].startswith("repl session")]
                self.assertTrue(any("while true do end" in m for m in logged), logged)
                self.assertEqual(w.stop(), 0, w.log()[-2000:])
                # A clean exit removes the socket and the pid file.
                self.assertFalse(os.path.exists(w.socket))
                self.assertFalse(os.path.exists(os.path.join(w.run_dir, "docmill.pid")))
            finally:
                w.stop()

    @unittest.skipUnless(os.geteuid() == 0, "needs root to connect as a second user")
    def test_repl_from_another_user_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            src = os.path.join(tmp, "docs")
            text_files(src, 1, "mu")
            w = Worker(tmp, src)
            try:
                os.chmod(w.run_dir, 0o755)  # let the other user reach the socket file

                def as_nobody():
                    os.setgid(65534)
                    os.setuid(65534)

                def connect_as_nobody():
                    code = ("import socket,sys\n"
                            "s=socket.socket(socket.AF_UNIX)\n"
                            "try:\n s.connect(sys.argv[1])\n"
                            "except OSError as e:\n print('connect:', e.errno); sys.exit(0)\n"
                            "s.sendall(b'7\\nstats()')\n"
                            "print(s.recv(4096).decode())\n")
                    return subprocess.run(["/usr/bin/python3", "-c", code, w.socket],
                                          preexec_fn=as_nobody, capture_output=True, text=True,
                                          timeout=30)
                # The file mode stops it first...
                cp = connect_as_nobody()
                self.assertIn("connect: 13", cp.stdout, cp)
                # ...and with the mode opened, the peer check still refuses it.
                os.chmod(w.socket, 0o666)
                cp = connect_as_nobody()
                self.assertTrue(cp.stdout.startswith("refused "), cp)
                self.assertTrue(U.wait_for(
                    lambda: "refused a connection from uid 65534" in w.log(), 10), w.log())
                self.assertIsNone(w.proc.poll())
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 1, 30), w.log())
            finally:
                w.stop()


class ConfiguredPaths(unittest.TestCase):
    def test_default_paths_taken_meanwhile_do_not_stop_the_run(self):
        # Another run locks the default pid file between the CLI's check
        # and the runtime's lock (here: locked, no pid written yet): this
        # run goes on without the socket and pid file instead of failing.
        import fcntl
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = os.path.join(tmp, "run")
            os.makedirs(run_dir, mode=0o700)
            src = os.path.join(tmp, "docs")
            text_files(src, 2, "theta")
            with open(os.path.join(run_dir, "docmill.pid"), "w") as held:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                env = dict(os.environ, DOCMILL_RUN_DIR=run_dir)
                r = U.dm("run", "--once", "--json", "--source", src, "--index",
                         "sqlite:" + os.path.join(tmp, "i.db"), env=env)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json()["indexed"], 2, r)
            self.assertIn("this run has no control socket or pid file", r.err)
            self.assertFalse(os.path.exists(os.path.join(run_dir, "docmill.sock")))

    def test_socket_and_pid_file_from_the_config_serve_repl_reload_and_health(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            text_files(src, 2, "eta")
            cfg = os.path.join(tmp, "ops.lua")
            write(cfg, "return { socket = 'ctl.sock', pid_file = 'w.pid', rescan_seconds = 1 }\n")
            db = os.path.join(tmp, "i.db")
            env = dict(os.environ, DOCMILL_RUN_DIR=os.path.join(tmp, "unused"))
            with open(os.path.join(tmp, "err"), "wb") as err:
                p = subprocess.Popen([U.BIN, "run", "--config", cfg, "--source", src, "--index",
                                      "sqlite:" + db], env=env, stdout=subprocess.DEVNULL,
                                     stderr=err)
            try:
                sock = os.path.join(tmp, "ctl.sock")
                self.assertTrue(U.wait_for(lambda: os.path.exists(sock), 30))
                self.assertEqual(U.parent_pid(int(read(os.path.join(tmp, "w.pid")))), p.pid)
                r = U.dm("repl", "--config", cfg, "-e", "stats().workers", env=env)
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(U.dm("reload", "--config", cfg, env=env).rc, 0)
                self.assertEqual(U.dm("health", "--config", cfg, env=env).rc, 0)
                # Without the config they look in the run directory, and find nothing.
                self.assertEqual(U.dm("health", env=env).rc, 1)
                self.assertFalse(os.path.exists(os.path.join(tmp, "unused", "docmill.sock")))
            finally:
                U.stop(p)


class ReloadAndHealth(unittest.TestCase):
    def test_reload_under_load_via_pid_file_and_repl(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            text_files(src, 40, "nu")
            pol = os.path.join(tmp, "policy.lua")
            write(pol, "return { dpi = 300, batch_size = 5 }\n")
            w = Worker(tmp, src, policy=pol)
            try:
                # Valid: visible through the REPL, via `docmill reload`.
                write(pol, "return { dpi = 200, batch_size = 5 }\n")
                r = w.dm("reload")
                self.assertEqual(r.rc, 0, r)
                self.assertIn("sent SIGHUP", r.out)
                self.assertTrue(U.wait_for(lambda: w.value("policy().dpi") == 200, 10), w.log())
                # Syntax error: the old policy stays, the error names the line.
                write(pol, "return {\n  dpi = 250,,\n}\n")
                self.assertEqual(w.dm("reload").rc, 0)
                self.assertTrue(U.wait_for(lambda: "policy.lua:2:" in w.log(), 10), w.log())
                self.assertEqual(w.value("policy().dpi"), 200)
                # Out of range, through the REPL's reload(): nil + the reason.
                write(pol, "return { dpi = 5000, batch_size = 5 }\n")
                r = w.repl("reload()")
                self.assertEqual(r.rc, 0, r)
                self.assertIn("dpi", r.out)
                self.assertIn("600", r.out)
                self.assertEqual(w.value("policy().dpi"), 200)
                s = w.value("stats()")
                self.assertEqual((s["reloads"], s["reload_failures"]), (1, 2), s)
                self.assertIsNone(w.proc.poll())
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 40, 60), w.log())
                self.assertEqual(w.stop(), 0)
            finally:
                w.stop()
            st = U.status(w.db)
            self.assertEqual((st["indexed"], st["failed"], st["pending"]), (40, 0, 0), st)

    def test_sighup_storm_indexes_every_job_exactly_once(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            text_files(src, 150, "xi")
            images = [n for n in U.good_files() if n.endswith((".png", ".jpg", ".tif"))]
            U.copy_docs(src, images)
            total = 150 + len(images)
            pol = os.path.join(tmp, "policy.lua")
            write(pol, "return { batch_size = 3 }\n")
            w = Worker(tmp, src, policy=pol)
            try:
                good = True
                deadline = time.monotonic() + 120
                hups = 0
                while time.monotonic() < deadline:
                    # Alternate valid and broken files under a stream of HUPs.
                    write(pol, "return { batch_size = 3, dpi = %d }\n" % (200 if good else 9999))
                    good = not good
                    w.proc.send_signal(signal.SIGHUP)
                    hups += 1
                    time.sleep(0.05)
                    if hups >= 40 and U.db_query(
                            w.db, "SELECT count(*) FROM documents") == [(total,)]:
                        break
                self.assertIsNone(w.proc.poll(), w.log()[-2000:])
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == total, 60),
                                w.log()[-2000:])
                self.assertEqual(w.stop(), 0)
            finally:
                w.stop()
            indexed = [e["source"] for e in w.events() if e.get("outcome") == "indexed"]
            self.assertEqual(len(indexed), total)
            self.assertEqual(len(set(indexed)), total, "a job was processed twice")
            st = U.status(w.db)
            self.assertEqual((st["indexed"], st["failed"], st["pending"]), (total, 0, 0), st)
            self.assertTrue(any("policy reloaded" in e["msg"] for e in w.events()))
            self.assertTrue(any("policy reload failed" in e["msg"] for e in w.events()))

    def test_low_disk_pauses_and_recovery_resumes(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            text_files(src, 5, "omicron")
            pol = os.path.join(tmp, "policy.lua")
            # More free disk than any machine has: unhealthy from the start.
            write(pol, "return { min_free_disk_mb = 1e9, health_check_seconds = 0.2 }\n")
            w = Worker(tmp, src, policy=pol)
            try:
                self.assertTrue(U.wait_for(lambda: w.value("stats().health_paused"), 10), w.log())
                time.sleep(1.5)
                s = w.value("stats()")
                self.assertEqual(s["indexed"], 0, s)
                self.assertIn("min_free_disk_mb", s["health_reason"])
                self.assertEqual(s["queue"]["pending"], 5)
                r = w.dm("health")
                self.assertEqual(r.rc, 1, r)
                self.assertIn("unhealthy: free disk", r.out)
                h = json.loads(w.dm("health", "--json").out)
                self.assertFalse(h["healthy"])
                self.assertTrue(any(d["low"] for d in h["disks"]), h)
                self.assertTrue(any("unhealthy" in e["msg"] for e in w.events()))
                # Space "comes back": the policy asks for 1 MB.
                write(pol, "return { min_free_disk_mb = 1, health_check_seconds = 0.2 }\n")
                w.proc.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 5, 30), w.log())
                self.assertTrue(any("healthy again" in e["msg"] for e in w.events()))
                r = w.dm("health")
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.out.strip(), "healthy")
                # Operator pause/resume from the REPL.
                w.repl("pause()")
                write(os.path.join(src, "paused.txt"), "pi waits for resume\n")
                time.sleep(2.5)
                self.assertEqual(w.value("stats().indexed"), 5)
                w.repl("resume()")
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 6, 30), w.log())
                # drain() from the REPL: exits 0.
                w.repl("drain()")
                w.proc.wait(timeout=30)
                self.assertEqual(w.proc.returncode, 0)
            finally:
                w.stop()
            # No worker: health says so.
            r = w.dm("health")
            self.assertEqual(r.rc, 1)
            self.assertIn("no worker answers", r.out)
            r = w.dm("reload")
            self.assertEqual(r.rc, 1)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Cleanup(unittest.TestCase):
    def test_sigusr1_returns_memory_after_a_large_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            words = ["phi", "chi", "psi", "omega", "alpha", "beta", "gamma", "delta"]
            with open(os.path.join(src, "big.txt"), "w") as f:
                for i in range(400000):  # 16 MB of text: a big Lua string, then garbage
                    f.write(" ".join(words[(i * 7 + k) % 8] for k in range(8)) + "\n")
            w = Worker(tmp, src)
            try:
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 1, 60), w.log())
                time.sleep(0.5)
                # The signal goes to the supervisor, which passes it on.
                before = rss_kb(w.worker_pid())
                w.proc.send_signal(signal.SIGUSR1)
                self.assertTrue(U.wait_for(lambda: w.log().count("cleanup: Lua heap") == 2, 10),
                                w.log())
                after = rss_kb(w.worker_pid())
                # The worker that held the text collected it...
                heaps = [tuple(map(int, re.search(r"Lua heap (\d+) KB -> (\d+) KB", e["msg"]).groups()))
                         for e in w.events() if "cleanup: Lua heap" in e["msg"]]
                self.assertTrue(any(b - a > 10 * 1024 for b, a in heaps), heaps)
                # ...and the process gave it back (ASan's allocator keeps its
                # memory: there only the collection above can be checked).
                if os.environ.get("DOCMILL_SANITIZED", "0") != "1":
                    self.assertLess(after, before - 20 * 1024, (before, after))
                self.assertIsNone(w.proc.poll())
            finally:
                w.stop()


class Routing(unittest.TestCase):
    def test_fast_lane_keeps_small_files_moving_behind_big_ones(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            # Two big files that take 4 s each (a hook busy-waits), six small ones.
            for i in range(2):
                write(os.path.join(src, "big%d.txt" % i), "sigma big file %d\n" % i + "x" * 40000)
            for i in range(6):
                write(os.path.join(src, "small%d.txt" % i), "tau small file %d\n" % i)
            pol = os.path.join(tmp, "policy.lua")
            write(pol, "return { fast_lane_workers = 1, fast_lane_max_mb = 0.01, batch_size = 1,\n"
                       "  hook_budget_ms = 60000,\n"
                       "  route = function(job)\n"
                       "    if job.source:match('big') then\n"
                       "      local t = os.clock() while os.clock() - t < 4 do end\n"
                       "    end\n"
                       "    return 'extract' end }\n")
            w = Worker(tmp, src, policy=pol)
            try:
                def smalls():
                    return U.db_query(w.db, "SELECT count(*) FROM documents "
                                            "WHERE source LIKE '%small%'") == [(6,)]
                self.assertTrue(U.wait_for(smalls, 20), w.log())
                # The small ones were done while a big one still ran.
                running = [j for j in w.value("jobs()") or [] if j["state"] == "running"]
                self.assertTrue(any("big" in j["source"] for j in running), running)
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 8, 30), w.log())
            finally:
                w.stop()
            # The lane (worker 0) never took a big file; worker 1 took both.
            by_worker = {}
            for e in w.events():
                if e.get("outcome") == "indexed":
                    by_worker.setdefault(e["worker"], []).append(os.path.basename(e["source"]))
            self.assertTrue(by_worker.get(0), by_worker)
            self.assertTrue(all(n.startswith("small") for n in by_worker[0]), by_worker)
            self.assertEqual(sorted(n for n in by_worker[1] if n.startswith("big")),
                             ["big0.txt", "big1.txt"])


class PageParallel(unittest.TestCase):
    def test_one_large_scan_is_shared_by_the_workers_and_reassembled_in_order(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            U.scanned_pdf(os.path.join(src, "report.pdf"), 14)
            pol = os.path.join(tmp, "policy.lua")
            write(pol, "return { languages = 'eng', page_parallel_min_pages = 8, "
                       "page_parallel_chunk = 3, dpi = 200 }\n")
            w = Worker(tmp, src, policy=pol)
            try:
                self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 1, 120), w.log())
                ws = w.value("workers()")
                owner = [x for x in ws if x["jobs_done"] == 1][0]
                helper = [x for x in ws if x["id"] != owner["id"]][0]
                # 13 pages after page 1 in ranges of 3: five ranges, shared.
                self.assertGreater(helper["ranges_done"], 0, ws)
                self.assertEqual(owner["ranges_done"], 0, ws)  # its own ranges are its job
                s = w.value("stats()")
                self.assertEqual((s["pages"], s["pages_ocr"]), (14, 14), s)
            finally:
                w.stop()
            # (page 0 is the document's title, searchable with its pages)
            rows = U.db_query(w.db, "SELECT p.page, p.method, p.dpi, t.text FROM pages p "
                                    "JOIN pages_fts t ON t.rowid = p.rowid WHERE p.page > 0 "
                                    "ORDER BY p.rowid")
            self.assertEqual([r[0] for r in rows], list(range(1, 15)))
            for page, method, dpi, text in rows:
                self.assertEqual(method, "ocr")
                self.assertIn("Page %d line" % page, text)
            # Every page is rendered at the policy's 200 DPI (the scan's own)
            # and measured: its large print (lines far taller than
            # dpi_target_line_px) takes each page lower, the helper's pages
            # as the owner's, with no wait for page 1.
            dpis = {r[2] for r in rows}
            self.assertEqual(len(dpis), 1, rows)
            self.assertTrue(100 <= dpis.pop() < 200, rows)
            self.assertEqual(len(U.search(w.db, "Page 13 line 5")), 1)


class SpotMetricsLogs(unittest.TestCase):
    def test_spot_notice_drains_and_emf_and_prometheus_report(self):
        imds = FakeIMDS(instance_type="c5.xlarge")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                src = os.path.join(tmp, "docs")
                text_files(src, 4, "rho")
                pol = os.path.join(tmp, "policy.lua")
                write(pol, "return { spot_check_seconds = 0.3, metrics_interval_seconds = 1 }\n")
                emf = os.path.join(tmp, "emf.log")
                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                w = Worker(tmp, src, "--emf", emf, "--metrics", "127.0.0.1:%d" % port,
                           policy=pol, env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint,
                                            "AWS_EC2_METADATA_DISABLED": "false"})
                try:
                    self.assertTrue(U.wait_for(lambda: w.value("stats().indexed") == 4, 30),
                                    w.log())
                    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                                  timeout=10).read().decode()
                    self.assertIn('docmill_jobs_total{outcome="indexed"} 4', body)
                    self.assertIn('docmill_stage_seconds_total{stage="fetch"}', body)
                    self.assertIn("# TYPE docmill_pages_total counter", body)
                    self.assertTrue(U.wait_for(lambda: len(json_lines(emf)) >= 2, 10))
                    self.assertIsNone(w.proc.poll())
                    # The notice: drain and exit 0, well within the 2 minutes.
                    t0 = time.monotonic()
                    imds.set_spot_notice()
                    w.proc.wait(timeout=30)
                    self.assertLess(time.monotonic() - t0, 10)
                    self.assertEqual(w.proc.returncode, 0, w.log()[-2000:])
                finally:
                    w.stop()
                self.assertTrue(any("spot interruption notice (terminate" in e["msg"]
                                    for e in w.events()), w.log()[-2000:])
                # EMF: every line is JSON with the documented shape.
                lines = json_lines(emf)
                names = None
                for line in lines:
                    directive = line["_aws"]["CloudWatchMetrics"][0]
                    self.assertEqual(directive["Namespace"], "docmill")
                    self.assertEqual(directive["Dimensions"], [["Service"],
                                                               ["Service", "InstanceType"]])
                    names = [m["Name"] for m in directive["Metrics"]]
                    for m in directive["Metrics"]:
                        self.assertIsInstance(line[m["Name"]], (int, float), m)
                    self.assertEqual(line["Service"], "docmill")
                    self.assertEqual(line["InstanceType"], "c5.xlarge")
                    self.assertIsInstance(line["_aws"]["Timestamp"], int)
                for want in ("FilesProcessed", "FilesPerHour", "PagesOCR", "QueueLatency",
                             "Failures", "CPUUtilization", "MemoryUtilization", "OCRSeconds",
                             "FetchSeconds", "IndexSeconds"):
                    self.assertIn(want, names)
                self.assertEqual(sum(line["FilesProcessed"] for line in lines), 4)
                self.assertTrue(all(0 <= line["MemoryUtilization"] <= 100 for line in lines))
        finally:
            imds.stop()

    def test_json_log_lines(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = U.copy_docs(os.path.join(tmp, "docs"), U.good_files()[:3] + U.bad_files()[:1])
            db = os.path.join(tmp, "index.db")
            r = U.dm("run", "--source", src, "--index", "sqlite:" + db, "--once",
                     "--socket", "off", "--pid-file", "off", "--log-format", "json")
            self.assertEqual(r.rc, 3, r)
            events = [json.loads(line) for line in r.err.splitlines() if line.strip()]
            for e in events:
                self.assertEqual(set(e) >= {"time", "level", "event", "msg"}, True, e)
                self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            jobs = [e for e in events if e["event"] == "job"]
            self.assertEqual(len(jobs), 4, jobs)
            for e in jobs:
                self.assertTrue(e["source"].startswith(src), e)
                self.assertIsInstance(e["job"], int)
                self.assertIsInstance(e["ms"], int)
            self.assertEqual(sorted(e["outcome"] for e in jobs).count("failed"), 1)
            # Text on request.
            r = U.dm("run", "--source", src, "--index", "sqlite:" + db, "--once",
                     "--socket", "off", "--pid-file", "off", "--log-format", "text")
            self.assertRegex(r.err.splitlines()[0], r"^\d{4}-\d\d-\d\dT\S+ info docmill ")


if __name__ == "__main__":
    U.main()
