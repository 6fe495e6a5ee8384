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
  local cfg, err = config.load(write('return { workerz = 2 }'))
  T.eq(cfg, nil)
  T.contains(err, "unknown config key 'workerz' (did you mean 'workers'?)")
  cfg, err = config.load(write('return { workers = "two" }'))
  T.contains(err, "'workers' must be a number")
  cfg, err = config.load(write('return { workers = -1 }'))
  T.contains(err, "'workers' must be an integer")
  cfg, err = config.load(write('return {'))
  T.ok(cfg == nil and err:find(tmp, 1, true), "syntax error names the file")
  cfg, err = config.load(write('oops = 1 return {}'))
  T.contains(err, "config sets global 'oops'")
end)

local status = T.run()
os.remove(tmp)
return status
