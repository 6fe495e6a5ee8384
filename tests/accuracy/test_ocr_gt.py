#!/usr/bin/python3
"""OCR accuracy on real scans with ground truth (../shared/corpora/ocr_gt).

Runs `docmill extract --json` on a fixed selection of English and Japanese
pages and compares the character error rate (whitespace removed, NFKC) with
the Tesseract 5.3.0 CLI figures in BASELINE_tesseract-5.3.0.tsv, measured the
same way. docmill must stay within MARGIN of the CLI on every page: it uses
the same engine in-process, so a larger gap means the pipeline (rendering,
normalisation, settings) is losing text.

Skipped (exit 77) when the shared corpus is not there.
"""
import csv
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from textmetrics import cer  # noqa: E402

MARGIN = 0.02   # absolute CER points per page
SELECTION = [
    # (image, --lang); the image-only PDF goes through render + OCR.
    ("en/tesseract-test/phototest.tif", "eng"),
    ("en/tesseract-test/eurotext.tif", "eng"),
    ("en/tesseract-test/phototest.imageonly.pdf", "eng"),
    ("ja/run-melos/page01.png", "jpn+eng"),
    ("ja/run-melos/page04.png", "jpn+eng"),
    ("ja/nlp2004slides/page01.png", "jpn+eng"),
    ("ja/nlp2004slides/page03.png", "jpn+eng"),
    ("ja/nlp2004slides/page07.png", "jpn+eng"),
    ("ja/pdfjs-renders/issue16063.page01.png", "jpn+eng"),
    ("ja/pdfjs-renders/issue16538.page01.png", "jpn+eng"),
]


def main():
    src = os.environ.get("DOCMILL_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
    root = os.path.normpath(os.path.join(src, "..", "shared", "corpora", "ocr_gt"))
    if not os.path.isdir(root):
        print("skipped: %s not present" % root)
        return 77
    binary = os.environ["DOCMILL_BIN"]
    manifest = {}
    with open(os.path.join(root, "MANIFEST.csv"), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            manifest[row["image"]] = row["ground_truth"]
    baseline = {}
    with open(os.path.join(root, "BASELINE_tesseract-5.3.0.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            baseline[cols[0]] = float(cols[5])
    passed = failed = 0
    print("%-45s %8s %8s" % ("page", "docmill", "CLI"))
    for image, lang in SELECTION:
        with open(os.path.join(root, manifest[image]), encoding="utf-8") as f:
            truth = f.read()
        out = subprocess.run([binary, "extract", "--json", "--lang", lang, os.path.join(root, image)],
                             capture_output=True, text=True, timeout=300)
        doc = json.loads(out.stdout)
        text = "\n".join(p["text"] for p in doc["pages"])
        got = cer(truth, text)
        # The image-only PDF wraps the TIFF: compare with the TIFF's figure.
        ref = baseline.get(image, baseline.get(image.replace(".imageonly.pdf", ".tif")))
        ok = out.returncode == 0 and got <= ref + MARGIN
        print("%-45s %8.3f %8.3f %s" % (image, got, ref, "ok" if ok else "WORSE"))
        if ok:
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
