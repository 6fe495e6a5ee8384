#!/usr/bin/python3
"""Deterministic benchmark corpus for docmill (issue 5).

Why: the benchmark compares docmill with the Python pipeline it replaces
("the seed", see bench/baseline.py) on a seed-like mix of documents, and
scores both against ground truth. This script makes that mix, offline and
byte-for-byte reproducible for a given --seed.

    /usr/bin/python3 bench/corpus.py OUT_DIR [--size quick|full] [--seed N]
    /usr/bin/python3 bench/corpus.py --large OUT_PDF [--pages 1000]
                                     [--target-mb 200] [--seed N]

OUT_DIR gets about 70% text-layer PDFs and 30% scanned, image-only PDFs
(A4 page images at 300 DPI; some with speckles or gray noise, some rotated
by 0.5-1.5 degrees, JPEG- or Flate-compressed), plus standalone PNG, JPEG
and TIFF images (one multi-page TIFF), in Japanese, English and mixed
(Japanese paragraphs alternating with English ones). Pages carry 25-40
lines of generated prose at 9-14 pt (one size per document). Apart from
those, "jaen" scans: Japanese pages full of English words, as technical
manuals (commands, options, paths, numbers), product sheets and invoices
(Latin names and codes) are, set full-page in 8 pt small print up to 16 pt
(scan_NNN_jaen_<pt>pt.pdf; --langs jaen makes only those).

  quick: 15 files, PDFs ~5 pages, 22 OCR pages in all (a short run)
  full:  60 PDFs averaging ~15 pages plus 10 images (~280 OCR pages)

OUT_DIR/truth.json:
  {"<file>": {"kind": "text"|"scan"|"image", "lang": "ja"|"en"|"mixed"|"jaen",
              "pages": ["<exactly the characters drawn on page i, lines
                         joined with \\n, blank lines between paragraphs>"],
              "page_kinds": ["text"|"scan", ...], "font_pt": 9..14,
              # scans and images only:
              "scan": {"dpi": 300, "compression": "jpeg"|"flate"|"png"|
                                   "tiff_lzw"|"tiff_group4",
                       # scanned PDFs only:
                       "noise": "none"|"speckle"|"gauss",
                       "rotation": [degrees per page]}}}

--large writes one big PDF whose every 4th page is a 300-DPI scan, the rest
text pages; scans are JPEG, Flate or (when needed to reach --target-mb)
uncompressed gray images. Pages are streamed: text pages are laid out with
reportlab against small placeholder images, then the file is rewritten
object by object with each placeholder replaced by its real scan, one
page image in memory at a time. Truth goes to OUT_PDF + ".truth.json"
(same schema, kind "mixed", plus "page_langs"; its "scan" maps each
scanned page index, as a string, to rotation / noise / compression, where
compression may also be "raw").

Needs only Debian's python3-reportlab, python3-pil, fonts-ipafont-gothic and
fonts-dejavu-core. Stands alone (does not import tests/corpus).
"""
import argparse
import io
import json
import os
import random
import re
import struct
import sys
import time

from PIL import Image, ImageChops, ImageDraw, ImageFont
from reportlab import rl_config

rl_config.useA85 = 0      # raw Flate streams (smaller than ASCII85+Flate)
rl_config.invariant = 1   # no timestamps / random IDs
from reportlab.lib.utils import ImageReader                 # noqa: E402
from reportlab.pdfbase import pdfmetrics                    # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont                # noqa: E402
from reportlab.pdfgen import canvas                         # noqa: E402

JA_FONT = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
EN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# "jaen": Japanese with English words, set in the Japanese font throughout
# (as Japanese documents are).
FONT_NAME = {"ja": "IPAGothic", "en": "DejaVuSans", "jaen": "IPAGothic"}
FONT_PATH = {"ja": JA_FONT, "en": EN_FONT, "jaen": JA_FONT}
DPI = 300
PAGE_PX = (2480, 3508)            # A4 at 300 DPI
PX_PER_PT = DPI / 72.0
# A4 within 0.1 pt, chosen so that a 300-DPI render of a scanned page is
# exactly 2480x3508 px (pixel-aligned with the embedded image).
PAGE = (PAGE_PX[0] / PX_PER_PT, PAGE_PX[1] / PX_PER_PT)
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 60.0, 64.0, 56.0


# --------------------------------------------------------------------------
# fonts (same workarounds as tests/corpus/make_corpus.py)
# --------------------------------------------------------------------------
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
    """reportlab 3.6 makeSubset() picks numberOfHMetrics one too small, so
    the embedded subset gives every kanji the wrong advance and text
    extractors insert a space after each one. Patch the two lines (no-op if
    the installed source differs)."""
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
    # reportlab 3.6: glyphs past numberOfHMetrics get an advance already
    # scaled to 1000/em; use the raw font-unit metrics instead.
    font.face.hmetrics = [(aw, lsb & 0xFFFF) for aw, lsb in _raw_hmetrics(path)]
    pdfmetrics.registerFont(font)


_patch_reportlab_subset_hmtx()
register_ttf("IPAGothic", JA_FONT)
register_ttf("DejaVuSans", EN_FONT)


