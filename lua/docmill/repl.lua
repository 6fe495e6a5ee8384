-- The live REPL. Two halves:
--   * eval/close run inside a running worker, in the REPL's own Lua state on
--     the loop thread (core/daemon/repl.c): operator code gets a per-connection
--     environment with read access to the worker and a few controls;
--   * client runs in `docmill repl`: a prompt (line editing and history on
--     a TTY) or one `-e CODE`, talking to the worker's control socket.
local core = require "docmill.core"
local sandbox = require "docmill.sandbox"
-- Each half finds its own module: the worker's REPL state has
-- docmill.control, the CLI's state docmill.cli.core; neither has both.
local control = package.loaded["docmill.control"] or {}
local cli = package.loaded["docmill.cli.core"] or {}

local M = {}

--- formatting ----------------------------------------------------------------

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- Lua-literal rendering of a value: sorted keys, arrays inline when short,
-- cycles and depth cut.
local function show(v, indent, seen)
  local tv = type(v)
  if tv == "string" then return string.format("%q", v) end
  if tv == "number" then
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
    return string.format("%.4g", v)
  end
  if tv ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if #indent > 16 then return "{...}" end
  seen[v] = true
  local keys = sorted_keys(v)
  if #keys == 0 then
    seen[v] = nil
    return "{}"
  end
  local inner = indent .. "  "
  local parts, flat_len, is_array = {}, 0, #v == #keys
  for _, k in ipairs(keys) do
    local val = show(v[k], inner, seen)
    local item
    if is_array then
      item = val
    elseif is_identifier(k) then
      item = k .. " = " .. val
    else
      item = "[" .. show(k, inner, seen) .. "] = " .. val
    end
    parts[#parts + 1] = item
    flat_len = flat_len + #item + 2
  end
  seen[v] = nil
  if flat_len < 72 and not table.concat(parts):find("\n") then
    return "{ " .. table.concat(parts, ", ") .. " }"
  end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
end

function M.show(v)
  return show(v, "", {})
end

--- the worker side --------------------------------------------------------------

local HELP = [[
docmill REPL (this worker, live; code runs on its event loop, 2 s budget)
  stats()      counters, files/hour, pages/s, queue depth, failures by reason
  workers()    each worker: state, current job, elapsed, Lua heap, MuPDF memory
  jobs()       jobs in flight: waiting, running (which worker) or indexing
  mem_stats()  process RSS and peak
  policy()     the live policy settings
  health()     the resource check: healthy?, free memory and disk
  reload()     reload the policy file (as SIGHUP); true or nil, error
  pause()      stop taking new jobs (running ones finish); resume() undoes it
  drain()      finish running jobs, return the rest to the queue, exit (as SIGTERM)
  gc()         full GC in every worker, MuPDF store emptied, malloc_trim (as SIGUSR1)
Globals you set persist for this connection.]]

local API = {
  stats = control.stats,
  workers = control.workers,
  jobs = control.jobs,
  policy = control.policy,
  mem_stats = function()
    local m = core.mem_stats()
    return { rss_mb = m.rss / 1048576, peak_rss_mb = m.peak_rss / 1048576 }
  end,
  health = function() return control.health() end,
  reload = control.reload,
  pause = function() control.pause(true); return "paused: no new jobs are taken" end,
  resume = function() control.pause(false); return "resumed" end,
  drain = function() control.drain(); return "draining: the worker exits when running jobs end" end,
  gc = function() control.cleanup(); return "cleanup requested (see the log)" end,
  help = function() return HELP end,
}

-- What operator code sees: the API, the sandbox's safe library, json
-- (cjson) and its own globals. No require, io, os.exit or docmill.core:
-- nothing that blocks the loop or reaches a worker's state.
local BASE = sandbox.library({ json = require "cjson" })
for k, v in pairs(API) do BASE[k] = v end

local sessions = {}

local function session_env(id)
  local env = sessions[id]
  if not env then
    env = sandbox.open(BASE)
    sessions[id] = env
  end
  return env
end

local function pack(...)
  return { n = select("#", ...), ... }
end

-- Returns status ("ok" | "error" | "incomplete"), text.
function M.eval(id, code)
  local env = session_env(id)
  -- An expression first (so `stats()` shows its value), then a statement.
  local chunk = loadstring("return " .. code, "=repl")
  if not chunk then
    local err
    chunk, err = loadstring(code, "=repl")
    if not chunk then
      if err:match("<eof>") then return "incomplete", err end
      return "error", err
    end
  end
  local out = {}
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    out[#out + 1] = table.concat(parts, "\t")
  end
  setfenv(chunk, env)
  local res = pack(xpcall(chunk, debug.traceback))
  if not res[1] then
    return "error", tostring(res[2])
  end
  for i = 2, res.n do
    local v = res[i]
    out[#out + 1] = type(v) == "string" and i == 2 and res.n == 2 and v:find("\n") and v or show(v, "", {})
  end
  return "ok", table.concat(out, "\n")
end

function M.close(id)
  sessions[id] = nil
end

--- the client (`docmill repl`) -----------------------------------------------------

-- Sends code, prints the reply. Returns the status.
local function send(conn, code, out, errout)
  local status, text = conn:request(code)
  if not status then
    errout:write("docmill repl: ", text, "\n")
    return "lost"
  end
  if status == "ok" then
    if text ~= "" then out:write(text, "\n") end
  elseif status ~= "incomplete" then
    errout:write(text, "\n")
  end
  return status
end

-- opts: socket (path), eval (code or nil). Returns the exit status.
function M.client(opts)
  local conn, err = cli.control_connect(opts.socket)
  if not conn then
    io.stderr:write("docmill repl: ", err, "\n")
    return 1
  end
  if opts.eval then
    local status = send(conn, opts.eval, io.stdout, io.stderr)
    conn:close()
    if status == "incomplete" then
      io.stderr:write("docmill repl: incomplete code\n")
    end
    return status == "ok" and 0 or 1
  end
  local tty = core.isatty(0)
  local history = os.getenv("HOME") and (os.getenv("HOME") .. "/.docmill_repl_history")
  if tty then
    if history then cli.history_load(history) end
    io.stdout:write("docmill repl on ", opts.socket, " (help() for the functions, Ctrl-D to leave)\n")
  end
  local function read(prompt)
    if tty then return cli.readline(prompt) end
    return io.stdin:read("*l")
  end
  local buffer
  while true do
    local line = read(buffer and ">> " or "> ")
    if not line then break end
    if tty and line:match("%S") then cli.history_add(line) end
    buffer = buffer and (buffer .. "\n" .. line) or line
    if buffer:match("%S") then
      local status = send(conn, buffer, io.stdout, io.stderr)
      if status == "lost" then
        conn:close()
        return 1
      end
      if status ~= "incomplete" then buffer = nil end
    else
      buffer = nil
    end
  end
  if tty and history then cli.history_save(history) end
  conn:close()
  if buffer then
    io.stderr:write("docmill repl: input ended inside an unfinished chunk\n")
    return 1
  end
  return 0
end

return M
