#!/usr/bin/python3
"""Files that hold other files (issue 16), as a file share has them:

    /usr/bin/python3 tests/corpus/make_containers.py OUT_DIR

- 議事録送付.eml: a Japanese mail as Japanese mailers still send it: an
  ISO-2022-JP encoded-word subject, an ISO-2022-JP body, a PDF attachment
  with an RFC 2231 Japanese file name and a docx attachment with an
  encoded-word file name;
- 報告書.zip: made on a Windows machine: CP932 entry names with no UTF-8
  flag, holding a PDF, a Shift_JIS text file and a nested zip;
- bundle.tar.gz: a tar of a text file and a PDF;
- list.mbox: two mails;
- bomb.zip: one member of 300 MB of zeros (about 300 KB on disk).

PROBES maps each probe word to the source (relative to OUT_DIR) it must be
found in. Standard library plus python3-reportlab (tests/corpus's PDFs).
"""
import base64
import email.utils
import io
import os
import sys
import tarfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_office as O  # noqa: E402

MAIL = "議事録送付.eml"
ZIP = "報告書.zip"
SUBJECT = "定例会議の議事録について"
PROBES = {
    "議事録本文確認": MAIL,                                  # the mail's body
    "定例会議の議事録": MAIL,                                # its subject (title)
    "MAILPDFPROBE": MAIL + "#会議資料.pdf",                   # RFC 2231 name
    "MAILDOCXPROBE": MAIL + "#報告書.docx",                   # encoded-word name
    "ZIPPDFPROBE": ZIP + "#2024/議事録.pdf",
    "ZIPTEXTPROBE": ZIP + "#メモ.txt",
    "NESTEDPROBE": ZIP + "#内部/inner.zip#deep/奥.txt",
    "TARTEXTPROBE": "bundle.tar.gz#docs/a.txt",
    "TARPDFPROBE": "bundle.tar.gz#docs/b.pdf",
    "MBOXSECONDPROBE": "list.mbox#2.eml",
}
BOMB = "bomb.zip"


def pdf_bytes(text):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.setFont("Helvetica", 14)
    c.drawString(72, 760, text)
    c.drawString(72, 740, "This page carries a text layer for the container tests.")
    c.save()
    return out.getvalue()


def docx_bytes(text):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "make_containers_%d.docx" % os.getpid())
    O.docx(path, "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
           [O.para(O.run(text))], "添付の報告書")
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def iso2022(text):
    return text.encode("iso-2022-jp")


def encoded_word(text):
    return "=?ISO-2022-JP?B?%s?=" % base64.b64encode(iso2022(text)).decode()


def b64_lines(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def japanese_mail():
    from urllib.parse import quote
    boundary = "----=_docmill_boundary_1"
    body = iso2022("各位\r\n\r\n議事録本文確認のため、資料を添付します。\r\nよろしくお願いします。\r\n")
    head = (
        "From: %s <yamada@example.jp>\r\n"
        "To: %s <sato@example.jp>\r\n"
        "Subject: %s\r\n"
        "Date: Wed, 01 May 2024 18:30:00 +0900\r\n"
        "Message-ID: <20240501183000.1@example.jp>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
        % (encoded_word("山田太郎"), encoded_word("佐藤花子"), encoded_word(SUBJECT), boundary))
    parts = [
        b"--" + boundary.encode() + b"\r\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n\r\n" + body + b"\r\n",
        ("--%s\r\nContent-Type: application/pdf\r\n"
         "Content-Disposition: attachment; filename*=UTF-8''%s\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
         % (boundary, quote("会議資料.pdf"), b64_lines(pdf_bytes("MAILPDFPROBE attachment")))
         ).encode(),
        ("--%s\r\nContent-Type: application/vnd.openxmlformats-officedocument."
         "wordprocessingml.document; name=\"%s\"\r\n"
         "Content-Disposition: attachment; filename=\"%s\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
         % (boundary, encoded_word("報告書.docx"), encoded_word("報告書.docx"),
            b64_lines(docx_bytes("MAILDOCXPROBE 添付文書")))).encode(),
        ("--%s--\r\n" % boundary).encode(),
    ]
    return head.encode() + b"".join(parts)


def cp932_zip(path, members):
    """A zip as Windows' own zipper writes one: names in CP932, no UTF-8
    flag. zipfile would write such names as UTF-8 with the flag, so each is
    written as an ASCII stand-in of the same length, swapped for its CP932
    bytes afterwards (the CRCs cover the data, not the names)."""
    swaps = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k, (name, data) in enumerate(members):
            raw = name.encode("cp932")
            stand_in = ("N%d_" % k).encode() + b"x" * (len(raw) - len("N%d_" % k))
            swaps.append((stand_in, raw))
            info = zipfile.ZipInfo(stand_in.decode(), (2024, 5, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    with open(path, "rb") as f:
        data = f.read()
    for stand_in, raw in swaps:
        assert data.count(stand_in) == 2, stand_in  # local header and central directory
        data = data.replace(stand_in, raw)
    with open(path, "wb") as f:
        f.write(data)


def simple_mail(subject, body):
    return ("From: list@example.com\r\nTo: all@example.com\r\nSubject: %s\r\n"
            "Date: %s\r\nMessage-ID: <%s@example.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n\r\n%s\r\n"
            % (subject, email.utils.formatdate(0), subject.replace(" ", "."), body)).encode()


def make(out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, MAIL), "wb") as f:
        f.write(japanese_mail())
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deep/奥.txt", "NESTEDPROBE は入れ子の zip の中にあります。\n")
    cp932_zip(os.path.join(out, ZIP), [
        ("2024/議事録.pdf", pdf_bytes("ZIPPDFPROBE minutes")),
        ("メモ.txt", "ZIPTEXTPROBE 社内メモです。\n".encode("cp932")),
        ("内部/inner.zip", inner.getvalue()),
    ])
    with tarfile.open(os.path.join(out, "bundle.tar.gz"), "w:gz") as t:
        for name, data in [("docs/a.txt", b"TARTEXTPROBE plain text in a tarball\n"),
                           ("docs/b.pdf", pdf_bytes("TARPDFPROBE in a tarball"))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1714550400
            t.addfile(info, io.BytesIO(data))
    with open(os.path.join(out, "list.mbox"), "wb") as f:
        for i, (subject, body) in enumerate([("first note", "nothing special here"),
                                            ("second note", "MBOXSECONDPROBE is here")]):
            f.write(b"From list@example.com Mon Jan  1 00:00:0%d 2024\r\n" % i)
            f.write(simple_mail(subject, body))
            f.write(b"\r\n")
    with zipfile.ZipFile(os.path.join(out, BOMB), "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as m:
            chunk = bytes(1 << 20)
            for _ in range(300):
                m.write(chunk)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    make(sys.argv[1])
