#!/usr/bin/python3
"""Per page, in-process: seconds and CER for each DPI and language set, the
text line height docmill measures, and what a jpn reading holds.

    /usr/bin/python3 bench/pages.py [--dpis 100,125,150] [--langs jpn,jpn+eng,eng]

Why: the default policy's DPI rule (dpi_target_line_px, dpi_min) and its
first-page trial (first_page_languages, first_page_max_latin_per_cjk) stand
on these figures (policies/README.md, "Languages and DPI"). Runs
bench/page_sweep.lua in one `docmill lua` process over the quick corpus's
scans and images (made if absent), OMP_THREAD_LIMIT=1; writes
bench/results/quick-pages.md and .jsonl."""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run import canon, _lev  # noqa: E402  (the benchmark's own CER)

SETS = ("ja", "en", "mixed", "jaen")


def set_of(entry):
    return entry["lang"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dpis", default="100,125,150")
    ap.add_argument("--langs", default="jpn,jpn+eng,eng")
    ap.add_argument("--docmill", default=os.path.join(ROOT, "build", "docmill"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    corpus = os.path.join(args.work, "corpus-quick-1")
    if not os.path.exists(os.path.join(corpus, "truth.json")):
        subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), corpus, "--size",
                        "quick", "--seed", "1"], check=True)
    truth = json.load(open(os.path.join(corpus, "truth.json")))
    scans = tempfile.mkdtemp(prefix="docmill-pages-")
    for name, t in truth.items():
        if t["kind"] in ("scan", "image"):
            os.symlink(os.path.join(corpus, name), os.path.join(scans, name))
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    out = subprocess.run([args.docmill, "lua", os.path.join(HERE, "page_sweep.lua"), scans,
                          args.dpis, args.langs], capture_output=True, text=True, env=env,
                         check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    agg = collections.defaultdict(lambda: [0, 0, 0])
    pages = {}
    for r in rows:
        ref = canon(truth[r["file"]]["pages"][r["page"] - 1])
        err = _lev(canon(r["text"]), ref)
        a = agg[(set_of(truth[r["file"]]), r["langs"], r["dpi"])]
        a[0] += r["ms"]
        a[1] += err
        a[2] += len(ref)
        p = pages.setdefault((r["file"], r["page"]), {"line_px_150": r["line_px_150"]})
        if r["langs"] == "jpn" and r["dpi"] == 150:
            p["cjk"] = sum(1 for ch in r["text"] if 0x3000 <= ord(ch) <= 0x9fff)
            p["latin"] = len(re.findall(r"[A-Za-z]", r["text"]))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "quick-pages.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps({k: v for k, v in r.items() if k != "text"}) + "\n")
    dpis = sorted({r["dpi"] for r in rows})
    langs = args.langs.split(",")
    L = ["# Per page, in-process (`python3 bench/pages.py`)", "",
         "The quick corpus's 22 OCR'd pages, each rendered at each DPI and read with each "
         "language set in one `docmill lua` process (models loaded before timing, "
         "OMP_THREAD_LIMIT=1). Seconds summed over the set's pages / CER.", "",
         "| languages @ DPI | " + " | ".join(SETS) + " |", "|---|" + "---|" * len(SETS)]
    for lg in langs:
        for dpi in dpis:
            cells = []
            for st in SETS:
                a = agg.get((st, lg, dpi))
                cells.append("%.2f s / %.2f %%" % (a[0] / 1000, 100 * a[1] / a[2]) if a else "")
            L.append("| %s @ %d | %s |" % (lg, dpi, " | ".join(cells)))
    L += ["", "Per page: docmill's text line height at 150 DPI, and what `jpn` alone read "
          "at 150 DPI (Japanese characters, Latin letters, Latin per Japanese).", "",
          "| page | set | font pt | line px @ 150 | Japanese | Latin | Latin per Japanese |",
          "|---|---|---|---|---|---|---|"]
    for (f, pg), p in sorted(pages.items()):
        t = truth[f]
        cjk, lat = p.get("cjk", 0), p.get("latin", 0)
        L.append("| %s p%d | %s | %s | %d | %d | %d | %s |" % (
            f, pg, set_of(t), t.get("font_pt"), p["line_px_150"], cjk, lat,
            "%.2f" % (lat / cjk) if cjk else "-"))
    with open(os.path.join(args.out, "quick-pages.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
