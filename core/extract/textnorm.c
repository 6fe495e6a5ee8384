#include "extract/textnorm.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The code point at *i (U+FFFD for an invalid sequence), advancing *i. */
static utf8proc_int32_t next_cp_lossy(const char *s, size_t len, size_t *i)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + *i,
                                          (utf8proc_ssize_t)(len - *i), &cp);
    if (k <= 0) {
        cp = 0xfffd;
        k = 1;
    }
    *i += (size_t)k;
    return cp;
}

void text_utf8_repair(const char *s, size_t len, sbuf *out)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        utf8proc_int32_t cp = next_cp_lossy(s, len, &i);
        if (cp == 0xfffd && !(i - start == 3 && memcmp(s + start, "\xef\xbf\xbd", 3) == 0))
            sbuf_append(out, "\xef\xbf\xbd", 3);
        else
            sbuf_append(out, s + start, i - start);
    }
}

bool text_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return false;
        i += (size_t)n;
    }
    return true;
}

bool text_looks_binary(const unsigned char *s, size_t len)
{
    size_t controls = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == 0)
            return true;
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b)
            controls++;
    }
    return len > 0 && controls * 20 > len;
}

int text_iconv(const char *from, const char *s, size_t len, bool lenient, sbuf *out)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return -1;
    char *in = (char *)s;
    size_t inleft = len;
    char buf[8192];
    int rc = 0;
    while (inleft > 0) {
        char *o = buf;
        size_t oleft = sizeof buf;
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);
        int e = errno;
        sbuf_append(out, buf, sizeof buf - oleft);
        if (r != (size_t)-1 || e == E2BIG)
            continue;
        if (!lenient) {
            rc = -1;
            break;
        }
        if (e == EINVAL)
            break;
        sbuf_append(out, "\xef\xbf\xbd", 3);
        in++, inleft--;
    }
    iconv_close(cd);
    return rc;
}

static int iconv_convert(const char *from, const char *s, size_t len, sbuf *out)
{
    sbuf_reset(out);
    return text_iconv(from, s, len, false, out);
}

/* Scores how Japanese a decoding looks. EUC-JP bytes decode "successfully"
 * as CP932 half-width katakana soup, and the reverse happens too, so a
 * decoding that produces kana and kanji beats one full of half-width kana or
 * private-use code points. */
static long japanese_score(const char *s, size_t len)
{
    long score = 0;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp = next_cp_lossy(s, len, &i);
        if ((cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0x4e00 && cp <= 0x9fff) ||
            (cp >= 0x3000 && cp <= 0x303f))
            score += 2;
        else if (cp >= 0xff61 && cp <= 0xff9f)
            score -= 1;
        else if ((cp >= 0xe000 && cp <= 0xf8ff) || cp < 0x09 || (cp >= 0x80 && cp < 0xa0) ||
                 cp == 0xfffd)
            score -= 3;
    }
    return score;
}

int text_decode(const char *s, size_t len, sbuf *out, const char **encoding, dm_err *err)
{
    sbuf_reset(out);
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        len -= 3;
    }
    if (text_looks_binary((const unsigned char *)s, len)) {
        dm_err_set(err, true, "unsupported type: binary data that is not a known document format");
        return -1;
    }
    if (text_is_utf8(s, len)) {
        sbuf_append(out, s, len);
        *encoding = "UTF-8";
        return 0;
    }
    static const char *candidates[] = {"CP932", "EUC-JP"};
    sbuf best, trial;
    sbuf_init(&best);
    sbuf_init(&trial);
    long best_score = 0;
    const char *best_enc = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        if (iconv_convert(candidates[i], s, len, &trial) != 0)
            continue;
        long score = japanese_score(trial.data ? trial.data : "", trial.len);
        if (!best_enc || score > best_score) {
            sbuf tmp = best;
            best = trial;
            trial = tmp;
            best_score = score;
            best_enc = candidates[i];
        }
    }
    sbuf_free(&trial);
    if (!best_enc) {
        sbuf_free(&best);
        dm_err_set(err, true,
                   "unsupported type: text is neither UTF-8, Shift_JIS nor EUC-JP");
        return -1;
    }
    sbuf_append(out, best.data ? best.data : "", best.len);
    sbuf_free(&best);
    *encoding = strcmp(best_enc, "CP932") == 0 ? "Shift_JIS" : "EUC-JP";
    return 0;
}

