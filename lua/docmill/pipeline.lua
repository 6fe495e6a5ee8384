-- The default flow, run by every worker thread in its own Lua state:
--   take job -> route -> fetch -> per page: text layer or render + OCR
--   -> index_submit (the process's indexing buffer; the job completes when
--   its bulk result is known, and the loop thread acks it).
-- Decisions (routing, OCR or not, DPI, languages) go through the policy
-- hooks, which C calls and validates. `docmill extract` runs extract_file
-- from this same module, so what it prints is what gets indexed.
local core = require "docmill.core"

local M = {}

local S            -- the validated settings of this state's policy
local jobs_since_gc = 0

local function settings()
  if not S then S = core.settings() end
  return S
end

-- Adds the milliseconds since t0 to stages[name]; returns now.
local function lap(stages, name, t0)
  local now = core.mono_ms()
  stages[name] = stages[name] + (now - t0)
  return now
end

local function ocr_page(d, i, info, langs, opts, s, stages)
  local dpi = opts.dpi or core.policy_dpi(info)
  local t0 = core.mono_ms()
  local img, err, permanent = d:render(i, dpi, s.max_page_megapixels * 1e6)
  t0 = lap(stages, "render", t0)
  if not img then return nil, err, permanent end
  local used_dpi = img:dpi()
  local text, res = core.ocr(img, langs, { psm = s.ocr_psm, skip_inverted = s.ocr_skip_inverted })
  lap(stages, "ocr", t0)
  img:free()
  if not text then return nil, res end
  return text, used_dpi
end

