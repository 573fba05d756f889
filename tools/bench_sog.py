"""SOG decode speed at 1M splats, WebP decoded by Pillow and by Blender's image loader.

    .venv/bin/python tools/bench_sog.py [--count 1000000] [--repeats 5] [--blender 5.0.1]

Makes a SOG of COUNT splats with splat-transform (tests/peers; SH degree 0: its
SH k-means at 1M splats takes many minutes on a CPU), then a copy with a
3-band SH palette added here (65,536 random palette entries, random labels: a
worst case for the palette's WebP), and times reading each: unzipping, the
WebP images, the rest of the decode (splats/sog_decode.py), best of REPEATS.
Pillow runs in this process (the dev venv); Blender's loader (scene/webp.py)
in the bpy module of the chosen release, in a child process. Prints a table.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def timings(path: Path, decode_webp, repeats: int) -> dict[str, float]:
    from gen404.splats.sog import open_sog_zip
    from gen404.splats.sog_decode import decode_image, decode_sog, plan_images

    data = path.read_bytes()
    best: dict[str, float] = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        package = open_sog_zip(data, path.name)
        t1 = time.perf_counter()
        pixels = {name: decode_image(package, name, decode_webp) for name in plan_images(package)}
        t2 = time.perf_counter()
        cloud = decode_sog(package, pixels)
        t3 = time.perf_counter()
        del pixels
        for key, value in (("unzip", t1 - t0), ("webp", t2 - t1), ("rest", t3 - t2)):
            best[key] = min(best.get(key, float("inf")), value)
        best["total"] = min(best.get("total", float("inf")), t3 - t0)
    best["count"] = cloud.count
    return best


def make_files(folder: Path, count: int) -> list[Path]:
    import numpy as np
    from bench_import import ply_bytes
    from PIL import Image

    from tests.unit.spzfiles import splat_transform

    ply = folder / "bench.ply"
    ply.write_bytes(ply_bytes(count, 0, seed=3))
    sh0 = folder / "sh0.sog"
    subprocess.run(splat_transform("3.7.0", "-g", "cpu", ply, sh0), check=True)

    def webp(rgba: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(out, "WEBP", lossless=True, exact=True)
        return out.getvalue()

    rng = np.random.default_rng(5)
    with zipfile.ZipFile(sh0) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(files["meta.json"])
    width, height = Image.open(io.BytesIO(files["means_l.webp"])).size
    labels = np.zeros((height * width, 4), np.uint8)
    label = rng.integers(0, 65536, count)
    labels[:count, 0], labels[:count, 1], labels[:, 3] = label & 0xFF, label >> 8, 255
    centroids = rng.integers(0, 256, (1024, 960, 4), dtype=np.uint8)
    centroids[..., 3] = 255
    files["shN_labels.webp"] = webp(labels.reshape(height, width, 4))
    files["shN_centroids.webp"] = webp(centroids)
    meta["shN"] = {
        "count": 65536,
        "bands": 3,
        "codebook": np.linspace(-1, 1, 256).tolist(),
        "files": ["shN_centroids.webp", "shN_labels.webp"],
    }
    files["meta.json"] = json.dumps(meta).encode()
    sh3 = folder / "sh3.sog"
    with zipfile.ZipFile(sh3, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    return [sh0, sh3]


def child(paths: list[str], repeats: int) -> None:
    """In the bpy module: Blender's loader; prints one JSON line per file."""
    import importlib

    importlib.import_module("tests.conftest")  # makes the repository importable as gen404
    decode_webp = importlib.import_module("gen404.scene.webp").decode_webp

    for path in paths:
        print(json.dumps(timings(Path(path), decode_webp, repeats)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--blender", default="5.0.1")
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.repeats)
        return
    import tests.conftest  # noqa: F401
    from tests.unit.sogfiles import pillow_webp

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), args.count)
        blender = ROOT / f".venv-bpy-{args.blender}" / "bin" / "python"
        out = subprocess.run(
            [str(blender), __file__, "--repeats", str(args.repeats), "--child", *map(str, paths)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        in_blender = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        print(f"SOG decode, best of {args.repeats} (ms); Blender {args.blender}\n")
        print("| file | WebP decoder | unzip | WebP images | rest | total | M splats/s |")
        print("|---|---|---|---|---|---|---|")
        for path, blender_times in zip(paths, in_blender, strict=True):
            rows = [("Pillow", timings(path, pillow_webp, args.repeats))]
            rows.append((f"Blender {args.blender}", blender_times))
            for decoder, t in rows:
                rate = t["count"] / t["total"] / 1e6
                cells = " | ".join(f"{t[k] * 1000:.0f}" for k in ("unzip", "webp", "rest", "total"))
                label = f"{path.name} ({path.stat().st_size / 1e6:.1f} MB, {t['count']:,.0f})"
                print(f"| {label} | {decoder} | {cells} | {rate:.2f} |")


if __name__ == "__main__":
    main()
