#!/usr/bin/python3
"""The baseline for docmill's benchmark: what the Python pipeline docmill
replaces ("the seed") does underneath, run the same way on the same files.

    /usr/bin/python3 bench/baseline.py --workers N [--lang jpn+eng]
        [--dpi 200] --out RESULT.json INPUT_DIR

- a multiprocessing Pool(N) over the files of INPUT_DIR (sorted,
  imap_unordered, one file per task);
- PDFs: the text layer with pdfminer.six (pdfminer.high_level.extract_text,
  10 pages per call, as the pdfplumber-based seed did); a page with fewer
  than 20 non-space characters counts as scanned and is rendered with
  `pdftocairo -jpeg -r DPI -f N -l N -singlefile` into a temp dir, then read
  with `tesseract IMG stdout -l LANG` (pdf2image + pytesseract do the same);
- images (png, jpg, jpeg, tif, tiff) go straight to `tesseract`; a
  multi-page TIFF is one call, its output split into pages on form feeds;
- every child runs with OMP_THREAD_LIMIT=1 (see --help);
- a file that fails (corrupt PDF, tool error) is recorded, never fatal.
Other files (truth.json, ...) are listed under "skipped".

RESULT.json:
  {"tool": "baseline", "workers": N, "lang": L, "dpi": D, "input": DIR,
   "omp_thread_limit": "1", "wall_seconds": s, "cpu_seconds": s,
   "max_process_rss_kb": largest single process (not the tree's sum),
   "files_per_hour": f, "pages_per_hour": p,
   "totals": {"files", "files_failed", "pages", "pages_ocr"},
   "stage_seconds": {"text": s, "render": s, "ocr": s},
   "skipped": [names],
   "files": {"<name relative to DIR>": {
       "kind": "pdf"|"image", "bytes": n, "pages": n, "pages_ocr": n,
       "ocr_pages": [0-based page indexes], "text": ["page text", ...],
       "seconds": {"text": pdfminer, "render": pdftocairo, "ocr": tesseract},
       "wall_seconds": s, "error": null | "message", "worker": pid}}}

Needs Debian's python3-pdfminer, poppler-utils and tesseract-ocr(-jpn).
"""
import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
PDF_EXT = (".pdf",)
CHUNK = 10          # pages per extract_text call
MIN_CHARS = 20      # fewer non-space characters than this: a scanned page
TIMEOUT = 900       # seconds per external command

OPTS = {}           # lang, dpi: set in each worker by init()


def init(opts):
    OPTS.update(opts)