# --------------------------------------------------------------------------
# prose
# --------------------------------------------------------------------------
EN_SUBJECTS = [
    "The finance team", "Our northern branch", "The project manager",
    "Every department head", "The new warehouse in Kobe", "The board",
    "The customer support desk", "The sales office in Osaka",
    "The quality assurance group", "A small working group",
    "The legal department", "Our logistics partner", "The audit committee",
    "The product design team", "The head of purchasing",
    "The regional director", "The facilities manager", "The IT helpdesk",
]
EN_VERBS = [
    "reviewed", "approved", "prepared", "discussed", "postponed", "updated",
    "completed", "published", "checked", "revised", "signed", "rejected",
    "summarised", "translated", "circulated", "finalised",
]
EN_OBJECTS = [
    "the quarterly budget", "the shipping schedule", "the draft contract",
    "the annual report", "the safety manual", "the price list for spare parts",
    "the training plan", "the inventory figures", "the travel policy",
    "the customer survey results", "the maintenance log",
    "the recruitment plan", "the energy audit", "the supplier agreement",
    "the marketing brief", "the insurance renewal", "the floor plan",
    "the migration checklist", "the service level report",
]
EN_TAILS = [
    "before the end of the month", "after a long discussion",
    "during the weekly meeting", "on {weekday} morning",
    "with help from the legal team", "as requested by the auditors",
    "earlier than planned", "for the second time this year",
    "without any major changes", "in time for the board meeting",
    "despite the delayed deliveries", "at the request of {person}",
]
EN_TEMPLATES = [
    "{S} {V} {O} {T}.",
    "{S} {V} {O} {T}.",
    "According to {O}, {n} percent of orders were delivered on time in {month}.",
    "{S} expects {O} to be ready by {day} {month}.",
    "Costs for {item} rose by {n} percent, while {item2} stayed within the budget.",
    "Please send your comments on {O} to {person} before {weekday}.",
    "The meeting on {day} {month} will focus on {O} and {O2}.",
    "In {month}, {s} received {n3} new orders from customers in {city}.",
    "{person} will present {O} at the next review in {city}.",
    "Invoice {inv} for {amount} US dollars was paid on {day} {month}.",
    "If the figures are confirmed, {s} will move the deadline to {weekday}.",
    "Only {n} of the {n3} machines in the {city} plant need new parts.",
    "Questions about {O} should go to the office on the {floor} floor.",
]
EN_ITEMS = ["raw materials", "packaging", "office rent", "electricity",
            "freight", "software licences", "temporary staff", "catering",
            "cleaning services", "printer paper"]
EN_PEOPLE = ["Ms Tanaka", "Mr Suzuki", "Dr Sato", "Ms Clarke", "Mr Novak",
             "Ms Yamamoto", "Mr Brown", "Ms Ito", "Mr Garcia", "Ms Kobayashi"]
