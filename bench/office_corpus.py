#!/usr/bin/python3
"""The Office set of the benchmark (issue 15): Word, Excel and PowerPoint
files of realistic size, each different (a copy number in its text, so no
file is a copy of another), built from tests/corpus/make_office.py's parts:
  - a report (.docx): 60 paragraphs of Japanese and English, a page break
    every 15 (4 pages), a table;
  - a workbook (.xlsx): 3 sheets of 400 rows x 6 cells (shared strings,
    numbers, dates);
  - a deck (.pptx): 20 slides with notes.

    python3 bench/office_corpus.py OUT_DIR [COPIES]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "corpus"))
import make_office as O  # noqa: E402

JA = "四半期の売上は前年同期比で増加し、新製品の出荷も順調に進んでいます。"
EN = "Quarterly revenue rose against the same period last year and shipments are on track."


def report(path, k):
    paras = []
    for i in range(60):
        paras.append(O.para(O.run("%s %s (%d-%d)" % (JA, EN, k, i))))
        if i % 15 == 14:
            paras.append(O.para('<w:r><w:br w:type="page"/></w:r>'))
    paras.append('<w:tbl><w:tr><w:tc>%s</w:tc><w:tc>%s</w:tc></w:tr></w:tbl>'
                 % (O.para(O.run("支店 %d" % k)), O.para(O.run("%d.5" % k))))
    O.docx(path, "application/vnd.openxmlformats-officedocument.wordprocessingml.document."
           "main+xml", paras, "報告書 %d" % k)


def workbook(path, k):
    S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    names = ["東京支店", "大阪支店", "Nagoya branch", "福岡支店", "Sapporo branch"]
    sst = O.XML + '<sst xmlns="%s">%s</sst>' % (S, "".join("<si><t>%s %d</t></si>" % (n, k)
                                                           for n in names))
    styles = (O.XML + '<styleSheet xmlns="%s"><cellXfs count="2"><xf numFmtId="0"/>'
              '<xf numFmtId="14"/></cellXfs></styleSheet>' % S)

    def sheet(n):
        rows = "".join(
            '<row r="%d"><c t="s"><v>%d</v></c><c><v>%d.25</v></c><c s="1"><v>%d</v></c>'
            '<c t="inlineStr"><is><t>行 %d 備考 note</t></is></c><c><v>%d</v></c>'
            '<c t="b"><v>%d</v></c></row>' % (r + 1, r % 5, r * k, 45000 + r, r, r * n, r % 2)
            for r in range(400))
        return O.XML + '<worksheet xmlns="%s"><sheetData>%s</sheetData></worksheet>' % (S, rows)
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml."
    parts = {
        "[Content_Types].xml": O.content_types(
            [("/xl/workbook.xml", ct + "sheet.main+xml")]
            + [("/xl/worksheets/sheet%d.xml" % i, ct + "worksheet+xml") for i in (1, 2, 3)]),
        "_rels/.rels": O.rels([("rId1", "officeDocument", "xl/workbook.xml", False)]),
        "xl/_rels/workbook.xml.rels": O.rels(
            [("rId%d" % i, "worksheet", "worksheets/sheet%d.xml" % i, False) for i in (1, 2, 3)]
            + [("rId8", "sharedStrings", "sharedStrings.xml", False),
               ("rId9", "styles", "styles.xml", False)]),
        "xl/workbook.xml": (O.XML + '<workbook xmlns="%s" xmlns:r="%s"><sheets>%s</sheets>'
                            '</workbook>' % (S, O.R, "".join(
                                '<sheet name="シート%d" sheetId="%d" r:id="rId%d"/>' % (i, i, i)
                                for i in (1, 2, 3)))),
        "xl/sharedStrings.xml": sst,
        "xl/styles.xml": styles,
    }
    for i in (1, 2, 3):
        parts["xl/worksheets/sheet%d.xml" % i] = sheet(i)
    O.package(path, parts)


def deck(path, k):
    P = "http://schemas.openxmlformats.org/presentationml/2006/main"
    A = "http://schemas.openxmlformats.org/drawingml/2006/main"

    def slide(tag, text):
        return (O.XML + '<p:%s xmlns:p="%s" xmlns:a="%s"><p:cSld><p:spTree><p:sp><p:txBody>'
                '<a:p><a:r><a:t>%s</a:t></a:r></a:p><a:p><a:r><a:t>%s</a:t></a:r></a:p>'
                '</p:txBody></p:sp></p:spTree></p:cSld></p:%s>' % (tag, P, A, text, EN, tag))
    ct = "application/vnd.openxmlformats-officedocument.presentationml."
    n = 20
    parts = {
        "[Content_Types].xml": O.content_types(
            [("/ppt/presentation.xml", ct + "presentation.main+xml")]),
        "_rels/.rels": O.rels([("rId1", "officeDocument", "ppt/presentation.xml", False)]),
        "ppt/_rels/presentation.xml.rels": O.rels(
            [("rId%d" % i, "slide", "slides/slide%d.xml" % i, False) for i in range(1, n + 1)]),
        "ppt/presentation.xml": (O.XML + '<p:presentation xmlns:p="%s" xmlns:r="%s"><p:sldIdLst>'
                                 '%s</p:sldIdLst></p:presentation>' % (P, O.R, "".join(
                                     '<p:sldId id="%d" r:id="rId%d"/>' % (255 + i, i)
                                     for i in range(1, n + 1)))),
    }
    for i in range(1, n + 1):
        parts["ppt/slides/slide%d.xml" % i] = slide("sld", "%s %d-%d" % (JA, k, i))
        parts["ppt/slides/_rels/slide%d.xml.rels" % i] = O.rels(
            [("rId1", "notesSlide", "../notesSlides/notesSlide%d.xml" % i, False)])
        parts["ppt/notesSlides/notesSlide%d.xml" % i] = slide("notes", "メモ %d" % i)
    O.package(path, parts)


def make(out, copies=20):
    os.makedirs(out, exist_ok=True)
    for k in range(copies):
        report(os.path.join(out, "report-%02d.docx" % k), k)
        workbook(os.path.join(out, "workbook-%02d.xlsx" % k), k)
        deck(os.path.join(out, "deck-%02d.pptx" % k), k)


if __name__ == "__main__":
    make(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
