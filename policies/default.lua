-- docmill's default policy. Compiled into the binary ("builtin:default").
-- Every setting's default lives in one place, the schema in C
-- (core/settings/settings.c), listed in policies/README.md and printed by
-- `docmill policy show`; a missing hook means C's built-in decision (route:
-- extract everything; needs_ocr: too few characters or too many broken
-- ones; dpi: the dpi setting). This file holds only what differs: a
-- languages hook. A policy of your own is a table of what it changes; an
-- unknown key is an error (a typo must not silently fall back).
local P = {}

-- languages(doc) -> a language set, or nil for the `languages` setting
-- (jpn+eng, or OCR_LANGUAGE). Asked once per document and again after its
-- first OCR'd page: a scan whose first page holds plenty of Latin text and
-- no Japanese at all goes on in English alone, one that is Japanese with
-- next to no Latin text in Japanese alone — one model instead of two.
function P.languages(doc)
  local first = doc.first_page
  if not first then return nil end
  local used = first.languages
  if first.cjk == 0 and first.latin >= 200 and used:find("eng", 1, true) then
    return "eng"
  end
  -- Japanese with next to no Latin text: the jpn model alone (it reads the
  -- odd ASCII word too), a third faster than jpn+eng at the same CER.
  if first.cjk >= 100 and first.latin <= first.cjk / 20 and used:find("jpn", 1, true) then
    return "jpn"
  end
  return nil
end

return P
