-- Configuration: the embedded defaults (top-level config.lua), then a
-- config file, then command-line flags. Every key is checked; a typo is an
-- error that names the closest valid key.
local core = require "docmill.core"
local sandbox = require "docmill.sandbox"
local util = require "docmill.util"

local M = {}

local SCHEMA = {
  source = "string", index = "string", queue = "string", workers = "number",
  policy = "string", rescan_seconds = "number", log_level = "string",
  sqs_wait_seconds = "number", sqs_max_messages = "number",
  socket = "string", pid_file = "string", metrics = "string", emf = "string",
  log_format = "string",
}

-- The seed's environment variables that are configuration (policy ones are
-- read by the policy loader). name -> {key, type}.
local ENV = {
  SQS_QUEUE_URL = { "source", "string" },
  OPENSEARCH_ENDPOINT = { "index", "string" },
  MAX_WORKERS = { "workers", "number" },
  SQS_WAIT_TIME = { "sqs_wait_seconds", "number" },
  SQS_MAX_MESSAGES = { "sqs_max_messages", "number" },
}

local function keys()
  local out = {}
  for k in pairs(SCHEMA) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- Checks every key and value. `path`, when the table came from a file,
-- lets an error name the line that sets the key ("config.lua:12: ...").
local function check(tbl, where, path)
  local function at(k)
    local line = path and core.key_line(path, k) or 0
    return line > 0 and (where .. ":" .. line) or where
  end
  for k, v in pairs(tbl) do
    local want = SCHEMA[k]
    if not want then
      local near = util.closest(tostring(k), keys())
      return nil, string.format("%s: unknown config key '%s'%s", at(tostring(k)), tostring(k),
        near and (" (did you mean '" .. near .. "'?)") or "")
    end
    if type(v) ~= want then
      return nil, string.format("%s: '%s' must be a %s, got %s", at(k), k, want, type(v))
    end
  end
  if tbl.workers and (tbl.workers < 0 or tbl.workers > 256 or tbl.workers % 1 ~= 0) then
    return nil, at("workers") .. ": 'workers' must be an integer 0..256"
  end
  if tbl.rescan_seconds and tbl.rescan_seconds < 1 then
    return nil, at("rescan_seconds") .. ": 'rescan_seconds' must be at least 1"
  end
  if tbl.sqs_wait_seconds and (tbl.sqs_wait_seconds < 0 or tbl.sqs_wait_seconds > 20) then
    return nil, at("sqs_wait_seconds") .. ": 'sqs_wait_seconds' must be 0..20"
  end
  if tbl.sqs_max_messages and (tbl.sqs_max_messages < 1 or tbl.sqs_max_messages > 10) then
    return nil, at("sqs_max_messages") .. ": 'sqs_max_messages' must be 1..10"
  end
  local levels = { debug = true, info = true, warn = true, error = true }
  if tbl.log_level and not levels[tbl.log_level] then
    return nil, at("log_level") .. ": 'log_level' must be debug, info, warn or error"
  end
  local formats = { json = true, text = true, auto = true }
  if tbl.log_format and not formats[tbl.log_format] then
    return nil, at("log_format") .. ": 'log_format' must be json, text or auto"
  end
  return true
end

-- Runs a config chunk in the locked sandbox; it must return a table.
local function run_chunk(chunk, where)
  setfenv(chunk, sandbox.locked("config"))
  local ok, tbl = pcall(chunk)
  if not ok then return nil, tbl end
  if type(tbl) ~= "table" then
    return nil, where .. ": a config file must return a table"
  end
  return tbl
end

function M.defaults()
  local copy = {}
  for k, v in pairs(require "docmill.default_config") do copy[k] = v end
  return copy
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- Loads defaults, then `path` when given. Relative paths inside a config
-- file are taken relative to that file's folder.
function M.load(path)
  local cfg = M.defaults()
  if path then
    local chunk, err = loadfile(path)
    if not chunk then return nil, err end
    local tbl, rerr = run_chunk(chunk, path)
    if not tbl then return nil, rerr end
    local ok, cerr = check(tbl, path, path)
    if not ok then return nil, cerr end
    local base = dirname(path)
    for k, v in pairs(tbl) do
      local is_path = k == "source" or k == "policy" or k == "queue"
        or ((k == "socket" or k == "pid_file" or k == "emf") and v ~= "" and v ~= "off" and v ~= "-")
      if is_path and type(v) == "string" and v:sub(1, 1) ~= "/" and not v:match("^builtin:") then
        v = base .. "/" .. v
      elseif k == "index" and v:match("^sqlite:") and v:sub(8, 8) ~= "/" then
        v = "sqlite:" .. base .. "/" .. v:sub(8)
      end
      cfg[k] = v
    end
  end
  return cfg
end

-- Overrides cfg from the environment; a malformed value is an error that
-- names the variable.
function M.apply_env(cfg, getenv)
  getenv = getenv or os.getenv
  for name, spec in pairs(ENV) do
    local v = getenv(name)
    if v and v ~= "" then
      if spec[2] == "number" then
        local n = tonumber(v)
        if not n then return nil, name .. " must be a number, got '" .. v .. "'" end
        v = n
      end
      cfg[spec[1]] = v
    end
  end
  return check(cfg, "environment")
end

-- The config as `docmill run` compares it on SIGHUP (core/daemon/reload.c):
-- every key as a string ("" for nil). The environment's overrides are left
-- out: the keys they set are pinned (env_keys) and a file cannot change them.
function M.to_snapshot(cfg)
  local out = {}
  for k in pairs(SCHEMA) do
    local v = cfg[k]
    out[k] = v == nil and "" or tostring(v)
  end
  return out
end

-- The file over the defaults, as a snapshot.
function M.snapshot(path)
  local cfg, err = M.load(path)
  if not cfg then return nil, err end
  return M.to_snapshot(cfg)
end

-- The config keys the environment sets (SQS_QUEUE_URL -> source, ...).
function M.env_keys(getenv)
  getenv = getenv or os.getenv
  local out = {}
  for name, spec in pairs(ENV) do
    local v = getenv(name)
    if v and v ~= "" then out[#out + 1] = spec[1] end
  end
  table.sort(out)
  return out
end

M.check = check
return M
