#include "check.h"
#include "extract/textnorm.h"

#include <iconv.h>

static char *norm(const char *s)
{
    sbuf out;
    sbuf_init(&out);
    text_normalize(s, strlen(s), &out);
    return sbuf_take(&out);
}

static void test_nfkc_kangxi_and_fullwidth(void)
{
    /* MuPDF returns Kangxi radicals on some Japanese PDFs: ⼈ (U+2F08) → 人. */
    char *s = norm("\xe2\xbc\x88\xe9\x96\x93 \xef\xbc\xa1\xef\xbc\xa2\xef\xbc\x91");
    CHECK_STR(s, "人間 AB1");
    free(s);
    s = norm("\xef\xbd\xb6\xef\xbe\x80\xef\xbd\xb6\xef\xbe\x85");  /* half-width katakana */
    CHECK_STR(s, "カタカナ");
    free(s);
}

static void test_cjk_spacing_removed_latin_kept(void)
{
    char *s = norm("吾 輩 は 猫 で あ る   hello   world  \n\n\n\n次 の 行");
    CHECK_STR(s, "吾輩は猫である hello world\n\n次の行");
    free(s);
    s = norm("  leading and trailing  ");
    CHECK_STR(s, "leading and trailing");
    free(s);
}

static void test_invalid_utf8_becomes_replacement(void)
{
    char *s = norm("ok\xff\xfe" "done");
    CHECK_STR(s, "ok\xef\xbf\xbd\xef\xbf\xbd" "done");
    free(s);
}

static void test_stats(void)
{
    text_stats st;
    const char *t = "日本語 abc \xef\xbf\xbd\n";
    text_compute_stats(t, strlen(t), &st);
    CHECK_INT(st.chars, 7);
    CHECK_INT(st.cjk, 3);
    CHECK_INT(st.replacement, 1);
    CHECK_INT(st.letters, 6);
}

static char *to_encoding(const char *enc, const char *utf8, size_t *outlen)
{
    iconv_t cd = iconv_open(enc, "UTF-8");
    size_t inleft = strlen(utf8), cap = inleft * 2 + 16, oleft = cap;
    char *out = malloc(cap), *o = out, *in = (char *)utf8;
    iconv(cd, &in, &inleft, &o, &oleft);
    iconv_close(cd);
    *outlen = cap - oleft;
    return out;
}

static void test_decode_detects_japanese_encodings(void)
{
    const char *text = "日本語の文書です。カタカナもあります。";
    const char *encs[] = {"SHIFT_JIS", "EUC-JP"};
    const char *names[] = {"Shift_JIS", "EUC-JP"};
    for (int i = 0; i < 2; i++) {
        size_t n;
        char *bytes = to_encoding(encs[i], text, &n);
        sbuf out;
        sbuf_init(&out);
        const char *enc = NULL;
        dm_err err;
        CHECK_INT(text_decode(bytes, n, &out, &enc, &err), 0);
        CHECK_STR(enc, names[i]);
        CHECK_STR(out.data, text);
        sbuf_free(&out);
        free(bytes);
    }
    sbuf out;
    sbuf_init(&out);
    const char *enc = NULL;
    dm_err err;
    CHECK_INT(text_decode("\xef\xbb\xbfplain", 8, &out, &enc, &err), 0);
    CHECK_STR(enc, "UTF-8");
    CHECK_STR(out.data, "plain");
    CHECK_INT(text_decode("a\0b", 3, &out, &enc, &err), -1);
    CHECK(err.permanent);
    CHECK_CONTAINS(err.msg, "unsupported type");
    sbuf_free(&out);
}

int main(void)
{
    static const check_case cases[] = {
        {"NFKC folds Kangxi radicals, full- and half-width forms", test_nfkc_kangxi_and_fullwidth},
        {"spaces between CJK characters go, Latin spacing folds", test_cjk_spacing_removed_latin_kept},
        {"invalid UTF-8 becomes U+FFFD", test_invalid_utf8_becomes_replacement},
        {"text statistics", test_stats},
        {"Shift_JIS, EUC-JP and UTF-8 detection; binary refused", test_decode_detects_japanese_encodings},
        {NULL, NULL}};
    return check_run(cases);
}
