-- docmill's default configuration, compiled into the binary.
-- `docmill run --config FILE` reads a file of the same shape; its keys
-- override these, and command-line flags override both.
return {
  -- Where jobs come from: a folder (scanned recursively; new and changed
  -- files are picked up while `docmill run` keeps running).
  source = "samples",

  -- Where text goes: sqlite:PATH is the embedded full-text index.
  index = "sqlite:docmill.db",

  -- The durable job queue of a folder source (a SQLite file). nil keeps it
  -- in the index database, or in docmill-queue.db when the index is not
  -- SQLite.
  queue = nil,

  -- Worker threads; 0 = one per CPU core.
  workers = 0,

  -- The policy file ops edit (see policies/README.md); "builtin:default"
  -- is policies/default.lua as compiled into the binary.
  policy = "builtin:default",

  -- Watch mode: seconds between rescans of the source folder.
  rescan_seconds = 5,

  -- SQS source: long-poll wait (0..20 s) and messages per receive (1..10).
  -- nil leaves them to the policy (20 and 10 by default).
  sqs_wait_seconds = nil,
  sqs_max_messages = nil,

  -- debug, info, warn or error.
  log_level = "info",

  -- Log lines: "json" (one object per line: time, level, event, job,
  -- source, durations), "text", or "auto" = text on a TTY, else json.
  log_format = "auto",

  -- The control socket `docmill repl` and `docmill health` talk to, and the
  -- pid file `docmill reload` and systemd read. "" = in the run directory
  -- (DOCMILL_RUN_DIR, RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR/docmill, else
  -- /tmp/docmill-UID); "off" = none.
  socket = "",
  pid_file = "",

  -- Metrics: Prometheus text at http://HOST:PORT/metrics ("" = off), and
  -- CloudWatch embedded-metric-format lines appended to a file ("-" =
  -- stdout, "" = off) every policy metrics_interval_seconds.
  metrics = "",
  emf = "",
}
