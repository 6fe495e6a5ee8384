#!/usr/bin/python3
"""A generated corpus of the text formats a file share holds (issue 15):
Office Open XML (docx, xlsx, pptx and a macro-enabled variant), HTML in
Shift_JIS and EUC-JP, RTF with code page 932, and mislabelled copies, each
with Japanese and English words to find (PROBES) and markup that must never
be indexed (MARKUP). The OOXML is written part by part with zipfile, so each
feature under test (field codes, text boxes with their VML fallback,
phonetic guides, slide order, dates) is there exactly as Office writes it.

    python3 tests/corpus/make_office.py OUT_DIR
"""
import os
import sys
import zipfile

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PR = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Words each file must be found by: {file: [probe, ...]}
PROBES = {
    "report.docx": ["四半期報告書", "quarterly revenue", "表の中身", "tablecell", "リンクの文字",
                    "テキストボックス", "headerword", "フッター", "脚注の本文", "結果の表示",
                    # in the picture pasted into it (OCR)
                    "貼り付けた画像", "pasted picture"],
    "budget.xlsx": ["売上高", "東京支店", "phonetic-free", "inlinestring", "2024-03-15",
                    "Costs", "0.3"],
    "deck.pptx": ["最初のスライド", "opening slide", "二枚目", "speaker notes", "発表者メモ",
                  "最後のスライド"],
    "macro.docm": ["マクロ付き文書", "macro-enabled"],
    "page_sjis.html": ["日本語のページ", "internationalization", "Résumé", "M&A"],
    "page_eucjp.html": ["文字コードの判定", "detected"],
    "memo.rtf": ["議事録のメモ", "rich text", "ユニコード", "結果の値"],
    # read as what they are whatever their names say
    "budget_as.doc": ["売上高"],
    "memo_as.txt": ["議事録のメモ"],
    "page_as.txt": ["日本語のページ"],
}
# Never in the index: markup, field codes, deleted text, hidden text.
MARKUP = ["\\rtf1", "ansicpg", "<script", "SCRIPTPROBE", "color:", "w:t", "&amp;", "instrText",
          "MERGEFORMAT", "DELETEDWORD", "ふりがなプローブ", "STYLEPROBE", "COMMENTPROBE",
          "FALLBACKPROBE", "fonttbl", "GENERATORPROBE"]
# docx: its title; pptx: its slides in order; xlsx: its sheets by name.
DOCX_TITLE = "四半期報告書 Quarterly Report"
SLIDES = ["最初のスライド opening slide", "二枚目 second", "最後のスライド closing"]
SHEETS = ["売上", "Costs"]


