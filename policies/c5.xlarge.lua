-- c5.xlarge: 4 vCPU, 8 GiB. The seed's recommendation: 3 workers (one core
-- left for the loop, the indexer thread and the OS), 200 MB files, 500
-- pages, jpn+eng, SQS batches of 10 with 20 s long polls, a full GC every 50
-- files. Its 200 DPI is left to the built-in 150 (200 for 8 pt print): as
-- accurate and faster, measured in policies/README.md. Everything not set
-- here is the built-in default (policies/README.md).
return {
  workers = 3,
  max_file_mb = 200,
  max_pages = 500,
  languages = "jpn+eng",
  sqs_max_messages = 10,
  sqs_wait_seconds = 20,
  gc_every_jobs = 50,
}
