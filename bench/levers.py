#!/usr/bin/python3
"""Per-page cost of the OCR levers, with the tesseract CLI on single pages.

    /usr/bin/python3 bench/levers.py [--corpus DIR] [--repeats 3] [--tessdata DIR]

Why: bench/run.py measures whole runs; this isolates one page of each
language (Japanese, English, mixed) of the quick corpus, rendered at 200 DPI
like the baseline, and times each Tesseract setting on it (best of
--repeats, OMP_THREAD_LIMIT=1), with the CLI's model-loading time measured
on a blank image and reported beside it. It answers "what else could make
OCR cheaper" before a policy default is changed. Prints Markdown."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import canon, _lev  # noqa: E402  (same CER as the benchmark)

VARIANTS = [
    ("jpn+eng", []), ("jpn", []), ("eng", []),
    ("jpn+eng", ["--psm", "6"]), ("jpn", ["--psm", "6"]),
    ("jpn+eng", ["-c", "load_system_dawg=0", "-c", "load_freq_dawg=0"]),
    ("jpn+eng", ["-c", "tessedit_do_invert=0"]),
]


def timed(argv, repeats):
    best, out = None, ""
    for _ in range(repeats):
        t0 = time.monotonic()
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        dt = time.monotonic() - t0
        best = dt if best is None else min(best, dt)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", help="a bench/corpus.py --size quick folder (made if absent)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tessdata", help="another tessdata folder to try the models of")
    args = ap.parse_args()
    os.environ["OMP_THREAD_LIMIT"] = "1"
    work = tempfile.mkdtemp(prefix="docmill-levers-")
    corpus = args.corpus or os.path.join(work, "corpus")
    if not os.path.exists(os.path.join(corpus, "truth.json")):
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "corpus.py"), "--size", "quick",
                        corpus], check=True, stdout=subprocess.DEVNULL)
    truth = json.load(open(os.path.join(corpus, "truth.json")))
    extra_dir = ["--tessdata-dir", args.tessdata] if args.tessdata else []
    blank = os.path.join(work, "blank.pgm")
    with open(blank, "wb") as f:
        f.write(b"P5 64 64 255\n" + b"\xff" * 64 * 64)
    print("| page | languages | options | seconds | of which model load | CER |")
    print("|---|---|---|---|---|---|")
    for lang_tag in ("ja", "en", "mixed"):
        name = sorted(n for n, t in truth.items()
                      if t["kind"] == "scan" and t["lang"] == lang_tag)[0]
        png = os.path.join(work, lang_tag)
        subprocess.run(["pdftocairo", "-gray", "-png", "-r", "200", "-f", "1", "-l", "1",
                        "-singlefile", os.path.join(corpus, name), png], check=True)
        ref = canon(truth[name]["pages"][0])
        for langs, opts in VARIANTS:
            base = ["tesseract"] + extra_dir
            load, _ = timed(base + [blank, "-", "-l", langs], args.repeats)
            secs, out = timed(base + [png + ".png", "-", "-l", langs] + opts, args.repeats)
            cer = _lev(canon(out), ref) / max(1, len(ref))
            print(f"| {name} p1 | {langs} | {' '.join(opts) or '-'} | {secs:.2f} | "
                  f"{load:.2f} | {cer:.4f} |", flush=True)


if __name__ == "__main__":
    main()
