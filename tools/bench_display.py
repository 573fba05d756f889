"""Cost of the display's first depsgraph evaluation: the "display ready" part of an import.

    .venv-bpy-5.0.1/bin/python tools/bench_display.py [--count 1000000] [--runs 9]

Loads ``scene/display/`` from this checkout (no zip needed), builds the shared
group, then for each setting makes new objects whose mesh has ``--count`` vertices
with the attributes an import writes (position, rotation, scale, opacity_logit,
sh_dc; plausible values), links each, and times ``view_layer.update()``: the
first evaluation of the modifier on a new object (what an import pays), then a
re-evaluation of the same object (what changing a control pays). Background
bpy evaluates as the viewport does (Is Viewport is true), but draws nothing.

Printed per case: wall-clock milliseconds, best and median over the runs (the
best is the one to compare on a shared machine), and the process CPU time of the
best first evaluation (all threads: the work done, whatever else runs).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
import numpy as np

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parent.parent)
"""The checkout whose display is measured (BENCH_ROOT: another one, to compare)."""
PACKAGE = "gen404_bench"


def display_module() -> Any:
    """scene.display from this checkout, imported without the add-on's registration."""
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(ROOT)]
    sys.modules[PACKAGE] = package
    return importlib.import_module(f"{PACKAGE}.scene.display")


def splat_mesh(n: int, seed: int = 0, legacy: bool = False) -> bpy.types.Mesh:
    """A mesh of ``n`` splats as an import makes it; ``legacy`` adds the derived layers."""
    rng = np.random.default_rng(seed)
    mesh = bpy.data.meshes.new("bench")
    mesh.vertices.add(n)
    q = rng.standard_normal((n, 4), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    layers = {
        "position": ("FLOAT_VECTOR", "vector", rng.uniform(-2, 2, (n, 3))),
        "rotation": ("QUATERNION", "value", q),
        "scale": ("FLOAT_VECTOR", "vector", np.exp(rng.uniform(-6, -3, (n, 3)))),
        "opacity_logit": ("FLOAT", "value", rng.standard_normal(n) * 3),
        "sh_dc": ("FLOAT_VECTOR", "vector", rng.standard_normal((n, 3)) * 0.5),
    }
    if legacy:  # what imports wrote while the display read them
        srgb = np.clip(0.5 + 0.28209479 * layers["sh_dc"][2], 0, 1)
        levels = np.minimum((srgb * 5).astype(np.int32), 4)
        layers["opacity"] = ("FLOAT", "value", 1 / (1 + np.exp(-layers["opacity_logit"][2])))
        layers["color"] = ("FLOAT_COLOR", "color", np.c_[srgb**2.2, np.ones(n)])
        layers["palette"] = ("INT", "value", levels @ np.array([25, 5, 1]))
    for name, (kind, key, values) in layers.items():
        attr: Any = mesh.attributes.get(name) or mesh.attributes.new(name, kind, "POINT")
        dtype = np.int32 if kind == "INT" else np.float32
        attr.data.foreach_set(key, np.ascontiguousarray(values, dtype=dtype).ravel())
    mesh.update()
    return mesh


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(
    display: Any, mesh: bpy.types.Mesh, settings: dict[str, Any] | None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, cpu) of the first evaluation of a new object, and of a re-evaluation.

    ``settings`` None: the object gets no modifier (the floor: a plain mesh).
    """
    obj = bpy.data.objects.new("bench", mesh)
    if settings is not None:
        mod: Any = obj.modifiers.new("gen404 Splats", "NODES")
        mod.node_group = display.ensure_display("NODES")
        for name, value in settings.items():
            display.set_input(mod, name, value)
    bpy.context.scene.collection.objects.link(obj)
    layer = bpy.context.view_layer
    first = timed(layer.update)
    obj.update_tag()
    again = timed(layer.update)
    bpy.data.objects.remove(obj)
    layer.update()  # frees the evaluated object now, not in the next measurement
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--only", default="", help="run only the cases whose label has this")
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="also write opacity, color and palette, as imports did before display version 3",
    )
    args = parser.parse_args()
    display = display_module()
    n = args.count
    default = display.default_viewport_fraction(n)
    plain = {"View-Dependent Color": False}
    # View-dependent colour last: it makes the SH palette, which every later
    # first evaluation would evaluate too.
    cases: list[tuple[str, dict[str, Any] | None]] = [
        ("plain mesh, no modifier (floor)", None),
        (f"Splats, default fraction {default}", {**plain, "Viewport Fraction": default}),
        (
            f"Points, fraction {default}",
            {**plain, "Viewport Fraction": default, "Display": "Points"},
        ),
        ("Splats, fraction 1.0", {**plain, "Viewport Fraction": 1.0}),
        (
            f"Splats, fraction {default}, threshold 0.1",
            {**plain, "Viewport Fraction": default, "Opacity Threshold": 0.1},
        ),
        (
            f"Splats, fraction {default}, View-Dependent Color",
            {"Viewport Fraction": default, "View-Dependent Color": True},
        ),
    ]
    meshes = [splat_mesh(n, seed, args.legacy) for seed in range(args.runs + 1)]
    display.ensure_display("NODES")
    print(f"Blender {bpy.app.version_string}, {n:,} splats, {args.runs} runs (+1 warm-up)")
    print(f"{'case':48s} {'first: best / median':>21s} {'again: best / median':>21s} {'cpu':>6s}")
    for label, settings in cases:
        if args.only not in label:
            continue
        runs = [measure(display, mesh, settings) for mesh in meshes][1:]
        first = [wall for (wall, _), _ in runs]
        again = [wall for _, (wall, _) in runs]
        cpu = min(runs)[0][1]
        print(
            f"{label:48s} {min(first) * 1e3:10.1f} / {statistics.median(first) * 1e3:6.1f} ms "
            f"{min(again) * 1e3:7.1f} / {statistics.median(again) * 1e3:6.1f} ms "
            f"{cpu * 1e3:5.0f} ms"
        )


if __name__ == "__main__":
    main()
