-- /etc/docmill/config.lua: the packaged service's configuration. The seed
-- worker's environment variables in /etc/docmill/docmill.env override it
-- (SQS_QUEUE_URL becomes the source, OPENSEARCH_ENDPOINT the index).
return {
  -- Without SQS_QUEUE_URL: files dropped here are indexed (watch mode).
  source = "/var/lib/docmill/inbox",
  index = "sqlite:/var/lib/docmill/docmill.db",
  workers = 0,
  -- The instance type's policy: the AMI's first boot links it here from
  -- /usr/share/docmill/policies/ (deploy/README.md); the built-in default
  -- while the link is missing.
  policy = "/etc/docmill/policy.lua",
  rescan_seconds = 5,
}
