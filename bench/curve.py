#!/usr/bin/python3
"""OCR cost and accuracy of each language set and DPI, per set of the corpus.

    /usr/bin/python3 bench/curve.py [--size quick|full] [--configs jpn+eng@200,jpn@150,...]
                                    [--sets ja,en,mixed,jaen] [--docmill build/docmill]

Why: the default policy's language and DPI choices (policies/default.lua,
the dpi and dpi_target_line_px settings) must come from measurements on
documents like the ones it will meet, including Japanese full of English
words and small print. This runs `docmill extract --json` (in-process
Tesseract, OMP_THREAD_LIMIT=1, one file at a time, so nothing competes for
the core) on every scanned PDF and image of the benchmark corpus under each
configuration, and prints, per set and per font size, the seconds and the
character error rate against the truth. "default" is the built-in policy
deciding for itself. Prints Markdown; writes OUT/NAME.md and .json (NAME: <size>-curve).

    python3 bench/corpus.py --size full --langs jaen build/bench/corpus-full-jaen
    python3 bench/curve.py --corpus build/bench/corpus-full-jaen --sets jaen \
        --configs jpn+eng@200,jpn+eng@150,jpn@150,jpn@200 --name full-jaen-curve
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run import canon, _lev  # noqa: E402  (the benchmark's own CER)

DEFAULT_CONFIGS = "jpn+eng@200,jpn@200,jpn+eng@150,jpn@150,jpn@250,eng@150,default"


def extract(binary, path, config):
    argv = [binary, "extract", "--json", path]
    if config != "default":
        lang, dpi = config.split("@")
        argv += ["--lang", lang, "--dpi", dpi]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t0 = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout
    secs = time.monotonic() - t0
    doc = json.loads(out)
    return secs, {p["page"]: p["text"] for p in doc["pages"]}, sorted(
        {str(p.get("dpi")) for p in doc["pages"]})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=("quick", "full"), default="quick")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help="LANGS@DPI,... or default (the built-in policy)")
    ap.add_argument("--sets", default="ja,en,mixed,jaen")
    ap.add_argument("--corpus", help="a corpus folder (default: the benchmark's, made if absent)")
    ap.add_argument("--docmill", default=os.path.join(ROOT, "build", "docmill"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--name", help="results file name (default: SIZE-curve)")
    args = ap.parse_args()
    corpus = args.corpus or os.path.join(args.work, "corpus-%s-%d" % (args.size, args.seed))
    if not os.path.exists(os.path.join(corpus, "truth.json")):
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "corpus.py"), corpus, "--size",
                        args.size, "--seed", str(args.seed)], check=True)
    truth = json.load(open(os.path.join(corpus, "truth.json")))
    sets = args.sets.split(",")
    files = sorted(n for n, t in truth.items()
                   if t["kind"] in ("scan", "image") and t["lang"] in sets)
    rows = []
    for config in args.configs.split(","):
        for name in files:
            t = truth[name]
            if config.startswith("eng@") and t["lang"] != "en":
                continue      # English alone is only a choice for English pages
            secs, pages, dpis = extract(args.docmill, os.path.join(corpus, name), config)
            err = ref_len = 0
            for i, ref in enumerate(t["pages"], 1):
                r = canon(ref)
                err += _lev(r, canon(pages.get(i, "")))
                ref_len += len(r)
            rows.append({"config": config, "file": name, "set": t["lang"],
                         "font_pt": t["font_pt"], "pages": len(t["pages"]), "seconds": secs,
                         "errors": err, "chars": ref_len, "dpi_used": dpis})
            sys.stderr.write("  %-14s %-28s %5.1f s  CER %.4f  dpi %s\n"
                             % (config, name, secs, err / max(1, ref_len), ",".join(dpis)))

    def summary(key):
        out = {}
        for r in rows:
            k = (r["config"], key(r))
            a = out.setdefault(k, {"seconds": 0, "pages": 0, "errors": 0, "chars": 0})
            for f in ("seconds", "pages", "errors", "chars"):
                a[f] += r[f]
        return out

    cmd = " ".join(["python3 bench/curve.py"] + sys.argv[1:])
    md = ["# OCR per language set and DPI (`%s`)\n" % cmd,
          "`docmill extract`, one file at a time, OMP_THREAD_LIMIT=1. Seconds per page include "
          "opening the file and loading the models (~0.3 s a file).\n"]
    for title, key in (("set", lambda r: r["set"]),
                       ("set and font size", lambda r: "%s %gpt" % (r["set"], r["font_pt"]))):
        s = summary(key)
        groups = sorted({k[1] for k in s})
        md.append("\n## By %s: seconds per page / CER\n" % title)
        md.append("| config | " + " | ".join(groups) + " |")
        md.append("|---|" + "---|" * len(groups))
        for config in args.configs.split(","):
            cells = []
            for g in groups:
                a = s.get((config, g))
                cells.append("%.2f / %.4f" % (a["seconds"] / a["pages"], a["errors"] / max(1, a["chars"]))
                             if a else "")
            md.append("| %s | %s |" % (config, " | ".join(cells)))
    text = "\n".join(md) + "\n"
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.name or "%s-curve" % args.size)
    with open(stem + ".json", "w") as f:
        json.dump({"command": cmd, "rows": rows}, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
