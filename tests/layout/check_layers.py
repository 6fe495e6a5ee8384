#!/usr/bin/python3
"""The source tree's layering (issue 12), checked on every test run:
  - core/'s folders include each other without a cycle;
  - each layer includes only its own and lower layers:
      primitives (base settings extract container net fetch queue index ops)
      < luabridge < daemon < cli;
  - no primitive includes a Lua header;
  - no source file is over 900 lines, no folder holds over 15 .c files.
Prints one line per violation and a closing "N passed, N failed" line."""
import os
import re
import sys

SOURCE = os.environ.get("DOCMILL_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
CORE = os.path.join(SOURCE, "core")
PRIMITIVES = ["base", "settings", "extract", "container", "net", "fetch", "queue", "index", "ops"]
LAYER = dict({f: 0 for f in PRIMITIVES}, luabridge=1, daemon=2, cli=3)
LUA_HEADERS = {"lua.h", "lauxlib.h", "lualib.h", "luajit.h"}
MAX_LINES, MAX_C_FILES = 900, 15


def sources():
    for d, _, files in os.walk(CORE):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(d, f)


def main():
    checks, problems = 0, []
    edges = {}
    c_files = {}
    for path in sources():
        rel = os.path.relpath(path, CORE)
        folder = rel.split("/")[0]
        checks += 1
        if folder not in LAYER:
            problems.append("%s: folder %s is in no layer" % (rel, folder))
            continue
        if path.endswith(".c"):
            c_files[folder] = c_files.get(folder, 0) + 1
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if len(lines) > MAX_LINES:
            problems.append("%s: %d lines (at most %d)" % (rel, len(lines), MAX_LINES))
        for n, line in enumerate(lines, 1):
            m = re.match(r'\s*#\s*include\s+"([^"/]+)/', line)
            if m:
                to = m.group(1)
                if to not in LAYER:
                    problems.append("%s:%d: includes from unknown folder %s" % (rel, n, to))
                elif to != folder:
                    edges.setdefault(folder, set()).add(to)
                    if LAYER[to] > LAYER[folder]:
                        problems.append("%s:%d: %s (layer %d) includes %s (layer %d)"
                                        % (rel, n, folder, LAYER[folder], to, LAYER[to]))
            elif re.match(r'\s*#\s*include\s+"[^"/]+"', line):
                problems.append("%s:%d: include without its folder: %s" % (rel, n, line.strip()))
            m = re.match(r"\s*#\s*include\s+<([^>]+)>", line)
            if m and m.group(1) in LUA_HEADERS and LAYER[folder] == 0:
                problems.append("%s:%d: a primitive includes <%s>" % (rel, n, m.group(1)))
    for folder, n in sorted(c_files.items()):
        checks += 1
        if n > MAX_C_FILES:
            problems.append("core/%s: %d .c files (at most %d)" % (folder, n, MAX_C_FILES))
    # No cycle among folders (depth-first search).
    state = {}

    def visit(f, stack):
        state[f] = "open"
        for to in sorted(edges.get(f, ())):
            if state.get(to) == "open":
                problems.append("folders include each other in a circle: %s"
                                % " -> ".join(stack[stack.index(to):] + [to]))
            elif to not in state:
                visit(to, stack + [to])
        state[f] = "done"

    for f in sorted(edges):
        checks += 1
        if f not in state:
            visit(f, [f])
    for p in problems:
        print(p)
    failed = len(problems)
    print("%d passed, %d failed" % (max(checks - failed, 0), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
