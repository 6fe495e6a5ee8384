#!/usr/bin/python3
"""Generate the docmill test corpus (or the user-facing sample bundle).

Usage:
    /usr/bin/python3 tests/corpus/make_corpus.py OUTDIR
    /usr/bin/python3 tests/corpus/make_corpus.py --samples OUTDIR

Deterministic (fixed seeds, reportlab invariant mode), offline, fast.
Needs the Debian packages python3-reportlab, python3-pil,
fonts-ipafont-gothic and fonts-dejavu-core.

The corpus mode also writes OUTDIR/truth.json:
    {"<file>": {"pages": [...], "phrases": [...], "kind": ..., "lang": ...}}
pages[i] is exactly the text drawn on page i (lines joined with "\\n").
For plain-text files pages[0] is the file content without the final newline.
"""
import argparse
import json
import os
import random
import struct
import sys

from PIL import Image, ImageDraw, ImageFont
from reportlab import rl_config

rl_config.useA85 = 0      # raw Flate streams (smaller than ASCII85+Flate)
rl_config.invariant = 1   # no timestamps / random IDs
from reportlab.lib.utils import ImageReader                 # noqa: E402
from reportlab.pdfbase import pdfmetrics                    # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont                # noqa: E402
from reportlab.pdfgen import canvas                         # noqa: E402

JA_FONT = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
EN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DPI = 300
PAGE_PX = (2480, 3508)            # A4 at 300 DPI
PX_PER_PT = DPI / 72.0
# A4 (within 0.1 pt) chosen so a 300-DPI render of a scan page is exactly
# 2480x3508 px, i.e. pixel-aligned with the embedded image (no resampling).
PAGE = (PAGE_PX[0] / PX_PER_PT, PAGE_PX[1] / PX_PER_PT)



def _raw_hmetrics(path):
    """(advance, lsb) per glyph in font units, straight from hhea/hmtx."""
    with open(path, "rb") as f:
        d = f.read()
    tables = {}
    for i in range(struct.unpack(">H", d[4:6])[0]):
        tag, _, off, ln = struct.unpack(">4sIII", d[12 + 16 * i:28 + 16 * i])
        tables[tag] = off
    n_glyphs = struct.unpack(">H", d[tables[b"maxp"] + 4:tables[b"maxp"] + 6])[0]
    n_hm = struct.unpack(">H", d[tables[b"hhea"] + 34:tables[b"hhea"] + 36])[0]
    off = tables[b"hmtx"]
    hm = [struct.unpack(">Hh", d[off + 4 * i:off + 4 * i + 4]) for i in range(n_hm)]
    off += 4 * n_hm
    aw = hm[-1][0]
    for i in range(n_glyphs - n_hm):
        hm.append((aw, struct.unpack(">h", d[off + 2 * i:off + 2 * i + 2])[0]))
    return hm


def _patch_reportlab_subset_hmtx():
    """reportlab 3.6 makeSubset() bug: it picks numberOfHMetrics one too
    small, so every glyph in the trailing run of equal advances inherits the
    advance of the glyph *before* the run (all kanji became 0.5 em wide in
    the embedded subset and mutool's text extraction inserted a space after
    every Japanese character). Rendering is unaffected (PDF /Widths are
    right). Patch the two offending lines; no-op if the source differs."""
    import inspect
    import textwrap
    from reportlab.pdfbase import ttfonts
    old1 = "numberOfHMetrics = n>>1"
    old2 = "hmtx = hmtx[:n] + hmtx[n+1::2]"
    try:
        src = textwrap.dedent(inspect.getsource(ttfonts.TTFontFile.makeSubset))
    except (OSError, TypeError):
        return
    if old1 not in src or old2 not in src:
        return
    src = src.replace(old1, "numberOfHMetrics = (n>>1)+1")
    src = src.replace(old2, "hmtx = hmtx[:n+2] + hmtx[n+3::2]")
    ns = {}
    exec(compile(src, ttfonts.__file__, "exec"), ttfonts.__dict__, ns)
    ttfonts.TTFontFile.makeSubset = ns["makeSubset"]


def register_ttf(name, path):
    font = TTFont(name, path)
    # reportlab 3.6 bug: glyphs after numberOfHMetrics get the advance already
    # scaled to 1000/em, so the embedded subset's hmtx is wrong for 2048-unit
    # fonts (IPAGothic: every kanji 0.49 em wide -> text extractors such as
    # mutool insert spurious spaces). Replace with the raw font-unit metrics.
    font.face.hmetrics = [(aw, lsb & 0xFFFF) for aw, lsb in _raw_hmetrics(path)]
    pdfmetrics.registerFont(font)


