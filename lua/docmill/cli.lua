-- The command line: parses argv, loads configuration, calls the primitives
-- and prints. Runs in the main thread's Lua state.
local core = require "docmill.core"
local cli = require "docmill.cli.core"
local util = require "docmill.util"
local config = require "docmill.config"

local M = {}

local EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_SOME_FAILED = 0, 1, 2, 3

local HELP = {
  main = [[
usage: docmill <command> [options]

Commands:
  run       index a folder into the index (the worker)
  extract   print the text of one file
  search    query the index
  status    counts of indexed, failed and pending jobs, the failures and the notes
  policy    check or show a policy file
  enqueue   send jobs to an SQS queue (uploading local files to S3)
  dlq       replay dead-lettered jobs into a queue
  repl      a Lua prompt inside a running worker (or -e CODE once)
  reload    make a running worker re-read its config and policy (SIGHUP)
  health    exit 0 when the running worker is healthy, 1 otherwise

Global options: --help, --version. `docmill <command> --help` for more.
]],
  run = [=[
usage: docmill run [--config FILE] [--source DIR|SQS_QUEUE_URL]
                   [--index sqlite:PATH|https://HOST[:PORT][/INDEX]]
                   [--workers N] [--once] [--policy FILE] [--json]
                   [--socket PATH|off] [--pid-file PATH|off]
                   [--metrics HOST:PORT] [--emf FILE|-]
                   [--log-level debug|info|warn|error] [--log-format json|text]
                   [--no-supervisor]

Processes every supported file under DIR (recursively), or every job of an
SQS queue (S3 event notifications, SNS-wrapped events, {"bucket","key"}),
into the index: SQLite FTS5 or OpenSearch. With --once, exits when every
job has ended (the queue is empty) and prints a summary; exit status 0 when
nothing failed, 3 when some files failed (recorded: see `docmill status`).
Without --once it keeps running, rescanning the folder for new, changed and
deleted files; SIGINT/SIGTERM finish the jobs in progress and exit. A
folder's jobs live in a durable queue in the index database (or
docmill-queue.db beside an OpenSearch index): a run that is killed resumes
where it stopped. The seed's environment variables (SQS_QUEUE_URL,
OPENSEARCH_ENDPOINT, MAX_WORKERS, ...) override the config; see README.md.

Operations: the worker listens for `docmill repl` on a Unix socket (mode
0600; default RUN_DIR/docmill.sock) and writes its pid to RUN_DIR/docmill.pid
(RUN_DIR: DOCMILL_RUN_DIR, RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR/docmill or
/tmp/docmill-UID); "off" disables either. SIGHUP (or `docmill reload`)
re-reads the config file and the policy, SIGUSR1 runs a memory cleanup. --metrics serves
Prometheus text at http://HOST:PORT/metrics; --emf appends CloudWatch
embedded-metric-format lines to FILE (- = stdout) every metrics_interval_seconds.

The workers run in a child process under a small supervisor that forwards
signals to it and restarts it when it crashes (a signal such as SIGSEGV or
the OOM killer's SIGKILL) or is stuck past a page deadline; each job it had
in flight counts a crash and is quarantined at the policy's max_crashes.
--no-supervisor runs the workers in this process.
]=],
  repl = [[
usage: docmill repl [--socket PATH] [-e CODE]

Connects to a running `docmill run` (its control socket, default
RUN_DIR/docmill.sock) and gives a Lua prompt evaluated inside the worker:
stats(), workers(), jobs(), mem_stats(), policy(), health(), and the controls
reload(), pause(), resume(), drain(), gc(); help() lists them. Multi-line
input continues until the chunk is complete. -e CODE evaluates once, prints
the result and exits 1 when the code raised (for scripts).
]],
  reload = [[
usage: docmill reload [--pid-file PATH]

Sends SIGHUP to the worker named by the pid file (default RUN_DIR/docmill.pid):
it reads its config file (--config) and policy file again, validates both and
applies them (workers switch policy at their next job boundary; start-only
keys are logged as needing a restart), or keeps everything and logs why. For systemd: ExecReload=.
]],
  health = [[
usage: docmill health [--socket PATH] [--json]

Asks the running worker for its health: exit 0 when it is running and its
free memory and disk are above the policy's thresholds (and it is not
draining), 1 otherwise or when no worker answers. Prints the reasons
(--json: the whole report).
]],
  extract = [[
usage: docmill extract FILE [--json] [--dpi N] [--lang L] [--policy FILE]

Prints the text of one file: PDF (text layer, or OCR of pages without
one), images (PNG, JPEG, TIFF, BMP, GIF: OCR), Word, Excel and PowerPoint
(.docx, .xlsx, .pptx and their variants), HTML, RTF, plain text (UTF-8,
Shift_JIS, EUC-JP), XPS/EPUB/CBZ; the type is told by the content, not the
name. --dpi and --lang override the policy.
--json prints {"source","mime","meta","pages":[{"page","method","dpi","text"}],"note","error"}
("meta": title, author, subject, keywords, created, modified where the file
has them, and the detected language; an Excel sheet's page has its "name")
(OCR'd pages add "confidence", Tesseract's mean word confidence, "rotate",
the clockwise turn that read a turned scan or photo upright, "deskew", the
degrees a page askew was levelled by, and "vertical": true when read as
vertical Japanese)
(note: what was left out and why: pages over max_pages, timed out, failed).
A container (zip, tar, 7z, .eml, .mbox, .msg) prints its own text (a mail's
subject and body), then each member under a "== PARENT#MEMBER ==" line;
--json adds "children": [{"source","mime","pages","note"}] (a nested
container's entry has "members"), and the note lists members skipped or
unreadable.
Exit status 1 (with a one-line error on stderr) when the file cannot be read,
or when a limit cut a container's reading (what was read is printed).
]],
  search = [[
usage: docmill search QUERY... [--index sqlite:PATH] [--limit N] [--json]

Ranked hits with source, page, the document's title (when it has one) and
a snippet. Words are ANDed; matching is by substring (Japanese needs no
spaces), case-insensitive for Latin text; a document's title is searched
too (such a hit says "title", page 0 in --json).
--json prints [{"id","source","page","score","snippet","title"}] with
matches in <em>...</em> ("title" only when the document has one).
]],
  status = [[
usage: docmill status [--index sqlite:PATH] [--json]

Counts of indexed documents and of failed and pending jobs, each
failure with its reason, and each indexed document with a note (pages
that failed or were read with low confidence, pages left out).
]],
  enqueue = [[
usage: docmill enqueue --queue URL [--bucket B] FILE_OR_S3_URI...

Sends one job per argument to the SQS queue: an s3://bucket/key URI is sent
as {"bucket","key"}; a local FILE is first uploaded to s3://B/NAME (B from
--bucket or S3_BUCKET) and then sent. Prints one line per job.
]],
  dlq = [[
usage: docmill dlq replay --from DLQ_URL --to QUEUE_URL

Moves every message of the dead-letter queue back to the queue (send, then
delete from the DLQ), and prints how many were moved.
]],
  policy = [[
usage: docmill policy check [FILE]
       docmill policy show [FILE]

check: loads FILE (default: the built-in policy) the way a worker would and
reports the first problem with its location. show: prints the effective
settings as JSON.
]],
}

