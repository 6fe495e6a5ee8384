#include "extract/ocr.h"

#include "base/log.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tesseract/capi.h>

/* A worker rarely needs more than two language sets; beyond this the least
 * recently used instance is dropped to bound memory (~100 MB each). */
#define OCR_MAX_APIS 3

typedef struct ocr_slot {
    char langs[64];
    TessBaseAPI *api;
    int64_t last_used;
    int psm;
    int skip_inverted;
} ocr_slot;

struct ocr_engine {
    char *tessdata_dir;
    ocr_slot slots[OCR_MAX_APIS];
    int64_t clock;
};

ocr_engine *ocr_engine_new(const char *tessdata_dir)
{
    ocr_engine *eng = dm_xcalloc(1, sizeof *eng);
    eng->tessdata_dir = tessdata_dir ? dm_xstrdup(tessdata_dir) : NULL;
    return eng;
}

static void slot_clear(ocr_slot *s)
{
    if (s->api) {
        TessBaseAPIEnd(s->api);
        TessBaseAPIDelete(s->api);
    }
    memset(s, 0, sizeof *s);
}

void ocr_engine_free(ocr_engine *eng)
{
    if (!eng)
        return;
    for (int i = 0; i < OCR_MAX_APIS; i++)
        slot_clear(&eng->slots[i]);
    free(eng->tessdata_dir);
    free(eng);
}

int ocr_engine_loaded(const ocr_engine *eng)
{
    int n = 0;
    for (int i = 0; i < OCR_MAX_APIS; i++)
        n += eng->slots[i].api != NULL;
    return n;
}

static const char *default_tessdata(void)
{
    const char *env = getenv("TESSDATA_PREFIX");
    if (env && *env)
        return env;
    return "/usr/share/tesseract-ocr/5/tessdata";
}

/* True when `model` is one of the +-joined names of `langs`. */
static bool has_model(const char *langs, const char *model)
{
    size_t n = strlen(model);
    for (const char *p = langs; (p = strstr(p, model)) != NULL; p += n)
        if ((p == langs || p[-1] == '+') && (p[n] == '\0' || p[n] == '+'))
            return true;
    return false;
}

/* Too little text on the first page to judge by: fewer Japanese characters
 * or Latin letters than these. */
enum { REFINE_MIN_CJK = 50, REFINE_MIN_LATIN = 200 };

void ocr_languages_refine(const char *used, long cjk, long latin, double max_latin_per_cjk,
                          const char *fallback, char out[64])
{
    snprintf(out, 64, "%s", fallback);
    if (cjk == 0 && latin >= REFINE_MIN_LATIN && has_model(used, "eng"))
        snprintf(out, 64, "eng");
    else if (max_latin_per_cjk > 0 && cjk >= REFINE_MIN_CJK &&
             (double)latin <= (double)cjk * max_latin_per_cjk && has_model(used, "jpn"))
        snprintf(out, 64, "jpn");
}

bool ocr_languages_narrower(const char *trial, const char *full)
{
    char copy[64];
    snprintf(copy, sizeof copy, "%s", trial);
    int n = 0, in_full = 1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
        n++;
        in_full = in_full && has_model(full, tok);
    }
    int n_full = 1;
    for (const char *c = full; *c; c++)
        n_full += *c == '+';
    return n > 0 && in_full && n < n_full;
}

bool ocr_trial_kept(long cjk, long latin, double max_latin_per_cjk)
{
    return (double)latin <= (double)cjk * max_latin_per_cjk;
}

bool ocr_languages_available(const char *tessdata_dir, const char *langs, dm_err *err)
{
    const char *dir = tessdata_dir ? tessdata_dir : default_tessdata();
    if (!langs || !*langs || strlen(langs) >= 64) {
        dm_err_set(err, true, "invalid OCR language set '%s'", langs ? langs : "");
        return false;
    }
    char copy[64];
    snprintf(copy, sizeof copy, "%s", langs);
    char *save = NULL;
    for (char *tok = strtok_r(copy, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
        for (const char *c = tok; *c; c++) {
            if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9'))) {
                dm_err_set(err, true, "invalid OCR language name '%s'", tok);
                return false;
            }
        }
        char path[512];
        snprintf(path, sizeof path, "%s/%s.traineddata", dir, tok);
        struct stat st;
        if (stat(path, &st) != 0) {
            dm_err_set(err, true, "OCR language '%s' is not installed (%s missing)", tok, path);
            return false;
        }
    }
    return true;
}

