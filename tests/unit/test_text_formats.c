/* The text formats' readers on bytes in memory (rtf.c, html.c, pdf_meta.c):
 * the cases the e2e corpus does not reach. */
#include "check.h"
#include "extract/html.h"
#include "extract/rtf.h"
#include "extract/pdf_meta.h"

static char *rtf_text(const char *src, paged_text *pt, int *rc)
{
    paged_text_init(pt, 0);
    dm_err err;
    *rc = rtf_read(src, strlen(src), pt, &err);
    return pt->count ? pt->pages[0].text.data : NULL;
}

static void test_rtf_code_pages_unicode_and_destinations(void)
{
    paged_text pt;
    int rc;
    /* 日本 in CP932 escapes; \u with a one-byte fallback; a surrogate pair
     * (U+1F600); a picture's \bin bytes that look like text; a starred
     * destination; a field's instruction dropped and its result kept. */
    const char *src = "{\\rtf1\\ansi\\ansicpg932 \\'93\\'fa\\'96\\'7b "
                      "\\uc1\\u26085?\\u-10179?\\u-8704? "
                      "{\\pict\\bin5 hello}{\\*\\unknowndest secret}"
                      "{\\field{\\*\\fldinst HYPERLINK x}{\\fldrslt shown}}\\par tail}";
    const char *t = rtf_text(src, &pt, &rc);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(t, "日本 日\xF0\x9F\x98\x80");
    CHECK(!strstr(t, "hello") && !strstr(t, "secret") && !strstr(t, "HYPERLINK") &&
          !strstr(t, "?"));
    CHECK_CONTAINS(t, "shown\ntail");
    paged_text_free(&pt);
    /* The font's charset decides where \ansicpg does not. */
    t = rtf_text("{\\rtf1\\ansi{\\fonttbl{\\f1\\fcharset128 MS Gothic;}}\\f1 \\'82\\'a0}", &pt,
                 &rc);
    CHECK_STR(t, "あ");
    paged_text_free(&pt);
    /* Deeper than any real file nests: refused, not a stack overflow. */
    char deep[2000];
    strcpy(deep, "{\\rtf1 ");
    for (int i = 0; i < 600; i++)
        strcat(deep, "{");
    rtf_text(deep, &pt, &rc);
    CHECK_INT(rc, -1);
    paged_text_free(&pt);
}

static void test_html_text_as_a_browser_shows_it(void)
{
    const char *src = "<html><head><title>T</title><style>p{color:red}</style></head><body>"
                      "<script>var s = '<p>no</p>';</script><p>a &amp; b\n   c</p>"
                      "<pre>x\n  y</pre><p>in<b>line</b></p><template><p>hidden</p></template>"
                      "<div>after</div></body></html>";
    paged_text pt;
    paged_text_init(&pt, 0);
    dm_err err;
    CHECK_INT(html_read(src, strlen(src), NULL, &pt, &err), 0);
    const char *t = pt.count ? pt.pages[0].text.data : "";
    CHECK_CONTAINS(t, "a & b c\n");
    CHECK_CONTAINS(t, "x\n  y");
    CHECK_CONTAINS(t, "inline");
    CHECK_CONTAINS(t, "after");
    CHECK(!strstr(t, "no") && !strstr(t, "color") && !strstr(t, "hidden"));
    CHECK_STR(pt.meta.title, "T");
    paged_text_free(&pt);
    CHECK(html_sniff((const unsigned char *)"\xEF\xBB\xBF <!-- x --> <!DOCTYPE html>", 31));
    /* A Western page from before UTF-8, naming no charset: the default. */
    const char *latin = "<html><body><p>caf\xe9 na\xefve \x93quoted\x94</p></body></html>";
    paged_text_init(&pt, 0);
    CHECK_INT(html_read(latin, strlen(latin), "windows-1252", &pt, &err), 0);
    CHECK_CONTAINS(pt.count ? pt.pages[0].text.data : "", "café naïve \u201Cquoted\u201D");
    paged_text_free(&pt);
    paged_text_init(&pt, 0);
    CHECK_INT(html_read(latin, strlen(latin), "", &pt, &err), -1);
    paged_text_free(&pt);
    CHECK(!html_sniff((const unsigned char *)"a note about <html>", 19));
}

static void test_xmp_fills_what_info_left_empty(void)
{
    const char *xmp =
        "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>"
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
        "xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        "<rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/' "
        "xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmlns:pdf='http://ns.adobe.com/pdf/1.3/'>"
        "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>議事録</rdf:li></rdf:Alt></dc:title>"
        "<dc:creator><rdf:Seq><rdf:li>山田</rdf:li><rdf:li>Suzuki</rdf:li></rdf:Seq></dc:creator>"
        "<pdf:Keywords>会議, minutes</pdf:Keywords>"
        "<xmp:CreateDate>2024-03-15T10:30:00+09:00</xmp:CreateDate>"
        "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>";
    doc_meta m = {0};
    m.author = dm_xstrdup("From Info");
    xmp_fill_meta(xmp, strlen(xmp), &m);
    CHECK_STR(m.title, "議事録");
    CHECK_STR(m.author, "From Info");   /* Info's word stands */
    CHECK_STR(m.keywords, "会議, minutes");
    CHECK_STR(m.created, "2024-03-15T10:30:00+09:00");
    CHECK(m.modified == NULL);
    doc_meta_free(&m);
    xmp_fill_meta("<not xml", 8, &m);
    CHECK(m.title == NULL);
}

int main(void)
{
    static const check_case cases[] = {
        {"RTF: code pages, \\u, surrogates, skipped destinations, nesting cap", test_rtf_code_pages_unicode_and_destinations},
        {"HTML: the text a browser shows", test_html_text_as_a_browser_shows_it},
        {"XMP fills what the Info dictionary left empty", test_xmp_fills_what_info_left_empty},
        {NULL, NULL}};
    return check_run(cases);
}
