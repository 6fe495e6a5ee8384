-- Settings only.
return {
  dpi = 300,
  languages = "eng",
  batch_size = 50,
  max_bad_char_ratio = 0.25,
  ocr_skip_inverted = false,
  max_pages = 1000,
  mupdf_store_mb = 32,
}
