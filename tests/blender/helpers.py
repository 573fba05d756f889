"""Shared helpers of the Blender tests; importing this first points Blender at a fresh
user folder (BLENDER_USER_RESOURCES must be set before bpy is imported).

Import it as ``tests.blender.helpers`` only, so its set-up runs once per process.
"""

from __future__ import annotations

import os
import queue
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from types import ModuleType

assert "bpy" not in sys.modules, "bpy was imported before the test home was set"
HOME = Path(tempfile.mkdtemp(prefix="gen404-blender-home-"))
os.environ["BLENDER_USER_RESOURCES"] = str(HOME)
for _var in ("GEN404_API_KEY", "GEN404_GATEWAY_URL"):
    os.environ.pop(_var, None)

import bpy  # noqa: E402

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


def splat_objects() -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects if "gen404_splats" in o]


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
    assert names >= FILE_LAYERS and not names & set(DERIVED_LAYERS), names