static TessBaseAPI *engine_api(ocr_engine *eng, const char *langs, dm_err *err)
{
    ocr_slot *victim = &eng->slots[0];
    eng->clock++;
    for (int i = 0; i < OCR_MAX_APIS; i++) {
        ocr_slot *s = &eng->slots[i];
        if (s->api && strcmp(s->langs, langs) == 0) {
            s->last_used = eng->clock;
            return s->api;
        }
        if (!s->api || (victim->api && s->last_used < victim->last_used))
            victim = s;
    }
    if (!ocr_languages_available(eng->tessdata_dir, langs, err))
        return NULL;
    slot_clear(victim);
    TessBaseAPI *api = TessBaseAPICreate();
    int64_t t0 = dm_mono_ms();
    if (TessBaseAPIInit3(api, eng->tessdata_dir, langs) != 0) {
        TessBaseAPIDelete(api);
        dm_err_set(err, true, "cannot initialise Tesseract for '%s'", langs);
        return NULL;
    }
    log_debug("tesseract %s loaded in %lld ms", langs, (long long)(dm_mono_ms() - t0));
    snprintf(victim->langs, sizeof victim->langs, "%s", langs);
    victim->api = api;
    victim->last_used = eng->clock;
    victim->psm = -1;
    victim->skip_inverted = -1;
    return api;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* From the text lines alone (cheap: no text is made here; making it costs
 * as much as the page's text again, ~150 ms on a dense page): their median
 * height, and which way they run and how well they read. A line's
 * characters are estimated from its shape (its long side over its short
 * one); a line laid out top to bottom and read well is on a page turned a
 * quarter clockwise that Tesseract turned back by itself; read badly, it is
 * vertical Japanese or a page turned the other way: the second look tells
 * those apart. */
static void line_figures(TessBaseAPI *api, ocr_result *res)
{
    res->lines = 0;
    res->line_height_px = 0;
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    if (!it)
        return;
    TessPageIterator *pit = TessResultIteratorGetPageIterator(it);
    int cap = 64, n = 0;
    int *h = dm_xmalloc((size_t)cap * sizeof *h);
    double conf_sum[2] = {0, 0};
    int chars[2] = {0, 0};
    do {
        int l, t, r, b;
        if (!TessPageIteratorBoundingBox(pit, RIL_TEXTLINE, &l, &t, &r, &b) || b <= t || r <= l)
            continue;
        TessOrientation orientation;
        TessWritingDirection direction;
        TessTextlineOrder order;
        float deskew;
        TessPageIteratorOrientation(pit, &orientation, &direction, &order, &deskew);
        int ttb = direction == WRITING_DIRECTION_TOP_TO_BOTTOM;
        int w = r - l, ht = b - t;
        int est = ttb ? (ht + w / 2) / w : (w + ht / 2) / ht;
        chars[ttb] += est;
        conf_sum[ttb] += (double)est * TessResultIteratorConfidence(it, RIL_TEXTLINE);
        if (n == cap)
            h = dm_xrealloc(h, (size_t)(cap *= 2) * sizeof *h);
        /* a line's height across its run: its width when it runs down */
        h[n++] = ttb ? w : ht;
    } while (TessPageIteratorNext(pit, RIL_TEXTLINE));
    TessResultIteratorDelete(it);
    if (n > 0) {
        qsort(h, (size_t)n, sizeof *h, cmp_int);
        res->lines = n;
        res->line_height_px = h[n / 2];
    }
    free(h);
    res->ltr_chars = chars[0];
    res->ttb_chars = chars[1];
    res->ltr_confidence = chars[0] ? (int)(conf_sum[0] / chars[0] + 0.5) : 0;
    res->ttb_confidence = chars[1] ? (int)(conf_sum[1] / chars[1] + 0.5) : 0;
}

/* Ends an instance kept for one call, and hands what it held back to the
 * system rather than to this thread's malloc arena, where it would count
 * against the memory cap: a kept orientation detector and vertical model
 * took the robust corpus run from 600 MB to 647 MB, over its cap. */
static void drop_slot(ocr_slot *slot)
{
    slot_clear(slot);
    malloc_trim(0);
}

static ocr_slot *slot_of(ocr_engine *eng, TessBaseAPI *api)
{
    for (int i = 0; i < OCR_MAX_APIS; i++)
        if (eng->slots[i].api == api)
            return &eng->slots[i];
    return NULL;
}

int ocr_detect_orientation(ocr_engine *eng, const gray_image *img, int64_t deadline_ms,
                           ocr_orientation *out, dm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!img || !img->samples || img->width <= 0 || img->height <= 0) {
        dm_err_set(err, true, "no image to look at");
        return -1;
    }
    int64_t t0 = dm_mono_ms();
    if (deadline_ms > 0 && t0 >= deadline_ms) {
        dm_err_set(err, true, "timed out before orientation detection");
        return -1;
    }
    TessBaseAPI *api = engine_api(eng, "osd", err);
    if (!api)
        return -1;
    ocr_slot *slot = slot_of(eng, api);
    if (slot->psm != PSM_OSD_ONLY) {
        TessBaseAPISetPageSegMode(api, PSM_OSD_ONLY);
        /* Its thresholder warns on stderr about the raw image's missing
         * resolution, which is set right after; nothing else goes there. */
        TessBaseAPISetVariable(api, "debug_file", "/dev/null");
        slot->psm = PSM_OSD_ONLY;
    }
    TessBaseAPISetImage(api, img->samples, img->width, img->height, 1, img->stride);
    TessBaseAPISetSourceResolution(api, img->dpi > 0 ? img->dpi : 300);
    int degrees = 0;
    float conf = 0, script_conf = 0;
    const char *script = NULL;
    BOOL ok = TessBaseAPIDetectOrientationScript(api, &degrees, &conf, &script, &script_conf);
    if (script)
        snprintf(out->script, sizeof out->script, "%s", script);
    /* Loaded per use (60-120 ms) rather than kept: few pages need it.
     * The script name points into it: copied above. */
    drop_slot(slot);
    out->elapsed_ms = dm_mono_ms() - t0;
    if (!ok) {
        /* Too few characters to judge by (a blank or a picture). */
        dm_err_set(err, false, "no text to detect the orientation of");
        return -1;
    }
    out->degrees = ((degrees % 360) + 360) % 360;
    out->confidence = conf;
    out->script_confidence = script_conf;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool utf8_is_cjk(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if ((p[0] & 0xF0) != 0xE0 || !p[1] || !p[2])
        return false;
    unsigned cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return cp >= 0x3040 && cp <= 0x9FFF;   /* kana and CJK ideographs */
}

/* Vertical Japanese read as horizontal lines comes out as rows of
 * characters one column apart: the gap between neighbours on a "line" is
 * as wide as the space between columns, not the few pixels of horizontal
 * text. Its median tells the two apart where the confidence does not. */
/* The median is taken from the page's first gaps: walking every symbol
 * costs ~200 ms on a dense page, and a page is horizontal or vertical as a
 * whole. */
#define CJK_GAP_SAMPLE 200
#define CJK_GAP_MAX_SYMBOLS 1500

static void cjk_gaps(TessBaseAPI *api, const char *text, size_t len, ocr_result *res)
{
    res->cjk_symbols = 0;
    res->cjk_gap = 0;
    for (size_t i = 0; i + 2 < len; i++)
        if (utf8_is_cjk(text + i))
            res->cjk_symbols++, i += 2;
    if (res->cjk_symbols < 2)
        return;
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    if (!it)
        return;
    TessPageIterator *pit = TessResultIteratorGetPageIterator(it);
    int cap = 256, n = 0;
    double *gaps = dm_xmalloc((size_t)cap * sizeof *gaps);
    bool prev_cjk = false;
    int pt = 0, pr = 0, pb = 0, walked = 0;
    do {
        if (TessPageIteratorIsAtBeginningOf(pit, RIL_TEXTLINE))
            prev_cjk = false;
        char *sym = TessResultIteratorGetUTF8Text(it, RIL_SYMBOL);
        int l, t, r, b;
        bool cjk = sym && utf8_is_cjk(sym);
        if (sym && TessPageIteratorBoundingBox(pit, RIL_SYMBOL, &l, &t, &r, &b)) {
            int h = (b - t) > (pb - pt) ? (b - t) : (pb - pt);
            if (cjk && prev_cjk && h > 0) {
                if (n == cap)
                    gaps = dm_xrealloc(gaps, (size_t)(cap *= 2) * sizeof *gaps);
                gaps[n++] = (double)(l - pr) / h;
            }
            pt = t, pr = r, pb = b;
        }
        prev_cjk = cjk;
        if (sym)
            TessDeleteText(sym);
    } while (n < CJK_GAP_SAMPLE && ++walked < CJK_GAP_MAX_SYMBOLS &&
             TessPageIteratorNext(pit, RIL_SYMBOL));
    TessResultIteratorDelete(it);
    if (n > 0) {
        qsort(gaps, (size_t)n, sizeof *gaps, cmp_double);
        res->cjk_gap = gaps[n / 2];
    }
    free(gaps);
}

int ocr_recognize(ocr_engine *eng, const char *langs, const gray_image *img,
                  const ocr_options *opt, sbuf *out, ocr_result *res, dm_err *err)
{
    memset(res, 0, sizeof *res);
    if (!img || !img->samples || img->width <= 0 || img->height <= 0) {
        dm_err_set(err, true, "no image to recognise");
        return -1;
    }
    TessBaseAPI *api = engine_api(eng, langs, err);
    if (!api)
        return -1;
    ocr_slot *slot = slot_of(eng, api);
    int psm = opt ? opt->psm : 3;
    int skip_inv = opt ? opt->skip_inverted : 0;
    if (slot->psm != psm) {
        TessBaseAPISetPageSegMode(api, (TessPageSegMode)psm);
        slot->psm = psm;
    }
    if (slot->skip_inverted != skip_inv) {
        TessBaseAPISetVariable(api, "tessedit_do_invert", skip_inv ? "0" : "1");
        slot->skip_inverted = skip_inv;
    }
    int64_t t0 = dm_mono_ms();
    int64_t deadline = opt ? opt->deadline_ms : 0;
    if (deadline > 0 && t0 >= deadline) {
        dm_err_set(err, true, "timed out before OCR");
        return -1;
    }
    TessBaseAPISetImage(api, img->samples, img->width, img->height, 1, img->stride);
    /* Must follow SetImage, which resets the resolution. */
    TessBaseAPISetSourceResolution(api, img->dpi > 0 ? img->dpi : 300);
    /* Tesseract checks the monitor's deadline between words. */
    ETEXT_DESC *monitor = NULL;
    if (deadline > 0) {
        monitor = TessMonitorCreate();
        int64_t left = deadline - t0;
        TessMonitorSetDeadlineMSecs(monitor, left > INT32_MAX ? INT32_MAX : (int)left);
    }
    int rc = TessBaseAPIRecognize(api, monitor);
    if (monitor)
        TessMonitorDelete(monitor);
    if (rc != 0 || (deadline > 0 && dm_mono_ms() > deadline)) {
        TessBaseAPIClear(api);
        if (deadline > 0 && dm_mono_ms() > deadline)
            dm_err_set(err, true, "timed out after %lld ms of OCR",
                       (long long)(dm_mono_ms() - t0));
        else
            dm_err_set(err, true, "Tesseract could not recognise the page");
        return -1;
    }
    size_t out_start = out->len;
    char *text = TessBaseAPIGetUTF8Text(api);
    if (text) {
        sbuf_append(out, text, strlen(text));
        TessDeleteText(text);
    }
    res->mean_confidence = TessBaseAPIMeanTextConf(api);
    line_figures(api, res);
    cjk_gaps(api, out->data ? out->data + out_start : "", out->len - out_start, res);
    TessBaseAPIClear(api);
    if (opt && opt->transient)
        drop_slot(slot);
    res->elapsed_ms = dm_mono_ms() - t0;
    return 0;
}
