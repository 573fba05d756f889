"""SOG decode speed at 1M splats: Blender's image loader (two ways of calling it) and Pillow.

    .venv/bin/python tools/bench_sog.py [--count 1000000] [--repeats 5] [--blender 5.0.1]

Makes a SOG of COUNT splats with splat-transform (tests/peers; SH degree 0: its
SH k-means at 1M splats takes many minutes on a CPU), then a copy with a
3-band SH palette added here (65,536 random palette entries, random labels: a
worst case for the palette's WebP), and times decoding each, from the file's
bytes in memory to a SplatCloud, through the add-on's own code: unzipping
(``open_sog_zip``), then ``read_sog`` (every WebP image, and the splat values,
which a helper thread computes while the next image decodes). The issue's
figure is that end to end: splats per second over the whole of it.
Arrangements:

- ``Blender, UI``: as the import operator from the interface: a worker thread
  unzips and decodes, handing each image to the main thread through
  ``MainThreadCalls``; the main thread serves each as it comes and is idle in
  between, as Blender's is between events (it does not poll the GIL away from
  the workers). The operator serves them from its 50 ms timer, whose waits are
  not counted here;
- ``Blender, script``: as ``bpy.ops.gen404.import_splat`` from a script: the
  main thread decodes, calling Blender's loader itself;
- ``Pillow``: the reference decoder of the unit tests (this process, the dev
  venv), called as the script does.

"WebP" is the time spent inside the decoder (the main thread's share); it
overlaps the rest. Each figure is the median of REPEATS runs (the first
included), the rate's range follows. Blender runs in its bpy module in a child
process. Prints a table.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def timings(path: Path, decode_webp, repeats: int, ui: bool = False) -> dict[str, list[float]]:
    """Per run: seconds unzipping, inside the WebP decoder, in all; and the splat count."""
    data = path.read_bytes()
    runs: dict[str, list[float]] = {"unzip": [], "webp": [], "total": []}
    for _ in range(repeats):
        count, unzip, webp, total = one_run(data, path.name, decode_webp, ui)
        runs["unzip"].append(unzip)
        runs["webp"].append(webp)
        runs["total"].append(total)
    runs["count"] = [count]
    return runs


def one_run(data: bytes, name: str, decode_webp, ui: bool) -> tuple[int, float, float, float]:
    """One decode of ``data``: splats, seconds unzipping, inside the decoder, in all."""
    from gen404.splats.main_thread import MainThreadCalls
    from gen404.splats.sog import open_sog_zip
    from gen404.splats.sog_decode import read_sog

    inside = [0.0]

    def timed_webp(blob: bytes):
        t = time.perf_counter()
        try:
            return decode_webp(blob)
        finally:
            inside[0] += time.perf_counter() - t

    calls = MainThreadCalls()
    decoder = calls.wrap(timed_webp) if ui else timed_webp
    done, out = threading.Event(), {}

    def decode() -> None:
        try:
            t = time.perf_counter()
            package = open_sog_zip(data, name)
            out["unzip"] = time.perf_counter() - t
            out["cloud"] = read_sog(package, decoder)
        finally:
            done.set()

    started = time.perf_counter()
    if ui:  # the worker decodes; this (main) thread serves its WebP calls
        worker = threading.Thread(target=decode)
        worker.start()
        while not done.is_set():  # idle between calls, as Blender's main thread is
            calls.serve(wait=0.005)
        worker.join()
    else:
        decode()
    total = time.perf_counter() - started
    calls.close()
    return out["cloud"].count, out["unzip"], inside[0], total


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
    """In the bpy module: Blender's loader, UI and script ways; one JSON line per file."""
    import importlib

    importlib.import_module("tests.conftest")  # makes the repository importable as gen404
    decode_webp = importlib.import_module("gen404.scene.webp").decode_webp

    for path in paths:
        for ui in (True, False):
            print(json.dumps(timings(Path(path), decode_webp, repeats, ui)))


def row(label: str, decoder: str, runs: dict[str, list[float]]) -> str:
    median = {key: statistics.median(runs[key]) * 1000 for key in ("unzip", "webp", "total")}
    rates = sorted(runs["count"][0] / t / 1e6 for t in runs["total"])
    cells = " | ".join(f"{median[key]:.0f}" for key in ("unzip", "webp", "total"))
    rate = runs["count"][0] / statistics.median(runs["total"]) / 1e6
    return f"| {label} | {decoder} | {cells} | {rate:.2f} | {rates[0]:.2f}-{rates[-1]:.2f} |"


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
        in_blender = iter(json.loads(line) for line in out.splitlines() if line.startswith("{"))
        print(
            f"SOG decode, file bytes in memory to a SplatCloud: median of {args.repeats} runs "
            f"(ms); Blender {args.blender}; target ≥ 5 M splats/s\n"
        )
        print("| file | WebP decoder | unzip | WebP | total | M splats/s | range |")
        print("|---|---|---|---|---|---|---|")
        for path in paths:
            label = f"{path.name} ({path.stat().st_size / 1e6:.1f} MB)"
            print(row(label, f"Blender {args.blender}, UI", next(in_blender)))
            print(row(label, f"Blender {args.blender}, script", next(in_blender)))
            print(row(label, "Pillow", timings(path, pillow_webp, args.repeats)))


if __name__ == "__main__":
    main()
