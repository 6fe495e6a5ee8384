-- Small helpers shared by the CLI and the pipeline.
local cjson = require "cjson"

local M = {}

-- cjson cannot tell an empty array from an empty object; the CLI's JSON
-- contract has arrays (pages, hits, failures), so mark them explicitly.
local array_mt = {}
function M.array(t)
  return setmetatable(t or {}, array_mt)
end

local function encode(v)
  if type(v) == "table" then
    if getmetatable(v) == array_mt or (next(v) ~= nil and #v > 0) then
      if #v == 0 then return "[]" end
      local parts = {}
      for i = 1, #v do parts[i] = encode(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    if next(v) == nil then return "{}" end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do
      parts[i] = cjson.encode(k) .. ":" .. encode(v[k])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if type(v) == "string" then
    -- cjson escapes every "/" as "\/": valid, but noisy in paths. The
    -- substitution is safe because cjson never emits a bare backslash
    -- before "/" (a literal backslash is always doubled).
    return (cjson.encode(v):gsub("\\/", "/"))
  end
  return cjson.encode(v)
end

-- JSON with sorted keys (stable output for scripts and tests) and arrays
-- that stay arrays when empty. Strings are encoded by cjson.
M.json = encode
M.null = cjson.null
M.decode = cjson.decode

function M.printf(fmt, ...)
  io.stdout:write(string.format(fmt, ...))
end

function M.eprintf(fmt, ...)
  io.stderr:write(string.format(fmt, ...))
end

-- Edit distance, for "did you mean" suggestions.
function M.distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = {[0] = i} end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
    end
  end
  return d[#a][#b]
end

function M.closest(word, candidates)
  local best, best_d = nil, 4
  for _, c in ipairs(candidates) do
    local dist = M.distance(word, c)
    if dist < best_d then best, best_d = c, dist end
  end
  return best
end

return M
