-- The default flow, run by every worker thread in its own Lua state:
--   take job -> route -> fetch -> per page: text layer or render + OCR
--   -> index_submit (the process's indexing buffer; the job completes when
--   its bulk result is known, and the loop thread acks it).
-- Decisions (routing, OCR or not, DPI, languages) go through the policy
-- hooks, which C calls and validates. `docmill extract` runs extract_file
-- from this same module, so what it prints is what gets indexed.
local core = require "docmill.core"
local containers = require "docmill.containers"

local M = {}

local S            -- the validated settings of this state's policy

-- The worker's verbs (docmill.job), looked up when used: only a worker's
-- state has them (nil in `docmill extract`), and the Lua tests put
-- stand-ins in their place.
local function job_api()
  return package.loaded["docmill.job"]
end

local function settings()
  if not S then S = core.settings() end
  return S
end

-- Adds the milliseconds since t0 to stages[name]; returns now.
local function lap(stages, name, t0)
  local now = core.mono_ms()
  stages[name] = (stages[name] or 0) + (now - t0)
  return now
end

-- Beyond this a page is not askew but turned, or a picture; below this
-- confidence (leptonica's) the lines found are too few to level by.
local DESKEW_MAX_DEGREES, DESKEW_MIN_CONFIDENCE = 10, 2

-- The most pixels a page is rendered up to for its small print (A4 at 200
-- DPI is 3.9 million).
local UP_MAX_PIXELS = 5e6

-- The rows of a first page read before a trial (fractions of its height),
-- in turn until one holds a line of text: the middle, where body text is
-- (a title or letterhead is not), then the upper body, where a short
-- letter's text is. 2-4 lines of body text, 50-300 ms each.
local SAMPLE_BANDS = { { 0.43, 0.51 }, { 0.15, 0.23 } }
-- What a band must hold to say something: a line of Japanese, or of
-- English.
local SAMPLE_MIN_CJK, SAMPLE_MIN_LATIN = 10, 40

local vertical_installed = nil
local function vertical_model()
  if vertical_installed == nil then
    vertical_installed = core.ocr_languages_available("jpn_vert") and true or false
  end
  return vertical_installed
end

-- The figures of a reading that a second look decides by (and a policy's
-- retry hook sees), with the text's length.
local function figures(text, res)
  return { confidence = res.confidence, chars = #text, lines = res.lines,
    cjk_symbols = res.cjk_symbols, cjk_gap = res.cjk_gap, ttb_chars = res.ttb_chars,
    ttb_confidence = res.ttb_confidence, ltr_chars = res.ltr_chars,
    ltr_confidence = res.ltr_confidence }
end

-- One step of a second look: a new reading of img, or nil. Models needed
-- for the odd page only (jpn_vert) are loaded for it and dropped after it
-- (transient): each worker would otherwise keep them in memory.
local function take_step(step, degrees, img, langs, ocr_opts, look)
  if step == "orientation" then
    look.osd = core.ocr_orientation(img)
    local o = look.osd
    core.log("debug", string.format("second look: OSD %s", o and string.format("%d (%.1f, %s)",
      o.degrees, o.confidence, o.script) or "none"))
    return nil
  elseif step == "rotate" then
    local turned = img:turn(degrees)
    if not turned then return nil end
    local t, r = core.ocr(turned, langs, ocr_opts)
    if t then r.rotate = turned:turned() end
    turned:free()
    return t, r
  elseif step == "deskew" then
    local level = img:rotate(degrees)
    if not level then return nil end
    local t, r = core.ocr(level, langs, ocr_opts)
    if t then r.deskew = degrees end
    level:free()
    return t, r
  elseif not (vertical_model() and langs:find("jpn", 1, true)) then
    return nil
  end
  local t, r
  if step == "vertical" then
    -- The page as one block of columns, top to bottom, right to left.
    t, r = core.ocr(img, "jpn_vert", { psm = 5, skip_inverted = ocr_opts.skip_inverted,
      transient = true })
  else
    -- "mixed": the vertical model beside the set's, the layout automatic:
    -- Tesseract reads each block with whichever model reads it best.
    t, r = core.ocr(img, langs .. "+jpn_vert", { psm = 3, skip_inverted = ocr_opts.skip_inverted,
      transient = true })
  end
  if t then r.vertical = true end
  return t, r
end

-- A second look at a page the first reading may have got wrong, in
-- policies/README.md's "Orientation and vertical text". Step by step, the
-- policy's retry hook (or the built-in decision, core/extract/second_look.c)
-- chooses what to try from the first reading's figures and what the steps
-- so far found: Tesseract's orientation detection, a reading turned back,
-- one as vertical Japanese, one with the vertical model beside the
-- horizontal ones (a page mixing both), one levelled. Upright horizontal
-- pages read at 90-95 and are accepted at once, paying nothing. The
-- reading with the highest confidence is kept; res.rotate is the clockwise
-- turn behind it (EXIF included), res.vertical says the vertical model
-- read it.
local function second_look(img, text, res, langs, ocr_opts, info)
  res.rotate = img:turned()
  local first = figures(text, res)
  local look = { page = info.page, dpi = img:dpi(), width_px = img:width(),
    height_px = img:height(), languages = langs, deskew = res.deskew, rotate = res.rotate,
    confidence = res.confidence, tried = {}, vertical_model = vertical_model() }
  local best_text, best = text, res
  while true do
    local step, degrees = core.policy_retry(look, first)
    if step == "accept" then break end
    look.tried[step] = true
    local t, r = take_step(step, degrees, img, langs, ocr_opts, look)
    if t then
      r.rotate = r.rotate or res.rotate
      core.log("debug", string.format("second look: %s %s -> confidence %d (was %d)", step,
        degrees ~= 0 and tostring(degrees) or "", r.confidence, best.confidence))
      if r.confidence > best.confidence then best_text, best = t, r end
      look.confidence = best.confidence
    end
  end
  -- Tesseract laid the lines out top to bottom and read them well: the
  -- page was turned a quarter clockwise and it turned it back itself.
  local turn = best == res and core.layout_turn(first) or 0
  if turn ~= 0 then best.rotate = (res.rotate + turn) % 360 end
  return best_text, best
end

-- The page levelled when its lines lie askew (sheet feeders: a few
-- degrees): 4 degrees cost a Japanese page 35 % CER. Finding the skew costs
-- ~10 ms a page, levelling ~40 ms. Returns the image and the turn, if any.
local function level(img, s)
  if s.deskew_min_degrees <= 0 then return img, nil end
  local angle, sure = img:skew()
  if math.abs(angle) >= s.deskew_min_degrees and math.abs(angle) <= DESKEW_MAX_DEGREES
      and sure >= DESKEW_MIN_CONFIDENCE then
    local levelled = img:rotate(angle)
    if levelled then
      img:free()
      return levelled, math.floor(angle * 10 + 0.5) / 10
    end
  end
  return img, nil
end

-- The DPI that renders lines measured line_px tall at dpi about
-- dpi_target_line_px tall (to 25 DPI, within dpi_min..dpi_max), or nil to
-- keep dpi. Tesseract scales every line to one height anyway: taller
-- lines cost time and no accuracy, shorter ones lose small print.
local function dpi_for_lines(s, dpi, line_px)
  if s.dpi_target_line_px <= 0 or line_px <= 0 then return nil end
  local want = math.floor(dpi * s.dpi_target_line_px / line_px / 25 + 0.5) * 25
  want = math.max(s.dpi_min, math.min(s.dpi_max, want))
  return want ~= dpi and want or nil
end

-- Never above the scan's own resolution: more pixels, no more detail.
local function native_cap(s, dpi, info)
  if s.dpi_cap_native and (info.image_dpi or 0) >= 72 and dpi > info.image_dpi
      and (info.image_coverage or 0) > 0.5 then
    return info.image_dpi
  end
  return dpi
end

-- Page i rendered for OCR, levelled: at the forced DPI, else at the
-- policy's and then, when its lines are far from dpi_target_line_px tall,
-- rendered again at the DPI that makes them so. Again from the source: a
-- rendering shrunk a second time reads worse (a slide: CER 5 % -> 14 %).
local function render_page(d, i, info, forced_dpi, s)
  local dpi = forced_dpi or native_cap(s, core.policy_dpi(info), info)
  local img, err, permanent = d:render(i, dpi, s.max_page_megapixels * 1e6)
  if not img then return nil, err, permanent end
  local deskew
  img, deskew = level(img, s)
  -- A page the render had to take lower (its pixels or max_mupdf_mb) is
  -- never asked for more.
  local want = not forced_dpi and img:dpi() >= dpi
      and dpi_for_lines(s, img:dpi(), img:line_height())
  want = want and native_cap(s, want, info)
  -- Up only while the page stays small: a drawing's fine print at 200 DPI
  -- on A2 is 16 megapixels, and Tesseract's memory grows with them (the
  -- robust corpus, 2 workers: 581 MB peak without going up, 607 with A3).
  if want and want > img:dpi()
      and img:width() * img:height() * (want / img:dpi()) ^ 2 > UP_MAX_PIXELS then
    want = nil
  end
  if want and want ~= img:dpi() then
    -- Freed first: two renderings of a page at once raise the peak.
    img:free()
    img = d:render(i, want, s.max_page_megapixels * 1e6)
    if not img then
      img, err, permanent = d:render(i, dpi, s.max_page_megapixels * 1e6)
      if not img then return nil, err, permanent end
    end
    img, deskew = level(img, s)
  end
  return img, deskew
