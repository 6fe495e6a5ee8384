#!/usr/bin/python3
"""Measure Tesseract CLI accuracy on the OCR inputs of a generated corpus.

Usage: /usr/bin/python3 tests/corpus/check_ocr.py CORPUSDIR

For every file in truth.json with kind scan/image (only the image-only pages
of mixed.pdf), runs `tesseract` (OMP_THREAD_LIMIT=1) page by page, prints
the character error rate (Levenshtein over characters, whitespace removed)
and whether every phrase was recognised (also compared without whitespace).
PDF pages are rendered with `mutool draw -r 300 -c gray`; image files are
given to tesseract as-is (multi-page TIFF output is split on form feeds).
It also checks that text-layer PDF pages extract (mutool draw -F txt) to
exactly the truth text (blank lines ignored), that image-only PDF pages have
no extractable text, and that plain-text files decode to the truth text.
Exit status 1 if any phrase is missed or any of these checks fails.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from textmetrics import levenshtein  # noqa: E402


def strip_ws(s):
    return "".join(s.split())


def tesseract(path, lang):
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    r = subprocess.run(["tesseract", path, "-", "-l", lang], env=env,
                       capture_output=True, check=True)
    return r.stdout.decode("utf-8")


def ocr_pages(path, npages, ocr_idx, lang, tmp):
    if path.endswith(".pdf"):
        out = {}
        for i in ocr_idx:
            png = os.path.join(tmp, "p%d.png" % i)
            subprocess.run(["mutool", "draw", "-q", "-r", "300", "-c", "gray",
                            "-o", png, path, str(i + 1)], check=True,
                           capture_output=True)
            out[i] = tesseract(png, lang)
        return out
    pages = tesseract(path, lang).split("\f")
    return {i: pages[i] if i < len(pages) else "" for i in ocr_idx}


def mutool_text(path, page):
    r = subprocess.run(["mutool", "draw", "-q", "-F", "txt", path, str(page)],
                       capture_output=True, check=True)
    return "\n".join(l for l in r.stdout.decode("utf-8").replace("\f", "")
                     .splitlines() if l.strip())


def check_layers(corpus, truth):
    ok = True
    for name, t in sorted(truth.items()):
        path = os.path.join(corpus, name)
        if t["kind"] == "plain":
            got = open(path, "rb").read().decode(t["encoding"]).rstrip("\n")
            good = got == t["pages"][0]
        elif name.endswith(".pdf") and t["kind"] in ("text", "scan"):
            kinds = t.get("page_kinds") or [t["kind"]] * len(t["pages"])
            good = True
            for i, k in enumerate(kinds):
                want = t["pages"][i] if k == "text" else ""
                good &= mutool_text(path, i + 1) == want
        else:
            continue
        ok &= good
        print("%-22s text layer/decoding %s" % (name, "OK" if good else "MISMATCH"))
    return ok


def main(corpus):
    truth = json.load(open(os.path.join(corpus, "truth.json"), encoding="utf-8"))
    ok = check_layers(corpus, truth)
    with tempfile.TemporaryDirectory() as tmp:
        for name, t in sorted(truth.items()):
            if t["kind"] not in ("scan", "image"):
                continue
            kinds = t.get("page_kinds") or [t["kind"]] * len(t["pages"])
            idx = [i for i, k in enumerate(kinds) if k in ("scan", "image")]
            plangs = {t.get("page_langs", [t["lang"]] * len(kinds))[i] for i in idx}
            langs = {frozenset(["en"]): ["eng"],
                     frozenset(["ja"]): ["jpn", "jpn+eng"]}.get(
                         frozenset(plangs), ["eng+jpn", "jpn+eng"])
            for lang in langs:
                got = ocr_pages(os.path.join(corpus, name), len(t["pages"]),
                                idx, lang, tmp)
                ref = "".join(strip_ws(t["pages"][i]) for i in idx)
                hyp = "".join(strip_ws(got[i]) for i in idx)
                cer = levenshtein(ref, hyp) / max(1, len(ref))
                phrases = [p for p in t["phrases"]
                           if any(strip_ws(p) in strip_ws(t["pages"][i]) for i in idx)]
                missed = [p for p in phrases if strip_ws(p) not in hyp]
                ok &= not missed
                print("%-22s %-8s CER %6.2f%%  (%d/%d chars)  phrases %s" % (
                    name, lang, 100 * cer, levenshtein(ref, hyp), len(ref),
                    "OK" if not missed else "MISSED " + repr(missed)))
                if os.environ.get("VERBOSE"):
                    print("   ", repr("\f".join(got[i] for i in idx)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