local COMMON = { config = "string", help = "bool", ["log-level"] = "string" }

local FLAGS = {
  run = { source = "string", index = "string", workers = "number", once = "bool",
          policy = "string", json = "bool", socket = "string", ["pid-file"] = "string",
          metrics = "string", emf = "string", ["log-format"] = "string",
          ["no-supervisor"] = "bool" },
  repl = { socket = "string", eval = "string" },
  reload = { ["pid-file"] = "string" },
  health = { socket = "string", json = "bool" },
  extract = { json = "bool", dpi = "number", lang = "string", policy = "string" },
  search = { index = "string", limit = "number", json = "bool" },
  status = { index = "string", json = "bool" },
  policy = {},
  lua = { policy = "string", index = "string" },
  enqueue = { queue = "string", bucket = "string" },
  dlq = { from = "string", to = "string" },
}

local function usage_error(cmd, msg)
  util.eprintf("docmill %s: %s\n", cmd, msg)
  util.eprintf("Try 'docmill %s --help'.\n", cmd)
  return EXIT_USAGE
end

local function parse(cmd, args)
  local spec = FLAGS[cmd]
  local opts, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-e" then a = "--eval" end
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    end
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if name then
      local kind = spec[name] or COMMON[name]
      if not kind then return nil, "unknown option --" .. name end
      if kind == "bool" then
        if inline then return nil, "--" .. name .. " takes no value" end
        opts[name] = true
      else
        local v = inline
        if not v then
          i = i + 1
          v = args[i]
          if v == nil then return nil, "--" .. name .. " needs a value" end
        end
        if kind == "number" then
          local n = tonumber(v)
          if not n or n % 1 ~= 0 then return nil, "--" .. name .. " needs a whole number" end
          v = n
        end
        opts[name] = v
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

