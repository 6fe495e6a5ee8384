-- docmill's default policy. Compiled into the binary ("builtin:default");
-- copy it to make a policy of your own. Every key is optional: a missing
-- setting or hook means the built-in default shown here. Unknown keys are
-- an error (a typo must not silently fall back). Reference: policies/README.md.
local P = {
  -- Worker threads when the config (or MAX_WORKERS, --workers) does not say;
  -- 0 = one per CPU core.
  workers = 0,
  -- (languages: the hook below; its default set is "jpn+eng".)
  -- Render resolution for OCR of PDF pages (the seed's 200; bench/ shows
  -- the speed/accuracy curve). Images are OCR'd at their own.
  dpi = 200,
  -- ...but never above the resolution of a scanned page's image.
  dpi_cap_native = true,
  -- After a document's first OCR'd page, its other pages are rendered so
  -- their text lines are about this many pixels tall: large print at a
  -- lower DPI, small print at a higher one (150..300; 0 = off).
  dpi_target_line_px = 32,
  -- Files above this size fail permanently (0 = no limit).
  max_file_mb = 200,
  -- PDFs above this size fail permanently (0 = only max_file_mb applies).
  max_pdf_mb = 0,
  -- Pages beyond this are not extracted; the document notes it.
  max_pages = 500,
  -- Render cap per page: larger pages are rendered at a lower DPI;
  -- images with more pixels are refused.
  max_page_megapixels = 40,
  -- A text layer with fewer characters than this is OCR'd instead...
  text_min_chars = 20,
  -- ...and so is one with more than this share of U+FFFD/control chars
  -- (what MuPDF returns for truncated or badly encoded PDFs).
  max_bad_char_ratio = 0.3,
  -- Tesseract page segmentation mode (3 = fully automatic).
  ocr_psm = 3,
  -- Skip Tesseract's pass over inverted (white on black) text.
  ocr_skip_inverted = true,
  -- The process's indexing buffer is flushed as one bulk request (one
  -- SQLite transaction) at this many documents, this many MB, or when its
  -- oldest document has waited this long (sooner when the workers go idle).
  batch_size = 100,
  batch_max_mb = 5,
  batch_max_age_seconds = 5,
  -- Full Lua GC and MuPDF store flush every N jobs (0 = never).
  gc_every_jobs = 50,
  -- MuPDF cache per worker; bigger does not make OCR faster.
  mupdf_store_mb = 16,
  -- Everything MuPDF may hold per worker (cache included): a page that
  -- needs more (a decompression or pixel bomb) fails with "memory limit",
  -- and the document's other pages go on (0 = no cap).
  max_mupdf_mb = 512,
  -- A page's text extraction, render and OCR stop after this long (as
  -- OCRmyPDF's 180 s per page); it is noted as timed out, the rest of the
  -- document is indexed. Pages not started within job_timeout_seconds are
  -- skipped and noted. 0 = no limit.
  page_timeout_seconds = 180,
  job_timeout_seconds = 1800,
  -- Where jobs may send the worker (a crafted message must not reach an
  -- internal host): S3 buckets, space-separated ("*" = any bucket the
  -- credentials can read), and URL prefixes for {"url": ...} jobs, each
  -- "https://host[:port]/[path]" ("" = URL jobs are refused).
  fetch_allowed_buckets = "*",
  fetch_allowed_urls = "",
  -- Transient failures (index down or busy, S3 5xx...) are retried until they
  -- succeed: the first after retry_base_ms, doubling up to retry_max_ms.
  retry_base_ms = 2000,
  retry_max_ms = 300000,
  -- A job whose worker died or stalled while holding it this many times
  -- (a file that crashes or hangs the process) is quarantined as failed.
  max_crashes = 2,
  -- On SIGTERM, jobs in progress get this long to finish (under the 2-minute
  -- EC2 spot notice); whatever is still running then goes back to the queue.
  drain_seconds = 90,
  -- Health: below this much available memory, or free disk in TEMP_DIR and
  -- the index's folder, the worker stops taking jobs, runs a cleanup, and
  -- resumes once both are back (checked every health_check_seconds).
  min_free_memory_mb = 256,
  min_free_disk_mb = 256,
  health_check_seconds = 10,
  -- EC2 spot: ask IMDS for an interruption notice this often and drain on
  -- one (0 = never; off by itself when IMDS does not answer).
  spot_check_seconds = 5,
  -- With --emf: one CloudWatch embedded-metric-format line this often.
  metrics_interval_seconds = 60,
  -- The fast lane: this many workers take only files up to fast_lane_max_mb
  -- (0 = no lane; it needs at least one other worker).
  fast_lane_workers = 0,
  fast_lane_max_mb = 1,
  -- A document with at least this many pages to OCR shares them: its first
  -- OCR page here, the others in runs of page_parallel_chunk pages that
  -- idle workers take (0 = never).
  page_parallel_min_pages = 2,
  page_parallel_chunk = 1,
  -- A running job is invisible to other takers this long (renewed while it runs).
  lease_seconds = 600,
  -- S3 objects above this size download in parallel ranged parts.
  s3_multipart_threshold_mb = 50,
  s3_part_mb = 10,
  s3_parallel_parts = 4,
  -- A JSON file (relative to this policy) with the create-index body
  -- (settings + mappings) for a missing OpenSearch index; "" = docmill's
  -- own mapping (kuromoji when installed, cjk otherwise).
  opensearch_mapping_file = "",
  -- SQS: long-poll wait per receive (0..20 s) and messages per receive.
  sqs_wait_seconds = 20,
  sqs_max_messages = 10,
}

-- route(job) -> "extract" | "skip". job = {id, source, op, size, mtime_ms, attempts}
function P.route(job)
  return "extract"
end

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

-- needs_ocr(page) -> boolean: OCR this PDF page instead of its text layer?
-- page = {page, kind, chars, replacement, control, cjk, letters, bad_ratio,
--         image_coverage, width_pt, height_pt}
function P.needs_ocr(page)
  return page.chars < P.text_min_chars or page.bad_ratio > P.max_bad_char_ratio
end

return P
