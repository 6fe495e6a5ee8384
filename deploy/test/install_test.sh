#!/bin/sh
# Install test: the .deb into a clean Debian bookworm root, apt resolving its
# dependencies, then `docmill --version`, `docmill extract` on a text PDF and a
# scanned one, and `docmill run --once` on a small folder, all inside it; and
# `systemd-analyze verify` of the unit as installed. Proves the package is
# complete. The root filesystem comes from debootstrap (Debian's packages)
# and is cached (a tarball in $CACHE) between runs on the same machine.
#
#   deploy/test/install_test.sh dist/docmill_<version>_<arch>.deb CORPUS_DIR
set -eu
DEB=$(realpath "$1")
CORPUS=$(realpath "$2")
CACHE=${DOCMILL_CI_CACHE:-/var/cache/docmill-ci}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TARBALL="$CACHE/bookworm-minbase.tgz"
ROOT=$(mktemp -d /tmp/docmill-install-XXXXXX)
cleanup() {
  for m in proc dev/pts dev sys; do umount -l "$ROOT/$m" 2>/dev/null || true; done
  rm -rf "$ROOT"
}
trap cleanup EXIT
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
  echo "install test: making the bookworm root (cached in $TARBALL)"
  debootstrap --variant=minbase --make-tarball="$TARBALL.part" bookworm "$ROOT/tb" "$MIRROR" >/dev/null
  mv "$TARBALL.part" "$TARBALL"
fi
debootstrap --variant=minbase --unpack-tarball="$TARBALL" bookworm "$ROOT" "$MIRROR" >/dev/null
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
for m in proc dev dev/pts sys; do mount --bind "/$m" "$ROOT/$m"; done
cp "$DEB" "$ROOT/tmp/docmill.deb"
mkdir -p "$ROOT/tmp/docs"
cp "$CORPUS/text_ja_en.pdf" "$CORPUS/scan_en.pdf" "$CORPUS/notes_sjis.txt" "$ROOT/tmp/docs/"
chroot "$ROOT" /bin/sh -eu -c '
  export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends /tmp/docmill.deb >/dev/null
  docmill --version
  docmill extract /tmp/docs/text_ja_en.pdf | grep -q .
  docmill extract --lang eng /tmp/docs/scan_en.pdf | grep -qi "invoice"
  cd /tmp && docmill run --once --source /tmp/docs --index sqlite:/tmp/i.db --socket off --pid-file off --json > /tmp/summary.json
  grep -q "\"indexed\":3" /tmp/summary.json
  docmill search invoice --index sqlite:/tmp/i.db | grep -q scan_en.pdf
  test -f /lib/systemd/system/docmill.service
  test -f /etc/docmill/config.lua
  test -x /usr/lib/docmill/first-boot
  ls /usr/share/docmill/policies/c5.xlarge.lua >/dev/null
'
# The unit as installed, with its ExecStart pointing into the test root.
sed "s|/usr/bin/docmill|$ROOT/usr/bin/docmill|g" "$ROOT/lib/systemd/system/docmill.service" \
  > "$ROOT/tmp/docmill.service"
systemd-analyze verify "$ROOT/tmp/docmill.service"
echo "install test: ok ($(basename "$DEB"))"
