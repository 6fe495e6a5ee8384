-- luacheck configuration (run by ctest as lint_lua).
std = "luajit"
max_line_length = 110

-- Policy files run in docmill's locked sandbox: only these globals exist,
-- and hooks document their argument even when they ignore it.
files["policies"] = {
  std = "min",
  read_globals = { "log" },
  unused_args = false,
}
files["config.lua"] = { std = "min" }
