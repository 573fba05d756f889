"""Import speed and memory: gen404's splat import against Blender's own PLY importer.

    .venv-bpy-5.0.1/bin/python tools/bench_import.py --zip dist/gen404-0.1.0.zip
    .venv-bpy-5.3.0/bin/python tools/bench_import.py --zip dist/gen404-0.1.0.zip
    (make bench runs both)

In one Blender (the bpy module, with the add-on installed from the built zip into
a throw-away user folder) it generates PLY files of 100k and 1M splats in two
layouts, 404's 14 floats (SH degree 0) and a capture's 62 (normals, degree 3),
then times, interleaved, ``bpy.ops.gen404.import_splat`` (read, decode, build
the object, and display ready: the depsgraph evaluated, geometry nodes included)
against ``bpy.ops.wm.ply_import`` of the same file (which only makes a mesh with
raw attributes), also evaluated. Reported: the median of the runs; the peak
memory each import adds (the process's peak RSS, reset before each import
through /proc/self/clear_refs, minus the RSS before it, each in a fresh process)
next to the file size;
SPZ and compressed PLY decoding speed at 1M splats; and the main-thread part of importing a
200k-splat generation (``builder.build_object`` on the cloud a worker read).
On Blender 5.3 and newer both importers make Blender's own Gaussian-splat point
cloud; "display ready" is then the point cloud plus the add-on's display
modifier, evaluated by the depsgraph (what the viewport evaluates before it
draws; the drawing itself, on the GPU, is Blender's for both). There the
benchmark also times Cycles renders (CPU, 256x256, 16 samples) of a real 404
result imported both ways, interleaved (``tests/blender/splat_renders.py``).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = "bl_ext.user_default.gen404"
TARGETS = {0: 0.6, 3: 1.0}
"""Our time over Blender's at 1M splats, per SH degree (the issue's targets): before 5.3..."""
NATIVE_TARGETS = {0: 0.5, 3: 0.7}
"""...and on 5.3+, where both make Blender's own splats."""
NATIVE_MEMORY = 1.5
"""On 5.3+: peak extra memory of our import over the file size."""
RENDER_FILE = ROOT / "tests" / "data" / "real" / "hamburger.ply"
RENDER_TARGET = 1.1
"""On 5.3+: our object's Cycles render time over that of Blender's import of the same file."""


