-- The built-in choice of languages (no languages hook: this state runs the
-- built-in policy), on the figures the benchmark's first pages give
-- (bench/corpus.py: Latin letters and Japanese characters of a first page;
-- bench/curve.py measured which model set reads each best).
local T = require "docmill.testing"
local core = require "docmill.core"

local function after_first_page(cjk, latin, used)
  local langs = core.policy_languages({ source = "/x.pdf", mime = "application/pdf", kind = "pdf",
    page_count = 3, first_page = { languages = used or "jpn+eng", chars = cjk * 3 + latin,
                                   cjk = cjk, latin = latin } })
  return langs ~= core.settings().languages and langs or nil
end

T.test("before any page: the languages setting", function()
  T.eq(core.policy_languages({ source = "/x.pdf", mime = "application/pdf", kind = "pdf",
    page_count = 3 }), "jpn+eng")
end)

T.test("Japanese full of English words: Japanese alone", function()
  T.eq(after_first_page(1414, 560), "jpn", "8 pt manual page, 0.40 Latin per character")
  T.eq(after_first_page(364, 222), "jpn", "16 pt product sheet, 0.61")
  T.eq(after_first_page(649, 0), "jpn", "Japanese prose")
  T.eq(after_first_page(300, 300), "jpn", "as many Latin letters as Japanese characters")
end)

T.test("English paragraphs between Japanese ones: both models", function()
  T.eq(after_first_page(344, 723), nil, "2.1 Latin per character")
  T.eq(after_first_page(372, 621), nil, "1.7")
  T.eq(after_first_page(300, 301), nil, "just over the line")
end)

T.test("English alone only without Japanese; little text decides nothing", function()
  T.eq(after_first_page(0, 1450), "eng")
  T.eq(after_first_page(0, 150), nil, "too little to judge")
  T.eq(after_first_page(20, 10), nil, "too few Japanese characters to judge")
  T.eq(after_first_page(3, 1450), nil, "a few Japanese characters keep jpn+eng")
end)

T.test("never a model the first page did not use", function()
  T.eq(after_first_page(649, 0, "eng"), nil, "a document forced to English stays so")
  T.eq(after_first_page(0, 1450, "jpn"), nil)
end)
