#!/usr/bin/env bash
# The Raspberry Pi build, checked on this PC (`./dev.sh pi` installs what it needs, then runs this):
#  1. cross-builds facegate for aarch64-unknown-linux-gnu as the device runs it (tract backend,
#     V4L2 camera, touchscreen through linuxkms);
#  2. runs the same face/PIN/card scenario with the aarch64 binary under qemu-aarch64 and with
#     this machine's build, and checks that both reach the same decisions;
#  3. packages the aarch64 binary as a .deb and checks its files and permissions in a clean
#     folder (dpkg -x), as they would land in an arm64 root.
set -euo pipefail
cd "$(dirname "$0")/.."
faces="${1:?usage: tests/pi_cross.sh SHARED_DIR}/testdata/faces"
target=aarch64-unknown-linux-gnu
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say() { printf '\n==> %s\n' "$*" >&2; }

say "cross-building for $target"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# pkg-config finds the arm64 fontconfig, libinput and xkbcommon (Debian multiarch); bindgen
# (the camera's V4L2 bindings) reads the arm64 headers for the target cargo names.
# Only for this target: the x86_64 build below must keep finding this machine's own libraries.
export PKG_CONFIG_ALLOW_CROSS_aarch64_unknown_linux_gnu=1
export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=/usr/lib/aarch64-linux-gnu/pkgconfig
# The device's build: camera and touchscreen (linuxkms), tract; ONNX Runtime is optional there.
cargo build --quiet --target "$target" --features camera,kms --bin facegate
arm="${CARGO_TARGET_DIR:-target}/$target/debug/facegate"
file -b "$arm" | grep -q "ARM aarch64" || { echo "not an aarch64 binary: $arm" >&2; exit 1; }
# The build the tests use (same features as ./dev.sh test, so nothing is rebuilt).
cargo build --quiet --features ort,window,camera,kms --bin facegate
host="${CARGO_TARGET_DIR:-target}/debug/facegate"

say "the same scenario on x86_64 and on aarch64 under qemu"
# Emulated, tract's SFace takes minutes per face (143 s measured here), so the aarch64 build
# enrols nobody itself: both builds start from one database the x86_64 build makes (demo
# residents 1201-1204 enrolled from the first two photos of deepface__c01-c04, same key file),
# and the scenario keeps to three faces. Both use the Pi samples' 320-px detection and 2 threads.
nth_photo() { find "$faces/$1" -maxdepth 1 -type f | sort | sed -n "${2}p"; }
{
  t=1000
  # A later photo of two residents, then a visitor who is not enrolled (c10). Passive liveness
  # judges the photo: c01's third is one MiniFASNet refuses (with either engine), its fifth it
  # accepts.
  for shown in "deepface__c01 5" "deepface__c02 3" "deepface__c10 3"; do
    echo "show $(nth_photo $shown)"
    echo "at $t"; echo "tap face"; echo "at $((t + 1500))"
    t=$((t + 6000))
  done
  echo "tap pin"; echo "type 1202"; echo "type 7391"; echo "at $((t + 6000))"
  echo "card 900003"; echo "at $((t + 12000))"
  echo "card 123456"; echo "at $((t + 18000))"
} > "$work/scenario.txt"

config() { # DIR
  mkdir -p "$1"
  cat > "$1/gate.toml" <<CONFIG
[paths]
models = "$(pwd)/models"
[store]
database = "$1/gate.db"
key_file = "$1/site.key"
[consent]
controller = "Building office"
contact = "Room 101"
[vision]
backend = "tract"
threads = 2
detect_max_side = 320
CONFIG
}
config "$work/demo"
: > "$work/nothing.txt"
"$host" --config "$work/demo/gate.toml" run --sim --headless --demo "$faces" \
  --script "$work/nothing.txt" >/dev/null 2>&1
decisions() { # NAME COMMAND...
  local name="$1"; shift
  config "$work/$name"
  cp "$work/demo/"gate.db* "$work/demo/site.key" "$work/$name/"
  "$@" --config "$work/$name/gate.toml" run --sim --headless --script "$work/scenario.txt" \
    2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e["event"] == "decision":
        print(e["method"], e["granted"], e["reason"], e["subject"])'
}
decisions x86_64 "$host" > "$work/x86_64.txt"
start=$SECONDS
decisions aarch64 qemu-aarch64 "$arm" > "$work/aarch64.txt"
echo "aarch64 under qemu: $((SECONDS - start)) s for the scenario" >&2
cat "$work/x86_64.txt" >&2
[ "$(wc -l < "$work/x86_64.txt")" -eq 6 ] || { echo "expected 6 decisions" >&2; exit 1; }
grep -c "^face True" "$work/x86_64.txt" | grep -qx 2 || { echo "the 2 residents' faces should pass" >&2; exit 1; }
grep -qx "face False face_not_recognised None" "$work/x86_64.txt" || { echo "the visitor should be refused" >&2; exit 1; }
diff -u "$work/x86_64.txt" "$work/aarch64.txt" || { echo "aarch64 and x86_64 disagree" >&2; exit 1; }

say "the Debian package for arm64"
deb="$(hardware/debian/build-deb.sh "$arm" arm64 "$work/deb")"
dpkg-deb -f "$deb" Architecture | grep -qx arm64
mkdir "$work/root"
dpkg-deb -x "$deb" "$work/root"
listing="$(dpkg-deb -c "$deb")"
expect() { # MODE PATH
  # A here-string, not a pipe: `grep -q` stops at the first match, and with pipefail the
  # writer's SIGPIPE (exit 141) would fail the check.
  grep -qE "^$1 root/root .* \./${2#/}\$" <<< "$listing" || { echo "missing or wrong mode: $1 $2" >&2; exit 1; }
  [ -e "$work/root$2" ] || { echo "not extracted: $2" >&2; exit 1; }
}
expect -rwxr-xr-x /usr/bin/facegate
expect -rw-r--r-- /lib/systemd/system/facegate.service
expect -rw-r--r-- /lib/systemd/system/facegate-sync.service
expect -rw-r--r-- /lib/systemd/system/facegate-site.service
expect -rw-r--r-- /usr/share/doc/facegate/site-broker.md
expect -rw-r--r-- /lib/udev/rules.d/99-facegate.rules
expect -rw-r----- /etc/facegate/facegate.toml
expect -rwxr-xr-x /usr/share/facegate/models/fetch.sh
expect -rw-r--r-- /usr/share/facegate/models/manifest.toml
file -b "$work/root/usr/bin/facegate" | grep -q "ARM aarch64"
grep -q "postinst" <<< "$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)"
# The packaged config loads (checked with this machine's build of the same version).
"$host" --config "$work/root/etc/facegate/facegate.toml" admin notice --lang en >/dev/null
echo "ok: $(basename "$deb"), $(du -h "$deb" | cut -f1)" >&2
