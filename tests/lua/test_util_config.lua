-- JSON output and configuration loading.
local T = require "docmill.testing"
local util = require "docmill.util"
local config = require "docmill.config"

local tmp = os.tmpname()

local function write(body)
  local f = assert(io.open(tmp, "w"))
  f:write(body)
  f:close()
  return tmp
end

T.test("JSON: arrays stay arrays, keys sorted, slashes plain", function()
  T.eq(util.json(util.array()), "[]")
  T.eq(util.json({ b = 1, a = util.array(), c = util.null }), '{"a":[],"b":1,"c":null}')
  T.eq(util.json({ "x", "y" }), '["x","y"]')
  T.eq(util.json("/a/b"), '"/a/b"')
  T.eq(util.json("back\\slash/"), '"back\\\\slash/"')
  T.eq(util.decode(util.json({ s = "日本語 \"q\" \\ /" })).s, "日本語 \"q\" \\ /")
end)

T.test("config: embedded defaults", function()
  local cfg = assert(config.load(nil))
  T.eq(cfg.source, "samples")
  T.eq(cfg.index, "sqlite:docmill.db")
  T.eq(cfg.workers, 0)
  T.eq(cfg.policy, "builtin:default")
end)

T.test("config: a file overrides, relative paths follow the file", function()
  local cfg = assert(config.load(write('return { source = "docs", workers = 3, index = "sqlite:x.db" }')))
  local dir = tmp:match("^(.*)/[^/]*$")
  T.eq(cfg.source, dir .. "/docs")
  T.eq(cfg.index, "sqlite:" .. dir .. "/x.db")
  T.eq(cfg.workers, 3)
end)

T.test("config: typos and bad types are errors", function()
  local function fails_with(body, message)
    local cfg, err = config.load(write(body))
    T.eq(cfg, nil, body)
    T.contains(err, message, body)
  end
  fails_with('return { workerz = 2 }', "unknown config key 'workerz' (did you mean 'workers'?)")
  fails_with('return { workers = "two" }', "'workers' must be a number")
  fails_with('return { workers = -1 }', "'workers' must be an integer")
  fails_with('return {', tmp)  -- a syntax error names the file
  fails_with('oops = 1 return {}', "config sets global 'oops'")
end)

local status = T.run()
os.remove(tmp)
return status