def ply_bytes(n: int, degree: int, seed: int = 0):
    """A 3DGS PLY: 404's 14-float layout (degree 0) or a capture's 62 floats (degree 3)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if degree else [])
    names += ["f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(45 if degree else 0)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    table = np.empty((n, len(names)), dtype="<f4")
    table[:] = rng.standard_normal((n, len(names)), dtype=np.float32) * np.float32(0.5)
    col = {name: i for i, name in enumerate(names)}
    table[:, col["x"] : col["x"] + 3] *= 4
    if degree:
        table[:, col["nx"] : col["nx"] + 3] = 0
    for name in ("scale_0", "scale_1", "scale_2"):
        table[:, col[name]] = rng.uniform(-6, -3, n)
    table[:, col["opacity"]] *= 6
    header = "ply\nformat binary_little_endian 1.0\n" + f"element vertex {n}\n"
    header += "".join(f"property float {name}\n" for name in names) + "end_header\n"
    return header.encode("ascii") + table.tobytes()


def status(key: str) -> float:
    """A /proc/self/status field in MiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def memory_in_child(which: str, path: Path, home: Path) -> tuple[float, float]:
    """Peak memory an import adds, measured in a fresh Blender process.

    In the benchmark's own process memory freed by earlier runs is reused without
    showing as growth (Blender's and numpy's allocators keep it), so every import
    would look free; a new process starts with nothing to reuse.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--file", str(path), "--home", str(home)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    peak, traced = json.loads(out.strip().splitlines()[-1])
    return peak, traced


def child(which: str, path: Path, home: Path) -> None:
    """One import in this (fresh) process; prints [peak extra RSS, peak traced] in MiB."""
    os.environ["BLENDER_USER_RESOURCES"] = str(home)
    import bpy

    # isort: split
    import addon_utils  # importable once bpy is

    addon_utils.enable(ADDON, default_set=True)
    warm = home / "warm.ply"
    warm.write_bytes(ply_bytes(1000, 3))
    for op in (bpy.ops.gen404.import_splat, bpy.ops.wm.ply_import):
        op(filepath=str(warm))  # code paths, node groups and materials in place
    gc.collect()
    reset_peak()
    before = status("VmRSS")
    tracemalloc.start()
    if which == "ours":
        bpy.ops.gen404.import_splat(filepath=str(path))
    else:
        bpy.ops.wm.ply_import(filepath=str(path))
    bpy.context.view_layer.objects.active.evaluated_get(bpy.context.evaluated_depsgraph_get())
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps([status("VmHWM") - before, traced]))


def median_time(run: Callable[[], object], runs: int) -> float:
    """The median wall time of ``runs`` calls of ``run``, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zip", type=Path, help="the built extension")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--render-file", type=Path, default=RENDER_FILE)
    parser.add_argument("--child", choices=("ours", "native"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.home)
        return
    if args.zip is None:
        parser.error("--zip is required")

    home = Path(tempfile.mkdtemp(prefix="gen404-bench-home-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(home)
    sys.path.insert(0, str(ROOT))
    import bpy

    bpy.context.preferences.system.use_online_access = False
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=str(args.zip.resolve()), enable_on_install=True
    )
    assert result == {"FINISHED"}, result
    builder = sys.modules[ADDON + ".scene.builder"]
    display = sys.modules[ADDON + ".scene.display"]
    reader = sys.modules[ADDON + ".splats.reader"]

    folder = Path(tempfile.mkdtemp(prefix="gen404-bench-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    files: list[tuple[int, int, Path]] = []
    for n in sizes:
        for degree in (0, 3):
            path = folder / f"d{degree}_{n}.ply"
            path.write_bytes(ply_bytes(n, degree))
            files.append((n, degree, path))

    native_splats = bpy.app.version >= (5, 3, 0)
    targets = NATIVE_TARGETS if native_splats else TARGETS

    def forget(obj: bpy.types.Object) -> None:
        data = obj.data
        bpy.data.objects.remove(obj)
        if isinstance(data, bpy.types.Mesh) and data.users == 0:
            bpy.data.meshes.remove(data)
        elif isinstance(data, bpy.types.PointCloud) and data.users == 0:
            bpy.data.pointclouds.remove(data)
        gc.collect()

    def evaluated(obj: bpy.types.Object) -> bpy.types.Object:
        obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        return obj

    def ours(path: Path) -> bpy.types.Object:
        bpy.ops.gen404.import_splat(filepath=str(path))
        return evaluated(bpy.context.view_layer.objects.active)

    def native(path: Path) -> bpy.types.Object:
        bpy.ops.wm.ply_import(filepath=str(path))
        return evaluated(bpy.context.view_layer.objects.active)

    def timed(fn: Callable[[Path], bpy.types.Object], path: Path) -> float:
        started = time.perf_counter()
        obj = fn(path)
        elapsed = time.perf_counter() - started
        forget(obj)
        return elapsed

    # Warm up: the shared node groups and materials, both importers' code paths.
    small = folder / "warm.ply"
    small.write_bytes(ply_bytes(1000, 3))
    for fn in (ours, native):
        forget(fn(small))

    rows = []
    for n, degree, path in files:
        times: dict[str, list[float]] = {"ours": [], "native": []}
        for run in range(args.runs):
            pair = (("ours", ours), ("native", native))
            for name, fn in pair if run % 2 == 0 else pair[::-1]:
                times[name].append(timed(fn, path))
        # What the viewport default leaves out: evaluating every splat as an instance.
        obj = ours(path)
        full = None
        if display.get_input(obj.modifiers[0], "Viewport Fraction") < 1.0:
            display.set_input(obj.modifiers[0], "Viewport Fraction", 1.0)
            obj.update_tag()
            started = time.perf_counter()
            evaluated(obj)
            full = time.perf_counter() - started
        forget(obj)
        mem_ours, mem_ours_py = memory_in_child("ours", path, home)
        mem_native, _ = memory_in_child("native", path, home)
        size = path.stat().st_size / 2**20
        ours_s, native_s = (statistics.median(times[k]) for k in ("ours", "native"))
        rows.append((n, degree, size, native_s, ours_s, full, mem_ours, mem_ours_py, mem_native))
        print(f"done: {path.name}", file=sys.stderr)

    # SPZ decoding (404's zstd SPZ v2, degree 0) at the largest size, from memory.
    spz_line = "splats/spz.py not found"
    try:
        from tests.unit.spzfiles import SpzOptions, encode_spz, realistic_splats

        n = max(sizes)
        data = encode_spz(realistic_splats(n, 0, seed=1), SpzOptions(version=2))
        best = median_time(lambda: reader.read_splat_bytes(data, "bench.spz"), args.runs)
        spz_line = (
            f"{n:,} splats ({len(data) / 2**20:.1f} MiB 404 zstd SPZ v2, degree 0): "
            f"{best * 1000:.0f} ms = {n / best / 1e6:.2f} M splats/s"
        )
    except ImportError as exc:
        spz_line = f"skipped: {exc}"

    # Compressed PLY decoding (PlayCanvas/SuperSplat, 18-float chunks), SH 0 and SH 3.
    cply_parts = []
    try:
        import tests.conftest  # noqa: F401  (the `gen404` alias the file maker imports)
        from tests.unit.test_compressed_ply import Packed

        n = max(sizes)
        for rest in (0, 15):
            data = Packed(n, colour_bounds=True, rest=rest, seed=3).file()
            read = functools.partial(reader.read_splat_bytes, data, "bench.compressed.ply")
            best = median_time(read, args.runs)
            cply_parts.append(
                f"SH {3 if rest else 0} ({len(data) / 2**20:.0f} MiB) {best * 1000:.0f} ms = "
                f"{n / best / 1e6:.1f} M splats/s"
            )
        cply_line = f"{n:,} splats: " + "; ".join(cply_parts) + " (target ≥ 5 M splats/s)"
    except ImportError as exc:
        cply_line = f"skipped: {exc}"

    # Main thread of a 200k-splat generation: the worker downloaded and read the file.
    generation = ply_bytes(200_000, 0, seed=2)
    main_runs = []
    for _ in range(args.runs):
        cloud = reader.read_splat_bytes(generation, "result.ply")
        started = time.perf_counter()
        obj = builder.build_object(bpy.context.scene, bpy.context.view_layer, cloud, "generation")
        main_runs.append(time.perf_counter() - started)
        forget(obj)
    main_thread = statistics.median(main_runs)

    render_line = None
    if native_splats:
        render_line = render_times(args.render_file, args.runs)

    version = ".".join(map(str, bpy.app.version))
    print(f"\nBlender {version}, {os.cpu_count()} CPUs, median of {args.runs} interleaved runs\n")
    made = "Blender's own splats + display modifier" if native_splats else "mesh + geometry nodes"
    memory_target = f" (target ≤ {NATIVE_MEMORY:.1f}x file)" if native_splats else ""
    print(
        f"| file | size | Blender `wm.ply_import` | gen404 import ({made}), display ready "
        f"| ratio (target) | peak extra memory{memory_target}: gen404 (numpy part) / Blender |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for n, degree, size, native_s, ours_s, full, mem, mem_py, mem_native in rows:
        layout = "404, 14 floats, SH 0" if degree == 0 else "capture, 62 floats, SH 3"
        target = f" (≤ {targets[degree]:.1f})" if n >= 1_000_000 else ""
        note = f"; all {n:,} instanced: +{full * 1000:.0f} ms" if full is not None else ""
        print(
            f"| {n:,} splats, {layout} | {size:.0f} MiB | {native_s * 1000:.0f} ms "
            f"| {ours_s * 1000:.0f} ms{note} | {ours_s / native_s:.2f}{target} "
            f"| {mem:.0f} MiB = {mem / size:.2f}x file ({mem_py:.0f} MiB) "
            f"/ {mem_native:.0f} MiB = {mem_native / size:.2f}x |"
        )
    print(f"\nSPZ decoding: {spz_line}")
    print(f"Compressed PLY decoding: {cply_line}")
    print(
        f"Main thread of a 200,000-splat generation (builder.build_object, depsgraph "
        f"evaluated): {main_thread * 1000:.0f} ms (target ≤ 100 ms)"
    )
    if render_line is not None:
        print(render_line)


def render_times(path: Path, runs: int) -> str:
    """Cycles render of ``path`` imported by gen404 and by ``wm.ply_import``, interleaved."""
    import bpy
    import numpy as np

    from tests.blender import splat_renders

    ours, theirs = splat_renders.import_both(path, "Y")
    both = [ours, theirs]
    camera = splat_renders.stage(bpy.context.scene, both)
    folder = Path(tempfile.mkdtemp(prefix="gen404-bench-render-"))
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    pictures = {}
    for run in range(runs + 1):  # the first pair warms Cycles up (kernels, BVH code paths)
        pair = (("ours", ours), ("theirs", theirs))
        for name, obj in pair if run % 2 == 0 else pair[::-1]:
            splat_renders.show_only(obj, both)
            started = time.perf_counter()
            pictures[name] = splat_renders.render(folder / f"{name}.png")
            if run:
                times[name].append(time.perf_counter() - started)
    for obj in (*both, camera):
        bpy.data.objects.remove(obj)
    ours_s, theirs_s = (statistics.median(times[k]) for k in ("ours", "theirs"))
    difference = float(np.abs(pictures["ours"] - pictures["theirs"])[..., :3].mean())
    size = splat_renders.SIZE
    return (
        f"Cycles render (CPU, {size}x{size}, {splat_renders.SAMPLES} samples) of {path.name}: "
        f"gen404's object {ours_s * 1000:.0f} ms, wm.ply_import's with the same rotation "
        f"{theirs_s * 1000:.0f} ms, ratio {ours_s / theirs_s:.2f} (target ≤ {RENDER_TARGET}); "
        f"pictures' mean abs difference {difference:.4f}"
    )


if __name__ == "__main__":
    main()
