-- A laptop or desktop indexing a local folder: leave a core for the user,
-- keep memory modest, OCR at 300 DPI for accuracy, flush results quickly.
return {
  workers = 2,
  max_file_mb = 100,
  max_pages = 300,
  dpi = 300,
  languages = "jpn+eng",
  mupdf_store_mb = 16,
  batch_size = 20,
  batch_max_age_seconds = 2,
}
