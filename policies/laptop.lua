-- A laptop or desktop indexing a local folder: leave a core for the user,
-- keep memory modest, flush results quickly. (It once set 300 DPI "for
-- accuracy"; measured, more pixels than 150, or 200 for 8 pt print, read
-- no better: policies/README.md, "Languages and DPI".)
return {
  workers = 2,
  max_file_mb = 100,
  max_pages = 300,
  languages = "jpn+eng",
  mupdf_store_mb = 16,
  batch_size = 20,
  batch_max_age_seconds = 2,
}
