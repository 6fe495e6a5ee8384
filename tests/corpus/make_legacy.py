#!/usr/bin/python3
"""Legacy Office files for the converter tests (issue 15):
  - legacy.xls: written here by xlwt (BIFF8, Unicode strings, two sheets);
  - legacy.ppt: an OLE2 compound file written here whose "PowerPoint
    Document" stream holds the text atoms catppt reads (PowerPoint's own
    files keep slide text the same way);
  - legacy.doc: Word 97, kept in tests/corpus/legacy/ (made once with
    LibreOffice: `soffice --headless --convert-to "doc:MS Word 97"
    legacy.html`, from the HTML in LEGACY_DOC_HTML below), since no small
    tool here writes Word's binary format.

    python3 tests/corpus/make_legacy.py OUT_DIR
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOC_PROBES = ["旧形式のワード文書", "legacy word document"]
XLS_PROBES = ["旧形式の表計算", "legacy spreadsheet", "二枚目"]
PPT_PROBES = ["旧形式のスライド", "legacy slide"]
SLIDE_TEXTS = ["旧形式のスライド legacy slide one", "二枚目のスライド slide two"]
LEGACY_DOC_HTML = ("<html><head><meta charset=\"utf-8\"><title>旧形式の文書</title></head><body>"
                   + "".join("<p>%s</p>" % line for line in
                             ["旧形式のワード文書 legacy word document",
                              "二段落目の本文 second paragraph"]
                             + ["本文の続き filler paragraph number %d for a text stream "
                                "antiword accepts" % i for i in range(30)])
                   + "</body></html>")


def xls(path):
    import xlwt
    wb = xlwt.Workbook(encoding="utf-8")
    s = wb.add_sheet("売上")
    s.write(0, 0, "旧形式の表計算")
    s.write(0, 1, 1234.5)
    s.write(1, 0, "legacy spreadsheet")
    wb.add_sheet("Costs").write(0, 0, "second sheet 二枚目")
    wb.save(path)


def ole2(path, streams):
    """A minimal compound file (512-byte sectors, one FAT sector, one
    directory sector): each stream padded to 4096 bytes so it lives in
    ordinary sectors, not the mini stream."""
    SS, FREE, END, FATSECT = 512, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    data, fat, dirents = b"", [], []
    # sector 0: the FAT; sector 1: the directory; then the streams
    fat += [FATSECT, END]
    next_sector = 2
    for name, body in streams:
        body += b"\0" * (-len(body) % 4096 or 0)
        if len(body) < 4096:
            body += b"\0" * (4096 - len(body))
        n = len(body) // SS
        start = next_sector
        fat += [start + i + 1 for i in range(n - 1)] + [END]
        next_sector += n
        data += body
        dirents.append((name, start, len(body)))
    fat += [FREE] * (SS // 4 - len(fat))

    def entry(name, kind, start, size, child=FREE, left=FREE, right=FREE):
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBBIII", len(raw), kind, 1, left, right,
                                                   child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IIi", start, size, 0))
    # the root, then the streams chained as right siblings under it
    entries = [entry("Root Entry", 5, END, 0, child=1)]
    for i, (name, start, size) in enumerate(dirents):
        right = i + 2 if i + 1 < len(dirents) else FREE
        entries.append(entry(name, 2, start, size, right=right))
    directory = b"".join(entries).ljust(SS, b"\0")
    header = (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"\0" * 16
              + struct.pack("<HHHH", 0x3E, 3, 0xFFFE, 9) + struct.pack("<H", 6) + b"\0" * 6
              + struct.pack("<IIIIIIII", 0, 1, 1, 0, 4096, END, 0, END)
              + struct.pack("<I", 0)   # DIFAT sectors: none
              + struct.pack("<I", 0) + struct.pack("<108I", *([FREE] * 108)))
    assert len(header) == 512, len(header)
    with open(path, "wb") as f:
        f.write(header + struct.pack("<128I", *fat) + directory + data)


def ppt(path):
    """Slide text as PowerPoint keeps it for its outline: a TextCharsAtom
    (UTF-16) per slide in the "PowerPoint Document" stream."""
    recs = b""
    for text in SLIDE_TEXTS:
        body = text.encode("utf-16-le")
        recs += struct.pack("<HHI", 0, 0x0FA0, len(body)) + body
    doc = struct.pack("<HHI", 0x0F, 0x03E8, len(recs)) + recs   # a Document container
    ole2(path, [("PowerPoint Document", doc)])


def make(out):
    os.makedirs(out, exist_ok=True)
    xls(os.path.join(out, "legacy.xls"))
    ppt(os.path.join(out, "legacy.ppt"))
    shutil.copy(os.path.join(HERE, "legacy", "legacy.doc"), os.path.join(out, "legacy.doc"))


if __name__ == "__main__":
    make(sys.argv[1])
