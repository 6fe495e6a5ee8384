-- A tiny assertion library for the Lua test layer (tests/lua/*.lua, run by
-- `docmill lua FILE`). Prints one line per test and a closing
-- "N passed, N failed" line; returns the exit status.
local M = {}

local tests = {}

function M.test(name, fn)
  tests[#tests + 1] = { name = name, fn = fn }
end

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function M.eq(actual, expected, what)
  if actual ~= expected then
    error(string.format("%s: expected %s, got %s", what or "value", fmt(expected), fmt(actual)), 2)
  end
end

function M.ok(cond, what)
  if not cond then error((what or "assertion") .. " failed", 2) end
end

function M.contains(haystack, needle, what)
  if type(haystack) ~= "string" or not haystack:find(needle, 1, true) then
    error(string.format("%s: %s does not contain %s", what or "text", fmt(haystack), fmt(needle)), 2)
  end
end

-- Replaces module[k] by stubs[k] for the duration of fn, restoring them
-- after (also when fn raises, which is raised again).
function M.with_stubs(module, stubs, fn)
  local saved = {}
  for k, v in pairs(stubs) do saved[k] = module[k]; module[k] = v end
  local ok, err = pcall(fn)
  for k, v in pairs(saved) do module[k] = v end
  if not ok then error(err, 0) end
end

-- The path of a file of the test corpus (DOCMILL_CORPUS, set by ctest).
function M.corpus(name)
  return assert(os.getenv("DOCMILL_CORPUS"), "DOCMILL_CORPUS not set") .. "/" .. name
end

function M.raises(fn, pattern, what)
  local ok, err = pcall(fn)
  if ok then error((what or "call") .. " did not raise", 2) end
  if pattern and not tostring(err):find(pattern) then
    error(string.format("%s raised %s, expected /%s/", what or "call", fmt(tostring(err)), pattern), 2)
  end
end

function M.run()
  local passed, failed = 0, 0
  for _, t in ipairs(tests) do
    local ok, err = xpcall(t.fn, debug.traceback)
    if ok then
      passed = passed + 1
      io.stdout:write("ok - ", t.name, "\n")
    else
      failed = failed + 1
      io.stdout:write("not ok - ", t.name, "\n  ", tostring(err):gsub("\n", "\n  "), "\n")
    end
  end
  io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
  tests = {}
  return failed == 0 and 0 or 1
end

return M