EN_CITIES = ["Osaka", "Nagoya", "Sapporo", "Fukuoka", "Yokohama", "Sendai",
             "Hamburg", "Seattle", "Lyon", "Melbourne", "Toronto"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
FLOORS = ["second", "third", "fourth", "fifth", "seventh"]
EN_TITLES = ["Quarterly Business Review", "Operations Report",
             "Project Status Update", "Minutes of the Planning Meeting",
             "Supplier Evaluation", "Annual Maintenance Plan",
             "Internal Audit Notes", "Customer Service Summary"]

JA_SUBJECTS = [
    "営業部は", "経理課では", "担当者が", "新しいシステムは", "東京支店は",
    "品質管理チームは", "総務部の田中さんは", "大阪の工場では", "当社は",
    "人事部では", "プロジェクトの責任者は", "物流センターは", "開発部の佐藤さんが",
    "社長は", "各部署の担当者は", "名古屋営業所は", "情報システム部は",
]
JA_TIMES = [
    "今朝", "先週の金曜日に", "来月から", "毎週月曜日に", "{m}月{d}日に",
    "昨年度は", "午後三時から", "今年の春に", "年内に", "来週の会議で",
    "本日", "先月末に",
]
JA_DAYS = ["来週", "来月", "明日", "月曜日", "{m}月{d}日", "次回"]
JA_OBJECTS = [
    "予算案を", "出荷の予定を", "新しい契約書を", "年次報告書を",
    "安全マニュアルを", "部品の価格表を", "研修計画を", "在庫の数字を",
    "出張の規定を", "顧客アンケートの結果を", "保守点検の記録を",
    "採用計画を", "見積書を", "会議の資料を", "工事の日程を", "請求書を",
]
JA_PREDICATES = [
    "確認しました", "見直す予定です", "提出しました", "検討しています",
    "発表しました", "まとめました", "延期することになりました",
    "共有してください", "承認しました", "作成しています", "修正しました",
    "取引先に送付しました", "来週までに準備します",
]
JA_TOPICS = [
    "来期の予算", "新製品の発売", "事務所の移転", "在宅勤務の規則",
    "展示会の準備", "システムの更新", "取引先との契約", "社員の研修",
    "売上の見通し", "物流費の削減", "安全対策", "年末の棚卸し",
]
JA_PLACES = ["東京", "大阪", "名古屋", "福岡", "札幌", "横浜", "神戸",
             "京都", "仙台", "広島"]
JA_PEOPLE = ["田中", "鈴木", "佐藤", "高橋", "山本", "伊藤", "渡辺",
             "中村", "小林", "加藤"]
JA_DEPTS = ["総務部", "経理課", "営業部", "人事部", "情報システム部",
            "品質管理部", "広報室"]
JA_TEMPLATES = [
    "{time}、{subj}{obj}{pred}。",
    "{subj}{obj}{pred}。",
    "{place}の事務所では、{n}件の新しい注文がありました。",
    "{topic}について、{person}さんから説明がありました。",
    "{day}の会議では、{topic}と{topic2}について話し合います。",
    "ご不明な点は{dept}までお問い合わせください。",
    "{place}の倉庫は{m}月{d}日まで工事のため使用できません。",
    "今回の変更により、{topic}の費用は約{n}パーセント減る見込みです。",
    "詳しい内容は、添付の{doc}をご覧ください。",
    "{person}さんは{place}から戻り次第、{obj}{pred}。",
    "昨年と比べると、{place}の売上は{n}パーセント増えました。",
    "なお、{topic}の日程は{dept}で調整しています。",
]
JA_DOCS = ["資料", "報告書", "一覧表", "議事録", "案内", "見積書", "計画書"]
JA_TITLES = ["月次業務報告書", "会議議事録", "プロジェクト進捗報告",
             "取引先評価のまとめ", "年間保守計画", "社内監査メモ",
             "お客様対応のまとめ", "新製品開発の計画書"]


# Japanese documents full of English: a technical manual (commands, options,
# paths, numbers), product sheets and invoices (Latin names and codes).
JAEN_COMMANDS = ["grep -r", "ls -la", "tar czf", "ssh -i", "curl -sS", "rsync -av",
                 "systemctl restart", "docker compose up", "git log --oneline",
                 "kubectl get pods", "pip install", "make install", "chmod 600",
                 "journalctl -u", "sudo apt-get update", "find . -name"]
JAEN_OPTIONS = ["--verbose", "--dry-run", "--config", "--output", "--timeout", "-n",
                "--force", "--recursive", "--max-retries", "--log-level", "-q", "--json"]
JAEN_PATHS = ["/etc/hosts", "/var/log/syslog", "/usr/local/bin", "~/.ssh/config",
              "/etc/nginx/nginx.conf", "C:\\Program Files\\Office", "/opt/app/config.yaml",
              "/tmp/cache", "/home/tanaka/work", "/srv/share/docs"]
JAEN_TERMS = ["HTTP", "TCP/IP", "DNS", "API", "SQL", "JSON", "CSV", "PDF", "OCR", "CPU",
              "USB 3.0", "Wi-Fi", "VPN", "Excel", "PowerPoint", "Windows 11", "Linux",
              "Amazon S3", "OpenSearch", "UTF-8", "Shift_JIS", "IPv6", "SSD", "RAID 5"]
JAEN_PRODUCTS = ["SmartScan Pro X200", "DataBox Mini", "CloudSync Enterprise",
                 "PowerEdge R750", "ThinkPad X1 Carbon", "Model S-3100", "NetGuard 5",
                 "LaserJet M404dn", "Surface Pro 9", "AirStation WSR-3200"]
JAEN_COMPANIES = ["Acme Corporation", "Globex Ltd.", "Initech Inc.", "Tanaka Trading Co.",
                  "Blue Ocean Systems", "Northwind Traders", "Contoso Japan"]
JAEN_PEOPLE = ["John Smith", "Mary Johnson", "Ken Tanaka", "Emily Clarke", "Yuki Sato",
               "David Miller", "Anna Novak"]
JAEN_UNITS = ["GB", "MB", "ms", "kg", "mm", "W", "V", "dpi"]
JAEN_TEMPLATES = [
    "{cmd} コマンドを実行すると、{path} の内容が表示されます。",
    "{opt} オプションを付けると、{term} のログが詳しく出力されます。",
    "設定ファイル {path} の max_connections を {n3} に変更してください。",
    "エラーコード E{n4} が表示された場合は、{term} の設定を確認します。",
    "{product} は {term} に対応し、最大 {n} {unit} まで使用できます。",
    "{company} の {person} 様より、見積書 No. Q-{n4} を受領しました。",
    "請求書番号 INV-{year}-{n4} の合計金額は ¥{amount} (税込) です。",
    "品番 {code} の単価は ${price} で、数量は {n} 個です。",
    "バージョン {ver} では、{term} の処理速度が約 {n} % 向上しました。",
    "詳細は https://www.example.com/docs/{word} を参照してください。",
    "{cmd} {opt} の実行には管理者権限 (root) が必要です。",
    "{person} さん ({email}) が {term} サーバーの移行を担当します。",
    "{product} の保証期間は {n} か月で、型番 {code} が対象です。",
    "ポート {port} を開放し、{term} の通信を許可してください。",
]
JAEN_WORDS = ["install", "setup", "faq", "release-notes", "api", "security", "backup"]
JAEN_TITLES = ["{product} ユーザーズガイド", "{term} 運用マニュアル", "製品仕様書 {product}",
               "請求書 INV-{year}-{n4}", "{company} 御中 見積書", "システム管理者向け手順書"]


def jaen_fill(rng, template):
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    person = rng.choice(JAEN_PEOPLE)
    return template.format(
        cmd=rng.choice(JAEN_COMMANDS), opt=rng.choice(JAEN_OPTIONS),
        path=rng.choice(JAEN_PATHS), term=rng.choice(JAEN_TERMS),
        product=rng.choice(JAEN_PRODUCTS), company=rng.choice(JAEN_COMPANIES),
        person=person, unit=rng.choice(JAEN_UNITS), word=rng.choice(JAEN_WORDS),
        email=person.split()[0].lower() + "@example.co.jp",
        n=rng.randint(2, 95), n3=rng.randint(100, 999), n4="%04d" % rng.randint(1, 9999),
        year=rng.randint(2019, 2026), port=rng.choice((22, 80, 443, 5432, 8080, 9200)),
        amount="{:,}".format(rng.randint(1200, 980000)),
        price="%d.%02d" % (rng.randint(3, 900), rng.randint(0, 99)),
        code="%s%s-%d" % (rng.choice(letters), rng.choice(letters), rng.randint(100, 9999)),
        ver="%d.%d.%d" % (rng.randint(1, 9), rng.randint(0, 20), rng.randint(0, 9)))


def jaen_sentence(rng):
    # one Japanese business sentence in three: the English-heavy lines sit
    # in ordinary Japanese prose, as in a real manual
    if rng.random() < 0.3:
        return ja_sentence(rng)
    return jaen_fill(rng, rng.choice(JAEN_TEMPLATES))


def en_sentence(rng):
    t = rng.choice(EN_TEMPLATES)
    s = rng.choice(EN_SUBJECTS)
    return t.format(
        S=s, s=s[0].lower() + s[1:], V=rng.choice(EN_VERBS),
        O=rng.choice(EN_OBJECTS), O2=rng.choice(EN_OBJECTS),
        T=rng.choice(EN_TAILS).format(weekday=rng.choice(WEEKDAYS),
                                      person=rng.choice(EN_PEOPLE)),
        n=rng.randint(2, 95), n3=rng.randint(100, 999),
        month=rng.choice(MONTHS), day=rng.randint(1, 28),
        weekday=rng.choice(WEEKDAYS), person=rng.choice(EN_PEOPLE),
        item=rng.choice(EN_ITEMS), item2=rng.choice(EN_ITEMS),
        city=rng.choice(EN_CITIES), floor=rng.choice(FLOORS),
        inv="%d-%04d" % (rng.randint(2019, 2025), rng.randint(1, 9999)),
        amount="{:,}".format(rng.randint(120, 98000)))


def ja_sentence(rng):
    t = rng.choice(JA_TEMPLATES)
    return t.format(
        time=rng.choice(JA_TIMES).format(m=rng.randint(1, 12),
                                         d=rng.randint(1, 28)),
        day=rng.choice(JA_DAYS).format(m=rng.randint(1, 12),
                                       d=rng.randint(1, 28)),
        subj=rng.choice(JA_SUBJECTS), obj=rng.choice(JA_OBJECTS),
        pred=rng.choice(JA_PREDICATES), topic=rng.choice(JA_TOPICS),
        topic2=rng.choice(JA_TOPICS), place=rng.choice(JA_PLACES),
        person=rng.choice(JA_PEOPLE), dept=rng.choice(JA_DEPTS),
        doc=rng.choice(JA_DOCS),
        n=rng.randint(2, 95), m=rng.randint(1, 12), d=rng.randint(1, 28))


def paragraph(rng, lang):
    make = {"ja": ja_sentence, "jaen": jaen_sentence}.get(lang, en_sentence)
    return ("" if lang in ("ja", "jaen") else " ").join(
        make(rng) for _ in range(rng.randint(2, 6)))


def title(rng, lang, number):
    if lang == "en":
        return "%s %d" % (rng.choice(EN_TITLES), number)
    if lang == "jaen":
        return jaen_fill(rng, rng.choice(JAEN_TITLES))
    return "%s 第%d号" % (rng.choice(JA_TITLES), number)


# --------------------------------------------------------------------------
# layout: a page is a list of (text, lang, size_pt); "" is a blank line
# --------------------------------------------------------------------------
NO_LINE_START = set("、。，．）」』】・ー！？")


def width_pt(text, lang, size):
    return pdfmetrics.stringWidth(text, FONT_NAME[lang], size)


def wrap(text, lang, size, max_w):
    """Greedy wrap: by words for English, by characters (with a simple
    no-punctuation-at-line-start rule) for Japanese."""
    lines = []
    if lang == "jaen":
        return wrap_tokens(re.findall(r"[!-~]+|\s|.", text), lang, size, max_w)
    if lang == "en":
        cur = ""
        for word in text.split():
            cand = word if not cur else cur + " " + word
            if cur and width_pt(cand, lang, size) > max_w:
                lines.append(cur)
                cur = word
            else:
                cur = cand
        if cur:
            lines.append(cur)
        return lines
    cur = ""
    for ch in text:
        if cur and ch not in NO_LINE_START and \
                width_pt(cur + ch, lang, size) > max_w:
            lines.append(cur)
            cur = ""
        cur += ch
    if cur:
        lines.append(cur)
    return lines


def wrap_tokens(tokens, lang, size, max_w):
    """Japanese with English words: breaks between characters, never inside
    an ASCII word; no space at a line's start."""
    lines, cur = [], ""
    for tok in tokens:
        if cur and tok[0] not in NO_LINE_START and width_pt(cur + tok, lang, size) > max_w:
            lines.append(cur.rstrip())
            cur = ""
        if cur or not tok.isspace():
            cur += tok
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


class Layout:
    """Flows generated paragraphs into pages of n_lines lines."""

    def __init__(self, rng, lang, size, n_lines):
        self.rng, self.lang, self.size, self.n_lines = rng, lang, size, n_lines
        # leave one em for the line-start rule, which may overshoot
        self.max_w = PAGE[0] - 2 * MARGIN_X - size
        self.pending = []            # wrapped lines not yet placed
        self.next_lang = {"mixed": "ja"}.get(lang, lang)

    def _refill(self):
        lang = self.next_lang
        if self.lang == "mixed":
            self.next_lang = "en" if lang == "ja" else "ja"
        for line in wrap(paragraph(self.rng, lang), lang, self.size, self.max_w):
            self.pending.append((line, lang, self.size))
        self.pending.append(("", lang, self.size))

    def page(self, title_text=None):
        lines = []
        if title_text:
            tl = "en" if title_text.isascii() else self.lang if self.lang == "jaen" else "ja"
            lines += [(title_text, tl, round(self.size * 1.4, 1)),
                      ("", tl, self.size)]
        while len(lines) < self.n_lines:
            if not self.pending:
                self._refill()
            line = self.pending.pop(0)
            if line[0] or lines:       # no blank line at the top of a page
                lines.append(line)
        while lines and not lines[-1][0]:
            lines.pop()
        return lines


def leading(size, n_lines):
    return min(size * 2.0, (PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM) / n_lines)


def lines_for(rng, size):
    """25-40 lines, as many as fit at >= 1.25x leading."""
    fit = int((PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM) / (size * 1.25))
    return min(fit, rng.randint(25, 40))


def page_text(lines):
    return "\n".join(t for t, _, _ in lines)


# --------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------
def new_canvas(path, title_text):
    # initialFontName=TTF: no stray Helvetica resource / empty BT on
    # image-only pages (so they have no text layer at all)
    c = canvas.Canvas(path, pagesize=PAGE, invariant=1, pageCompression=1,
                      initialFontName="DejaVuSans")
    c.setTitle(title_text)
    c.setAuthor("docmill bench/corpus.py")
    c.setCreator("docmill bench/corpus.py")
    return c


def draw_text_page(c, lines, lead):
    y = PAGE[1] - MARGIN_TOP
    for text, lang, size in lines:
        if text:
            w = width_pt(text, lang, size)
            if w > PAGE[0] - 2 * MARGIN_X + 1:
                raise ValueError("line too wide (%.0fpt): %r" % (w, text))
            c.setFont(FONT_NAME[lang], size)
            c.drawString(MARGIN_X, y - size, text)
        y -= lead
    c.showPage()


_FONT_CACHE = {}


def pil_font(lang, px):
    key = (lang, px)
    if key not in _FONT_CACHE:
        _FONT_CACHE[key] = ImageFont.truetype(FONT_PATH[lang], px)
    return _FONT_CACHE[key]


def render_scan(lines, lead, rng, noise, rotation):
    """The page as a 300-DPI grayscale scan (PAGE_PX); lead in pt."""
    img = Image.new("L", PAGE_PX, 255)
    d = ImageDraw.Draw(img)
    lead *= PX_PER_PT
    x0 = round(MARGIN_X * PX_PER_PT)
    y = MARGIN_TOP * PX_PER_PT
    bands = []
    for text, lang, size in lines:
        px = round(size * PX_PER_PT)
        if text:
            d.text((x0, round(y)), text, font=pil_font(lang, px), fill=0)
            bands.append((y - px * 0.3, y + px * 1.3))
        y += lead
    if noise in ("speckle", "gauss"):
        add_speckles(img, rng, rng.randint(200, 600), bands)
    if noise == "gauss":
        sigma = rng.uniform(8, 16)
        img = ImageChops.add(img, Image.effect_noise(PAGE_PX, sigma), 1.0, -128)
    if rotation:
        img = img.rotate(rotation, resample=Image.BICUBIC, fillcolor=255)
    return img


def add_speckles(img, rng, n, bands=()):
    """Small gray dots, kept off the text lines (a dot on a glyph turns into
    OCR punctuation, which is not what this benchmark measures)."""
    d = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(n):
        for _try in range(50):
            x, y = rng.randrange(w), rng.randrange(h)
            if not any(y0 <= y <= y1 for y0, y1 in bands):
                break
        r = rng.choice((0, 0, 1, 1, 2))
        d.ellipse((x - r, y - r, x + r, y + r), fill=rng.randint(70, 200))


def jpeg_bytes(img, quality):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, dpi=(DPI, DPI))
    return buf.getvalue()


