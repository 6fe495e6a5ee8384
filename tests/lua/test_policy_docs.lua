-- policies/README.md is the one reference ops read: it must name every
-- setting with its real default, every hook, and its example must load.
local T = require "docmill.testing"
local core = require "docmill.core"

local src = assert(os.getenv("DOCMILL_SOURCE"), "DOCMILL_SOURCE not set")
local f = assert(io.open(src .. "/policies/README.md"))
local doc = f:read("*a")
f:close()

T.test("every setting is documented with its default", function()
  local schema, defaults = core.policy_schema()
  for _, spec in ipairs(schema) do
    local row = doc:match("\n| `" .. spec.name .. "` |[^\n]*")
    T.ok(row, spec.name .. " has a row")
    T.contains(row, "`" .. tostring(defaults[spec.name]) .. "`", spec.name .. " default")
    -- What a reload cannot change says so; nothing else claims it.
    T.eq(row:find("Needs a restart", 1, true) ~= nil, not spec.live, spec.name .. " restart note")
  end
end)

T.test("every hook is documented", function()
  local _, _, hooks = core.policy_schema()
  for _, h in ipairs(hooks) do
    T.contains(doc, "| `" .. h .. "(", "hook " .. h)
  end
end)

T.test("the example policy passes the check", function()
  local example = doc:match("```lua\n(.-)```")
  T.ok(example, "example present")
  local path = os.tmpname()
  local out = assert(io.open(path, "w"))
  out:write(example)
  out:close()
  local ok, err = core.policy_check(path)
  os.remove(path)
  T.eq(err, nil)
  T.eq(ok, true)
end)

T.test("the shipped policy files pass the check", function()
  local names = { "default.lua", "c5.xlarge.lua", "c5.2xlarge.lua", "laptop.lua" }
  for _, name in ipairs(names) do
    local ok, err = core.policy_check(src .. "/policies/" .. name)
    T.eq(err, nil, name)
    T.eq(ok, true, name)
  end
  -- Every file in policies/ is in that list (a new one must be checked too).
  local listed = {}
  for _, n in ipairs(names) do listed[n] = true end
  local p = assert(io.popen("ls '" .. src .. "/policies'"))
  for file in p:lines() do
    if file:match("%.lua$") then T.ok(listed[file], file .. " is checked") end
  end
  p:close()
end)

return T.run()
