-- The first page's trial (first_page_languages = "jpn", this test's
-- policy: first_page_trial.policy.lua): the middle of the page read with
-- every model; the page with jpn alone when that holds Japanese, kept when
-- the page does, read again with the languages setting when not.
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
  -- A short letter: its blank middle says nothing, its upper body holds
  -- Japanese (read with every model); the page is read with jpn alone.
  local doc = extract("scan_ja.pdf")
  T.eq(table.concat(used, " "), "jpn+eng(band) jpn+eng(band) jpn",
       "Japanese: the middle, the upper body, then the page")
  T.contains(doc.pages[1].text, "株式会社山田製作所")
  -- An English letter: its upper body says so, and the page is read
  -- once, with every model.
  doc = extract("scan_en.pdf")
  T.eq(table.concat(used, " "), "jpn+eng(band) jpn+eng(band) jpn+eng",
       "English letter: read once")
  T.contains(doc.pages[1].text, "invoice number 48213")
  -- A middle that reads as English: every model at once, read once.
  doc = extract("scan_en.pdf", nil, ("the quarterly budget was approved "):rep(8))
  T.eq(table.concat(used, " "), "jpn+eng(band) jpn+eng", "English: the middle says so")
  T.contains(doc.pages[1].text, "invoice number 48213")
  -- A Japanese middle on an English page: the trial, then read again.
  doc = extract("scan_en.pdf", nil, ("予算は承認されました。"):rep(3))
  T.eq(table.concat(used, " "), "jpn+eng(band) jpn jpn+eng", "English: read again")
  T.contains(doc.pages[1].text, "invoice number 48213")
  -- Two lines of English, neither in the middle: every model, and the
  -- rest with the setting.
  doc = extract("multi.tif")
  T.eq(table.concat(used, " "), "jpn+eng(band) jpn+eng(band) jpn+eng jpn+eng")
  T.contains(doc.pages[2].text, "second tiff page")
  -- --lang is never second-guessed.
  extract("scan_en.pdf", { lang = "eng" })
  T.eq(table.concat(used, " "), "eng")
end)

return T.run()