def draw_scan_page(c, img, compression, quality=85):
    if compression == "jpeg":
        src = ImageReader(io.BytesIO(jpeg_bytes(img, quality)))   # DCTDecode
    else:
        src = ImageReader(img)                                    # FlateDecode
    c.drawImage(src, 0, 0, width=PAGE[0], height=PAGE[1])
    c.showPage()


def render_block(lines, rng, mode="L", fg=0, bg=255, margin=120):
    """A standalone image fitted to its text (lines: [(text, lang, px)])."""
    step = int(max(px for _, _, px in lines) * 1.6)
    widths = [pil_font(lang, px).getlength(t) for t, lang, px in lines]
    size = (int(max(widths)) + 2 * margin, step * len(lines) + 2 * margin)
    img = Image.new(mode, size, bg)
    d = ImageDraw.Draw(img)
    bands = []
    for i, (text, lang, px) in enumerate(lines):
        y = margin + i * step
        if text:
            d.text((margin, y), text, font=pil_font(lang, px), fill=fg)
            bands.append((y - px * 0.3, y + px * 1.3))
    add_speckles(img, rng, rng.randint(20, 80), bands)
    return img


# --------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------
LANGS = ["ja", "en", "mixed"]
SCAN_VARIANTS = [   # (noise, rotate?, compression), cycled over scan PDFs
    ("speckle", True, "jpeg"),
    ("speckle", False, "flate"),
    ("gauss", True, "jpeg"),
    ("none", False, "flate"),
    ("gauss", False, "jpeg"),
    ("speckle", True, "flate"),
]


