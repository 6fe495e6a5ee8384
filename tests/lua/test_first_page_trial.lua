-- The first page's trial (first_page_languages = "jpn", this test's
-- policy: first_page_trial.policy.lua): read with jpn alone when the middle
-- of the page holds Japanese, kept when the page does, read again with the
-- languages setting when not.
local T = require "docmill.testing"
local core = require "docmill.core"
local pipeline = require "docmill.pipeline"

local path = T.corpus

-- Replaces core functions for the duration of fn, restoring them after.
local function with_stubs(stubs, fn) T.with_stubs(core, stubs, fn) end

T.test("the policy asks for a trial", function()
  local first, flag = core.policy_languages({})
  T.eq(first .. " " .. tostring(flag), "jpn trial")
end)

T.test("a first page is read with jpn alone, kept when Japanese, read again when English",
  function()
  local used = {}
  local real_ocr = core.ocr
  local function extract(name, opts, band_text)
    used = {}
    local doc
    with_stubs({ ocr = function(img, langs, o)
      used[#used + 1] = langs .. (o and o.band and "(band)" or "")
      if band_text and o and o.band then return band_text, { confidence = 90 } end
      return real_ocr(img, langs, o)
    end }, function() doc = assert(pipeline.extract_file(path(name), opts)) end)
    return doc
  end
  local doc = extract("scan_ja.pdf")
  T.eq(table.concat(used, " "), "jpn(band) jpn", "Japanese: the middle, then the page")
  T.contains(doc.pages[1].text, "株式会社山田製作所")
  doc = extract("scan_en.pdf")
  -- Its middle holds no text (a short letter): the trial, read again.
  T.eq(table.concat(used, " "), "jpn(band) jpn jpn+eng", "English: read again")
  T.contains(doc.pages[1].text, "invoice number 48213")
  -- A middle that reads as English: every model at once, read once.
  doc = extract("scan_en.pdf", nil, ("the quarterly budget was approved "):rep(8))
  T.eq(table.concat(used, " "), "jpn(band) jpn+eng", "English: the middle says so")
  T.contains(doc.pages[1].text, "invoice number 48213")
  -- Two lines of English: read again, and the rest with the setting.
  doc = extract("multi.tif")
  T.eq(table.concat(used, " "), "jpn(band) jpn jpn+eng jpn+eng")
  T.contains(doc.pages[2].text, "second tiff page")
  -- --lang is never second-guessed.
  extract("scan_en.pdf", { lang = "eng" })
  T.eq(table.concat(used, " "), "eng")
end)

return T.run()