local function load_config(opts)
  local cfg, err = config.load(opts.config)
  if not cfg then return nil, err end
  if opts["log-level"] then cfg.log_level = opts["log-level"] end
  local ok, lerr = pcall(core.set_log_level, cfg.log_level)
  if not ok then return nil, lerr end
  -- DOCMILL_LOG_FORMAT (read at start) wins over the config's default.
  local fmt = opts["log-format"] or os.getenv("DOCMILL_LOG_FORMAT") or cfg.log_format
  if fmt and fmt ~= "" then
    ok, lerr = pcall(core.set_log_format, fmt)
    if not ok then return nil, lerr end
  end
  return cfg
end

local function policy_path(p)
  if p == nil or p == "builtin:default" then return nil end
  return p
end

local function sqlite_path(uri)
  local p = uri:match("^sqlite:(.+)$")
  if p then return p end
  if not uri:match("://") and uri:match("%.db$") then return uri end
  return nil
end

--- extract -----------------------------------------------------------------

-- A document's pages as `extract --json` prints them.
local function extract_pages_json(doc)
  local pages = util.array()
  for i, p in ipairs(doc and doc.pages or {}) do
    pages[i] = { page = p.page, method = p.method, dpi = p.dpi or util.null, text = p.text,
      confidence = p.confidence, rotate = p.rotate, vertical = p.vertical, deskew = p.deskew,
      name = p.name }
  end
  return pages
end

-- Pages as `extract` prints them: a form feed between two.
local function write_pages(pages)
  for i, p in ipairs(pages) do
    if i > 1 then io.stdout:write("\f\n") end
    io.stdout:write(p.text, "\n")
  end
end

local function cmd_extract(opts, pos)
  if #pos ~= 1 then return usage_error("extract", "expected one FILE") end
  local file = pos[1]
  local ok, perr = core.policy_load(policy_path(opts.policy))
  if not ok then
    util.eprintf("docmill extract: %s\n", perr)
    return EXIT_USAGE
  end
  if opts.dpi and (opts.dpi < 72 or opts.dpi > 600) then
    return usage_error("extract", "--dpi must be 72..600")
  end
  if opts.lang then
    local avail, lerr = core.ocr_languages_available(opts.lang)
    if not avail then return usage_error("extract", lerr) end
  end
  local pipeline = require "docmill.pipeline"
  local f, err = core.fetch(file)
  local doc
  local source = (f and core.realpath(f.path)) or file
  if f then
    local kind = core.container_kind(f.path)
    if kind then
      doc, err = pipeline.extract_container(f.path, kind, { dpi = opts.dpi, lang = opts.lang,
        source = source, size = f.size, mtime_ms = f.mtime_ms })
    else
      doc, err = pipeline.extract_file(f.path, { dpi = opts.dpi, lang = opts.lang })
    end
    core.release(f.path, f.temp)
  end
  if opts.json then
    local children
    if doc and doc.children then
      children = util.array()
      for i, ch in ipairs(doc.children) do
        children[i] = { source = ch.source, mime = ch.mime or util.null,
          pages = extract_pages_json(ch), note = ch.note or util.null,
          members = ch.container and ch.members or nil }
      end
    end
    util.printf("%s\n", util.json({
      source = source,
      mime = doc and doc.mime or util.null,
      meta = doc and doc.meta or util.null,
      pages = extract_pages_json(doc),
      children = children,
      note = doc and doc.note or util.null,
      error = doc and util.null or err,
    }))
  elseif doc then
    write_pages(doc.pages)
    -- a container's members after its own text, each under its source
    for i, ch in ipairs(doc.children or {}) do
      if i > 1 or #doc.pages > 0 then io.stdout:write("\f\n") end
      io.stdout:write("== ", ch.source, " ==\n")
      write_pages(ch.pages)
    end
  end
  if not doc then
    util.eprintf("docmill extract: %s: %s\n", file, err)
    return EXIT_FAIL
  end
  if doc.note then util.eprintf("docmill extract: note: %s\n", doc.note) end
  if doc.failure then return EXIT_FAIL end
  return EXIT_OK