def page_counts(rng, n, mean):
    """n page counts (1..80) with a long tail and roughly the given mean."""
    raw = [rng.lognormvariate(0, 0.8) for _ in range(n)]
    scale = mean * n / sum(raw)
    return [max(1, min(80, round(r * scale))) for r in raw]


def plan(size, seed):
    """[(name, kind, lang, pages, font_pt or None)] for the corpus size."""
    rng = random.Random("plan:%s:%d" % (size, seed))
    if size == "quick":
        text_pages, scan_pages = [5, 9, 6, 8, 5, 7], [3, 3, 3]
        images = [("png", 1), ("jpg", 1), ("tif", 2)]
    else:
        text_pages = page_counts(rng, 42, 15)
        scan_pages = page_counts(rng, 18, 15)
        images = [("png", 1), ("jpg", 1), ("tif", 1), ("png", 1), ("jpg", 1),
                  ("tif", 1), ("png", 1), ("jpg", 1), ("tif", 1), ("tif", 3)]
    # Japanese pages full of English words, in small print (8 pt), the usual
    # sizes and large print; their own set in the benchmark ("scans_jaen")
    if size == "quick":
        jaen = [(8, 3), (10.5, 4), (16, 2)]
    else:
        jaen = [(8, 4), (9, 6), (10.5, 8), (12, 6), (8, 5), (16, 3)]
    out = []
    for i, n in enumerate(text_pages):
        lang = LANGS[i % 3]
        out.append(("text_%03d_%s.pdf" % (i + 1, lang), "text", lang, n, None))
    for i, n in enumerate(scan_pages):
        lang = LANGS[(i + 1) % 3]
        out.append(("scan_%03d_%s.pdf" % (i + 1, lang), "scan", lang, n, None))
    for i, (pt, n) in enumerate(jaen):
        out.append(("scan_%03d_jaen_%gpt.pdf" % (len(scan_pages) + i + 1, pt), "scan", "jaen",
                    n, pt))
    for i, (ext, n) in enumerate(images):
        lang = LANGS[(i + 2) % 3]
        multi = "_multi" if n > 1 else ""
        out.append(("image_%03d_%s%s.%s" % (i + 1, lang, multi, ext), "image",
                    lang, n, None))
    return out


