#!/usr/bin/env python3
"""Writes the extract harness's seeds (tests/fuzz/seeds/extract): the
smallest documents of each kind doc_open tells apart, built here byte by
byte with the standard library only, so that they are ours and tiny. They
are committed; run this again only to change them:
    python3 tests/fuzz/make_extract_seeds.py tests/fuzz/seeds/extract
"""
import io
import struct
import sys
import zipfile
import zlib
from pathlib import Path


def pdf(objects, trailer_extra=b""):
    """A PDF with a correct xref table; objects[i] is object i+1's body."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, trailer_extra, xref))
    return out.getvalue()


def stream(data, extra=b""):
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def text_pdf():
    content = b"BT /F1 12 Tf 72 720 Td (Hello docmill 123) Tj 0 -14 Td (second line) Tj ET"
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(content),
    ])


def scan_pdf():
    """Two pages: a small gray image (a "scan") under text, and a rotated
    page of vector paths."""
    pixels = bytes((x * 16 + y * 16) & 0xFF for y in range(8) for x in range(8))
    image = zlib.compress(pixels)
    page1 = b"q 200 0 0 200 100 400 cm /Im1 Do Q BT /F1 10 Tf 100 380 Td (scanned) Tj ET"
    page2 = b"0.5 g 50 50 100 100 re f 1 0 0 RG 4 w 10 10 m 200 300 l S"
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 600] "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> /Contents 7 0 R >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Rotate 90 /Contents 8 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
        stream(image, b"/Type /XObject /Subtype /Image /Width 8 /Height 8 "
                      b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "),
        stream(page1),
        stream(page2),
    ])


def broken_pdf():
    """No xref at all: MuPDF's repair path."""
    return (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >> endobj\n"
            b"4 0 obj << /Length 30 >> stream\nBT /F9 9 Tf (no font) Tj ET\nendstream endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def png(width, height, gray_alpha=False):
    rows = b""
    for y in range(height):
        rows += b"\x00"
        for x in range(width):
            v = (x * 37 + y * 91) & 0xFF
            rows += bytes([v, 255 - v]) if gray_alpha else bytes([v])

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 4 if gray_alpha else 0, 0, 0, 0)
    phys = struct.pack(">IIB", 11811, 11811, 1)  # 300 DPI
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"pHYs", phys)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def bmp(width, height):
    row = bytes((x * 40) & 0xFF for x in range(width) for _ in range(3))
    row += b"\x00" * ((4 - len(row) % 4) % 4)
    data = row * height
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    return header + dib + data


def tiff(width, height, orientation=None):
    """Uncompressed 8-bit gray, little endian; with an Orientation tag
    (274, EXIF's 1..8) when given."""
    pixels = bytes((x * 50 + y) & 0xFF for y in range(height) for x in range(width))
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 0)]
    entries += [(274, 3, 1, orientation)] if orientation else []
    entries += [(277, 3, 1, 1), (278, 3, 1, height), (279, 4, 1, len(pixels))]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + len(entries) * 12 + 4
    entries = [(t, k, c, data_offset if t == 273 else v) for t, k, c, v in entries]
    out = b"II*\x00" + struct.pack("<I", ifd_offset) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    return out + struct.pack("<I", 0) + pixels


def gif():
    """1x1, two-colour palette, the classic smallest GIF."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
            b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def zip_of(files, last_byte):
    """A ZIP whose last byte picks the name the harness gives it
    (fuzz_extract.c: 1 .epub, 2 .cbz, 3 .xps); a ZIP comment carries it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in files:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
        z.comment = bytes([last_byte])
    return buf.getvalue()


def epub():
    container = (b'<?xml version="1.0"?><container version="1.0" '
                 b'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                 b'<rootfile full-path="c.opf" media-type="application/oebps-package+xml"/>'
                 b'</rootfiles></container>')
    opf = (b'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0">'
           b'<metadata/><manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>'
           b'</manifest><spine><itemref idref="c"/></spine></package>')
    chapter = (b'<html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Title</h1>'
               b'<p>Paragraph one.</p><p>\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e</p></body></html>')
    return zip_of([("mimetype", b"application/epub+zip", zipfile.ZIP_STORED),
                   ("META-INF/container.xml", container, zipfile.ZIP_DEFLATED),
                   ("c.opf", opf, zipfile.ZIP_DEFLATED),
                   ("c.xhtml", chapter, zipfile.ZIP_DEFLATED)], 1)


def cbz():
    return zip_of([("01.png", png(6, 4), zipfile.ZIP_STORED),
                   ("02.png", png(3, 3, True), zipfile.ZIP_DEFLATED)], 2)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/seeds/extract")
    out.mkdir(parents=True, exist_ok=True)
    seeds = {
        "text.pdf": text_pdf(),
        "scan_and_paths.pdf": scan_pdf(),
        "no_xref.pdf": broken_pdf(),
        "gray.png": png(5, 3),
        "gray_alpha.png": png(4, 4, True),
        "rgb.bmp": bmp(3, 2),
        "gray.tiff": tiff(4, 3),
        "turned.tiff": tiff(4, 3, orientation=6),
        "dot.gif": gif(),
        "book.epub": epub(),
        "comic.cbz": cbz(),
        "utf8.txt": "Hello, 日本語のテキスト.\nSecond line\n".encode("utf-8"),
        "shift_jis.txt": "議事録 の テキスト\r\n支払条件\r\n".encode("shift_jis"),
        "utf16le_bom.txt": "\ufeffUTF-16 text: 東京\n".encode("utf-16-le"),
        "latin1.txt": "caf\u00e9 na\u00efve r\u00e9sum\u00e9\n".encode("latin-1"),
        "mentions_pdf_header.txt": b"This note mentions %PDF-1.7 but is text.\n",
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
