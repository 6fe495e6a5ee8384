-- Every page of every file in DIR, rendered at each DPI and read with each
-- language set, in one process (models loaded once, before timing): one
-- JSON line per reading. Run by bench/pages.py:
--   docmill lua bench/page_sweep.lua DIR 100,125,150 jpn,jpn+eng,eng
-- The line height is docmill's own measure (image:line_height()) at 150 DPI.
local core = require "docmill.core"
local cjson = require "cjson"

local dir, dpis, langsets = ...
local function split(s)
  local t = {}
  for x in s:gmatch("[^,]+") do t[#t + 1] = x end
  return t
end

local files = {}
for f in io.popen("ls " .. dir):lines() do files[#files + 1] = f end
for _, l in ipairs(split(langsets)) do
  local d = assert(core.open(dir .. "/" .. files[1]))
  local img = d:render(1, 100, 4e7)
  core.ocr(img, l, {})
  img:free()
  d:close()
end
for _, f in ipairs(files) do
  local d = assert(core.open(dir .. "/" .. f))
  for i = 1, d:page_count() do
    local probe = d:render(i, 150, 4e7)
    local line_px = probe:line_height()
    probe:free()
    for _, dpi in ipairs(split(dpis)) do
      for _, l in ipairs(split(langsets)) do
        local img = d:render(i, tonumber(dpi), 4e7)
        local t0 = core.mono_ms()
        local text, res = core.ocr(img, l, { psm = 3, skip_inverted = true })
        print(cjson.encode({ file = f, page = i, dpi = img:dpi(), langs = l,
          ms = core.mono_ms() - t0, line_px_150 = line_px, confidence = res.confidence,
          text = text }))
        img:free()
      end
    end
  end
  d:close()
end
