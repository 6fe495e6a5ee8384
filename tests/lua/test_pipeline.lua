-- The Lua layer: the pipeline and the default policy inside the real binary
-- (`docmill lua`), with some primitives stubbed to observe decisions.
local T = require "docmill.testing"
local core = require "docmill.core"
local pipeline = require "docmill.pipeline"

local path = T.corpus

-- Replaces core functions for the duration of fn, restoring them after.
local function with_stubs(stubs, fn) T.with_stubs(core, stubs, fn) end

-- Stands in for docmill.job (a worker's verbs, absent outside the worker
-- pool) for the duration of fn.
local function with_job(stubs, fn)
  local saved = package.loaded["docmill.job"]
  package.loaded["docmill.job"] = stubs
  local ok, err = pcall(fn)
  package.loaded["docmill.job"] = saved
  if not ok then error(err, 0) end
end

local function recorder()
  local calls = {}
  return calls, function(id, outcome, err, stats)
    calls[#calls + 1] = { id = id, outcome = outcome, err = err, stats = stats }
  end
end

T.test("text PDF pages come from the text layer", function()
  local doc = assert(pipeline.extract_file(path("text_ja_en.pdf")))
  T.eq(doc.mime, "application/pdf")
  T.eq(#doc.pages, 2)
  T.eq(doc.pages[1].method, "text")
  T.eq(doc.pages[1].dpi, nil)
  T.contains(doc.pages[1].text, "吾輩は猫である")
  T.contains(doc.pages[2].text, "quarterly revenue forecast")
  T.eq(doc.pages_ocr, 0)
end)

T.test("mixed PDF: text, OCR, text per page", function()
  local doc = assert(pipeline.extract_file(path("mixed.pdf")))
  T.eq(doc.pages[1].method, "text")
  T.eq(doc.pages[2].method, "ocr")
  T.eq(doc.pages[2].dpi, 150)
  T.contains(doc.pages[2].text, "scanned middle page")
  T.eq(doc.pages[3].method, "text")
  T.contains(doc.pages[3].text, "最後のページです")
end)

T.test("--dpi and --lang options override the policy", function()
  local doc = assert(pipeline.extract_file(path("scan_en.pdf"), { dpi = 200, lang = "eng" }))
  T.eq(doc.pages[1].dpi, 200)
  T.contains(doc.pages[1].text, "invoice number 48213")
end)

T.test("languages are asked again after the first OCR'd page, and the answer sticks", function()
  local calls, used = {}, {}
  local real_ocr = core.ocr
  with_stubs({
    policy_languages = function(doc)
      calls[#calls + 1] = doc
      if doc.first_page then return "eng" end
      return "jpn+eng"
    end,
    ocr = function(img, langs, o)
      used[#used + 1] = langs
      return real_ocr(img, langs, o)
    end,
  }, function()
    local doc = assert(pipeline.extract_file(path("multi.tif")))
    T.eq(#doc.pages, 2)
  end)
  T.eq(#calls, 2)
  T.eq(calls[1].first_page, nil)
  local first = calls[2].first_page
  T.eq(first.languages, "jpn+eng")
  T.ok(first.chars > 0 and first.latin > 0, "the first page's counts are given")
  T.eq(used[1], "jpn+eng")
  T.eq(used[2], "eng")
  -- A one-page document is not asked twice; --lang is never second-guessed.
  calls = {}
  with_stubs({ policy_languages = function(doc) calls[#calls + 1] = doc; return "eng" end },
    function()
      assert(pipeline.extract_file(path("image_en.png")))
      assert(pipeline.extract_file(path("multi.tif"), { lang = "eng" }))
    end)
  T.eq(#calls, 1)
end)

T.test("ocr reads a band of rows as an image of its own, cut between lines", function()
  local d = assert(core.open(path("scan_ja.pdf")))
  local img = assert(d:render(1, 150, 4e7))
  local whole = assert(core.ocr(img, "jpn"))
  local top = assert(core.ocr(img, "jpn", { band = { 0, 0.5 } }))
  local bottom = assert(core.ocr(img, "jpn", { band = { 0.5, 1 } }))
  T.contains(whole, "株式会社山田製作所")
  T.contains(top, "株式会社山田製作所")
  T.ok(not bottom:find("株式会社山田製作所", 1, true), "the top's line is not in the bottom")
  T.raises(function() core.ocr(img, "jpn", { band = { 0.5, 0.2 } }) end, "band")
  img:free()
  d:close()
end)

T.test("each page's DPI comes from its own text lines", function()
  local rendered = {}
  local real_open = core.open
  local doc
  local function extract(dpi)
    rendered = {}
    with_stubs({ policy_dpi = function() return dpi end, open = function(p)
      local d = real_open(p)
      if not d then return d end
      return setmetatable({ render = function(_, i, r, max)
        rendered[#rendered + 1] = r
        return d:render(i, r, max)
      end }, { __index = function(_, k) return function(_, ...) return d[k](d, ...) end end })
    end }, function() doc = assert(pipeline.extract_file(path("scan_ja.pdf"))) end)
    return doc
  end
  -- scan_ja.pdf's lines are about 26 px at 150 DPI: tall enough, read there.
  extract(150)
  T.eq(table.concat(rendered, " "), "150")
  T.eq(doc.pages[1].dpi, 150)
  -- At 75 DPI they are 13 px: rendered again from the source, higher
  -- (~110 DPI asked, dpi_min's 150 given).
  extract(75)
  T.eq(table.concat(rendered, " "), "75 150")
  T.eq(doc.pages[1].dpi, 150)
  T.contains(doc.pages[1].text, "株式会社山田製作所")
  -- Forced, the DPI is used as is.
  doc = assert(pipeline.extract_file(path("scan_ja.pdf"), { dpi = 200 }))
  T.eq(doc.pages[1].dpi, 200)
end)

T.test("plain text in Shift_JIS is decoded", function()
  local doc = assert(pipeline.extract_file(path("notes_sjis.txt")))
  T.eq(doc.mime, "text/plain")
  T.eq(doc.encoding, "Shift_JIS")
  T.contains(doc.pages[1].text, "シフトジス形式の文書")
end)

T.test("bad files: nil, reason, permanent", function()
  for _, name in ipairs({ "corrupt.pdf", "empty.pdf", "unsupported.xyz" }) do
    local doc, err, permanent = pipeline.extract_file(path(name))
    T.eq(doc, nil, name)
    T.ok(type(err) == "string" and #err > 0, name .. " has a reason")
    T.eq(permanent, true, name .. " is permanent")
  end
end)

T.test("misuse raises, runtime failure returns nil, err", function()
  T.raises(function() core.open() end, "string expected")
  local db = os.tmpname()
  assert(core.index_open("sqlite:" .. db))
  T.raises(function() core.bulk_index({ { id = 1 } }) end, "field 'id'")
  local no_text = { id = "x", source = "/s", pages = { { page = 1, method = "text" } } }
  T.raises(function() core.bulk_index({ no_text }) end, "field 'text'")
  os.remove(db)
  local d, err, permanent = core.open("/nonexistent/file.pdf")
  T.eq(d, nil)
  T.contains(err, "cannot open")
  T.eq(permanent, true)
end)

T.test("default policy: needs_ocr agrees with the C default", function()
  local s = core.settings()
  local cases = {
    { chars = 0, bad_ratio = 0 }, { chars = s.text_min_chars - 1, bad_ratio = 0 },
    { chars = 500, bad_ratio = 0 }, { chars = 500, bad_ratio = 0.9 },
  }
  for i, info in ipairs(cases) do
    local default = info.chars < s.text_min_chars or info.bad_ratio > s.max_bad_char_ratio
    T.eq(core.policy_needs_ocr(info), default, "case " .. i)
  end
  T.eq(core.policy_dpi({}), s.dpi)
  -- A document's first OCR'd page: a trial with jpn (first_page_languages;
  -- test_first_page_trial.lua).
  local first, flag = core.policy_languages({})
  T.eq(first .. " " .. tostring(flag), "jpn trial")
  T.eq(core.policy_route({ source = "/x" }), "extract")
end)

T.test("the schema documents every setting with its default", function()
  local schema, defaults, hooks = core.policy_schema()
  local s = core.settings()
  T.ok(#schema >= 10, "schema size")
  for _, spec in ipairs(schema) do
    T.ok(defaults[spec.name] ~= nil, spec.name .. " has a default")
    T.eq(s[spec.name], defaults[spec.name], spec.name .. " default")
    T.ok(#spec.doc > 0, spec.name .. " is documented")
  end
  T.eq(#hooks, 6)
end)

T.test("a finished document goes to index_submit with its job", function()
  local calls, complete = recorder()
  local submitted = {}
  with_job({
    complete = complete,
    index_submit = function(job_id, doc, stats)
      submitted[#submitted + 1] = { job_id = job_id, doc = doc, stats = stats }
    end,
  }, function()
    with_stubs({ index_lookup = function() return false end,
                 index_find_copy = function() return false end }, function()
      pipeline.process({ id = 1, source = path("text_ja_en.pdf"), op = "index", attempts = 1 })
      pipeline.process({ id = 2, source = path("notes_utf8.txt"), op = "index", attempts = 1 })
    end)
  end)
  T.eq(#calls, 0, "the job completes when its bulk result is known, not here")
  T.eq(#submitted, 2)
  local d = submitted[1].doc
  T.eq(submitted[1].job_id, 1)
  T.eq(d.id, core.doc_id(path("text_ja_en.pdf")))
  T.eq(#d.sha256, 64)
  T.eq(d.page_count, 2)
  T.contains(d.pages[1].text, "吾輩は猫である")
  T.eq(submitted[1].stats.pages, 2)
  T.eq(submitted[2].doc.mime, "text/plain")
end)

T.test("unchanged content is not extracted again", function()
  local calls, complete = recorder()
  local touched
  local sha = assert(core.sha256_file(path("text_ja_en.pdf")))
  with_job({ complete = complete }, function()
    with_stubs({
      index_lookup = function() return sha end,
      index_touch = function(id) touched = id; return true end,
      open = function() error("must not open an unchanged file") end,
    }, function()
      pipeline.process({ id = 3, source = path("text_ja_en.pdf"), op = "index", attempts = 1 })
    end)
  end)
  T.eq(calls[1].outcome, "unchanged")
  T.eq(touched, core.doc_id(path("text_ja_en.pdf")))
end)

T.test("a copy of an indexed file reuses its pages, extracting nothing", function()
  local submitted = {}
  local stored = { id = "x", source = "/elsewhere/scan_en.pdf", mime = "application/pdf",
    page_count = 1, pages_ocr = 1,
    pages = { { page = 1, method = "ocr", dpi = 200, text = "stored invoice text" } } }
  local asked
  with_job({
    complete = function() error("a copy completes through the indexing buffer") end,
    index_submit = function(job_id, doc, stats)
      submitted[#submitted + 1] = { job_id = job_id, doc = doc, stats = stats }
    end,
  }, function()
    with_stubs({
      index_lookup = function() return false end,
      index_find_copy = function(sha, id) asked = { sha = sha, id = id }; return stored end,
      open = function() error("a copy must not be opened") end,
    }, function()
      pipeline.process({ id = 9, source = path("scan_en.pdf"), op = "index", attempts = 1 })
    end)
  end)
  T.eq(asked.id, core.doc_id(path("scan_en.pdf")))
  T.eq(asked.sha, core.sha256_file(path("scan_en.pdf")))
  T.eq(#submitted, 1)
  local d = submitted[1].doc
  T.eq(d.source, path("scan_en.pdf"), "its own source")
  T.eq(d.id, core.doc_id(path("scan_en.pdf")), "its own id")
  T.eq(d.pages[1].text, "stored invoice text")
  T.eq(d.pages_ocr, 1, "the document's own figure")
  T.eq(submitted[1].stats.pages_ocr, 0, "no OCR was done for this job")
end)

T.test("a copy another worker is extracting now: wait, help with its pages, reuse", function()
  local submitted, claims, helped, done, waited = {}, 0, 0, nil, nil
  local made = { id = "x", source = "/first/scan_en.pdf", mime = "application/pdf",
    page_count = 1, pages_ocr = 1,
    pages = { { page = 1, method = "ocr", dpi = 150, text = "made by the other worker" } } }
  local in_buffer = false
  local tasks = { { batch = 7, path = path("multi.tif"), first = 2, last = 2 } }
  with_job({
    complete = function() error("a copy completes through the indexing buffer") end,
    index_submit = function(_, doc, stats) submitted[#submitted + 1] = doc; waited = stats.wait end,
    worker_id = function() return 1 end,
    -- held by another worker for two tries; then its document is in the buffer
    claim_content = function() claims = claims + 1; return false end,
    await_content = function()
      local t0 = core.mono_ms()
      while core.mono_ms() - t0 < 30 do end
      in_buffer = true
      return true
    end,
    find_copy = function() return in_buffer and made or false end,
    pages_take = function(batch)
      T.eq(batch, -1, "any other worker's batch")
      return table.remove(tasks)
    end,
    pages_done = function(_, out) helped = helped + 1; done = out end,
  }, function()
    with_stubs({
      index_lookup = function() return false end,
      index_find_copy = function() return false end,
    }, function()
      pipeline.process({ id = 11, source = path("scan_en.pdf"), op = "index", attempts = 1 })
    end)
  end)
  T.eq(helped, 1, "one range of the other worker's document taken while waiting")
  T.eq(done.pages[1].page, 2)
  T.eq(done.pages[1].method, "ocr")
  T.eq(claims, 2)
  T.eq(#submitted, 1)
  T.eq(submitted[1].pages[1].text, "made by the other worker")
  T.eq(submitted[1].source, path("scan_en.pdf"))
  -- The time it waited for the other worker is its "wait" stage, not work.
  T.ok(waited and waited >= 30 and waited < 1000, "waited " .. tostring(waited) .. " ms")
end)

T.test("deletions, skips, vanished files and bad files complete at once", function()
  local calls, complete = recorder()
  local removed
  with_job({ complete = complete }, function()
    with_stubs({
      index_lookup = function() return false end,
      index_find_copy = function() return false end,
      index_remove = function(ids) removed = ids; return true end,
    }, function()
      pipeline.process({ id = 4, source = "/gone.pdf", op = "delete", attempts = 1 })
      pipeline.process({ id = 5, source = "/nonexistent.pdf", op = "index", attempts = 1 })
      pipeline.process({ id = 6, source = path("corrupt.pdf"), op = "index", attempts = 1 })
      with_stubs({ policy_route = function() return "skip" end }, function()
        pipeline.process({ id = 8, source = path("mixed.pdf"), op = "index", attempts = 1 })
      end)
    end)
  end)
  T.eq(removed[1], core.doc_id("/nonexistent.pdf"))
  T.eq(calls[1].outcome, "deleted")
  -- A file gone between the scan and the job is a deletion, not a failure.
  T.eq(calls[2].outcome, "deleted")
  T.eq(calls[3].outcome, "failed")
  T.eq(calls[4].outcome, "skipped")
end)

T.test("each state holds only its modules", function()
  -- The CLI's state (this one): the primitives and the CLI's own module;
  -- no worker verbs, no REPL controls.
  T.ok(package.loaded["docmill.core"], "docmill.core")
  T.ok(package.loaded["docmill.cli.core"], "docmill.cli.core")
  T.eq(package.loaded["docmill.job"], nil, "docmill.job")
  T.eq(package.loaded["docmill.control"], nil, "docmill.control")
  for _, name in ipairs({ "run", "supervise", "kill", "readline", "complete", "index_submit",
    "pages_post", "rt_stats", "rt_reload" }) do
    T.eq(core[name], nil, "docmill.core." .. name)
  end
end)

T.test("mem_stats reports the process and this state", function()
  local m = core.mem_stats()
  T.ok(m.rss > 0 and m.peak_rss >= m.rss, "rss")
  T.ok(m.lua_kb > 0, "lua heap")
  T.ok(m.mupdf_peak > 0, "mupdf allocations")
  core.gc()
end)

-- The second look (pipeline.lua, second_look), with Tesseract's answers
-- stubbed: what it asks for, and which reading it keeps.
local LONG = string.rep("text ", 20)   -- enough characters to judge by
local function second_look_case(first, osd, readings)
  local calls = { ocr = {}, osd = 0 }
  local doc
  with_stubs({
    ocr = function(img, langs, o)
      local k = #calls.ocr + 1
      calls.ocr[k] = { langs = langs, psm = o.psm, transient = o.transient, turned = img:turned() }
      local r = k == 1 and first or readings[k - 1]
      return r.text or LONG, { confidence = r.confidence, lines = 30, line_height_px = 20,
        cjk_symbols = r.cjk_symbols or 0, cjk_gap = r.cjk_gap or 0, ttb_chars = r.ttb_chars or 0,
        ttb_confidence = r.ttb_confidence or 0, ltr_chars = r.ltr_chars or #(r.text or LONG),
        ltr_confidence = r.ltr_confidence or r.confidence, ms = 1 }
    end,
    ocr_orientation = function()
      calls.osd = calls.osd + 1
      return osd
    end,
  }, function()
    doc = assert(pipeline.extract_file(path("image_en.png"), { lang = "jpn+eng" }))
  end)
  return doc, calls
end

T.test("second look: an upright page read well pays nothing", function()
  local doc, calls = second_look_case({ confidence = 93 }, nil, {})
  T.eq(calls.osd, 0)
  T.eq(#calls.ocr, 1)
  T.eq(doc.pages[1].rotate, nil)
  T.eq(doc.pages[1].confidence, 93)
  T.eq(doc.note, nil)
end)

T.test("second look: a page read poorly and found upside down is read turned back", function()
  local doc, calls = second_look_case({ confidence = 22 },
    { degrees = 180, confidence = 20, script = "Japanese", ms = 1 },
    { { confidence = 92, text = "turned back " .. LONG } })
  T.eq(calls.osd, 1)
  T.eq(#calls.ocr, 2)
  T.eq(calls.ocr[2].turned, 180)
  T.eq(doc.pages[1].rotate, 180)
  T.eq(doc.pages[1].confidence, 92)
  T.contains(doc.pages[1].text, "turned back")
end)

T.test("second look: a sideways page turns the other way (OSD gives the text's turn)", function()
  local doc, calls = second_look_case({ confidence = 36 },
    { degrees = 90, confidence = 15, script = "Latin", ms = 1 }, { { confidence = 95 } })
  T.eq(calls.ocr[2].turned, 270)
  T.eq(doc.pages[1].rotate, 270)
end)

T.test("second look: a turn OSD is unsure of, or no turn, keeps the first reading", function()
  local doc, calls = second_look_case({ confidence = 40 },
    { degrees = 180, confidence = 0.5, script = "Latin", ms = 1 }, {})
  T.eq(#calls.ocr, 1)
  T.eq(doc.pages[1].rotate, nil)
  -- still below low_confidence_below (50): indexed, with a note
  T.contains(doc.note, "low_confidence: page 1")
end)

T.test("second look: too little text to judge by asks nothing", function()
  local _, calls = second_look_case({ confidence = 10, text = "x" }, nil, {})
  T.eq(calls.osd, 0)
  T.eq(#calls.ocr, 1)
end)

T.test("second look: still low in Japanese script, vertical Japanese is tried", function()
  local doc, calls = second_look_case({ confidence = 20 },
    { degrees = 0, confidence = 22, script = "Japanese", ms = 1 }, { { confidence = 93 } })
  T.eq(#calls.ocr, 2)
  T.eq(calls.ocr[2].langs, "jpn_vert")
  T.eq(calls.ocr[2].psm, 5)
  T.eq(calls.ocr[2].transient, true)
  T.eq(doc.pages[1].vertical, true)
  T.eq(doc.pages[1].confidence, 93)
  -- in Latin script it is not: the vertical model would read nothing, slowly
  local _, latin = second_look_case({ confidence = 20 },
    { degrees = 0, confidence = 22, script = "Latin", ms = 1 }, {})
  T.eq(#latin.ocr, 1)
end)

T.test("second look: rows of Japanese characters a column apart are read as vertical", function()
  local doc, calls = second_look_case({ confidence = 83, cjk_symbols = 600, cjk_gap = 0.9 }, nil,
    { { confidence = 93 } })
  T.eq(calls.osd, 0)
  T.eq(calls.ocr[2].langs, "jpn_vert")
  T.eq(doc.pages[1].vertical, true)
  -- horizontal Japanese (gaps of 0.1-0.25) is left alone
  local _, horizontal = second_look_case({ confidence = 92, cjk_symbols = 600, cjk_gap = 0.2 },
    nil, {})
  T.eq(#horizontal.ocr, 1)
  -- and a vertical reading that reads worse is not kept
  local worse = second_look_case({ confidence = 83, cjk_symbols = 600, cjk_gap = 0.9 }, nil,
    { { confidence = 40 } })
  T.eq(worse.pages[1].vertical, nil)
end)

T.test("second look: rows read well beside columns read badly get the vertical model too", function()
  local doc, calls = second_look_case({ confidence = 43, cjk_symbols = 40, ltr_chars = 90,
    ltr_confidence = 92, ttb_chars = 260, ttb_confidence = 4 }, nil, { { confidence = 91 } })
  T.eq(calls.osd, 0)   -- its rows prove the page upright
  T.eq(#calls.ocr, 2)
  T.eq(calls.ocr[2].langs, "jpn+eng+jpn_vert")
  T.eq(calls.ocr[2].psm, 3)
  T.eq(calls.ocr[2].transient, true)
  T.eq(doc.pages[1].vertical, true)
  T.eq(doc.pages[1].confidence, 91)
end)

T.test("second look: a page read well in top-to-bottom blocks was turned by Tesseract", function()
  local doc, calls = second_look_case({ confidence = 94, ltr_chars = 0, ttb_chars = 300,
    ttb_confidence = 94 }, nil, {})
  T.eq(#calls.ocr, 1)
  T.eq(calls.osd, 0)
  T.eq(doc.pages[1].rotate, 270)
end)

-- A policy with a retry hook, loaded into this state for fn.
local function with_policy(source, fn)
  local file = os.tmpname()
  local out = assert(io.open(file, "w"))
  out:write(source)
  out:close()
  assert(core.policy_load(file))
  os.remove(file)
  local ok, err = pcall(fn)
  assert(core.policy_load())   -- the built-in default again
  if not ok then error(err, 0) end
end

T.test("retry hook: it sees the first reading and decides the steps", function()
  with_policy([[
    local P = {}
    function P.retry(page, first)
      if first.confidence < 70 and not page.tried.rotate then
        return { rotate = 180 }   -- no detection: this feeder is known
      end
      return "accept"
    end
    return P]], function()
    local doc, calls = second_look_case({ confidence = 30 }, nil, { { confidence = 90 } })
    T.eq(calls.osd, 0)
    T.eq(#calls.ocr, 2)
    T.eq(calls.ocr[2].turned, 180)
    T.eq(doc.pages[1].rotate, 180)
    -- accepted at once on an upright page: no vertical reading in spite of its gap
    local _, upright = second_look_case({ confidence = 92, cjk_symbols = 600, cjk_gap = 0.9 },
      nil, {})
    T.eq(#upright.ocr, 1)
  end)
end)

T.test("retry hook: nil means the built-in step, nonsense falls back to it, steps are capped",
  function()
  with_policy([[
    local P = {}
    function P.retry(page, first)
      if first.confidence == 30 then return nil end
      if first.confidence == 31 then return { rotate = 45 } end
      return "vertical"   -- again and again: refused once taken
    end
    return P]], function()
    local osd = { degrees = 180, confidence = 20, script = "Latin", ms = 1 }
    local _, builtin = second_look_case({ confidence = 30 }, osd, { { confidence = 90 } })
    T.eq(builtin.osd, 1)
    T.eq(builtin.ocr[2].turned, 180)
    local _, nonsense = second_look_case({ confidence = 31 }, osd, { { confidence = 90 } })
    T.eq(nonsense.osd, 1)   -- {rotate = 45}: the built-in step instead
    T.eq(nonsense.ocr[2].turned, 180)
    local doc, again = second_look_case({ confidence = 92 }, nil,
      { { confidence = 50 }, { confidence = 50 } })
    T.eq(#again.ocr, 2)     -- one vertical reading, not a loop
    T.eq(again.ocr[2].langs, "jpn_vert")
    T.eq(doc.pages[1].vertical, nil)
  end)
end)

return T.run()