def make_pdf(path, kind, lang, n_pages, rng, number, size=None):
    size = rng.choice([9, 10, 10, 10.5, 11, 11, 12, 12, 13, 14]) if size is None else size
    n_lines = lines_for(rng, size)
    if lang == "jaen":    # a full page, as manuals and invoices are set
        n_lines = int((PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM) / (size * 1.5))
    lead = leading(size, n_lines)
    lay = Layout(rng, lang, size, n_lines)
    head = title(rng, lang if lang in ("en", "jaen") else "ja", number)
    c = new_canvas(path, head)
    entry = {"kind": kind, "lang": lang, "pages": [], "font_pt": size,
             "page_kinds": [kind] * n_pages}
    noise, rot, comp = "none", False, None
    if kind == "scan":
        noise, rot, comp = SCAN_VARIANTS[(number - 1) % len(SCAN_VARIANTS)]
        entry["scan"] = {"dpi": DPI, "noise": noise, "compression": comp,
                         "rotation": []}
    for p in range(n_pages):
        lines = lay.page(head if p == 0 else None)
        entry["pages"].append(page_text(lines))
        if kind == "text":
            draw_text_page(c, lines, lead)
            continue
        angle = 0.0
        if rot:
            angle = round(rng.choice((-1, 1)) * rng.uniform(0.5, 1.5), 2)
        entry["scan"]["rotation"].append(angle)
        img = render_scan(lines, lead, rng, noise, angle)
        draw_scan_page(c, img, comp, quality=rng.choice((75, 80, 85, 90)))
    c.save()
    return entry