def run(cmd):
    """Run an external tool; stdout as text, or raise with its stderr."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT, env=os.environ.copy())
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("%s exited %d: %s" % (cmd[0], r.returncode,
                                                 " | ".join(err[-3:])))
    return r.stdout.decode("utf-8", "replace")


def tesseract(img):
    return run(["tesseract", img, "stdout", "-l", OPTS["lang"]])


def pdf_page_count(path):
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    with open(path, "rb") as f:
        doc = PDFDocument(PDFParser(f))
        return sum(1 for _ in PDFPage.create_pages(doc))


def do_pdf(path, rec):
    from pdfminer.high_level import extract_text
    sec = rec["seconds"]
    t = time.perf_counter()
    n = pdf_page_count(path)
    rec["pages"] = n
    texts = []
    for start in range(0, n, CHUNK):
        pages = range(start, min(start + CHUNK, n))
        chunk = extract_text(path, page_numbers=pages).split("\f")
        chunk += [""] * (len(pages) - len(chunk))
        texts += chunk[:len(pages)]
    sec["text"] += time.perf_counter() - t
    rec["text"] = texts
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        for i, text in enumerate(texts):
            if len("".join(text.split())) >= MIN_CHARS:
                continue
            prefix = os.path.join(tmp, "p%d" % (i + 1))
            t = time.perf_counter()
            run(["pdftocairo", "-jpeg", "-r", str(OPTS["dpi"]), "-f", str(i + 1),
                 "-l", str(i + 1), "-singlefile", path, prefix])
            sec["render"] += time.perf_counter() - t
            t = time.perf_counter()
            texts[i] = tesseract(prefix + ".jpg")
            sec["ocr"] += time.perf_counter() - t
            os.unlink(prefix + ".jpg")
            rec["ocr_pages"].append(i)
            rec["pages_ocr"] += 1


def do_image(path, rec):
    t = time.perf_counter()
    out = tesseract(path)
    rec["seconds"]["ocr"] += time.perf_counter() - t
    pages = out.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()               # tesseract ends every page with \f
    rec["text"] = pages
    rec["pages"] = rec["pages_ocr"] = len(pages)
    rec["ocr_pages"] = list(range(len(pages)))


def process(job):
    name, path = job
    rec = {"kind": "pdf" if path.lower().endswith(PDF_EXT) else "image",
           "bytes": os.path.getsize(path), "pages": 0, "pages_ocr": 0,
           "ocr_pages": [], "text": [],
           "seconds": {"text": 0.0, "render": 0.0, "ocr": 0.0},
           "wall_seconds": 0.0, "error": None, "worker": os.getpid()}
    t = time.perf_counter()
    try:
        (do_pdf if rec["kind"] == "pdf" else do_image)(path, rec)
    except Exception as e:        # a bad file must not stop the pool
        rec["error"] = "%s: %s" % (type(e).__name__, str(e)[:500])
    rec["wall_seconds"] = time.perf_counter() - t
    return name, rec


def list_files(top):
    jobs, skipped = [], []
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(d, f)
            name = os.path.relpath(path, top)
            if f.lower().endswith(PDF_EXT + IMAGE_EXT):
                jobs.append((name, path))
            else:
                skipped.append(name)
    return sorted(jobs), sorted(skipped)


def main(argv):
    ap = argparse.ArgumentParser(
        description="Seed-style Python baseline (pdfminer + pdftocairo + "
        "tesseract CLI in a multiprocessing pool) for docmill's benchmark.",
        epilog="Every child process runs with OMP_THREAD_LIMIT=1 (override "
        "with --omp-thread-limit): that is the baseline's best setting. "
        "With OpenMP left on, each tesseract starts one thread per core and "
        "N workers oversubscribe the CPU (issue 5: 220 s instead of 62 s "
        "for a 15-page jpn+eng scan).")
    ap.add_argument("input_dir")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--lang", default="jpn+eng")
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--out", required=True, metavar="RESULT.json")
    ap.add_argument("--omp-thread-limit", default="1",
                    help="OMP_THREAD_LIMIT for every child (default 1; "
                    "'' leaves the environment as it is)")
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="no per-file progress on stderr")
    a = ap.parse_args(argv)

    if a.omp_thread_limit:
        os.environ["OMP_THREAD_LIMIT"] = a.omp_thread_limit
    jobs, skipped = list_files(a.input_dir)
    files = {}
    t0 = time.perf_counter()
    c0 = os.times()
    with multiprocessing.Pool(a.workers, init,
                              ({"lang": a.lang, "dpi": a.dpi},)) as pool:
        for name, rec in pool.imap_unordered(process, jobs):
            files[name] = rec
            if not a.quiet:
                print("%-40s %3d pages %3d OCR %7.2f s%s" % (
                    name, rec["pages"], rec["pages_ocr"], rec["wall_seconds"],
                    "  ERROR " + rec["error"] if rec["error"] else ""),
                    file=sys.stderr)
        pool.close()
        pool.join()
    wall = time.perf_counter() - t0
    c1 = os.times()
    cpu = sum(c1[i] - c0[i] for i in range(4))    # self + waited children

    stages = {k: round(sum(r["seconds"][k] for r in files.values()), 3)
              for k in ("text", "render", "ocr")}
    n_pages = sum(r["pages"] for r in files.values())
    result = {
        "tool": "baseline", "workers": a.workers, "lang": a.lang, "dpi": a.dpi,
        "input": os.path.abspath(a.input_dir),
        "omp_thread_limit": os.environ.get("OMP_THREAD_LIMIT"),
        "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
        "max_process_rss_kb": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
        "files_per_hour": round(len(files) * 3600 / wall, 1),
        "pages_per_hour": round(n_pages * 3600 / wall, 1),
        "totals": {"files": len(files),
                   "files_failed": sum(1 for r in files.values() if r["error"]),
                   "pages": n_pages,
                   "pages_ocr": sum(r["pages_ocr"] for r in files.values())},
        "stage_seconds": stages,
        "skipped": skipped,
        "files": {k: files[k] for k in sorted(files)},
    }
    for r in files.values():
        r["seconds"] = {k: round(v, 3) for k, v in r["seconds"].items()}
        r["wall_seconds"] = round(r["wall_seconds"], 3)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if not a.quiet:
        print("%d files, %d pages (%d OCR) in %.1f s wall, %.1f s CPU; "
              "stages %s" % (len(files), n_pages, result["totals"]["pages_ocr"],
                             wall, cpu, stages), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