end

-- sample(img, ocr_opts) | nil may read part of the page first and answer
-- the languages to read it with instead of langs.
local function ocr_page(d, i, info, langs, opts, s, stages, sample)
  local t0 = core.mono_ms()
  local img, deskew, permanent = render_page(d, i, info, opts.dpi, s)
  t0 = lap(stages, "render", t0)
  if not img then return nil, deskew, permanent end
  local used_dpi = img:dpi()
  local ocr_opts = { psm = s.ocr_psm, skip_inverted = s.ocr_skip_inverted }
  langs = sample and sample(img, ocr_opts) or langs
  local text, res = core.ocr(img, langs, ocr_opts)
  if text then
    res.deskew = deskew
    text, res = second_look(img, text, res, langs, ocr_opts, info)
    res.deskew = res.deskew or deskew
  end
  local ms = lap(stages, "ocr", t0) - t0
  img:free()
  if not text then return nil, res end
  core.log("debug", string.format("page %d OCR'd: %s at %d DPI, %d ms, confidence %d", i, langs,
    used_dpi, ms, res.confidence or -1))
  return text, used_dpi, res
end

-- When a job begun at t0 (monotonic ms) must end: job_timeout_seconds
-- after it, or nil when there is no such limit.
local function job_deadline(s, t0)
  return s.job_timeout_seconds > 0 and t0 + s.job_timeout_seconds * 1000 or nil