_patch_reportlab_subset_hmtx()
register_ttf("IPAGothic", JA_FONT)
register_ttf("DejaVuSans", EN_FONT)


# --------------------------------------------------------------------------
# content
# --------------------------------------------------------------------------
TEXT_JA = [
    "吾輩は猫である",
    "吾輩は猫である。名前はまだ無い。",
    "どこで生れたかとんと見当がつかぬ。",
    "何でも薄暗いじめじめした所で泣いていた事だけは記憶している。",
    "本社は東京都千代田区丸の内一丁目にあります。",
    "今日は朝から雨が降っていましたが、午後には晴れました。",
    "駅前の図書館で新しい本を三冊借りてきました。",
    "来週の会議では新しい製品の計画について話し合う予定です。",
]
TEXT_EN = [
    "Quarterly Business Review",
    "The finance team has finished the quarterly revenue forecast for the",
    "coming year and shared it with every department head this morning.",
    "Sales in the northern region grew faster than expected, while costs",
    "for raw materials stayed close to the budget approved in January.",
    "The new Zebra Crossing Protocol will be tested in two offices first.",
    "Please send your comments to the planning office before Friday.",
]
SCAN_EN = [
    "Dear customer,",
    "Please find enclosed invoice number 48213 for your recent order.",
    "The shipping manifest lists twelve boxes of spare parts.",
    "All items were checked at the warehouse before departure.",
    "Payment is due within thirty days of the invoice date.",
    "Thank you for your business.",
]
SCAN_JA = [
    "請求書番号のご案内",
    "株式会社山田製作所　御中",
    "いつも大変お世話になっております。",
    "今月の商品代金を下記の通りご請求申し上げます。",
    "お支払いは月末までにお願いいたします。",
    "ご不明な点はお気軽にお問い合わせください。",
]
MIXED_P1 = [
    "Mixed Document",
    "This is the first page of the mixed document alpha test file.",
    "It has a normal text layer that can be extracted directly.",
]
MIXED_P2 = [
    "This scanned middle page has no text layer.",
    "It must be read with optical character recognition.",
]
MIXED_P3 = [
    "これは最後のページです。",
    "このページには日本語のテキストがあります。",
]
IMG_EN = [
    "The harbor lighthouse keeper lit the lamp at dusk.",
    "Ships passed safely through the narrow channel.",
]
IMG_JA = [
    # (tesseract 5 / jpn reads a line-initial-only "富士山の天気予報" as 冨士山)
    "富士山の天気予報です。",
    "明日は晴れのち曇りでしょう。",
    "山頂付近では強い風が吹く見込みです。",
]
TIF_P1 = ["This is the first tiff page.", "It contains a short greeting."]
TIF_P2 = ["This is the second tiff page.", "It ends the document."]
BMP_EN = ["This is a bitmap example text.", "Bitmaps are not compressed."]
GIF_EN = ["A graphics interchange sample image.", "It uses an indexed palette."]
NOTES_UTF8 = [
    "日本語のテキストファイル",
    "これは UTF-8 で保存された日本語と英語のメモです。",
    "These are plain text notes written in English and Japanese.",
    "明日の打ち合わせは午前十時から始まります。",
]
NOTES_SJIS = [
    "シフトジス形式の文書",
    "この文書は古い表計算ソフトから出力されました。",
    "担当者は営業部の田中さんです。",
]
NOTES_EUCJP = [
    "ユーロ日本語コード文書",
    "このファイルは昔のサーバーで作成されました。",
    "文字コードは日本語の拡張方式です。",
]

