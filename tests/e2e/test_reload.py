#!/usr/bin/python3
"""SIGHUP hot reload of the policy on a running `docmill run` (watch mode):
a bad file is refused with a precise error and the old policy keeps
working; a good file takes effect at the next job; the process never dies
and no job is lost."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

import e2e_util as U


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def log_of(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class Reload(unittest.TestCase):
    def test_sighup_refuses_a_bad_policy_and_applies_a_good_one(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            db = os.path.join(tmp, "index.db")
            cfg = os.path.join(tmp, "config.lua")
            write(cfg, "return { rescan_seconds = 1 }\n")
            pol = os.path.join(tmp, "policy.lua")
            write(pol, "return { batch_size = 1 }\n")
            write(os.path.join(src, "first.txt"), "alpha reload document\n")
            err_path = os.path.join(tmp, "run.err")
            p = U.dm_start("run", "--source", src, "--index", "sqlite:" + db, "--config", cfg,
                           "--policy", pol, "--workers", "1", "--json", stderr_path=err_path)
            try:
                def found(q):
                    return len(U.search(db, q)) > 0 if os.path.exists(db) else False
                self.assertTrue(U.wait_for(lambda: found("alpha reload"), 30), log_of(err_path))

                # A typo: refused with file:line-precise reasons, old policy stays.
                write(pol, "return {\n  batch_size = 1,\n  dpii = 300,\n}\n")
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "policy reload failed" in log_of(err_path), 10))
                log = log_of(err_path)
                self.assertIn("unknown policy key 'dpii' (did you mean 'dpi'?)", log)
                self.assertIsNone(p.poll(), "a bad reload must not stop the worker")
                write(os.path.join(src, "second.txt"), "beta still indexed\n")
                self.assertTrue(U.wait_for(lambda: found("beta still"), 30), log_of(err_path))

                # A syntax error names the line.
                write(pol, "return {\n  batch_size = 1,,\n}\n")
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "policy.lua:2:" in log_of(err_path), 10),
                                log_of(err_path))

                # A good policy takes effect at the next job: skip *.skip.txt.
                write(pol, "return {\n  batch_size = 1,\n"
                           "  route = function(job)\n"
                           "    if job.source:match('%.skip%.txt$') then return 'skip' end\n"
                           "    return 'extract'\n  end,\n}\n")
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "policy reloaded from" in log_of(err_path), 10),
                                log_of(err_path))
                write(os.path.join(src, "third.skip.txt"), "gamma must be skipped\n")
                write(os.path.join(src, "fourth.txt"), "delta indexed after reload\n")
                self.assertTrue(U.wait_for(lambda: found("delta indexed"), 30), log_of(err_path))
                self.assertTrue(U.wait_for(lambda: "skipped " in log_of(err_path), 10),
                                log_of(err_path))
                self.assertFalse(found("gamma must"))

                # A change that needs a restart is reported, not ignored.
                write(pol, "return { batch_size = 2 }\n")
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(
                    lambda: "batch_size changed; it needs a restart" in log_of(err_path), 10))
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, log_of(err_path)[-3000:])
            st = U.status(db)
            self.assertEqual((st["failed"], st["pending"]), (0, 0), st)


class ConfigReload(unittest.TestCase):
    def test_sighup_reads_the_config_too(self):
        """A broken config.lua is reported (file:line) and changes nothing;
        a good one applies its live keys (policy path, log level), and says
        which keys need a restart."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            db = os.path.join(tmp, "index.db")
            write(os.path.join(tmp, "p1.lua"), "return { batch_size = 1 }\n")
            write(os.path.join(tmp, "p2.lua"),
                  "return { batch_size = 1,\n"
                  "  route = function(job)\n"
                  "    if job.source:match('%.skip%.txt$') then return 'skip' end\n"
                  "    return 'extract'\n  end }\n")
            cfg = os.path.join(tmp, "config.lua")
            good = ('return {\n  source = "docs",\n  index = "sqlite:index.db",\n'
                    '  policy = "%s",\n  workers = %d,\n  rescan_seconds = 1,\n'
                    '  log_level = "%s",\n}\n')
            write(cfg, good % ("p1.lua", 1, "info"))
            write(os.path.join(src, "first.txt"), "alpha config document\n")
            err_path = os.path.join(tmp, "run.err")
            p = U.dm_start("run", "--config", cfg, "--json", stderr_path=err_path)
            try:
                def found(q):
                    return len(U.search(db, q)) > 0 if os.path.exists(db) else False
                self.assertTrue(U.wait_for(lambda: found("alpha config"), 30), log_of(err_path))

                # A syntax error appended, as ops would: reported with its
                # line; the run keeps its config and policy.
                with open(cfg, "a", encoding="utf-8") as f:
                    f.write("this is not lua\n")
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "config reload failed" in log_of(err_path), 10),
                                log_of(err_path))
                self.assertRegex(log_of(err_path), r"config\.lua:9: .*")
                self.assertNotIn("policy reloaded", log_of(err_path))
                self.assertIsNone(p.poll(), "a bad config must not stop the worker")

                # A value out of range names its line too.
                write(cfg, (good % ("p1.lua", 1, "info")).replace("workers = 1", "workers = 3000"))
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "config.lua:5: 'workers' must be an integer"
                                           in log_of(err_path), 10), log_of(err_path))
                self.assertNotIn("policy reloaded", log_of(err_path))

                # A good config: a new policy file, debug logging, and a
                # worker count that only a restart can change.
                write(cfg, good % ("p2.lua", 3, "debug"))
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "policy reloaded from" in log_of(err_path), 10),
                                log_of(err_path))
                log = log_of(err_path)
                self.assertIn("config reloaded from " + cfg, log)
                self.assertIn("'workers' changed; it needs a restart to take effect", log)
                self.assertIn("policy reloaded from " + os.path.join(tmp, "p2.lua"), log)
                write(os.path.join(src, "second.skip.txt"), "gamma must be skipped\n")
                write(os.path.join(src, "third.txt"), "delta after the config reload\n")
                self.assertTrue(U.wait_for(lambda: found("delta after"), 30), log_of(err_path))
                self.assertTrue(U.wait_for(lambda: "skipped " in log_of(err_path), 10),
                                log_of(err_path))
                self.assertFalse(found("gamma must"))
                # The log level applies live: debug lines appear now.
                self.assertIn('"level":"debug"', log_of(err_path))
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, log_of(err_path)[-3000:])

    def test_a_restarted_worker_process_keeps_the_reloaded_config(self):
        """The command line read the config before the supervisor forked; a
        worker process restarted after a crash catches up with the file as
        SIGHUP left it."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            db = os.path.join(tmp, "index.db")
            write(os.path.join(tmp, "p1.lua"), "return { batch_size = 1 }\n")
            p2 = os.path.join(tmp, "p2.lua")
            write(p2, "return { batch_size = 1,\n"
                      "  route = function(job)\n"
                      "    if job.source:match('%.skip%.txt$') then return 'skip' end\n"
                      "    return 'extract'\n  end }\n")
            cfg = os.path.join(tmp, "config.lua")
            text = ('return { source = "docs", index = "sqlite:index.db", workers = 1,\n'
                    '  rescan_seconds = 1, policy = "%s" }\n')
            write(cfg, text % "p1.lua")
            write(os.path.join(src, "first.txt"), "kappa before the crash\n")
            pid_file = os.path.join(tmp, "docmill.pid")
            err_path = os.path.join(tmp, "run.err")
            p = U.dm_start("run", "--config", cfg, "--pid-file", pid_file, "--socket", "off",
                           "--json", stderr_path=err_path)

            def found(q):
                return len(U.search(db, q)) > 0 if os.path.exists(db) else False

            def child():
                try:
                    with open(pid_file) as f:
                        return int(f.read().strip() or 0)
                except (OSError, ValueError):
                    return 0
            try:
                self.assertTrue(U.wait_for(lambda: found("kappa before"), 30), log_of(err_path))
                write(cfg, text % "p2.lua")
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "policy reloaded from " + p2
                                           in log_of(err_path), 10), log_of(err_path))
                first = child()
                self.assertGreater(first, 0)
                os.kill(first, signal.SIGKILL)
                self.assertTrue(U.wait_for(lambda: child() not in (0, first), 30),
                                log_of(err_path))
                self.assertTrue(U.wait_for(lambda: log_of(err_path).count(
                    "policy " + p2 + '"') >= 1, 30), log_of(err_path))
                write(os.path.join(src, "second.skip.txt"), "lambda must be skipped\n")
                write(os.path.join(src, "third.txt"), "mu after the restart\n")
                self.assertTrue(U.wait_for(lambda: found("mu after"), 30), log_of(err_path))
                self.assertTrue(U.wait_for(lambda: "skipped " in log_of(err_path), 10),
                                log_of(err_path))
                self.assertFalse(found("lambda must"))
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, log_of(err_path)[-3000:])

    def test_flags_win_over_a_reloaded_config(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            db = os.path.join(tmp, "index.db")
            pol = os.path.join(tmp, "flag.lua")
            write(pol, "return { batch_size = 1 }\n")
            cfg = os.path.join(tmp, "config.lua")
            write(cfg, 'return { rescan_seconds = 1 }\n')
            write(os.path.join(src, "a.txt"), "epsilon pinned document\n")
            err_path = os.path.join(tmp, "run.err")
            p = U.dm_start("run", "--config", cfg, "--source", src, "--index", "sqlite:" + db,
                           "--policy", pol, "--workers", "1", "--json", stderr_path=err_path)
            try:
                self.assertTrue(U.wait_for(lambda: os.path.exists(db) and
                                           len(U.search(db, "epsilon pinned")) > 0, 30))
                write(cfg, 'return { rescan_seconds = 1, policy = "other.lua" }\n')
                p.send_signal(signal.SIGHUP)
                self.assertTrue(U.wait_for(lambda: "policy reloaded from" in log_of(err_path), 10),
                                log_of(err_path))
                log = log_of(err_path)
                self.assertIn("'policy' changed, but the command line (or environment) sets it", log)
                self.assertIn("policy reloaded from " + pol, log)
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, log_of(err_path)[-3000:])


class Drain(unittest.TestCase):
    def test_drain_deadline_returns_running_jobs_to_the_queue(self):
        # A job that will not finish in time (a hook that waits 30 s, within
        # its budget) and a drain deadline of 2 s: SIGTERM exits 0 within a few seconds, and the
        # job is back in the queue, done by the next run.
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            write(os.path.join(src, "slow.txt"), "epsilon drained document\n")
            db = os.path.join(tmp, "index.db")
            pol = os.path.join(tmp, "slow.lua")
            write(pol, "return { drain_seconds = 2, hook_budget_ms = 60000,\n"
                       "  route = function(job) local t = os.time()\n"
                       "    while os.time() - t < 30 do end return 'extract' end }\n")
            err_path = os.path.join(tmp, "run.err")
            p = U.dm_start("run", "--source", src, "--index", "sqlite:" + db, "--policy", pol,
                           "--workers", "1", "--once", "--json", stderr_path=err_path)
            try:
                self.assertTrue(U.wait_for(lambda: U.db_query(
                    db, "SELECT count(*) FROM jobs WHERE state='leased'") == [(1,)], 30))
                time.sleep(0.5)
                t0 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=20)
                elapsed = time.monotonic() - t0
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0, log_of(err_path)[-2000:])
            self.assertLess(elapsed, 8)
            self.assertIn("drain deadline (2 s) passed", log_of(err_path))
            st = U.status(db)
            self.assertEqual((st["indexed"], st["failed"], st["pending"]), (0, 0, 1), st)
            r = U.run_once(src, db)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(len(U.search(db, "epsilon drained")), 1)


class Cleanup(unittest.TestCase):
    def test_sigusr1_collects_and_sweeps_stale_downloads(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "docs")
            os.makedirs(src)
            write(os.path.join(src, "a.txt"), "zeta cleanup document\n")
            temp = os.path.join(tmp, "temp")
            os.makedirs(temp)
            stale = os.path.join(temp, "docmill-" + "ab" * 20 + "-99999999.part")
            write(stale, "left by a killed run")
            stale_member = os.path.join(temp, "docmill-member-99999999-1a2b-3.pdf")
            write(stale_member, "an archive member left by a killed run")
            keep = os.path.join(temp, "unrelated.part")
            write(keep, "not ours")
            # a live process's member, whose serial could pass for a pid
            live_member = os.path.join(temp, "docmill-member-%d-1a2b-1.pdf" % os.getpid())
            write(live_member, "a member being read")
            db = os.path.join(tmp, "index.db")
            err_path = os.path.join(tmp, "run.err")
            env = dict(os.environ, TEMP_DIR=temp)
            argv = [U.BIN, "run", "--source", src, "--index", "sqlite:" + db, "--workers", "1"]
            with open(err_path, "wb") as err:
                p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
            try:
                self.assertTrue(U.wait_for(lambda: os.path.exists(db) and
                                           len(U.search(db, "zeta cleanup")) == 1, 30))
                p.send_signal(signal.SIGUSR1)
                self.assertTrue(U.wait_for(lambda: "worker 0: cleanup: Lua heap" in
                                           log_of(err_path), 10), log_of(err_path))
                log = log_of(err_path)
                self.assertIn("2 stale temp files removed", log)
                self.assertFalse(os.path.exists(stale))
                self.assertFalse(os.path.exists(stale_member))
                self.assertTrue(os.path.exists(keep))
                self.assertTrue(os.path.exists(live_member))
                self.assertIsNone(p.poll())
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            finally:
                U.stop(p)
            self.assertEqual(p.returncode, 0)


if __name__ == "__main__":
    U.main()