end

-- Arms the deadline of the next page operation (its text, or its render
-- and OCR): page_timeout_seconds, never past the job's own deadline.
local function arm_deadline(ctx)
  local secs = ctx.s.page_timeout_seconds
  ctx.deadline_by = "page_timeout_seconds"
  if ctx.job_deadline then
    local left = (ctx.job_deadline - core.mono_ms()) / 1000
    if secs == 0 or left < secs then
      secs = math.max(left, 0.001)
      ctx.deadline_by = "job_timeout_seconds"
    end
  end
  core.set_deadline(secs)
end

-- An error as recorded: a timeout says which limit it was.
local function reason(ctx, err)
  if type(err) == "string" and err:find("timed out", 1, true) and ctx.deadline_by then
    return string.format("%s (%s)", err, ctx.deadline_by)
  end
  return err
end

-- True once the job's deadline has passed; notes the pages it leaves out.
local function time_up(ctx, out, first, last)
  if not ctx.job_deadline or core.mono_ms() < ctx.job_deadline then return false end
  out.errors[#out.errors + 1] = string.format(
    "%s: not extracted, job_timeout_seconds (%g s) reached",
    first == last and ("page " .. first) or string.format("pages %d-%d", first, last),
    ctx.s.job_timeout_seconds)
  return true
end

-- A page's text layer and the facts the policy decides on.
local function read_page(d, kind, i, stages, ctx)
  if kind == "image" then
    return nil, { page = i, kind = kind, chars = 0, bad_ratio = 0, image_coverage = 1 }
  end
  arm_deadline(ctx)
  local tt = core.mono_ms()
  local text, info = d:page_text(i)
  lap(stages, "text", tt)
  if not text then
    info = { chars = 0, bad_ratio = 1, image_coverage = 0, error = info }
  end
  info.page, info.kind = i, kind
  if kind == "text" then info.name = d:page_name(i) end
  return text, info
end

local function needs_ocr(kind, info)
  if kind == "text" then
    -- an image embedded in an Office file: a page with nothing but it
    return info.image_coverage == 1 and info.chars == 0
  end
  return kind == "image" or core.policy_needs_ocr(info)
end