# ---- samples (more "real document" looking) ------------------------------
SAMPLE_MINUTES_JA = [
    "会議議事録",
    "日時：二〇二四年四月十日　午後二時から三時まで",
    "場所：本社三階　第一会議室",
    "出席者：佐藤部長、鈴木課長、高橋、田中（記録）",
    "議題一：来期の予算案について",
    "鈴木課長より、広告費を一割削減する予算案が説明された。",
    "営業部からは展示会の費用を確保したいとの意見が出た。",
    "議題二：新しい勤怠管理システムの導入",
    "六月から試験運用を開始し、九月に全社へ展開する。",
    "次回の会議は五月八日に開催する。",
]
SAMPLE_MINUTES_EN = [
    "Meeting Minutes (English summary)",
    "Date: 10 April 2024, 14:00 to 15:00, Conference Room 1",
    "Attendees: Sato, Suzuki, Takahashi, Tanaka (minutes)",
    "1. Budget for the next fiscal year: the draft budget cuts",
    "advertising costs by ten percent. Sales asked to keep",
    "enough money for the autumn trade show.",
    "2. New attendance system: pilot from June, company-wide",
    "rollout in September.",
    "Next meeting: 8 May 2024.",
]
SAMPLE_SCAN_JA = [
    "営業部定例会議　議事録",
    "日時：五月八日　午前十時",
    "出席者：営業部全員",
    "・上半期の売上は前年より五パーセント増えた。",
    "・下半期の予算は広告費を中心に見直す。",
    "・新しい顧客向けの説明資料を作成する。",
    "次回は六月五日に開催する。",
]
SAMPLE_SCAN_EN = [
    "INVOICE",
    "Northwind Office Supplies Ltd.",
    "Invoice number: 2024-0117",
    "Invoice date: 15 March 2024",
    "Bill to: Sakura Trading Co., Osaka, Japan",
    "",
    "Item\tQty\tAmount (USD)",
    "Recycled copy paper A4\t20\t180.00",
    "Black toner cartridge\t4\t236.00",
    "Desk organizer set\t6\t54.00",
    "Total due\t\t470.00",
    "",
    "Payment terms: net 30 days from the invoice date.",
    "Please pay by bank transfer and quote the invoice number.",
]
SAMPLE_PNG = [
    "Office notice",
    "The copy machine on the second floor",
    "will be repaired on Thursday morning.",
    "Please use the printer near reception.",
]
SAMPLE_SJIS = [
    "社内連絡",
    "来月の予算会議の資料を金曜日までに提出してください。",
    "議事録は共有フォルダに保存してあります。",
    "総務部　山本",
]
SAMPLE_UTF8 = [
    "Project notes / プロジェクトメモ",
    "The invoice from Northwind was received on 15 March.",
    "支払いは三月末までに銀行振込で行う予定です。",
    "Next step: review the budget with the finance team.",
]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def new_canvas(path, title):
    # initialFontName=TTF: reportlab then emits no initial "BT /F1 Tf ET"
    # and no Helvetica resource, so image-only pages stay free of text ops.
    c = canvas.Canvas(path, pagesize=PAGE, invariant=1, pageCompression=1,
                      initialFontName="DejaVuSans")
    c.setTitle(title)
    c.setAuthor("docmill make_corpus.py")
    c.setCreator("docmill make_corpus.py")
    return c


def text_page(c, lines, font, size=12, title_size=None, margin=60):
    """Draw lines (first line optionally larger as a title) as a text layer."""
    w, h = PAGE
    y = h - margin - size
    for i, line in enumerate(lines):
        fs = title_size if (i == 0 and title_size) else size
        lw = pdfmetrics.stringWidth(line, font, fs)
        if lw > w - 2 * margin:
            raise ValueError("line too wide (%.0fpt): %r" % (lw, line))
        c.setFont(font, fs)
        c.drawString(margin, y, line)
        y -= fs * 1.7
    c.showPage()