def make_image(path, lang, n_pages, rng):
    ext = path.rsplit(".", 1)[1]
    size = rng.choice([10, 11, 12, 14])
    pages, imgs = [], []
    for p in range(n_pages):
        n_lines = rng.randint(8, 18)
        lay = Layout(rng, lang, size, n_lines)
        lay.max_w = rng.uniform(0.55, 0.95) * (PAGE[0] - 2 * MARGIN_X)
        lines = lay.page()
        pages.append(page_text(lines))
        px_lines = [(t, lg, round(s * PX_PER_PT)) for t, lg, s in lines]
        if ext == "tif":
            imgs.append(render_block(px_lines, rng))
        else:
            fg = (rng.randint(0, 40), rng.randint(0, 40), rng.randint(30, 90))
            bg = (rng.randint(235, 255), rng.randint(230, 250), rng.randint(220, 245))
            imgs.append(render_block(px_lines, rng, "RGB", fg, bg))
    dpi = (DPI, DPI)
    entry = {"kind": "image", "lang": lang, "pages": pages, "font_pt": size,
             "page_kinds": ["scan"] * n_pages, "scan": {"dpi": DPI}}
    if ext == "png":
        imgs[0].save(path, dpi=dpi, optimize=True)
        entry["scan"]["compression"] = "png"
    elif ext == "jpg":
        imgs[0].save(path, quality=rng.choice((80, 88, 92)), dpi=dpi)
        entry["scan"]["compression"] = "jpeg"
    elif n_pages > 1:
        imgs[0].save(path, save_all=True, append_images=imgs[1:],
                     compression="tiff_lzw", dpi=dpi)
        entry["scan"]["compression"] = "tiff_lzw"
    elif rng.random() < 0.5:       # fax-like bilevel
        imgs[0].point(lambda v: 255 if v > 150 else 0).convert("1").save(
            path, compression="group4", dpi=dpi)
        entry["scan"]["compression"] = "tiff_group4"
    else:
        imgs[0].save(path, compression="tiff_lzw", dpi=dpi)
        entry["scan"]["compression"] = "tiff_lzw"
    return entry


def make_corpus(out, size, seed, langs=None):
    os.makedirs(out, exist_ok=True)
    truth = {}
    for number, (name, kind, lang, n, pt) in enumerate(plan(size, seed), 1):
        if langs and lang not in langs:
            continue
        rng = random.Random("%d:%s" % (seed, name))
        path = os.path.join(out, name)
        if kind == "image":
            truth[name] = make_image(path, lang, n, rng)
        else:
            truth[name] = make_pdf(path, kind, lang, n, rng,
                                   int(name.split("_")[1]), pt)
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    return truth


# --------------------------------------------------------------------------
# --large: streamed big PDF
# --------------------------------------------------------------------------
def _xref(data):
    """{objnum: offset} and the trailer dict bytes of a classic-xref PDF."""
    sx = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    m = re.compile(rb"xref\s+(\d+)\s+(\d+)\s*\n").match(data, sx)
    first, count = int(m.group(1)), int(m.group(2))
    entries = re.compile(rb"(\d{10}) (\d{5}) ([nf])").findall(
        data, m.end(), m.end() + 20 * count + 20)
    offsets = {first + i: int(off) for i, (off, _, t) in enumerate(entries)
               if t == b"n"}
    t0 = data.index(b"trailer", sx)
    trailer = data[t0 + len(b"trailer"):data.index(b"startxref", t0)].strip()
    return offsets, trailer, sx, first + count


def _image_object(num, img, how):
    """A PDF image XObject (gray, 8 bit) as bytes, and its data size."""
    if how == "jpeg":
        data, filt = jpeg_bytes(img, 80), b"/Filter /DCTDecode "
    elif how == "flate":
        import zlib
        data, filt = zlib.compress(img.tobytes(), 6), b"/Filter /FlateDecode "
    else:
        data, filt = img.tobytes(), b""
    head = (b"%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceGray /BitsPerComponent 8 %s/Length %d >>\n"
            b"stream\n" % (num, img.size[0], img.size[1], filt, len(data)))
    return head, data, b"\nendstream\nendobj\n"


LARGE_NOISE = ("none", "speckle", "speckle", "none", "speckle", "speckle",
               "none", "gauss")