def package(path, parts):
    """A zip of {name: text or bytes}, [Content_Types].xml first as Office
    writes it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", parts.pop("[Content_Types].xml"))
        for name, data in parts.items():
            z.writestr(name, data)


def content_types(overrides):
    rows = "".join('<Override PartName="%s" ContentType="%s"/>' % o for o in overrides)
    return (XML + '<Types xmlns="%s"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
            '%s</Types>' % (CT, rows))


def rels(items):
    rows = "".join('<Relationship Id="%s" Type="%s%s" Target="%s"%s/>'
                   % (i, RT, t, target, ' TargetMode="External"' if ext else "")
                   for i, t, target, ext in items)
    return XML + '<Relationships xmlns="%s">%s</Relationships>' % (PR, rows)


def core(title, author):
    return (XML + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance"><dc:title>%s</dc:title><dc:creator>%s</dc:creator>'
            '<cp:keywords>決算, finance</cp:keywords><dcterms:created xsi:type="dcterms:W3CDTF">'
            '2024-03-15T09:00:00Z</dcterms:created></cp:coreProperties>' % (title, author))


def run(text):
    return '<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r>' % text


def para(*runs):
    return "<w:p><w:pPr><w:tabs><w:tab w:val=\"left\" w:pos=\"720\"/></w:tabs></w:pPr>%s</w:p>" \
        % "".join(runs)


def picture_png():
    """A scan pasted into a document: two lines of text as a PNG."""
    import io
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_corpus as C
    img = C.render_lines(["貼り付けた画像の文字", "pasted picture text"], C.JA_FONT, 48)
    out = io.BytesIO()
    img.save(out, "PNG", dpi=(300, 300))
    return out.getvalue()


def docx(path, main_type, body_paras, title, picture=None):
    wrap = lambda tag, inner: (XML + '<w:%s xmlns:w="%s" xmlns:r="%s">%s</w:%s>'
                               % (tag, W, R, inner, tag))
    body = wrap("document", "<w:body>%s<w:sectPr/></w:body>" % "".join(body_paras))
    package(path, {
        "[Content_Types].xml": content_types([
            ("/word/document.xml", main_type),
            ("/word/header1.xml", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.header+xml"),
            ("/word/footer1.xml", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.footer+xml"),
            ("/word/footnotes.xml", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.footnotes+xml"),
            ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml")]),
        "_rels/.rels": rels([("rId1", "officeDocument", "word/document.xml", False),
                             ("rId2", "metadata/core-properties", "docProps/core.xml", False)]),
        "docProps/core.xml": core(title, "山田太郎"),
        "word/_rels/document.xml.rels": rels([
            ("rId1", "header", "header1.xml", False), ("rId2", "footer", "footer1.xml", False),
            ("rId3", "footnotes", "footnotes.xml", False),
            ("rId9", "hyperlink", "https://example.com/", True)]
            + ([("rId7", "image", "media/image1.png", False)] if picture else [])),
        "word/document.xml": body,
        "word/header1.xml": wrap("hdr", para(run("headerword ヘッダー"))),
        "word/footer1.xml": wrap("ftr", para(run("フッター footer"))),
        "word/footnotes.xml": wrap("footnotes", '<w:footnote w:id="1">%s</w:footnote>'
                                   % para(run("脚注の本文 footnote"))),
        **({"word/media/image1.png": picture} if picture else {}),
    })


def report_docx(path):
    field = ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
             '<w:r><w:instrText xml:space="preserve"> DOCPROPERTY Title \\* MERGEFORMAT '
             '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
             + run("結果の表示") + '<w:r><w:fldChar w:fldCharType="end"/></w:r>')
    textbox = ('<w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/'
               'markup-compatibility/2006"><mc:Choice Requires="wps"><w:drawing><wps:wsp '
               'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
               '<wps:txbx><w:txbxContent>%s</w:txbxContent></wps:txbx></wps:wsp></w:drawing>'
               '</mc:Choice><mc:Fallback><w:pict><v:textbox xmlns:v="urn:schemas-microsoft-'
               'com:vml"><w:txbxContent>%s</w:txbxContent></v:textbox></w:pict></mc:Fallback>'
               '</mc:AlternateContent></w:r>'
               % (para(run("テキストボックス textbox")), para(run("FALLBACKPROBE"))))
    table = ('<w:tbl><w:tblPr/><w:tr><w:tc><w:tcPr/>%s</w:tc><w:tc>%s</w:tc></w:tr></w:tbl>'
             % (para(run("表の中身")), para(run("tablecell"))))
    paras = [
        para(run("四半期報告書"), run("の概要")),
        para(run("This is the quarterly revenue summary."),
             '<w:del w:id="1" w:author="x"><w:r><w:delText>DELETEDWORD</w:delText></w:r></w:del>'),
        table,
        para('<w:hyperlink r:id="rId9">' + run("リンクの文字") + '</w:hyperlink>'),
        para(field),
        para(textbox),
        para(run("次のページへ"), '<w:r><w:br w:type="page"/></w:r>', run("second page text")),
    ]
    docx(path, "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
         paras, DOCX_TITLE, picture=picture_png())


def macro_docm(path):
    docx(path, "application/vnd.ms-word.document.macroEnabled.main+xml",
         [para(run("マクロ付き文書 macro-enabled"))], "マクロ")


def budget_xlsx(path):
    S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sst = (XML + '<sst xmlns="%s" count="3" uniqueCount="3">'
           '<si><t>売上高</t></si>'
           '<si><r><t>東京</t></r><r><t>支店</t></r><rPh sb="0" eb="2"><t>ふりがなプローブ</t>'
           '</rPh><phoneticPr fontId="1"/></si>'
           '<si><t>phonetic-free</t></si></sst>' % S)
    styles = (XML + '<styleSheet xmlns="%s"><numFmts count="1"><numFmt numFmtId="164" '
              'formatCode="0.00E+00"/></numFmts><cellXfs count="3"><xf numFmtId="0"/>'
              '<xf numFmtId="14"/><xf numFmtId="164"/></cellXfs></styleSheet>' % S)
    sheet1 = (XML + '<worksheet xmlns="%s"><sheetData>'
              '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>1234.5</v></c></row>'
              '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" s="1"><v>45366</v></c>'
              '<c r="C2" t="b"><v>1</v></c></row>'
              '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3"><v>0.30000000000000004</v></c>'
              '<c r="C3" s="2"><v>12345</v></c></row>'
              '</sheetData></worksheet>' % S)
    sheet2 = (XML + '<worksheet xmlns="%s"><sheetData><row r="1"><c r="A1" t="inlineStr">'
              '<is><t>inlinestring</t></is></c><c r="B1" t="str"><f>A1</f><v>formula</v></c>'
              '</row></sheetData></worksheet>' % S)
    workbook = (XML + '<workbook xmlns="%s" xmlns:r="%s"><sheets><sheet name="%s" sheetId="1" '
                'r:id="rId1"/><sheet name="%s" sheetId="2" r:id="rId2"/></sheets></workbook>'
                % (S, R, SHEETS[0], SHEETS[1]))
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml."
    package(path, {
        "[Content_Types].xml": content_types([
            ("/xl/workbook.xml", ct + "sheet.main+xml"),
            ("/xl/worksheets/sheet1.xml", ct + "worksheet+xml"),
            ("/xl/worksheets/sheet2.xml", ct + "worksheet+xml"),
            ("/xl/sharedStrings.xml", ct + "sharedStrings+xml"),
            ("/xl/styles.xml", ct + "styles+xml")]),
        "_rels/.rels": rels([("rId1", "officeDocument", "xl/workbook.xml", False)]),
        "xl/_rels/workbook.xml.rels": rels([
            ("rId1", "worksheet", "worksheets/sheet1.xml", False),
            ("rId2", "worksheet", "/xl/worksheets/sheet2.xml", False),
            ("rId3", "sharedStrings", "sharedStrings.xml", False),
            ("rId4", "styles", "styles.xml", False)]),
        "xl/workbook.xml": workbook,
        # in the zip the second sheet comes first, and the strings last
        "xl/worksheets/sheet2.xml": sheet2,
        "xl/worksheets/sheet1.xml": sheet1,
        "xl/styles.xml": styles,
        "xl/sharedStrings.xml": sst,
    })


def deck_pptx(path):
    P = "http://schemas.openxmlformats.org/presentationml/2006/main"
    A = "http://schemas.openxmlformats.org/drawingml/2006/main"

    def slide(tag, text):
        return (XML + '<p:%s xmlns:p="%s" xmlns:a="%s" xmlns:r="%s"><p:cSld><p:spTree><p:sp>'
                '<p:txBody><a:bodyPr/><a:p><a:pPr><a:tabLst><a:tab pos="0"/></a:tabLst></a:pPr>'
                '<a:r><a:rPr lang="ja-JP"/><a:t>%s</a:t></a:r></a:p></p:txBody></p:sp></p:spTree>'
                '</p:cSld></p:%s>' % (tag, P, A, R, text, tag))
    # The presentation's order is slide3, slide1, slide2 (slides reordered
    # after they were made): pages follow it, not the file names.
    pres = (XML + '<p:presentation xmlns:p="%s" xmlns:r="%s"><p:sldIdLst>'
            '<p:sldId id="256" r:id="rId3"/><p:sldId id="257" r:id="rId1"/>'
            '<p:sldId id="258" r:id="rId2"/></p:sldIdLst></p:presentation>' % (P, R))
    ct = "application/vnd.openxmlformats-officedocument.presentationml."
    package(path, {
        "[Content_Types].xml": content_types([
            ("/ppt/presentation.xml", ct + "presentation.main+xml"),
            ("/ppt/slides/slide1.xml", ct + "slide+xml"),
            ("/ppt/slides/slide2.xml", ct + "slide+xml"),
            ("/ppt/slides/slide3.xml", ct + "slide+xml"),
            ("/ppt/notesSlides/notesSlide1.xml", ct + "notesSlide+xml")]),
        "_rels/.rels": rels([("rId1", "officeDocument", "ppt/presentation.xml", False)]),
        "ppt/_rels/presentation.xml.rels": rels([
            ("rId1", "slide", "slides/slide1.xml", False),
            ("rId2", "slide", "slides/slide2.xml", False),
            ("rId3", "slide", "slides/slide3.xml", False)]),
        "ppt/presentation.xml": pres,
        "ppt/slides/slide3.xml": slide("sld", SLIDES[0]),
        "ppt/slides/slide1.xml": slide("sld", SLIDES[1]),
        "ppt/slides/_rels/slide1.xml.rels": rels([
            ("rId1", "notesSlide", "../notesSlides/notesSlide1.xml", False)]),
        "ppt/notesSlides/notesSlide1.xml": slide("notes", "speaker notes 発表者メモ"),
        "ppt/slides/slide2.xml": slide("sld", SLIDES[2]),
    })


HTML_SJIS = """<!DOCTYPE html>
<html><head><meta charset="Shift_JIS"><title>日本語のページ Title</title>
<meta name="author" content="佐藤">
<style>body { color: red; } .STYLEPROBE { }</style>
<script>var x = "SCRIPTPROBE <b>";</script></head>
<body><!-- COMMENTPROBE -->
<h1>日本語のページ</h1>
<p>inter<b>national</b>ization &amp; R&eacute;sum&eacute; M&amp;A &#x65E5;&#26412;</p>
<table><tr><td>セル一</td><td>cell two</td></tr></table>
</body></html>
"""
HTML_EUCJP = """<html><body><p>文字コードの判定 detected</p><p>EUC-JP with no charset</p>
</body></html>
"""
RTF = (r"{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fnil\fcharset128 MS Mincho;}}"
       r"{\colortbl;\red255\green0\blue0;}{\*\generator GENERATORPROBE;}"
       r"{\info{\title \'8b\'63\'8e\'96\'98\'5e memo}{\author Yamada}"
       r"{\creatim\yr2024\mo3\dy15\hr9\min30}}"
       r"\f0 \'8b\'63\'8e\'96\'98\'5e\'82\'cc\'83\'81\'83\'82 rich text\par "
       r"\uc1\u12518?\u12491?\u12467?\u12540?\u12489? unicode\par "
       r"{\field{\*\fldinst { DOCPROPERTY x \\* MERGEFORMAT }}{\fldrslt \'8c\'8b\'89\'ca"
       r"\'82\'cc\'92\'6c}}\par }")


def make(out):
    os.makedirs(out, exist_ok=True)
    report_docx(os.path.join(out, "report.docx"))
    macro_docm(os.path.join(out, "macro.docm"))
    budget_xlsx(os.path.join(out, "budget.xlsx"))
    deck_pptx(os.path.join(out, "deck.pptx"))
    with open(os.path.join(out, "page_sjis.html"), "wb") as f:
        f.write(HTML_SJIS.encode("shift_jis"))
    with open(os.path.join(out, "page_eucjp.html"), "wb") as f:
        f.write(HTML_EUCJP.encode("euc_jp"))
    with open(os.path.join(out, "memo.rtf"), "wb") as f:
        f.write(RTF.encode("ascii"))
    # mislabelled: content first, extension second
    budget_xlsx(os.path.join(out, "budget_as.doc"))
    with open(os.path.join(out, "memo_as.txt"), "wb") as f:
        f.write(RTF.encode("ascii"))
    with open(os.path.join(out, "page_as.txt"), "wb") as f:
        f.write(HTML_SJIS.encode("shift_jis"))


if __name__ == "__main__":
    make(sys.argv[1])
