"""Shared helpers of the Blender tests; importing this first points Blender at a fresh
user folder (BLENDER_USER_RESOURCES must be set before bpy is imported).

Import it as ``tests.blender.helpers`` only, so its set-up runs once per process.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

assert "bpy" not in sys.modules, "bpy was imported before the test home was set"
HOME = Path(tempfile.mkdtemp(prefix="gen404-blender-home-"))
os.environ["BLENDER_USER_RESOURCES"] = str(HOME)
for _var in ("GEN404_API_KEY", "GEN404_GATEWAY_URL"):
    os.environ.pop(_var, None)

import bpy  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ADDON_MODULE = "bl_ext.user_default.gen404"
COLLECTION = "404 Generations"


def built_zip() -> Path:
    version = tomllib.loads((ROOT / "blender_manifest.toml").read_text())["version"]
    path = ROOT / "dist" / f"gen404-{version}.zip"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: run `make build` (make test does it)")
    return path


def addon_module(name: str = "") -> ModuleType:
    """The installed add-on's module (or one of its submodules)."""
    return sys.modules[ADDON_MODULE + (f".{name}" if name else "")]


def addon_session():
    return addon_module("session").get_session()


def row_state() -> type:
    """The installed add-on's RowState (the tests' own ``gen404`` copy is another class)."""
    return addon_module("client.task_rows").RowState


def splat_objects() -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects if "gen404_splats" in o]


NATIVE = bpy.app.version >= (5, 3, 0)
"""Imports make Blender's own Gaussian-splat point clouds here (the add-on's default)."""

NATIVE_LAYERS = {"position", "scale", "rotation", "radiance:base"}


def splat_count(obj: bpy.types.Object) -> int:
    """Splats in a splat object: vertices of a mesh, points of a native point cloud."""
    data = obj.data
    return len(data.points) if obj.type == "POINTCLOUD" else len(data.vertices)


def attribute(obj: bpy.types.Object, name: str, width: int) -> np.ndarray:
    """A point attribute of a splat object's data as float32 (N, width), or (N,) for width 1."""
    attr = obj.data.attributes[name]
    key = {"FLOAT": "value", "QUATERNION": "value"}.get(attr.data_type, "vector")
    out = np.empty(len(attr.data) * width, dtype=np.float32)
    attr.data.foreach_get(key, out)
    return out.reshape(-1, width) if width > 1 else out


WIDTH = {"FLOAT": 1, "FLOAT_VECTOR": 3, "QUATERNION": 4, "FLOAT4": 4}
"""Float components of each attribute type a splat object holds."""


def layers(obj: bpy.types.Object) -> dict[str, np.ndarray]:
    """Every point attribute of a splat object's data (hidden ones left out), by name."""
    return {
        a.name: attribute(obj, a.name, WIDTH[a.data_type])
        for a in obj.data.attributes
        if not a.name.startswith(".") and a.domain == "POINT"
    }


def blender_positions(obj: bpy.types.Object) -> np.ndarray:
    """Splat centres in Blender's axes relative to the object's origin: a mesh stores them
    so; a native point cloud stores the file's, and its rotation (and scale) turns them."""
    positions = attribute(obj, "position", 3).astype(np.float64)
    if obj.type != "POINTCLOUD":
        return positions
    basis = np.array(obj.matrix_basis.to_3x3(), dtype=np.float64)
    return positions @ basis.T


def wait_for_event(events: queue.Queue, timeout: float = 20.0) -> None:
    """Block until the worker has put something on the queue (no sleeping)."""
    end = time.monotonic() + timeout
    with events.not_empty:
        while not events._qsize():  # type: ignore[attr-defined]
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no event from the worker in time")
            events.not_empty.wait(remaining)


FILE_LAYERS = {"position", "file_rotation", "log_scale", "opacity_logit", "sh_dc"}
DERIVED_LAYERS = ("rotation", "scale", "opacity", "color", "palette")
"""Layers imports used to write: the display must derive all of them itself."""


def assert_file_values_only(obj: bpy.types.Object) -> None:
    """``obj`` holds the file's values and nothing derived from them.

    Renders and instances checked afterwards then prove that the display derives
    rotation, size, opacity, colour and palette entry from the raw values alone.
    """
    names = {a.name for a in obj.data.attributes}
    if obj.type == "POINTCLOUD":  # Blender's own splats: its importer's layers, no others
        assert names >= NATIVE_LAYERS and not names & (FILE_LAYERS - {"position"}), names
        return
    assert names >= FILE_LAYERS and not names & set(DERIVED_LAYERS), names


def picture_path(name: str) -> Path:
    """Where a test keeps a rendered picture for people to look at (not compared).

    ``build/renders/blender-<major>.<minor>/<name>``: kept after the run (build/ is
    not in git), so the pictures behind the pixel checks can be opened.
    """
    folder = ROOT / "build" / "renders" / "blender-{}.{}".format(*bpy.app.version[:2])
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def save_linear_png(pixels: np.ndarray, path: Path) -> None:
    """Save linear RGBA rows (top to bottom) as an sRGB PNG, as the Standard view shows them."""
    h, w = pixels.shape[:2]
    rgb = np.clip(pixels[..., :3], 0.0, 1.0)
    srgb = np.where(rgb <= 0.0031308, rgb * 12.92, 1.055 * rgb ** (1 / 2.4) - 0.055)
    rgba = np.concatenate([srgb, np.clip(pixels[..., 3:4], 0.0, 1.0)], axis=-1)
    image = bpy.data.images.new(path.stem, w, h, alpha=True)
    try:
        image.pixels.foreach_set(rgba[::-1].astype(np.float32).ravel())
        image.filepath_raw = str(path)
        image.file_format = "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)


def run_child(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a child Blender (this bpy module) on ``script``; its output is kept."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def last_json(out: str) -> dict:
    """The last JSON line a child printed (its report)."""
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def record_thread(monkeypatch: Any, owner: object, name: str, seen: set[int]) -> None:
    """Wrap ``owner.name`` (a function or method) so each call adds its thread's id to
    ``seen``: where work runs, as a test asserts it."""
    original = getattr(owner, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.add(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)


def start_ui_import(module: Any, paths: list[str], up_axis: str) -> tuple[Any, list[tuple]]:
    """An import as the file browser starts it (``module``: operators.import_splat's
    ThreadedImport), and the list its reports go to; the test then steps it."""
    reports: list[tuple] = []
    importer = module.ThreadedImport(
        paths, module.ImportOptions(up_axis=up_axis), lambda *report: reports.append(report)
    )
    importer.start(bpy.context)
    return importer, reports


def wait_for_work(importer: Any, timeout: float = 60.0) -> None:
    """Block until the import's worker has asked the main thread for a call or delivered
    a result: what the operator's timer would step for (no sleeping)."""
    end = time.monotonic() + timeout
    calls, results = importer.main_calls._queue, importer.job.results
    while not calls.qsize() and not results.qsize():
        if time.monotonic() > end:
            raise TimeoutError("the import's worker asked nothing in time")
        with calls.not_empty:  # woken by a call at once; a result is seen within 20 ms
            calls.not_empty.wait(0.02)
