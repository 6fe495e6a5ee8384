-- c5.2xlarge: 8 vCPU, 16 GiB. Seven workers, bigger files and documents;
-- the built-in DPI (150, 200 for 8 pt print) and choice of languages.
return {
  workers = 7,
  max_file_mb = 500,
  max_pages = 1000,
  languages = "jpn+eng",
  sqs_max_messages = 10,
  sqs_wait_seconds = 20,
  gc_every_jobs = 50,
  -- One of the seven keeps small files (up to 2 MB) moving while the others
  -- grind through long scans.
  fast_lane_workers = 1,
  fast_lane_max_mb = 2,
  -- Seven Tesseract engines: pause before the kernel's OOM killer would act.
  min_free_memory_mb = 512,
}
