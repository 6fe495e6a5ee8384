#!/bin/sh
# Builds dist/docmill_<version>_<arch>.deb from a release build: the binary,
# the packaged config and env file, the policies, the systemd unit and the
# docs, with Depends computed by dpkg-shlibdeps from the binary's libraries
# plus the OCR data it needs at run time. Version: the VERSION file, or
# `git describe` when HEAD is tagged vX.Y.Z.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build-pkg}
VERSION=$(git describe --tags --exact-match 2>/dev/null | sed 's/^v//' || true)
[ -n "$VERSION" ] || VERSION=$(cat VERSION)
ARCH=$(dpkg --print-architecture)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target docmill
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
P=$STAGE/docmill
install -D -m 0755 "$BUILD/docmill" "$P/usr/bin/docmill"
strip --strip-unneeded "$P/usr/bin/docmill"
install -D -m 0644 deploy/package/config.lua "$P/etc/docmill/config.lua"
install -D -m 0640 deploy/systemd/docmill.env "$P/etc/docmill/docmill.env"
install -D -m 0644 deploy/systemd/docmill.service "$P/lib/systemd/system/docmill.service"
for f in policies/*.lua policies/README.md; do
  install -D -m 0644 "$f" "$P/usr/share/docmill/$f"
done
install -D -m 0755 deploy/package/first-boot "$P/usr/lib/docmill/first-boot"
install -D -m 0644 README.md "$P/usr/share/doc/docmill/README.md"
install -D -m 0644 deploy/package/copyright "$P/usr/share/doc/docmill/copyright"
"$P/usr/bin/docmill" --help > "$STAGE/help.txt"
install -D -m 0644 "$STAGE/help.txt" "$P/usr/share/doc/docmill/docmill-help.txt"

# Depends: the shared libraries' packages, then Tesseract's data for jpn+eng.
mkdir -p "$STAGE/debian"
printf 'Source: docmill\n\nPackage: docmill\nArchitecture: any\n' > "$STAGE/debian/control"
SHLIBS=$(cd "$STAGE" && dpkg-shlibdeps -O "$P/usr/bin/docmill" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
DEPENDS="$SHLIBS, tesseract-ocr-eng, tesseract-ocr-jpn, tesseract-ocr-jpn-vert, tesseract-ocr-osd"
mkdir -p "$P/DEBIAN"
cat > "$P/DEBIAN/control" <<CTRL
Package: docmill
Version: $VERSION
Architecture: $ARCH
Maintainer: docmill developers <docmill@localhost>
Section: text
Priority: optional
Depends: $DEPENDS
Recommends: antiword, catdoc
Description: document-processing worker: PDF text, OCR, full-text indexing
 docmill takes jobs from a local folder or AWS SQS, extracts the text layer
 of PDFs with MuPDF, reads Word, Excel and PowerPoint files, HTML and RTF,
 OCRs scanned pages and images with Tesseract (jpn+eng) and indexes the text
 into SQLite FTS5 or OpenSearch. Policy in Lua. The recommended antiword and
 catdoc read legacy .doc, .xls and .ppt files.
CTRL
printf '/etc/docmill/config.lua\n/etc/docmill/docmill.env\n' > "$P/DEBIAN/conffiles"
install -m 0755 deploy/package/postinst "$P/DEBIAN/postinst"
install -m 0755 deploy/package/prerm "$P/DEBIAN/prerm"
install -m 0755 deploy/package/postrm "$P/DEBIAN/postrm"
mkdir -p dist
OUT="dist/docmill_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$P" "$OUT" >/dev/null
echo "$OUT"
