-- The one sandbox: what code from outside the binary sees — policy files,
-- config files and REPL input. A safe part of the standard library, as
-- copies: such code shares its Lua state with docmill's own, so writing
-- string.format or math.floor must not change them for everyone (nor
-- outlive a load that failed). No require, io, load*, os.exit or
-- docmill.core: nothing that reaches past the code's own purpose.
local M = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- A fresh table of the safe library, plus `extra` (names -> values).
function M.library(extra)
  local lib = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, xpcall = xpcall, select = select, tonumber = tonumber,
    tostring = tostring, type = type, unpack = unpack,
    math = copy(math), string = copy(string), table = copy(table),
    os = { time = os.time, clock = os.clock, date = os.date },
  }
  for k, v in pairs(extra or {}) do lib[k] = v end
  return lib
end

-- For files (policy, config): reading or setting an undeclared global is an
-- error naming `who`, so a typo fails the load instead of meaning nil.
function M.locked(who, extra)
  return setmetatable(M.library(extra), {
    __index = function(_, k)
      error(who .. " reads undefined global '" .. tostring(k) .. "'", 2)
    end,
    __newindex = function(_, k)
      error(who .. " sets global '" .. tostring(k) .. "'; declare it local", 2)
    end,
  })
end

-- For a policy file: locked, with log(level, message) and os.getenv (a
-- policy may read its instance's environment; the REPL may not, since the
-- worker's environment can hold credentials).
function M.policy(log)
  return M.locked("policy", {
    log = log,
    os = { time = os.time, clock = os.clock, date = os.date, getenv = os.getenv },
  })
end

-- For a REPL session: its own globals persist in it; names it has not set
-- are looked up in `base` (e.g. M.library plus an API).
function M.open(base)
  return setmetatable({}, { __index = base })
end

return M