end

--- run -----------------------------------------------------------------------

local function nonempty(v)
  if v == nil or v == "" then return nil end
  return v
end

-- The control socket and pid file paths: flags, then the config, then the
-- run directory (created when `create`). "off" disables one (nil).
-- Returns socket, pid_file, err.
function M.control_paths(cfg, opts, create)
  local socket = opts.socket or nonempty(cfg.socket)
  local pid_file = opts["pid-file"] or nonempty(cfg.pid_file)
  if socket == nil or pid_file == nil then
    local dir, err = cli.run_dir(create)
    if not dir then return nil, nil, err end
    socket = socket or (dir .. "/docmill.sock")
    pid_file = pid_file or (dir .. "/docmill.pid")
  end
  if socket == "off" then socket = nil end
  if pid_file == "off" then pid_file = nil end
  return socket, pid_file
end

local function cmd_run(opts, pos)
  if #pos > 0 then return usage_error("run", "unexpected argument '" .. pos[1] .. "'") end
  local cfg, err = load_config(opts)
  if not cfg then
    util.eprintf("docmill run: %s\n", err)
    return EXIT_USAGE
  end
  -- What the file said, for SIGHUP to compare with (and a restarted worker
  -- process to catch up with).
  local started = opts.config and config.snapshot(opts.config) or nil
  -- Precedence: flags, then the seed's environment variables (so a team can
  -- swap the Python worker for docmill without new config), then the file.
  local env_ok, eerr = config.apply_env(cfg)
  if not env_ok then return usage_error("run", eerr) end
  for _, k in ipairs({ "source", "index", "workers", "policy" }) do
    if opts[k] ~= nil then cfg[k] = opts[k] end
  end
  local ok, cerr = config.check(cfg, "options")
  if not ok then return usage_error("run", cerr) end
  local db = sqlite_path(cfg.index)
  if not db and not cfg.index:match("^https?://") then
    return usage_error("run", "unsupported index '" .. cfg.index .. "' (sqlite:PATH or https://HOST[/INDEX])")
  end
  local queue_url = core.is_queue_url(cfg.source) and cfg.source or nil
  if not queue_url and cfg.source:match("^%a[%w+.-]*://") then
    return usage_error("run", "unsupported source '" .. cfg.source .. "' (a folder or an SQS queue URL)")
  end
  -- A folder source needs the durable local queue: in the index database
  -- when that is SQLite, else in docmill-queue.db beside it.
  local queue_db = cfg.queue or db or "docmill-queue.db"
  local socket, pid_file, derr = M.control_paths(cfg, opts, true)
  if derr then
    util.eprintf("docmill run: %s\n", derr)
    return EXIT_USAGE
  end
  -- The defaults are shared by every run of this user: a second run on the
  -- same machine goes on without them rather than failing. Paths given
  -- explicitly must be ours (the run fails otherwise).
  local default_paths = not (opts.socket or nonempty(cfg.socket) or opts["pid-file"]
    or nonempty(cfg.pid_file))
  if default_paths and pid_file then
    local other = cli.pidfile_read(pid_file)
    if other then
      core.log("warn", string.format("another docmill (pid %d) uses %s and %s: this run has no " ..
        "control socket or pid file (give it --socket and --pid-file)", other, socket, pid_file))
      socket, pid_file = nil, nil
    end
  end
  if not opts["no-supervisor"] then
    -- The parent returns here only when the worker process is done for good.
    local r = cli.supervise()
    if r ~= "child" then return r end
  end
  -- What the command line (or the environment) sets, a changed config file
  -- does not override on SIGHUP.
  local pinned = {}
  for flag, key in pairs({ source = "source", index = "index", workers = "workers",
    policy = "policy", ["log-level"] = "log_level", ["log-format"] = "log_format",
    socket = "socket", ["pid-file"] = "pid_file", metrics = "metrics", emf = "emf" }) do
    if opts[flag] ~= nil then pinned[#pinned + 1] = key end
  end
  if os.getenv("DOCMILL_LOG_FORMAT") then pinned[#pinned + 1] = "log_format" end
  for _, key in ipairs(config.env_keys()) do pinned[#pinned + 1] = key end
  table.sort(pinned)
  local summary, rerr = cli.run({
    config = opts.config, config_start = started, pinned = table.concat(pinned, ","),
    socket = socket, pid_file = pid_file, control_optional = default_paths,
    metrics = opts.metrics or nonempty(cfg.metrics), emf = opts.emf or nonempty(cfg.emf),
    source = not queue_url and cfg.source or nil, queue_url = queue_url,
    sqs_wait_seconds = cfg.sqs_wait_seconds, sqs_max_messages = cfg.sqs_max_messages,
    index = cfg.index, queue = queue_db,
    policy = policy_path(cfg.policy), workers = cfg.workers, once = opts.once or false,
    rescan_seconds = cfg.rescan_seconds, progress = core.isatty(2) and not opts.json,
  })
  if not summary then
    util.eprintf("docmill run: %s\n", rerr)
    return EXIT_USAGE
  end
  if opts.json then
    util.printf("%s\n", util.json(summary))
  else
    util.printf("indexed: %d\nskipped-unchanged: %d\nfailed: %d\ndeleted: %d\n" ..
      "pages: %d\npages OCR'd: %d\nfiles/hour: %.0f\nelapsed: %.1f s\npeak RSS: %.0f MB\n",
      summary.indexed, summary.unchanged, summary.failed, summary.deleted, summary.pages,
      summary.pages_ocr, summary.files_per_hour, summary.elapsed_ms / 1000,
      summary.peak_rss / 1048576)
    if summary.failed > 0 then
      util.printf("(see the reasons with: docmill status --index %s)\n", cfg.index)
    end
  end
  return summary.failed > 0 and EXIT_SOME_FAILED or EXIT_OK
end

--- operations: repl, reload, health ---------------------------------------------

-- The running worker's control socket and pid file, found as `run` chose
-- them (flags, then the config, then the run directory). Returns
-- {socket, pid_file, err}, or nil and the exit status of a usage error.
local function worker_paths(cmd, opts, pos)
  if #pos > 0 then return nil, usage_error(cmd, "unexpected argument '" .. pos[1] .. "'") end
  local cfg, cerr = load_config(opts)
  if not cfg then return nil, usage_error(cmd, cerr) end
  local socket, pid_file, err = M.control_paths(cfg, opts, false)
  return { socket = socket, pid_file = pid_file, err = err }
end

local function fail(cmd, msg)
  util.eprintf("docmill %s: %s\n", cmd, msg)
  return EXIT_FAIL
end

local function cmd_repl(opts, pos)
  local w, status = worker_paths("repl", opts, pos)
  if not w then return status end
  if not w.socket then return fail("repl", w.err or "no control socket") end
  return require("docmill.repl").client({ socket = w.socket, eval = opts.eval })
end

local function cmd_reload(opts, pos)
  local w, status = worker_paths("reload", opts, pos)
  if not w then return status end
  if not w.pid_file then return fail("reload", w.err or "no pid file") end
  local pid, perr = cli.pidfile_read(w.pid_file)
  if not pid then return fail("reload", perr) end
  local ok, kerr = cli.kill(pid, "HUP")
  if not ok then return fail("reload", kerr) end
  util.printf("sent SIGHUP to docmill (pid %d); the outcome is in its log\n", pid)
  return EXIT_OK
end

local function cmd_health(opts, pos)
  local w, usage = worker_paths("health", opts, pos)
  if not w then return usage end
  local socket, err = w.socket, w.err
  local report
  if socket then
    local conn
    conn, err = cli.control_connect(socket)
    if conn then
      local status, text = conn:request("print(json.encode(health()))")
      conn:close()
      if status == "ok" then
        report = require("cjson").decode(text)
      else
        err = text or status
      end
    end
  end
  if not report then
    report = { healthy = false, reasons = { "no worker answers: " .. tostring(err) } }
  end
  if opts.json then
    util.printf("%s\n", util.json(report))
  else
    util.printf("%s%s\n", report.healthy and "healthy" or "unhealthy",
      #report.reasons > 0 and (": " .. table.concat(report.reasons, "; ")) or "")
  end
  return report.healthy and EXIT_OK or EXIT_FAIL
end

--- search / status ---------------------------------------------------------

local function index_db(opts)
  local cfg, err = load_config(opts)
  if not cfg then return nil, err end
  local uri = opts.index or cfg.index
  local db = sqlite_path(uri)
  if not db then return nil, "unsupported index '" .. uri .. "' (sqlite:PATH)" end
  local f = io.open(db, "rb")
  if not f then return nil, "no index at " .. db .. " (run `docmill run` first)" end
  f:close()
  return db
end

local function highlight(snippet, tty)
  if tty then
    return (snippet:gsub("<em>", "\27[1m"):gsub("</em>", "\27[0m"))
  end
  return (snippet:gsub("<em>", "["):gsub("</em>", "]"))
end

local function cmd_search(opts, pos)
  if #pos == 0 then return usage_error("search", "expected a QUERY") end
  if opts.limit and opts.limit < 1 then return usage_error("search", "--limit must be at least 1") end
  local db, err = index_db(opts)
  if not db then
    util.eprintf("docmill search: %s\n", err)
    return EXIT_FAIL
  end
  local hits, serr = core.search(db, table.concat(pos, " "), opts.limit or 10)
  if not hits then
    util.eprintf("docmill search: %s\n", serr)
    return EXIT_FAIL
  end
  if opts.json then
    util.printf("%s\n", util.json(util.array(hits)))
    return EXIT_OK
  end
  if #hits == 0 then
    util.printf("no matches\n")
    return EXIT_OK
  end
  local tty = core.isatty(1)
  for i, h in ipairs(hits) do
    local where = h.page == 0 and "title" or ("page " .. h.page)
    util.printf("%d. %s  %s%s\n   %s\n", i, h.source, where,
      h.title and ("  — " .. h.title) or "", highlight(h.snippet, tty))
  end
  return EXIT_OK
end

local function cmd_status(opts, pos)
  if #pos > 0 then return usage_error("status", "unexpected argument '" .. pos[1] .. "'") end
  local db, err = index_db(opts)
  if not db then
    util.eprintf("docmill status: %s\n", err)
    return EXIT_FAIL
  end
  local st, serr = core.status(db, 1000)
  if not st then
    util.eprintf("docmill status: %s\n", serr)
    return EXIT_FAIL
  end
  st.failures = util.array(st.failures)
  st.notes = util.array(st.notes)
  if opts.json then
    util.printf("%s\n", util.json(st))
    return EXIT_OK
  end
  util.printf("indexed: %d\nfailed: %d\npending: %d\n", st.indexed, st.failed, st.pending)
  if #st.failures > 0 then
    util.printf("failures:\n")
    for _, f in ipairs(st.failures) do util.printf("  %s: %s\n", f.source, f.error) end
  end
  if #st.notes > 0 then
    util.printf("notes (indexed, with something to say):\n")
    for _, d in ipairs(st.notes) do util.printf("  %s: %s\n", d.source, d.note) end
  end
  return EXIT_OK
end

--- policy ----------------------------------------------------------------

local function cmd_policy(_, pos)
  local sub, file = pos[1], pos[2]
  if sub ~= "check" and sub ~= "show" then
    return usage_error("policy", "expected 'check' or 'show'")
  end
  local ok, err = core.policy_check(policy_path(file))
  if not ok then
    util.eprintf("docmill policy: %s\n", err)
    return EXIT_FAIL
  end
  if sub == "check" then
    util.printf("%s: ok\n", file or "builtin:default")
    return EXIT_OK
  end
  assert(core.policy_load(policy_path(file)))
  util.printf("%s\n", util.json(core.settings()))
  return EXIT_OK
end

--- lua (tests) ----------------------------------------------------------

-- Runs a Lua file in this state with the primitives, a policy and
-- optionally an index: the harness of the Lua test layer.
local function cmd_lua(opts, pos)
  if #pos < 1 then return usage_error("lua", "expected a FILE") end
  local ok, err = core.policy_load(policy_path(opts.policy))
  if not ok then
    util.eprintf("docmill lua: %s\n", err)
    return EXIT_USAGE
  end
  if opts.index then
    local iok, ierr = core.index_open(opts.index)
    if not iok then
      util.eprintf("docmill lua: %s\n", ierr)
      return EXIT_USAGE
    end
  end
  local chunk, lerr = loadfile(pos[1])
  if not chunk then
    util.eprintf("docmill lua: %s\n", lerr)
    return EXIT_USAGE
  end
  local rest = {}
  for i = 2, #pos do rest[#rest + 1] = pos[i] end
  local rok, result = xpcall(function() return chunk(unpack(rest)) end, debug.traceback)
  if not rok then
    util.eprintf("%s\n", result)
    return EXIT_FAIL
  end
  return tonumber(result) or EXIT_OK
end

--- enqueue / dlq -------------------------------------------------------

local function basename(path)
  return path:match("([^/]+)$") or path
end

local function cmd_enqueue(opts, pos)
  local url = opts.queue or os.getenv("SQS_QUEUE_URL")
  if not url then return usage_error("enqueue", "--queue URL is required") end
  if not core.is_queue_url(url) then return usage_error("enqueue", "not an SQS queue URL: " .. url) end
  if #pos == 0 then return usage_error("enqueue", "expected FILE or s3://bucket/key arguments") end
  local bucket = opts.bucket or os.getenv("S3_BUCKET")
  local failed = 0
  for _, arg in ipairs(pos) do
    local b, key = arg:match("^s3://([^/]+)/(.+)$")
    local err
    if not b then
      if not bucket then
        util.eprintf("docmill enqueue: %s: a local file needs --bucket or S3_BUCKET\n", arg)
        return EXIT_USAGE
      end
      b, key = bucket, basename(arg)
      local ok, uerr = core.s3_upload(arg, "s3://" .. b .. "/" .. key)
      if not ok then err = uerr end
    end
    if not err then
      local ok, serr = core.sqs_send(url, util.json({ bucket = b, key = key }))
      if not ok then err = serr end
    end
    if err then
      failed = failed + 1
      util.eprintf("docmill enqueue: %s: %s\n", arg, err)
    else
      util.printf("queued s3://%s/%s\n", b, key)
    end
  end
  return failed > 0 and EXIT_FAIL or EXIT_OK
end

local function cmd_dlq(opts, pos)
  if pos[1] ~= "replay" then return usage_error("dlq", "expected 'replay'") end
  if not opts.from or not opts.to then return usage_error("dlq", "--from and --to are required") end
  local moved = 0
  while true do
    local msgs, err = core.sqs_receive(opts.from, 10, 1, 60)
    if not msgs then
      util.eprintf("docmill dlq: %s\n", err)
      return EXIT_FAIL
    end
    if #msgs == 0 then break end
    for _, m in ipairs(msgs) do
      -- Send first, delete second: a crash in between duplicates a job
      -- (harmless: indexing is idempotent) but never loses one.
      local ok, serr = core.sqs_send(opts.to, m.body)
      if not ok then
        util.eprintf("docmill dlq: %s\n", serr)
        return EXIT_FAIL
      end
      local dok, derr = core.sqs_delete(opts.from, m.receipt)
      if not dok then util.eprintf("docmill dlq: %s (the job may be replayed twice)\n", derr) end
      moved = moved + 1
    end
  end
  util.printf("replayed %d messages\n", moved)
  return EXIT_OK
end

local COMMANDS = {
  run = cmd_run, extract = cmd_extract, search = cmd_search, status = cmd_status,
  policy = cmd_policy, lua = cmd_lua, enqueue = cmd_enqueue, dlq = cmd_dlq,
  repl = cmd_repl, reload = cmd_reload, health = cmd_health,
}

function M.main(args)
  local cmd = args[1]
  if cmd == nil or cmd == "--help" or cmd == "-h" or cmd == "help" then
    local topic = cmd == "help" and args[2] and HELP[args[2]] or HELP.main
    io.stdout:write(topic)
    return cmd == nil and EXIT_USAGE or EXIT_OK
  end
  if cmd == "--version" or cmd == "version" then
    util.printf("docmill %s\n", core.version())
    return EXIT_OK
  end
  local fn = COMMANDS[cmd]
  if not fn then
    local names = {}
    for k in pairs(COMMANDS) do names[#names + 1] = k end
    local near = util.closest(cmd, names)
    util.eprintf("docmill: unknown command '%s'%s\n", cmd,
      near and (" (did you mean '" .. near .. "'?)") or "")
    return EXIT_USAGE
  end
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  local opts, pos = parse(cmd, rest)
  if not opts then return usage_error(cmd, pos) end
  if opts.help then
    io.stdout:write(HELP[cmd] or HELP.main)
    return EXIT_OK
  end
  return fn(opts, pos)
end

return M
