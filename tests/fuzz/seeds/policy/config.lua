-- A config file (docmill.config): invalid as a policy, valid as a config.
return {
  source = "docs",
  index = "sqlite:docmill.db",
  workers = 2,
  log_level = "info",
  socket = "run/docmill.sock",
}
