local seen = 0
local function big(doc) return (doc.size or 0) > 50 * 1024 * 1024 end
return {
  text_min_chars = 10,
  route = function(job)
    if job.source and job.source:match("%.tmp$") then return "skip" end
    return "extract"
  end,
  needs_ocr = function(page)
    seen = seen + 1
    return page.chars < 10 or page.bad_ratio > 0.3
  end,
  dpi = function(page) if page.big then return 150 end return 200 end,
  languages = function(doc) if big(doc) then return "eng" end return "jpn+eng" end,
  self_test = function(s)
    assert(s.dpi == 150, "dpi")
    log("info", string.format("policy ok: %d %s", s.batch_size, tostring(s.languages)))
    local t = {}
    for i = 1, 10 do t[#t + 1] = math.floor(i / 2) end
    table.sort(t)
    assert(#t == 10 and select("#", unpack(t)) == 10)
  end,
}
