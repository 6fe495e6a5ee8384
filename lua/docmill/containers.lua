-- docmill.containers: a file that holds other files (a zip, a tar, a mail,
-- an mbox) is indexed as a family of documents: the container itself (a
-- mail's subject and body; an archive has no text of its own) and one
-- document per member, whose source is "PARENT#MEMBER" (the member's path
-- inside the archive, or the attachment's file name) and whose id is
-- derived from that source like any other. Every member carries
-- parent = the id of the outermost file (the job's): indexing that file
-- again replaces its members, deleting it removes them.
--
-- Members go through the same extraction as files of their own (text
-- layer, OCR, policy hooks, limits); a member that is a container in turn
-- is opened up to max_container_depth. The limits of the whole family
-- (max_container_members per container, max_expanded_mb in all,
-- max_compression_ratio, the job's deadline, and max_text_mb for the text
-- of all members together, which the job holds until it is indexed) end
-- the reading with a failure that names the limit; what was read before
-- stays indexed.
local core = require "docmill.core"

local M = {}

local function member_limits(s, fam, source)
  local max_expanded = s.max_expanded_mb > 0 and s.max_expanded_mb * 1048576 or 0
  return {
    max_members = s.max_container_members,
    max_member_bytes = s.max_file_mb > 0 and s.max_file_mb * 1048576 or 0,
    max_expanded_bytes = max_expanded > 0 and math.max(1, max_expanded - fam.expanded) or 0,
    max_ratio = s.max_compression_ratio,
    deadline_ms = fam.deadline or 0,
    max_text_bytes = s.max_text_mb * 1048576,
    html_default_charset = s.html_default_charset,
    label = source:match("([^/#]+)$"),
  }
end

local function text_bytes(pages)
  local n = 0
  for _, p in ipairs(pages) do n = n + #p.text end
  return n
end

local function note(fam, fmt, ...)
  fam.notes[#fam.notes + 1] = string.format(fmt, ...)
end

local read_container

-- One member file: a document of its own, or a container opened in turn.
local function add_member(fam, path, source, size, depth)
  local kind = core.container_kind(path)
  if kind then
    if depth + 1 > fam.s.max_container_depth then
      fam.failure = fam.failure or string.format(
        "%s: nested deeper than max_container_depth (%d)", source, fam.s.max_container_depth)
      return
    end
    local doc, err = read_container(fam, path, kind, source, size, depth + 1)
    if doc then return end
    -- text that only looked like a mail is still text
    if kind ~= "mail" and kind ~= "mbox" then
      note(fam, "%s: %s", source, err)
      return
    end
  end
  local doc, err = fam.extract(path, { source = source, size = size, dpi = fam.dpi,
    lang = fam.lang, job_deadline = fam.deadline })
  if not doc then
    fam.failed_members = fam.failed_members + 1
    note(fam, "%s: %s", source, err)
    return
  end
  fam.pages_ocr = fam.pages_ocr + doc.pages_ocr
  for k, v in pairs(doc.stages) do fam.stages[k] = (fam.stages[k] or 0) + v end
  fam.text = fam.text + text_bytes(doc.pages)
  if fam.s.max_text_mb > 0 and fam.text > fam.s.max_text_mb * 1048576 then
    fam.failure = string.format("%s: the members' text passed max_text_mb (%g MB) in all",
      source, fam.s.max_text_mb)
    return
  end
  fam.children[#fam.children + 1] = fam.shape(doc, path, source, size, fam.root_id)
end

-- Reads the members of c, each into the family, until the end, a limit or
-- the family's failure. Two members of one name (two attachments called
-- 資料.pdf, a tar with a file appended twice) would be one document: the
-- second is "資料.pdf~2", in the container's stable order. Member files
-- are c's: the next c:next() or c:close() removes them.
local function read_members(fam, c, source, depth)
  local seen = {}
  while not fam.failure do
    local m, err = c:next()
    if m == nil then
      fam.failure = string.format("%s: %s", source, err)
      break
    end
    if not m then break end
    local name = m.name
    if seen[name] then
      seen[name] = seen[name] + 1
      name = string.format("%s~%d", name, seen[name])
    end
    seen[name] = seen[name] or 1
    local child = source .. "#" .. name
    if m.skipped then
      note(fam, "%s: %s", child, m.skipped)
    else
      fam.expanded = fam.expanded + m.size
      local max = fam.s.max_expanded_mb * 1048576
      if max > 0 and fam.expanded > max then
        fam.failure = string.format("%s: expanded past %g MB in all (max_expanded_mb)",
          child, fam.s.max_expanded_mb)
      else
        add_member(fam, m.path, child, m.size, depth)
      end
    end
  end
end

-- A container at path: its own document (pages of its own text, when it
-- has any), with its members read into the family. The outermost one is
-- the job's document; a nested one joins the members.
read_container = function(fam, path, kind, source, size, depth)
  local t0 = core.mono_ms()
  local c, err, permanent = core.open_container(path, kind, member_limits(fam.s, fam, source))
  if not c then return nil, err, permanent end
  local own = c:text()
  local doc = { mime = c:mime(), pages = {}, pages_ocr = 0, meta = own.meta or {},
    stages = { text = 0, render = 0, ocr = 0 } }
  for i, text in ipairs(own.pages) do
    doc.pages[i] = { page = i, method = "text", text = core.normalize(text) }
  end
  doc.page_count = #doc.pages
  local before, notes_before = #fam.children, #fam.notes
  local slot
  if depth > 1 then
    -- a nested container is a member too, listed before its own members
    slot = #fam.children + 1
    fam.children[slot] = false
    before = slot
  end
  read_members(fam, c, source, depth)
  c:close()
  doc.members = #fam.children - before
  doc.extract_ms = core.mono_ms() - t0
  if own.truncated then
    note(fam, "%s: truncated: text past max_text_mb (%g MB) was left out", source,
      fam.s.max_text_mb)
  end
  if slot then
    local own_notes = {}
    for k = notes_before + 1, #fam.notes do own_notes[#own_notes + 1] = fam.notes[k] end
    doc.note = #own_notes > 0 and table.concat(own_notes, "; ") or nil
    local shaped = fam.shape(doc, path, source, size, fam.root_id)
    shaped.container, shaped.members = true, doc.members
    fam.children[slot] = shaped
  end
  return doc
end

-- Reads the container at path (kind from core.container_kind) as the job's
-- document. opts = {source, id, settings, extract = fn(path, opts) -> doc,
-- shape = fn(doc, path, source, size, parent) -> an index document,
-- deadline, dpi, lang, size}. Returns the container's document with
-- children (index documents, members first to last), members, pages_ocr,
-- notes, failure (the limit that cut the reading, or nil) and stages; or
-- nil, err, permanent when the container cannot be read at all.
function M.read(path, kind, opts)
  local fam = { s = opts.settings, root_id = opts.id, extract = opts.extract,
    shape = opts.shape, deadline = opts.deadline, dpi = opts.dpi, lang = opts.lang,
    children = {}, notes = {}, expanded = 0, text = 0, pages_ocr = 0, failed_members = 0,
    stages = { text = 0, render = 0, ocr = 0 } }
  local doc, err, permanent = read_container(fam, path, kind, opts.source, opts.size, 1)
  if not doc then return nil, err, permanent end
  -- a nested container that could not be read left its slot empty
  local children = {}
  for _, ch in ipairs(fam.children) do
    if ch then children[#children + 1] = ch end
  end
  doc.children, doc.members = children, #children
  doc.pages_ocr = fam.pages_ocr
  doc.failure, doc.notes, doc.failed_members = fam.failure, fam.notes, fam.failed_members
  for k, v in pairs(fam.stages) do doc.stages[k] = (doc.stages[k] or 0) + v end
  return doc
end

return M
