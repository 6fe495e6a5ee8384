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
-- first OCR'd page, with what that page held: one model instead of two
-- wherever the CER holds (bench/curve.py; figures in policies/README.md).
--   no Japanese, plenty of Latin: English alone;
--   Japanese with up to as many Latin letters as Japanese characters
--   (manuals, invoices, product sheets full of English words; measured at
--   0.3-0.6 Latin per Japanese character): Japanese alone, which reads
--   their English words as well as jpn+eng, or better, and faster;
--   more Latin than that (English paragraphs between Japanese ones, ~2
--   per character): jpn+eng stays, where jpn alone lost 0.3 points of CER.
local JPN_ALONE_MAX_LATIN_PER_CJK = 1.0

function P.languages(doc)
  local first = doc.first_page
  if not first then return nil end
  local used = first.languages
  if first.cjk == 0 and first.latin >= 200 and used:find("eng", 1, true) then
    return "eng"
  end
  if first.cjk >= 50 and first.latin <= first.cjk * JPN_ALONE_MAX_LATIN_PER_CJK
      and used:find("jpn", 1, true) then
    return "jpn"
  end
  return nil
end

return P