static bool is_cjk(utf8proc_int32_t cp)
{
    return (cp >= 0x2e80 && cp <= 0x2fdf) ||   /* radicals */
           (cp >= 0x3000 && cp <= 0x30ff) ||   /* punctuation, kana */
           (cp >= 0x3400 && cp <= 0x4dbf) ||   /* ext A */
           (cp >= 0x4e00 && cp <= 0x9fff) ||   /* unified ideographs */
           (cp >= 0xf900 && cp <= 0xfaff) ||   /* compatibility ideographs */
           (cp >= 0xff00 && cp <= 0xffef) ||   /* full/half-width forms */
           (cp >= 0x20000 && cp <= 0x3134f);   /* ext B+ */
}

static bool is_hspace(utf8proc_int32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == 0x3000 || cp == 0xa0;
}

/* Decodes UTF-8 into code points, replacing invalid sequences by U+FFFD. */
static utf8proc_int32_t *decode_lossy(const char *s, size_t len, size_t *count)
{
    utf8proc_int32_t *cps = dm_xmalloc((len + 1) * sizeof *cps);
    size_t n = 0, i = 0;
    while (i < len) {
        utf8proc_int32_t cp = next_cp_lossy(s, len, &i);
        cps[n++] = cp == 0 ? ' ' : cp;
    }
    *count = n;
    return cps;
}

void text_nfkc(const char *s, size_t len, sbuf *out)
{
    size_t n;
    utf8proc_int32_t *cps = decode_lossy(s, len, &n);
    /* utf8proc_map rejects invalid UTF-8 outright, so re-encode the
     * sanitised code points first, then let it do NFKC. */
    sbuf clean;
    sbuf_init(&clean);
    for (size_t i = 0; i < n; i++) {
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t k = utf8proc_encode_char(cps[i], enc);
        sbuf_append(&clean, (const char *)enc, (size_t)k);
    }
    free(cps);
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t mlen =
        utf8proc_map((const utf8proc_uint8_t *)(clean.data ? clean.data : ""),
                     (utf8proc_ssize_t)clean.len, &mapped,
                     UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    if (mlen >= 0 && mapped)
        sbuf_append(out, (const char *)mapped, (size_t)mlen);
    else
        sbuf_append(out, clean.data ? clean.data : "", clean.len);
    free(mapped);
    sbuf_free(&clean);
}

void text_normalize(const char *s, size_t len, sbuf *out)
{
    sbuf nfkc;
    sbuf_init(&nfkc);
    text_nfkc(s, len, &nfkc);
    size_t n;
    utf8proc_int32_t *cps = decode_lossy(nfkc.data ? nfkc.data : "", nfkc.len, &n);
    sbuf_free(&nfkc);

    /* Drop horizontal space between two CJK characters (Tesseract writes
     * "吾 輩 は" for 吾輩は, which would defeat substring search), trim trailing
     * space on each line, and keep at most one blank line in a row. */
    int newlines = 0;
    size_t line_start = out->len;
    for (size_t i = 0; i < n; i++) {
        utf8proc_int32_t cp = cps[i];
        if (cp == '\r')
            continue;
        if (is_hspace(cp)) {
            size_t j = i;
            while (j < n && is_hspace(cps[j]))
                j++;
            bool between_cjk = i > 0 && j < n && is_cjk(cps[i - 1]) && is_cjk(cps[j]);
            bool at_line_end = j >= n || cps[j] == '\n' || cps[j] == '\r';
            bool at_line_start = out->len == line_start;
            if (!between_cjk && !at_line_end && !at_line_start)
                sbuf_putc(out, ' ');
            i = j - 1;
            continue;
        }
        if (cp == '\n' || cp == '\f' || cp == '\v') {
            if (newlines < 2 && out->len > 0)
                sbuf_putc(out, '\n');
            newlines++;
            line_start = out->len;
            continue;
        }
        newlines = 0;
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t k = utf8proc_encode_char(cp, enc);
        sbuf_append(out, (const char *)enc, (size_t)k);
    }
    while (out->len > 0 && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    if (!out->data)
        sbuf_append(out, "", 0);
    free(cps);
}

void text_compute_stats(const char *s, size_t len, text_stats *st)
{
    memset(st, 0, sizeof *st);
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp = next_cp_lossy(s, len, &i);
        if (cp == ' ' || cp == '\n' || cp == '\r' || cp == '\t' || cp == 0x3000)
            continue;
        st->chars++;
        if (cp == 0xfffd)
            st->replacement++;
        else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            st->control++;
        if (is_cjk(cp))
            st->cjk++;
        utf8proc_category_t cat = utf8proc_category(cp);
        if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
            cat == UTF8PROC_CATEGORY_ND)
            st->letters++;
    }
}