def make_large(out_pdf, n_pages, target_mb, seed):
    t0 = time.time()
    rng = random.Random("large:%d" % seed)
    scans = [p for p in range(n_pages) if p % 4 == 3]
    tmp = out_pdf + ".part"
    entry = {"kind": "mixed", "lang": "mixed", "pages": [], "page_kinds": [],
             "page_langs": [], "scan": {"dpi": DPI, "rotation": {}, "noise": {},
                                        "compression": {}}}
    # pass 1: reportlab writes the text pages and a tiny, distinct
    # placeholder image (width = scan index + 1) on each scanned page
    c = new_canvas(tmp, "docmill large benchmark document")
    page_lines = {}               # scan page -> lines, kept until pass 2
    lay = None
    for p in range(n_pages):
        if p % 10 == 0:           # a new "section": language and font size
            lang = LANGS[(p // 10) % 3]
            size = rng.choice([9, 10, 10.5, 11, 12, 13])
            n_lines = lines_for(rng, size)
            lead = leading(size, n_lines)
            lay = Layout(rng, lang, size, n_lines)
            lines = lay.page(title(rng, "en" if lang == "en" else "ja", p // 10 + 1))
        else:
            lines = lay.page()
        entry["pages"].append(page_text(lines))
        entry["page_langs"].append(lang)
        if p % 4 == 3:
            entry["page_kinds"].append("scan")
            page_lines[p] = (lines, lead)
            k = len(page_lines) - 1
            ph = Image.new("L", (k + 1, 1), 255)
            c.drawImage(ImageReader(ph), 0, 0, width=PAGE[0], height=PAGE[1])
            c.showPage()
        else:
            entry["page_kinds"].append("text")
            draw_text_page(c, lines, lead)
    c.save()
    with open(tmp, "rb") as f:
        data = f.read()
    os.unlink(tmp)

    # pass 2: copy object by object, streaming each real scan in place of
    # its placeholder
    offsets, trailer, _, size_entries = _xref(data)
    order = sorted(offsets, key=offsets.get)
    ends = {n: (offsets[order[i + 1]] if i + 1 < len(order) else
                data.rindex(b"xref"))
            for i, n in enumerate(order)}
    raw_size = PAGE_PX[0] * PAGE_PX[1]
    budget = max(0, target_mb * 1e6 - len(data))    # bytes for scan images
    written_img, done = 0, 0
    new_off = {}
    with open(out_pdf, "wb") as f:
        f.write(data[:offsets[order[0]]])
        for num in order:
            obj = data[offsets[num]:ends[num]]
            m = re.match(rb"\d+ 0 obj\s*<<(.{0,400}?)>>\s*stream", obj, re.S)
            new_off[num] = f.tell()
            if not (m and b"/Subtype /Image" in m.group(1)
                    and re.search(rb"/Height 1\b", m.group(1))):
                f.write(obj)
                continue
            k = int(re.search(rb"/Width (\d+)", m.group(1)).group(1)) - 1
            p = scans[k]
            lines, lead = page_lines.pop(p)
            prng = random.Random("large:%d:%d" % (seed, p))
            # mostly light noise (compressed pages ~0.2-0.6 MB, so that
            # uncompressed ones can bring the file up to the target)
            noise = LARGE_NOISE[k % len(LARGE_NOISE)]
            angle = round(prng.choice((-1, 1)) * prng.uniform(0.5, 1.5), 2) \
                if k % 3 == 1 else 0.0
            img = render_scan(lines, lead, prng, noise, angle)
            # spread uncompressed pages evenly so the file tracks the target
            if written_img + raw_size / 2 <= budget * (done + 1) / len(scans):
                how = "raw"
            else:
                how = "jpeg" if noise == "gauss" or k % 2 == 0 else "flate"
            head, body, tail = _image_object(num, img, how)
            del img
            f.write(head)
            f.write(body)
            f.write(tail)
            written_img += len(body)
            done += 1
            for key, val in (("rotation", angle), ("noise", noise),
                             ("compression", how)):
                entry["scan"][key][str(p)] = val
        xref_at = f.tell()
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % size_entries)
        for num in range(1, size_entries):
            if num in new_off:
                f.write(b"%010d 00000 n \n" % new_off[num])
            else:
                f.write(b"0000000000 65535 f \n")
        f.write(b"trailer\n%s\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref_at))
    assert not page_lines, "placeholders not found for %d pages" % len(page_lines)
    with open(out_pdf + ".truth.json", "w", encoding="utf-8") as f:
        json.dump({os.path.basename(out_pdf): entry}, f, ensure_ascii=False,
                  indent=1, sort_keys=True)
        f.write("\n")
    mb = os.path.getsize(out_pdf) / 1e6
    print("%s: %d pages (%d scanned), %.1f MB, %.0f s"
          % (out_pdf, n_pages, len(scans), mb, time.time() - t0))


def main(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("out_dir", nargs="?", help="corpus directory to write")
    ap.add_argument("--size", choices=("quick", "full"), default="quick")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--langs", help="only the files of these sets, e.g. jaen or ja,mixed "
                    "(each file is the same as in the whole corpus)")
    ap.add_argument("--large", metavar="OUT_PDF",
                    help="write one big mixed PDF instead of a corpus")
    ap.add_argument("--pages", type=int, default=1000, help="(--large)")
    ap.add_argument("--target-mb", type=float, default=200, help="(--large)")
    a = ap.parse_args(argv)
    if a.large:
        make_large(a.large, a.pages, a.target_mb, a.seed)
    elif a.out_dir:
        t0 = time.time()
        truth = make_corpus(a.out_dir, a.size, a.seed, a.langs and a.langs.split(","))
        n_pages = sum(len(v["pages"]) for v in truth.values())
        n_ocr = sum(len(v["pages"]) for v in truth.values()
                    if v["kind"] != "text")
        print("%s: %d files, %d pages (%d to OCR), %.0f s"
              % (a.out_dir, len(truth), n_pages, n_ocr, time.time() - t0))
    else:
        ap.error("give OUT_DIR or --large OUT_PDF")


if __name__ == "__main__":
    main(sys.argv[1:])