-- Extracts pages first..last of an open document into out = {pages,
-- errors, pages_ocr, stages}: the text layer, or a render + OCR when the
-- policy says so. ctx = {languages = fn() -> set, on_ocr = fn(text) | nil,
-- opts = {dpi}, s = settings}.
local function extract_range(d, kind, first, last, out, ctx)
  for i = first, last do
    local text, info
    if kind == "image" then
      info = { page = i, kind = kind, chars = 0, bad_ratio = 0, image_coverage = 1 }
    else
      local tt = core.mono_ms()
      text, info = d:page_text(i)
      lap(out.stages, "text", tt)
      if not text then
        info = { page = i, kind = kind, chars = 0, bad_ratio = 1, image_coverage = 0,
                 error = info }
      end
      info.page, info.kind = i, kind
    end
    local need_ocr = kind == "image" or (kind ~= "text" and core.policy_needs_ocr(info))
    if need_ocr then
      local otext, dpi_or_err = ocr_page(d, i, info, ctx.languages(), ctx.opts, ctx.s, out.stages)
      if otext then
        if ctx.on_ocr then ctx.on_ocr(otext) end
        out.pages[#out.pages + 1] = { page = i, method = "ocr", dpi = dpi_or_err, text = otext }
        out.pages_ocr = out.pages_ocr + 1
      elseif text and info.chars > 0 then
        -- OCR failed but there is a text layer: keep what we have.
        out.pages[#out.pages + 1] = { page = i, method = "text", text = text }
        out.errors[#out.errors + 1] = string.format("page %d: OCR failed: %s", i, dpi_or_err)
      else
        out.errors[#out.errors + 1] = string.format("page %d: %s", i, dpi_or_err)
      end
    elseif text then
      out.pages[#out.pages + 1] = { page = i, method = "text", text = text }
    else
      out.errors[#out.errors + 1] = string.format("page %d: %s", i, info.error)
    end
  end
end

local function new_range_result()
  return { pages = {}, errors = {}, pages_ocr = 0, stages = { text = 0, render = 0, ocr = 0 } }
end

-- A large PDF: page 1 here (it may settle the languages), the rest in
-- ranges of page_parallel_chunk pages that idle workers take while this
-- one takes them too; then everything is merged in page order. Alone in
-- the pool (or in `docmill extract`) it is simply sequential.
local function extract_parallel(d, path, limit, doc, ctx)
  extract_range(d, "pdf", 1, 1, doc, ctx)
  if limit < 2 then return end
  local chunk, ranges = ctx.s.page_parallel_chunk, {}
  for first = 2, limit, chunk do
    ranges[#ranges + 1] = { first, math.min(first + chunk - 1, limit) }
  end
  local batch = core.pages_post(path, ranges, { languages = ctx.languages(), dpi = ctx.opts.dpi })
  if not batch then
    extract_range(d, "pdf", 2, limit, doc, ctx)
    return
  end
  local own = { languages = ctx.languages, opts = ctx.opts, s = ctx.s }
  while true do
    local task = core.pages_take(batch)
    if not task then break end
    local out = new_range_result()
    local ok, err = pcall(extract_range, d, "pdf", task.first, task.last, out, own)
    if not ok then
      out.errors[#out.errors + 1] = string.format("pages %d-%d: %s", task.first, task.last,
        tostring(err))
    end
    core.pages_done(task, out)
  end
  local merged = core.pages_wait(batch)
  for _, p in ipairs(merged.pages) do doc.pages[#doc.pages + 1] = p end
  for _, e in ipairs(merged.errors) do doc.errors[#doc.errors + 1] = e end
  doc.pages_ocr = doc.pages_ocr + merged.pages_ocr
  for k, v in pairs(merged.stages) do doc.stages[k] = doc.stages[k] + v end
end

-- Another worker's range (C calls this between jobs): opens the file in
-- this worker's own MuPDF context and returns the range's result.
function M.page_task(task)
  local out = new_range_result()
  local t0 = core.mono_ms()
  local d, err = core.open(task.path)
  if not d then
    out.errors[1] = string.format("pages %d-%d: %s", task.first, task.last, err)
    return out
  end
  lap(out.stages, "text", t0)
  local s = settings()
  local langs = task.languages or s.languages
  extract_range(d, d:kind(), task.first, task.last, out, {
    languages = function() return langs end, opts = { dpi = task.dpi }, s = s,
  })
  d:close()
  return out
end

-- The policy was reloaded (SIGHUP): read the settings again.
function M.reset()
  S = nil
end

-- Extracts every page of a local file. Returns a document table
--   {mime=, kind=, page_count=, pages={{page=, method=, dpi=, text=}},
--    pages_ocr=, note=, errors={...}, extract_ms=}
-- or nil, err, permanent when the file cannot be read at all.
-- opts: dpi (forces the DPI), lang (forces the language set), source.
function M.extract_file(path, opts)
  opts = opts or {}
  local s = settings()
  local t0 = core.mono_ms()
  local d, err, permanent = core.open(path)
  if not d then return nil, err, permanent end
  local kind, count = d:kind(), d:page_count()
  if kind == "pdf" and s.max_pdf_mb > 0 and opts.size and opts.size > s.max_pdf_mb * 1048576 then
    d:close()
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
  local langs, refined
  local function languages()
    if not langs then
      langs = opts.lang or core.policy_languages({
        source = opts.source or path, mime = doc.mime, kind = kind, page_count = count,
      })
    end
    return langs
  end
  -- After the first OCR'd page the languages hook is asked again with what
  -- that page holds, so a policy can drop a model the document does not
  -- need (one model costs far less than two).
  local function refine_languages(text)
    if refined or opts.lang then return end
    refined = true
    if count < 2 then return end
    local cjk = select(2, text:gsub("[\227-\233][\128-\191][\128-\191]", ""))
    local latin = select(2, text:gsub("%a", ""))
    langs = core.policy_languages({
      source = opts.source or path, mime = doc.mime, kind = kind, page_count = count,
      first_page = { languages = langs, chars = #text, cjk = cjk, latin = latin },
    })
  end
  local ctx = { languages = languages, on_ocr = refine_languages, opts = opts, s = s }
  if kind == "pdf" and s.page_parallel_min_pages > 0 and limit >= s.page_parallel_min_pages then
    extract_parallel(d, path, limit, doc, ctx)
  else
    extract_range(d, kind, 1, limit, doc, ctx)
  end
  local warnings = d:warnings()
  d:close()
  local notes = {}
  if count > limit then
    notes[#notes + 1] = string.format("only the first %d of %d pages were extracted (max_pages)",
      limit, count)
  end
  for _, e in ipairs(doc.errors) do notes[#notes + 1] = e end
  if warnings > 0 then
    notes[#notes + 1] = string.format("%d MuPDF warnings (damaged file?)", warnings)
  end
  doc.note = #notes > 0 and table.concat(notes, "; ") or nil
  doc.extract_ms = core.mono_ms() - t0
  if #doc.pages == 0 and limit > 0 then
    return nil, "no page could be extracted: " .. (doc.errors[1] or "unknown error"), true
  end
  return doc
end

local function maybe_gc(s)
  jobs_since_gc = jobs_since_gc + 1
  if s.gc_every_jobs > 0 and jobs_since_gc >= s.gc_every_jobs then
    jobs_since_gc = 0
    core.gc()
  end
end

local function finish(job, outcome, err, stats)
  core.complete(job.id, outcome, err, stats)
end

local function fail(job, err, permanent, stats)
  finish(job, permanent == false and "retry" or "failed", err, stats)
end

-- Handles one job. Every path ends in exactly one complete(), or hands the
-- job over with its document to index_submit.
function M.process(job)
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
  local doc, xerr, xperm = M.extract_file(f.path, { source = job.source, size = f.size })
  if os.getenv("CLEANUP_TEMP_FILES") ~= "false" then core.release(f.path, f.temp) end
  if not doc then return fail(job, xerr, xperm, timing) end
  -- The document goes to the process's indexing buffer; its job completes
  -- when the bulk result for it is known ("indexed", "failed" for a
  -- permanent rejection such as a mapping error, "retry" otherwise).
  core.index_submit(job.id, {
    id = id, source = job.source, sha256 = sha, mime = doc.mime, size = f.size,
    mtime_ms = f.mtime_ms, page_count = doc.page_count, pages_ocr = doc.pages_ocr,
    extract_ms = doc.extract_ms, note = doc.note, pages = doc.pages,
  }, { pages = #doc.pages, pages_ocr = doc.pages_ocr, started_ms = t0, fetch = timing.fetch,
        text = doc.stages.text, render = doc.stages.render, ocr = doc.stages.ocr })
  maybe_gc(s)
end

return M
