#!/usr/bin/env bash
# Fetches, converts and checks the model files listed in models/manifest.toml. Idempotent: when
# every file is present with its pinned SHA-256 it does nothing.
#   models/fetch.sh         the models (YuNet, SFace; the PAD models when ../shared has them)
#   models/fetch.sh --ort   also unpacks ONNX Runtime's library from PyPI and prints its path
#                           (for ORT_DYLIB_PATH) as the last line on stdout
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${FACEGATE_CACHE:-$HOME/.cache/facegate}"

# Fast path with the system Python alone (3.11+ has tomllib): nothing to install.
if python3 "$here/fetch.py" --check "$@" 2>/dev/null; then
  exit 0
fi

venv="$cache/venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "fetch.sh: creating the conversion environment in $venv" >&2
  python3 -m venv "$venv" || {
    echo "fetch.sh: python3 -m venv failed: install Debian's python3-venv (apt-get install python3-venv)" >&2
    exit 1
  }
fi
# Pinned so the converted files come out byte-identical to the sums in the manifest.
"$venv/bin/pip" install --quiet --disable-pip-version-check onnx==1.23.2 numpy==2.4.6 >&2
exec "$venv/bin/python" "$here/fetch.py" "$@"
