#!/usr/bin/env bash
# The two set-up commands of the README, and what they share.
#   ./dev.sh gate   installs what is missing, then runs the simulated gate on this PC
#   ./dev.sh test   installs what is missing, then runs the whole test suite
#   ./dev.sh pi     the same for the Raspberry Pi build: cross-build, qemu check, .deb
# Each is idempotent: a second run installs nothing and builds incrementally.
set -euo pipefail
cd "$(dirname "$0")"

export FACEGATE_CACHE="${FACEGATE_CACHE:-$HOME/.cache/facegate}"
# Cargo's output lives outside the checkout so fresh clones build incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FACEGATE_CACHE/target}"
SHARED="${FACEGATE_SHARED:-$(pwd)/../shared}"

# Debian packages: the build (pkg-config, fontconfig for Slint's text, libclang for the camera's
# V4L2 bindings, libinput and xkbcommon for the Pi's touchscreen backend), the models' conversion
# environment (python3-venv), a font with Chinese glyphs for the touchscreen, and the X11 keyboard
# library the desktop window loads at run time; systemd-analyze checks the units in hardware/,
# debootstrap makes the Debian root the package's maintainer scripts are run in, the site-mode
# tests start their own nats-server (2.9, JetStream) on a loopback port, with an openssl-made
# certificate for TLS, and chromium with its driver runs the web console's browser tests.
APT_PACKAGES=(pkg-config python3-venv libfontconfig1-dev libclang-dev libinput-dev libxkbcommon-dev
  fonts-wqy-microhei libxkbcommon-x11-0 systemd debootstrap nats-server openssl chromium chromium-driver)
# One feature set for the gate and the tests, so that both share one build (and every line of
# the device's code is built and linted here too).
FEATURES=ort,window,camera,kms

say() { printf '\n==> %s\n' "$*" >&2; }

install_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    command -v sudo >/dev/null || { echo "need root or sudo for: $*" >&2; exit 1; }
    sudo "$@"
  fi
}

check_toolchain() {
  command -v cargo >/dev/null || { echo "Rust is not installed: see https://rustup.rs" >&2; exit 1; }
  for component in rustfmt clippy; do
    cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
  done
}

setup() {
  install_apt_packages
  check_toolchain
  say "models"
  models/fetch.sh
}

case "${1:-}" in
  gate)
    setup
    say "building and starting the simulated gate"
    dataset="$SHARED/testdata/faces"
    [ -d "$dataset" ] || { echo "no photos at $dataset: set FACEGATE_SHARED" >&2; exit 1; }
    # The simulated gate keeps its database and key beside the checkout (hardware/sim.toml);
    # the first start makes demo residents from the shared photos. Without a display it runs in
    # the terminal (commands on standard input, events as JSON lines).
    headless=()
    [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || headless=(--headless)
    # `--examples` makes cargo turn on the features the dev-dependencies ask of shared crates
    # (it unifies features per invocation), as `test` does: without it the gate's dependencies
    # would be built a second time after the tests (`syn`'s `fold`, asked by the browser tests'
    # WebDriver crate, alone rebuilds every derive macro), and the tests' after the gate.
    cargo build --quiet --features "$FEATURES" --bins --examples
    exec "$CARGO_TARGET_DIR/debug/facegate" --config hardware/sim.toml \
      run --sim --demo "$dataset" "${headless[@]}"
    ;;
  test)
    setup
    ORT_DYLIB_PATH="$(models/fetch.sh --ort | tail -n 1)"
    export ORT_DYLIB_PATH
    say "format and lints"
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --features "$FEATURES" --quiet -- -D warnings
    say "tests (tract and ONNX Runtime)"
    log="$(mktemp)"
    status=0
    cargo test --workspace --no-fail-fast --features "$FEATURES" --lib --bins --tests 2>&1 | tee "$log" || status=$?
    say "the package's maintainer scripts, in a throwaway Debian root"
    as_root env FACEGATE_CACHE="$FACEGATE_CACHE" tests/deb_maintainer.sh \
      "$CARGO_TARGET_DIR/debug/facegate" || status=$?
    # One closing line for the whole suite (skipped tests named; with CI set they fail the run).
    tests/summary.sh "$log" || status=$?
    rm -f "$log"
    exit "$status"
    ;;
  pi)
    # The Raspberry Pi build, checked here: cross-build, qemu run against this machine's decisions,
    # and the .deb (see tests/pi_cross.sh). Not part of `test`: a cold cross-build of every
    # dependency takes ~20 minutes on 2 cores (README, "On the Raspberry Pi").
    # The arm64 libraries the binary links (fontconfig for Slint's text, libinput and xkbcommon
    # for the touchscreen) come from Debian's multiarch.
    APT_PACKAGES+=(gcc-aarch64-linux-gnu qemu-user file libfontconfig-dev:arm64 libinput-dev:arm64
      libxkbcommon-dev:arm64)
    dpkg --print-foreign-architectures | grep -qx arm64 || as_root dpkg --add-architecture arm64
    setup
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
      rustup target add aarch64-unknown-linux-gnu
    tests/pi_cross.sh "$SHARED"
    ;;
  *)
    echo "usage: ./dev.sh gate | test | pi" >&2
    exit 2
    ;;
esac
