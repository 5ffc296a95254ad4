#!/usr/bin/env bash
# Builds the Debian package from a built binary:
#   hardware/debian/build-deb.sh BINARY ARCH OUT_DIR      (ARCH: arm64 for the Pi, amd64)
# Installs /usr/bin/facegate, the systemd units (the gate, the site sync agent, the site
# controller), the hardware watchdog's drop-in, the udev rules, /etc/facegate/facegate.toml (the
# Pi 4 sample; a conffile), the other samples, the docs, and the models' manifest and fetch scripts
# (the models themselves are fetched on the device: they are not ours to redistribute in a
# package).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 BINARY ARCH OUT_DIR" >&2; exit 2; }
binary="$1" arch="$2" out="$3"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

install -D -m 0755 "$binary" "$root/usr/bin/facegate"
for unit in facegate.service facegate-sync.service facegate-site.service; do
    install -D -m 0644 "$repo/hardware/$unit" "$root/lib/systemd/system/$unit"
done
install -D -m 0644 "$repo/hardware/facegate-watchdog.conf" \
    "$root/usr/lib/systemd/system.conf.d/facegate-watchdog.conf"
install -D -m 0644 "$repo/hardware/99-facegate.rules" "$root/lib/udev/rules.d/99-facegate.rules"
install -D -m 0640 "$repo/hardware/pi4-usb-wiegand.toml" "$root/etc/facegate/facegate.toml"
for file in pi4-usb-wiegand.toml pi5-camera-rc522.toml config.txt WIRING.md BOM.md wiring.svg; do
    install -D -m 0644 "$repo/hardware/$file" "$root/usr/share/doc/facegate/examples/$file"
done
install -D -m 0644 "$repo/README.md" "$root/usr/share/doc/facegate/README.md"
install -D -m 0644 "$repo/docs/site-broker.md" "$root/usr/share/doc/facegate/site-broker.md"
for file in manifest.toml fetch.py convert.py; do
    install -D -m 0644 "$repo/models/$file" "$root/usr/share/facegate/models/$file"
done
install -D -m 0755 "$repo/models/fetch.sh" "$root/usr/share/facegate/models/fetch.sh"

install -d -m 0755 "$root/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$repo/hardware/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/facegate/facegate.toml > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/control" <<CONTROL
Package: facegate
Version: $version
Architecture: $arch
Maintainer: facegate developers <facegate@localhost>
Depends: libc6 (>= 2.31), libfontconfig1, libinput10, libxkbcommon0, fonts-wqy-microhei, adduser
Recommends: python3-venv, python3-pip
Suggests: nats-server
Section: misc
Priority: optional
Description: door-access gate: face (opt-in), PIN or card
 Residents open the door with their face, a PIN or a card, their choice. Face
 recognition is opt-in and consented; templates are stored only in protected
 (salted, keyed) form on the device, which needs no network.
CONTROL
mkdir -p "$out"
deb="$out/facegate_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