def render_lines(lines, font_path, px, size=None, margin=200, rng=None,
                 mode="L", fg=0, bg=255, speckles=0, tabs=()):
    """Render text lines to a bitmap; size=None -> fit to the text.
    A line "a\tb\tc" is a table row: a is left-aligned at the margin, b and
    c are right-aligned at margin+tabs[0], margin+tabs[1]."""
    font = ImageFont.truetype(font_path, px)
    step = int(px * 1.75)
    widths = [tabs[line.count("\t") - 1] if "\t" in line else font.getlength(line)
              for line in lines]
    if size is None:
        size = (int(max(widths)) + 2 * margin,
                step * (len(lines) - 1) + int(px * 1.4) + 2 * margin)
    img = Image.new(mode, size, bg)
    d = ImageDraw.Draw(img)
    boxes = []
    for i, (line, lw) in enumerate(zip(lines, widths)):
        if margin + lw > size[0] - margin // 2:
            raise ValueError("line too wide (%dpx): %r" % (lw, line))
        y = margin + i * step
        cells = line.split("\t")
        d.text((margin, y), cells[0], font=font, fill=fg)
        for cell, right in zip(cells[1:], tabs):
            d.text((margin + right - font.getlength(cell), y), cell,
                   font=font, fill=fg)
        if line.strip():
            boxes.append((margin - px, y - px // 2,
                          margin + lw + px, y + px * 3 // 2))
    if speckles:
        add_speckles(img, rng, speckles, mode, boxes)
    return img


def add_speckles(img, rng, n, mode, avoid=()):
    """Mild deterministic scanner noise: small gray dots, kept off the text
    lines themselves (a dot touching a glyph turns into OCR punctuation)."""
    d = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(n):
        while True:
            x, y = rng.randrange(w), rng.randrange(h)
            if not any(x0 <= x <= x1 and y0 <= y <= y1
                       for x0, y0, x1, y1 in avoid):
                break
        r = rng.choice((0, 0, 1, 1, 2))
        g = rng.randint(70, 200)
        fill = g if mode == "L" else (g, g, g)
        d.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def scan_page(c, img):
    c.drawImage(ImageReader(img), 0, 0, width=PAGE[0], height=PAGE[1])
    c.showPage()


def scan_pdf(path, lines, lang, seed, title, tabs=()):
    font, pt = (JA_FONT, 14) if lang == "ja" else (EN_FONT, 12)
    img = render_lines(lines, font, round(pt * PX_PER_PT), size=PAGE_PX,
                       rng=random.Random(seed), speckles=300, tabs=tabs)
    c = new_canvas(path, title)
    scan_page(c, img)
    c.save()


def write_plain(path, lines, encoding):
    with open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode(encoding))


def j(lines):
    return "\n".join(lines)


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------
def make_corpus(out):
    truth = {}

    def T(name, pages, phrases, kind, lang, **extra):
        for ph in phrases:
            assert any(ph in p for p in pages), (name, ph)
        truth[name] = dict(pages=pages, phrases=phrases, kind=kind, lang=lang,
                           **extra)

    P = lambda n: os.path.join(out, n)  # noqa: E731
    en_px = round(12 * PX_PER_PT)   # 50 px
    ja_px = round(14 * PX_PER_PT)   # 58 px

    # text_ja_en.pdf
    c = new_canvas(P("text_ja_en.pdf"), "Japanese and English text")
    text_page(c, TEXT_JA, "IPAGothic", 12, title_size=16)
    text_page(c, TEXT_EN, "DejaVuSans", 11, title_size=15)
    c.save()
    T("text_ja_en.pdf", [j(TEXT_JA), j(TEXT_EN)],
      ["吾輩は猫である", "東京都千代田区", "quarterly revenue forecast",
       "Zebra Crossing Protocol"], "text", "mixed")

    # scans
    scan_pdf(P("scan_en.pdf"), SCAN_EN, "en", 101, "Scanned invoice letter")
    T("scan_en.pdf", [j(SCAN_EN)], ["invoice number 48213", "shipping manifest"],
      "scan", "en")
    scan_pdf(P("scan_ja.pdf"), SCAN_JA, "ja", 102, "Scanned Japanese letter")
    T("scan_ja.pdf", [j(SCAN_JA)], ["請求書番号", "株式会社山田製作所"],
      "scan", "ja")

    # mixed.pdf: text / scan / text
    c = new_canvas(P("mixed.pdf"), "Mixed text and scanned pages")
    text_page(c, MIXED_P1, "DejaVuSans", 12, title_size=16)
    scan_page(c, render_lines(MIXED_P2, EN_FONT, en_px, size=PAGE_PX,
                              rng=random.Random(103), speckles=300))
    text_page(c, MIXED_P3, "IPAGothic", 12)
    c.save()
    T("mixed.pdf", [j(MIXED_P1), j(MIXED_P2), j(MIXED_P3)],
      ["mixed document alpha", "scanned middle page", "最後のページです"],
      "scan", "mixed", page_kinds=["text", "scan", "text"],
      page_langs=["en", "en", "ja"])

    # images
    dpi = (DPI, DPI)
    im = render_lines(IMG_EN, EN_FONT, en_px, mode="RGB", fg=(0, 0, 0),
                      bg=(255, 255, 255), rng=random.Random(201), speckles=25)
    im.save(P("image_en.png"), dpi=dpi, optimize=True)
    T("image_en.png", [j(IMG_EN)], ["harbor lighthouse keeper"], "image", "en")

    im = render_lines(IMG_JA, JA_FONT, round(16 * PX_PER_PT), mode="RGB", fg=(20, 30, 90),
                      bg=(250, 247, 238), rng=random.Random(202), speckles=25)
    im.save(P("image_ja.jpg"), quality=90, dpi=dpi)
    T("image_ja.jpg", [j(IMG_JA)], ["富士山の天気予報"], "image", "ja")

    p1 = render_lines(TIF_P1, EN_FONT, en_px, rng=random.Random(203), speckles=25)
    p2 = render_lines(TIF_P2, EN_FONT, en_px, size=p1.size,
                      rng=random.Random(204), speckles=25)
    p1.save(P("multi.tif"), save_all=True, append_images=[p2],
            compression="tiff_lzw", dpi=dpi)
    T("multi.tif", [j(TIF_P1), j(TIF_P2)], ["first tiff page", "second tiff page"],
      "image", "en")

    im = render_lines(BMP_EN, EN_FONT, round(10 * PX_PER_PT), margin=50,
                      rng=random.Random(205), speckles=25)
    im.save(P("image.bmp"), dpi=dpi)      # 8-bit grayscale-palette BMP, ~220 KB
    T("image.bmp", [j(BMP_EN)], ["bitmap example text"], "image", "en")

    im = render_lines(GIF_EN, EN_FONT, en_px, rng=random.Random(206), speckles=25)
    im.save(P("image.gif"))
    T("image.gif", [j(GIF_EN)], ["graphics interchange sample"], "image", "en")

    # plain text
    write_plain(P("notes_utf8.txt"), NOTES_UTF8, "utf-8")
    T("notes_utf8.txt", [j(NOTES_UTF8)], ["日本語のテキストファイル", "plain text notes"],
      "plain", "mixed", encoding="utf-8")
    write_plain(P("notes_sjis.txt"), NOTES_SJIS, "shift_jis")
    T("notes_sjis.txt", [j(NOTES_SJIS)], ["シフトジス形式の文書"], "plain", "ja",
      encoding="shift_jis")
    write_plain(P("notes_eucjp.txt"), NOTES_EUCJP, "euc_jp")
    T("notes_eucjp.txt", [j(NOTES_EUCJP)], ["ユーロ日本語コード文書"], "plain", "ja",
      encoding="euc_jp")

    # bad inputs
    rng = random.Random(301)
    garbage = bytes(rng.randrange(256) for _ in range(1500))
    garbage = garbage.replace(b"obj", b"ojb").replace(b"%%EOF", b"%%EOX")
    with open(P("corrupt.pdf"), "wb") as f:
        f.write(b"%PDF-1.4\n" + garbage)
    T("corrupt.pdf", [], [], "bad", "en")

    open(P("empty.pdf"), "wb").close()
    T("empty.pdf", [], [], "bad", "en")

    rng = random.Random(302)
    blob = bytes(rng.randrange(256) for _ in range(2048))
    magics = [b"%PDF", b"\x89PNG", b"\xff\xd8", b"GIF8", b"II*\x00", b"MM\x00*",
              b"BM", b"PK", b"\x1f\x8b", b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe",
              b"RIFF", b"\x00\x00\x01\x00", b"7z", b"Rar!", b"\xd0\xcf\x11\xe0"]
    assert not any(blob.startswith(m) for m in magics)
    with open(P("unsupported.xyz"), "wb") as f:
        f.write(blob)
    T("unsupported.xyz", [], [], "bad", "en")

    with open(P("text_ja_en.pdf"), "rb") as f:
        data = f.read()
    with open(P("truncated.pdf"), "wb") as f:
        f.write(data[: int(len(data) * 0.4)])
    T("truncated.pdf", [], [], "bad", "mixed")

    with open(P("truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


# --------------------------------------------------------------------------
# samples
# --------------------------------------------------------------------------
def make_samples(out):
    P = lambda n: os.path.join(out, n)  # noqa: E731
    c = new_canvas(P("meeting_minutes_ja_en.pdf"), "会議議事録 / Meeting minutes")
    text_page(c, SAMPLE_MINUTES_JA, "IPAGothic", 12, title_size=18)
    text_page(c, SAMPLE_MINUTES_EN, "DejaVuSans", 11, title_size=15)
    c.save()
    scan_pdf(P("scanned_minutes_ja.pdf"), SAMPLE_SCAN_JA, "ja", 401,
             "Scanned meeting minutes")
    scan_pdf(P("scanned_invoice_en.pdf"), SAMPLE_SCAN_EN, "en", 402,
             "Scanned invoice", tabs=(1000, 1450))
    im = render_lines(SAMPLE_PNG, EN_FONT, round(14 * PX_PER_PT), mode="RGB",
                      fg=(0, 0, 0), bg=(255, 255, 255),
                      rng=random.Random(403), speckles=25)
    im.save(P("office_notice.png"), dpi=(DPI, DPI), optimize=True)
    write_plain(P("memo_sjis.txt"), SAMPLE_SJIS, "shift_jis")
    write_plain(P("notes_utf8.txt"), SAMPLE_UTF8, "utf-8")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", action="store_true",
                    help="write the small user-facing sample bundle instead")
    ap.add_argument("outdir")
    a = ap.parse_args(argv)
    os.makedirs(a.outdir, exist_ok=True)
    (make_samples if a.samples else make_corpus)(a.outdir)


if __name__ == "__main__":
    main(sys.argv[1:])
