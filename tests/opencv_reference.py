#!/usr/bin/env python3
"""Independent reference for `facegate eval` and `facegate bench vision`: the same models run by
OpenCV (cv2.FaceDetectorYN + cv2.FaceRecognizerSF) on the same photos, the same way (longer side
shrunk to at most 640 px, largest face, cosine score, failures to acquire rejected, impostor pairs
within a `<block>__` prefix).

    ~/.cache/facegate/venv/bin/pip install opencv-python-headless   # 5.0.0.93 measured
    ~/.cache/facegate/venv/bin/python tests/opencv_reference.py --dataset ../shared/testdata/faces

Nothing is written to disk: embeddings stay in memory.
"""

import argparse
import itertools
import json
import os
import pathlib
import statistics
import time

import cv2
import numpy as np

MODELS = pathlib.Path(__file__).resolve().parent.parent / "models"


def photos(root):
    for identity in sorted(os.listdir(root)):
        folder = root / identity
        if folder.is_dir():
            for name in sorted(os.listdir(folder)):
                if name.lower().endswith((".jpg", ".jpeg", ".png")):
                    yield identity, folder / name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=pathlib.Path, required=True)
    parser.add_argument("--threads", type=int, default=cv2.getNumThreads())
    parser.add_argument("--score-threshold", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=None, help="time only the first N photos")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cv2.setNumThreads(args.threads)
    detector = cv2.FaceDetectorYN.create(str(MODELS / "yunet_fp32.onnx"), "", (320, 320), args.score_threshold, 0.3, 5000)
    recogniser = cv2.FaceRecognizerSF.create(str(MODELS / "sface_fp32.onnx"), "")
    images = list(photos(args.dataset))[: args.limit]
    times = {"detect": [], "align": [], "embed": [], "total": []}
    embeddings = []
    for _, path in images:
        image = cv2.imread(str(path))  # honours EXIF orientation
        h, w = image.shape[:2]
        if max(h, w) > 640:
            s = 640 / max(h, w)
            image = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        detector.setInputSize((image.shape[1], image.shape[0]))
        t0 = time.perf_counter()
        _, faces = detector.detect(image)
        t1 = time.perf_counter()
        if faces is None or len(faces) == 0:
            embeddings.append(None)
            times["total"].append((t1 - t0) * 1e3)
            continue
        aligned = recogniser.alignCrop(image, max(faces, key=lambda f: f[2] * f[3]))
        t2 = time.perf_counter()
        feature = recogniser.feature(aligned).reshape(-1)
        t3 = time.perf_counter()
        embeddings.append(feature / np.linalg.norm(feature))
        for stage, seconds in (("detect", t1 - t0), ("align", t2 - t1), ("embed", t3 - t2), ("total", t3 - t0)):
            times[stage].append(seconds * 1e3)

    report = {
        "engine": f"opencv {cv2.__version__}",
        "threads": cv2.getNumThreads(),
        "images": len(images),
        "failures_to_acquire": sum(e is None for e in embeddings),
        "ms_per_image": sum(times["total"]) / len(images),
        **{f"median_{k}_ms": statistics.median(v) for k, v in times.items() if v},
    }
    if args.limit is None:
        genuine, impostor = [], []
        for (i, (a, _)), (j, (b, _)) in itertools.combinations(enumerate(images), 2):
            ei, ej = embeddings[i], embeddings[j]
            score = float(ei @ ej) if ei is not None and ej is not None else -np.inf
            if a == b:
                genuine.append(score)
            elif a.split("__")[0] == b.split("__")[0]:
                impostor.append(score)
        genuine, impostor = np.sort(genuine), np.sort(impostor)
        report.update(genuine_pairs=len(genuine), impostor_pairs=len(impostor))
        for name, fmr in (("1e-2", 1e-2), ("1e-3", 1e-3), ("1e-4", 1e-4)):
            allowed = int(fmr * len(impostor))
            threshold = float(np.nextafter(impostor[len(impostor) - allowed - 1], np.inf))
            report[f"fnmr_at_fmr_{name}"] = float((genuine < threshold).mean())
            report[f"threshold_at_fmr_{name}"] = threshold
    print(json.dumps(report) if args.json else "\n".join(f"{k:24} {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