-- Adds page i to out = {pages, errors, pages_ocr, stages}: its text layer,
-- or its OCR when need_ocr. ctx = {languages = fn() -> set, on_ocr =
-- fn(text, dpi, stats, reread) -> text, dpi, stats | nil (reread(langs)
-- reads the page again), opts = {dpi}, s = settings}.
local function add_page(d, i, text, info, need_ocr, out, ctx)
  if need_ocr then
    arm_deadline(ctx)
    local otext, dpi_or_err, stats = ocr_page(d, i, info, ctx.languages(), ctx.opts, ctx.s,
      out.stages, ctx.sample)
    if otext and ctx.on_ocr then
      otext, dpi_or_err, stats = ctx.on_ocr(otext, dpi_or_err, stats, function(langs)
        arm_deadline(ctx)
        return ocr_page(d, i, info, langs, ctx.opts, ctx.s, out.stages)
      end)
    end
    if otext then
      out.pages[#out.pages + 1] = { page = i, method = "ocr", dpi = dpi_or_err, text = otext,
        confidence = stats.confidence, rotate = stats.rotate ~= 0 and stats.rotate or nil,
        vertical = stats.vertical, deskew = stats.deskew, name = info.name }
      out.pages_ocr = out.pages_ocr + 1
    elseif text and info.chars > 0 then
      -- OCR failed but there is a text layer: keep what we have.
      out.pages[#out.pages + 1] = { page = i, method = "text", text = text }
      out.errors[#out.errors + 1] = string.format("page %d: OCR failed: %s", i,
        reason(ctx, dpi_or_err))
    else
      out.errors[#out.errors + 1] = string.format("page %d: %s", i, reason(ctx, dpi_or_err))
    end
  elseif text then
    out.pages[#out.pages + 1] = { page = i, method = "text", text = text, name = info.name }
  else
    out.errors[#out.errors + 1] = string.format("page %d: %s", i, reason(ctx, info.error))
  end
end

-- Pages first..last, in order, deciding each page as it comes.
local function extract_range(d, kind, first, last, out, ctx)
  for i = first, last do
    if time_up(ctx, out, i, last) then break end
    local text, info = read_page(d, kind, i, out.stages, ctx)
    add_page(d, i, text, info, needs_ocr(kind, info), out, ctx)
  end
end

local function new_range_result()
  return { pages = {}, errors = {}, pages_ocr = 0, stages = { text = 0, render = 0, ocr = 0 } }
end

-- Hands a taken range in whatever happens, since its owner waits for it:
-- what fill(out) put in out, and the error it raised, if any.
local function hand_in(board, task, fill)
  local out = new_range_result()
  local ok, err = pcall(fill, out)
  if not ok then
    out.errors[#out.errors + 1] = string.format("pages %d-%d: %s", task.first, task.last,
      tostring(err))
  end
  board.pages_done(task, out)
end

local function page_of(entry)
  return type(entry) == "table" and entry.page or tonumber(entry:match("^pages? (%d+)")) or 0
end

-- A paged document (PDF, XPS, scanned images): a first pass takes every
-- text layer and decides which pages need OCR. When at least
-- page_parallel_min_pages need it, all but the first are shared out as
-- runs of page_parallel_chunk pages that idle workers take while this
-- worker OCRs the first (which may settle the languages and DPI of the
-- rest) and then takes runs too; else they are OCR'd here. Everything ends
-- in page order.
local function extract_paged(d, kind, path, limit, doc, ctx)
  local pending, by_page = {}, {}
  for i = 1, limit do
    if time_up(ctx, doc, i, limit) then break end
    local text, info = read_page(d, kind, i, doc.stages, ctx)
    if needs_ocr(kind, info) then
      pending[#pending + 1] = i
      by_page[i] = { text = text, info = info }
    else
      add_page(d, i, text, info, false, doc, ctx)
    end
  end
  local function ocr_here(i, out, c)
    add_page(d, i, by_page[i].text, by_page[i].info, true, out, c)
  end
  -- Only a worker's state has docmill.job (the board of page ranges);
  -- elsewhere (extract) the pages are OCR'd here, in order.
  local board = job_api()
  local s, batch = ctx.s, nil
  if board and #pending > 1 and s.page_parallel_min_pages > 0 and #pending >= s.page_parallel_min_pages then
    local runs = {}
    for k = 2, #pending do
      local run = runs[#runs]
      if run and pending[k] == run[2] + 1 and run[2] - run[1] + 1 < s.page_parallel_chunk then
        run[2] = pending[k]
      else
        runs[#runs + 1] = { pending[k], pending[k] }
      end
    end
    -- Posted before the first page is OCR'd, so an idle worker starts at
    -- once (with the languages and DPI known so far) instead of waiting a
    -- page for them; the ranges nobody took yet get what that page settles.
    batch = board.pages_post(path, runs, { languages = ctx.shared_languages(),
      dpi = ctx.opts.dpi })
  end
  if #pending > 0 then ocr_here(pending[1], doc, ctx) end
  if batch then
    board.pages_settle(batch, { languages = ctx.shared_languages(), dpi = ctx.opts.dpi })
  end
  if not batch then
    for k = 2, #pending do
      if time_up(ctx, doc, pending[k], pending[#pending]) then break end
      ocr_here(pending[k], doc, ctx)
    end
  else
    local own = { languages = ctx.languages, opts = ctx.opts, s = s,
      job_deadline = ctx.job_deadline }
    while true do
      local task = board.pages_take(batch)
      if not task then break end
      hand_in(board, task, function(out)
        for i = task.first, task.last do
          if time_up(own, out, i, task.last) then break end
          ocr_here(i, out, own)
        end
      end)
    end
    local t0 = core.mono_ms()
    local merged = board.pages_wait(batch)
    lap(doc.stages, "wait", t0)
    for _, p in ipairs(merged.pages) do doc.pages[#doc.pages + 1] = p end
    for _, e in ipairs(merged.errors) do doc.errors[#doc.errors + 1] = e end
    doc.pages_ocr = doc.pages_ocr + merged.pages_ocr
    for k, v in pairs(merged.stages) do doc.stages[k] = doc.stages[k] + v end
  end
  table.sort(doc.pages, function(a, b) return a.page < b.page end)
  table.sort(doc.errors, function(a, b) return page_of(a) < page_of(b) end)
end

-- The document a worker keeps open across ranges of one batch.
local helper_doc = { batch = nil, d = nil }

local function close_helper_doc()
  if helper_doc.d then helper_doc.d:close() end
  helper_doc.batch, helper_doc.d = nil, nil
end

-- Another worker's pages, into out: the file is opened in this worker's
-- own MuPDF context, once per batch.
local function page_task_into(task, out)
  if helper_doc.batch ~= task.batch then
    close_helper_doc()
    local t0 = core.mono_ms()
    local d, err = core.open(task.path)
    lap(out.stages, "text", t0)
    if not d then
      out.errors[1] = string.format("pages %d-%d: %s", task.first, task.last, err)
      return
    end
    helper_doc.batch, helper_doc.d = task.batch, d
  end
  local s = settings()
  local langs = task.languages or s.languages
  extract_range(helper_doc.d, helper_doc.d:kind(), task.first, task.last, out, {
    languages = function() return langs end, opts = { dpi = task.dpi }, s = s,
  })
end

-- The same for C, which calls it between jobs; returns the result.
function M.page_task(task)
  local out = new_range_result()
  page_task_into(task, out)
  return out
end

-- The policy was reloaded (SIGHUP): read the settings again.
function M.reset()
  S = nil
  close_helper_doc()
end

-- Extracts every page of a local file. Returns a document table
--   {mime=, kind=, page_count=, pages={{page=, method=, dpi=, text=}},
--    pages_ocr=, note=, errors={...}, extract_ms=}
-- or nil, err, permanent when the file cannot be read at all.
-- The document's main language by its script: "ja" when Japanese
-- characters carry at least a third of its letters (one kanji says as much
-- as a few Latin letters), "en" for Latin text, nil for too little text.
-- Japanese characters (U+3000..U+9FFF: 3-byte UTF-8 from E3 to E9) and
-- Latin letters in text.
local function script_counts(text)
  return select(2, text:gsub("[\227-\233][\128-\191][\128-\191]", "")),
    select(2, text:gsub("%a", ""))
end

local function language_of(pages)
  local cjk, latin = 0, 0
  for _, p in ipairs(pages) do
    local c, l = script_counts(p.text)
    cjk, latin = cjk + c, latin + l
  end
  if cjk + latin < 20 then return nil end
  return cjk * 3 >= latin and "ja" or "en"
end

-- The metadata as the index keeps it: the title on its own (searchable),
-- the rest as one JSON object.
local function index_meta(meta)
  if not meta then return nil, nil end
  local rest, any = {}, false
  for k, v in pairs(meta) do
    if k ~= "title" then rest[k], any = v, true end
  end
  return meta.title, any and require("cjson").encode(rest) or nil
end

-- opts: dpi (forces the DPI), lang (forces the language set), source,
-- size, job_deadline (monotonic ms: a container's members share its job's).
function M.extract_file(path, opts)
  opts = opts or {}
  local s = settings()
  local t0 = core.mono_ms()
  -- Opening reads the page tree, which a hostile file can make slow.
  core.set_deadline(s.page_timeout_seconds)
  local d, err, permanent = core.open(path)
  if not d then
    core.set_deadline(0)
    return nil, err, permanent
  end
  local kind, count = d:kind(), d:page_count()
  if kind == "pdf" and s.max_pdf_mb > 0 and opts.size and opts.size > s.max_pdf_mb * 1048576 then
    d:close()
    core.set_deadline(0)
    return nil, string.format("file too large: a %d-byte PDF exceeds max_pdf_mb (%g MB)",
      opts.size, s.max_pdf_mb), true
  end
  local doc = {
    mime = d:mime(), kind = kind, page_count = count, pages = {}, pages_ocr = 0,
    errors = {}, encoding = d:encoding(),
    -- milliseconds per stage, for metrics
    stages = { text = core.mono_ms() - t0, render = 0, ocr = 0 },
  }
  local limit = math.min(count, s.max_pages)
  local langs, trial
  local function languages()
    if not langs then
      local flag
      langs, flag = opts.lang, nil
      if not langs then
        langs, flag = core.policy_languages({
          source = opts.source or path, mime = doc.mime, kind = kind, page_count = count,
        })
      end
      trial = flag == "trial"
    end
    return langs
  end
  -- What the first OCR'd page held decides the languages of the rest: the
  -- built-in choice (or a policy's hook) drops a model the document does
  -- not need (one model costs far less than two). A first page read as a
  -- trial with fewer models (first_page_languages) is read again with all
  -- of them when what it holds says they are needed.
  local function first_page(text, used)
    local cjk, latin = script_counts(text)
    return core.policy_languages({
      source = opts.source or path, mime = doc.mime, kind = kind, page_count = count,
      first_page = { languages = used, chars = #text, cjk = cjk, latin = latin,
                     trial = trial or nil },
    })
  end
  local ctx = { languages = languages, opts = opts, s = s,
    job_deadline = opts.job_deadline or job_deadline(s, t0) }
  -- Before a trial, a band across the middle of the page (a few lines, a
  -- tenth of its time or less) is read with every model: when it holds
  -- too little Japanese (an English page) the page is read with every
  -- model at once, instead of once with each. Every model, not the
  -- trial's: they read both scripts as what they are, and a worker that
  -- meets only English pages never loads the trial's models beside them.
  -- A band that holds next to nothing (a gap, a figure, a short letter's
  -- blank middle) vouches for nothing: the next one is read.
  ctx.sample = function(img, ocr_opts)
    ctx.sample = nil
    if not trial then return nil end
    for _, rows in ipairs(SAMPLE_BANDS) do
      local band = core.ocr(img, s.languages, { psm = ocr_opts.psm,
        skip_inverted = ocr_opts.skip_inverted, band = rows }) or ""
      local cjk, latin = script_counts(band)
      if cjk >= SAMPLE_MIN_CJK then
        if select(2, first_page(band, s.languages)) ~= "again" then return nil end
        break
      end
      if latin >= SAMPLE_MIN_LATIN then break end
    end
    core.log("debug", string.format("sample read: too little Japanese for %s alone", langs))
    -- Nothing left to decide: the rest keep every model too (below).
    langs, trial, ctx.on_ocr = s.languages, false, nil
    return langs
  end
  -- Pages shared out before a trial is settled are read with every model.
  ctx.shared_languages = function()
    return trial and s.languages or languages()
  end
  -- A document whose trial was turned down keeps every model for the
  -- rest: a worker then holds two model sets (the trial's and these), not
  -- three (~40 MB each a worker; eng alone would save ~7 % of an English
  -- page).
  ctx.on_ocr = function(text, dpi, stats, reread)
    ctx.on_ocr = nil
    if opts.lang or (count < 2 and not trial) then return text, dpi, stats end
    local rest, flag = first_page(text, langs)
    if flag == "again" then
      local t2, dpi2, stats2 = reread(rest)
      if t2 then
        core.log("debug", string.format("page read again with %s: too little Japanese in "
          .. "its %s reading", rest, langs))
        text, dpi, stats = t2, dpi2, stats2
      end
    end
    langs, trial = rest, false
    return text, dpi, stats
  end
  if kind == "text" then
    extract_range(d, kind, 1, limit, doc, ctx)
  else
    extract_paged(d, kind, path, limit, doc, ctx)
  end
  local warnings = d:warnings()
  doc.meta = d:meta()
  doc.truncated = d:truncated()
  d:close()
  core.set_deadline(0)
  local notes = {}
  if count > limit then
    notes[#notes + 1] = string.format("only the first %d of %d pages were extracted (max_pages)",
      limit, count)
  end
  for _, e in ipairs(doc.errors) do notes[#notes + 1] = e end
  -- Indexed all the same (a poor reading is better than none), but said:
  -- `status` lists the note, so nobody takes garbage for text unawares.
  local low = {}
  for _, p in ipairs(doc.pages) do
    if p.confidence and p.confidence < s.low_confidence_below then low[#low + 1] = p.page end
  end
  if #low > 0 then
    notes[#notes + 1] = string.format("low_confidence: page%s %s read below %d%% mean word "
      .. "confidence", #low > 1 and "s" or "", table.concat(low, ", "), s.low_confidence_below)
  end
  -- For stats() and the metrics: what the second looks did.
  doc.pages_low_confidence, doc.pages_rotated, doc.pages_vertical = #low, 0, 0
  for _, p in ipairs(doc.pages) do
    if p.rotate then doc.pages_rotated = doc.pages_rotated + 1 end
    if p.vertical then doc.pages_vertical = doc.pages_vertical + 1 end
  end
  if warnings > 0 then
    notes[#notes + 1] = string.format("%d MuPDF warnings (damaged file?)", warnings)
  end
  if doc.truncated then
    notes[#notes + 1] = string.format("truncated: text past max_text_mb (%g MB) was left out",
      s.max_text_mb)
  end
  doc.meta.language = language_of(doc.pages)
  doc.note = #notes > 0 and table.concat(notes, "; ") or nil
  doc.extract_ms = core.mono_ms() - t0
  if #doc.pages == 0 and limit > 0 then
    return nil, "no page could be extracted: " .. (doc.errors[1] or "unknown error"), true
  end
  return doc
end

-- A container (an archive, a mail): its own document, with its members
-- as index documents in doc.children (docmill.containers). opts as for
-- extract_file, plus mtime_ms (the members'), id (the container's) and
-- job_deadline.
function M.extract_container(path, kind, opts)
  local s = settings()
  local source = opts.source or path
  local function member_document(doc, mpath, msource, size, parent)
    local title, meta = index_meta(doc.meta)
    return { id = core.doc_id(msource), source = msource, parent = parent,
      sha256 = core.sha256_file(mpath), mime = doc.mime, size = size,
      mtime_ms = opts.mtime_ms or 0, page_count = doc.page_count, pages_ocr = doc.pages_ocr,
      extract_ms = doc.extract_ms or 0, note = doc.note, pages = doc.pages, title = title,
      meta = meta }
  end
  local deadline = opts.job_deadline or job_deadline(s, core.mono_ms())
  local doc, err, permanent = containers.read(path, kind, {
    source = source, id = opts.id or core.doc_id(source), settings = s, size = opts.size,
    extract = M.extract_file, shape = member_document, deadline = deadline, dpi = opts.dpi,
    lang = opts.lang })
  if not doc then
    -- Text that only looked like a mail (a note that starts with headers)
    -- is still text.
    if kind == "mail" or kind == "mbox" then return M.extract_file(path, opts) end
    return nil, err, permanent
  end
  doc.meta.language = language_of(doc.pages)
  local notes = {}
  if doc.failure then notes[1] = doc.failure end
  for _, n in ipairs(doc.notes) do notes[#notes + 1] = n end
  doc.note = #notes > 0 and table.concat(notes, "; ") or nil
  return doc
end

-- A document with this content under another id: one still waiting in the
-- indexing buffer, else one in the index. nil when there is none (or the
-- index cannot say: then the file is extracted as usual).
local function find_copy(sha, id)
  local J = job_api()
  local copy = J and J.find_copy and J.find_copy(sha, id)
  if copy then return copy end
  return core.index_find_copy(sha, id) or nil
end

-- Two copies taken at the same moment by two workers: the first claims the
-- content and extracts it; this one waits for that claim to end (helping
-- with the first one's pages meanwhile, unless it is a fast-lane worker),
-- then reuses what went into the indexing buffer. nil when this worker
-- holds the claim now (the first one failed, or nobody had it), or when
-- waiting would pass the job's deadline. The time it waits goes to
-- stages.wait.
local function copy_in_the_making(s, sha, id, deadline, stages)
  local J = job_api()
  if not (J and J.claim_content) then return nil end
  local helps = J.pages_take and J.worker_id() >= s.fast_lane_workers
  while not J.claim_content(sha) do
    local task = helps and J.pages_take(-1)
    if task then
      hand_in(J, task, function(out) page_task_into(task, out) end)
    else
      local t0 = core.mono_ms()
      J.await_content(sha, 250)
      lap(stages, "wait", t0)
    end
    local copy = find_copy(sha, id)
    if copy then
      close_helper_doc()
      return copy
    end
    if deadline and core.mono_ms() > deadline then break end
  end
  close_helper_doc()
  return nil
end

local function finish(job, outcome, err, stats)
  job_api().complete(job.id, outcome, err, stats)
end

local function fail(job, err, permanent, stats)
  finish(job, permanent == false and "retry" or "failed", err, stats)
end

-- Handles one job. Every path ends in exactly one complete(), or hands the
-- job over with its document to index_submit.
function M.process(job)
  close_helper_doc()
  local s = settings()
  local t0 = core.mono_ms()
  local id = core.doc_id(job.source)
  if job.op == "delete" then
    local ok, err, permanent = core.index_remove({ id })
    if ok then finish(job, "deleted") else fail(job, err, permanent) end
    return
  end
  if core.policy_route(job) == "skip" then
    finish(job, "skipped", "skipped by policy route")
    return
  end
  local max_bytes = s.max_file_mb > 0 and s.max_file_mb * 1024 * 1024 or 0
  local f, err, permanent, code = core.fetch(job.source, {
    max_bytes = max_bytes, multipart_threshold = s.s3_multipart_threshold_mb * 1048576,
    part_size = s.s3_part_mb * 1048576, parallel = s.s3_parallel_parts,
  })
  if code == "not_found" and not job.source:match("^%a[%w+.-]*://") then
    -- A local file gone between the scan and now: that is a deletion, not a
    -- failure. (A queued S3 object that is missing is a recorded failure.)
    local ok, rerr, rperm = core.index_remove({ id })
    if ok then finish(job, "deleted") else fail(job, rerr, rperm) end
    return
  end
  if not f then return fail(job, err, permanent) end
  local sha, serr, sperm = core.sha256_file(f.path)
  local timing = { fetch = core.mono_ms() - t0 }
  if not sha then
    core.release(f.path, f.temp)
    return fail(job, serr, sperm, timing)
  end
  local old, lerr, lperm = core.index_lookup(id)
  if old == nil then
    core.release(f.path, f.temp)
    return fail(job, lerr, lperm, timing)
  end
  if old == sha then
    core.release(f.path, f.temp)
    local ok, terr, tperm = core.index_touch(id, f.size, f.mtime_ms)
    if ok then finish(job, "unchanged", nil, timing) else fail(job, terr, tperm, timing) end
    return
  end
  local kind = core.container_kind(f.path)
  if kind then
    -- Never a copy's pages: a copy would come without its members.
    local doc, xerr, xperm = M.extract_container(f.path, kind, { source = job.source, id = id,
      size = f.size, mtime_ms = f.mtime_ms, job_deadline = job_deadline(s, t0) })
    if os.getenv("CLEANUP_TEMP_FILES") ~= "false" then core.release(f.path, f.temp) end
    if not doc then return fail(job, xerr, xperm, timing) end
    local title, meta = index_meta(doc.meta)
    local pages = #doc.pages
    for _, ch in ipairs(doc.children or {}) do pages = pages + #ch.pages end
    -- A container cut short is stored without its hash, so that the next
    -- run reads it again instead of finding it unchanged.
    job_api().index_submit(job.id, {
      id = id, source = job.source, sha256 = not doc.failure and sha or nil, mime = doc.mime,
      size = f.size, mtime_ms = f.mtime_ms, page_count = doc.page_count,
      -- its own pages (a mail's body) are never OCR'd: its members' are theirs
      pages_ocr = doc.children and 0 or doc.pages_ocr,
      extract_ms = doc.extract_ms, note = doc.note, pages = doc.pages, title = title, meta = meta,
      container = true, members = doc.members or 0, children = doc.children,
    }, { pages = pages, pages_ocr = doc.pages_ocr, started_ms = t0, fetch = timing.fetch,
          text = doc.stages.text, render = doc.stages.render, ocr = doc.stages.ocr,
          wait = doc.stages.wait, failure = doc.failure })
    return
  end
  local copy = s.reuse_copies and (find_copy(sha, id) or copy_in_the_making(s, sha, id,
    job_deadline(s, t0), timing))
  if copy then
    core.release(f.path, f.temp)
    core.log("debug", string.format("%s: the same content as %s: its %d pages reused",
      job.source, tostring(copy.source), #copy.pages))
    -- No page was extracted for this job: pages_ocr counts work done.
    job_api().index_submit(job.id, {
      id = id, source = job.source, sha256 = sha, mime = copy.mime, size = f.size,
      mtime_ms = f.mtime_ms, page_count = copy.page_count, pages_ocr = copy.pages_ocr,
      extract_ms = 0, note = copy.note, pages = copy.pages, title = copy.title, meta = copy.meta,
      container = old ~= false,   -- it may have been an archive: its members go
    }, { pages = #copy.pages, pages_ocr = 0, started_ms = t0, fetch = timing.fetch,
          wait = timing.wait })
    return
  end
  local doc, xerr, xperm = M.extract_file(f.path, { source = job.source, size = f.size })
  if os.getenv("CLEANUP_TEMP_FILES") ~= "false" then core.release(f.path, f.temp) end
  if not doc then return fail(job, xerr, xperm, timing) end
  -- The document goes to the process's indexing buffer; its job completes
  -- when the bulk result for it is known ("indexed", "failed" for a
  -- permanent rejection such as a mapping error, "retry" otherwise).
  local title, meta = index_meta(doc.meta)
  job_api().index_submit(job.id, {
    id = id, source = job.source, sha256 = sha, mime = doc.mime, size = f.size,
    mtime_ms = f.mtime_ms, page_count = doc.page_count, pages_ocr = doc.pages_ocr,
    extract_ms = doc.extract_ms, note = doc.note, pages = doc.pages, title = title, meta = meta,
    container = old ~= false,   -- it may have been an archive: its members go
  }, { pages = #doc.pages, pages_ocr = doc.pages_ocr, started_ms = t0, fetch = timing.fetch,
        text = doc.stages.text, render = doc.stages.render, ocr = doc.stages.ocr,
        wait = (doc.stages.wait or 0) + (timing.wait or 0),
        pages_rotated = doc.pages_rotated, pages_vertical = doc.pages_vertical,
        pages_low_confidence = doc.pages_low_confidence })
end

return M
