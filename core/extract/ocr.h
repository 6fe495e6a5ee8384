/* ocr: Tesseract through its C API, on grayscale rasters held in memory.
 * One ocr_engine per worker thread; it keeps one initialised TessBaseAPI per
 * language set (loading jpn+eng costs ~0.6 s, so it is done once and
 * reused). Not thread-safe by design: each thread owns its engine. */
#ifndef DOCMILL_OCR_H
#define DOCMILL_OCR_H

#include "base/common.h"
#include "extract/doc.h"

typedef struct ocr_engine ocr_engine;

typedef struct ocr_options {
    int psm;              /* page segmentation mode; 3 = automatic */
    bool skip_inverted;   /* skip the inverted-text pass (tessedit_do_invert=0) */
    int64_t deadline_ms;  /* monotonic; recognition past it fails "timed out" (0 = none) */
    bool transient;       /* a model for the odd page (jpn_vert): loaded for this
                             call and dropped after it, its memory trimmed */
} ocr_options;

typedef struct ocr_result {
    int mean_confidence;  /* 0..100 */
    int lines;            /* text lines found */
    int line_height_px;   /* their median height in the image's pixels (0 = none):
                             what the render DPI should be adapted to */
    int cjk_symbols;      /* Japanese/Chinese characters read */
    double cjk_gap;       /* median gap between consecutive ones on a line (of the
                             page's first 200), in
                             character heights: ~0.1-0.25 for horizontal text,
                             ~0.9 for vertical text read across its columns */
    /* The page's layout as Tesseract saw it, by text line: characters
     * (estimated from each line's shape) and their mean confidence, in
     * lines that run top to bottom (a page turned a quarter, or vertical
     * Japanese) and in the others. */
    int ttb_chars, ttb_confidence;
    int ltr_chars, ltr_confidence;
    int64_t elapsed_ms;
} ocr_result;

typedef struct ocr_orientation {
    int degrees;              /* the text on the image is turned clockwise by this:
                                 0, 90, 180 or 270 (turn it back by 360 - degrees) */
    double confidence;        /* Tesseract's OSD confidence in that (0 = a guess) */
    char script[32];          /* "Japanese", "Latin"... */
    double script_confidence;
    int64_t elapsed_ms;
} ocr_orientation;

/* tessdata_dir may be NULL for Tesseract's compiled-in default. */
ocr_engine *ocr_engine_new(const char *tessdata_dir);
void ocr_engine_free(ocr_engine *eng);
/* True when every language of "jpn+eng" has traineddata installed. */
bool ocr_languages_available(const char *tessdata_dir, const char *langs, dm_err *err);
int ocr_recognize(ocr_engine *eng, const char *langs, const gray_image *img,
                  const ocr_options *opt, sbuf *out, ocr_result *res, dm_err *err);
/* The built-in choice of languages for the rest of a document, from what
 * its first OCR'd page held read with `used`: `cjk` Japanese characters and
 * `latin` Latin letters. "eng" for plenty of Latin and no Japanese; "jpn"
 * for Japanese with at most max_latin_per_cjk Latin letters per character
 * (0 = never); otherwise `fallback`. Never a model `used` lacked. */
void ocr_languages_refine(const char *used, long cjk, long latin, double max_latin_per_cjk,
                          const char *fallback, char out[64]);
/* True when `trial` names fewer models than `full`, every one of them in
 * it: a set worth reading a first page with before `full`. */
bool ocr_languages_narrower(const char *trial, const char *full);
/* A first page read with a narrower set is kept when it holds at most
 * max_latin_per_cjk Latin letters per Japanese character: Japanese, with
 * English words or paragraphs, which jpn reads nearly as well alone;
 * pages of English (a stray character or none) are read again. */
bool ocr_trial_kept(long cjk, long latin, double max_latin_per_cjk);
/* Tesseract's orientation and script detection (osd.traineddata) on img:
 * about 0.5 s a page at 150 DPI, so it is a second look, not a first. */
int ocr_detect_orientation(ocr_engine *eng, const gray_image *img, int64_t deadline_ms,
                           ocr_orientation *out, dm_err *err);
/* Language sets with a live TessBaseAPI in this engine. */
int ocr_engine_loaded(const ocr_engine *eng);

#endif
