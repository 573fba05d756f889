"""Cycles renders of one splat file two ways: gen404's import and Blender 5.3's own.

Shared by ``test_native_render.py`` (the pictures match) and ``tools/bench_import.py``
(how long each takes). Needs only bpy, so the benchmark can import it after
setting up Blender its own way (``helpers.py`` must not be imported there).

Both objects sit in one scene, with the same transform: the add-on's object
rotation that stands the file upright is copied onto the one ``wm.ply_import``
made. Each render shows one of them (the other hidden from renders), through a
front orthographic camera framing the splats, on a black world.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import bpy
import numpy as np

SIZE = 256
SAMPLES = 16


def import_both(path: Path, up_axis: str) -> tuple[bpy.types.Object, bpy.types.Object]:
    """(ours, Blender's) of ``path``, both at the origin with the add-on's upright rotation."""
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    assert bpy.ops.gen404.import_splat(filepath=str(path), up_axis=up_axis) == {"FINISHED"}
    ours = bpy.context.view_layer.objects.active
    assert bpy.ops.wm.ply_import(filepath=str(path)) == {"FINISHED"}
    theirs = bpy.context.view_layer.objects.active
    assert ours.type == theirs.type == "POINTCLOUD" and ours != theirs
    theirs.location = ours.location
    theirs.rotation_mode = ours.rotation_mode
    theirs.rotation_euler = ours.rotation_euler
    bpy.context.view_layer.update()
    return ours, theirs


def stage(scene: bpy.types.Scene, keep: list[bpy.types.Object]) -> bpy.types.Object:
    """Only ``keep`` in the scene, a camera framing them from the front, Cycles on the CPU.

    Returns the camera (remove it afterwards).
    """
    for other in list(scene.objects):
        if other not in keep:
            bpy.data.objects.remove(other)
    corners = np.array(
        [obj.matrix_world @ _vector(c) for obj in keep for c in obj.bound_box], dtype=np.float64
    )
    low, high = corners.min(axis=0), corners.max(axis=0)
    centre = (low + high) / 2
    data: Any = bpy.data.cameras.new("splat render camera")
    data.type = "ORTHO"
    data.ortho_scale = float(max(high[0] - low[0], high[2] - low[2])) * 1.1
    data.clip_end = float(high[1] - low[1]) * 4 + 100.0
    cam = bpy.data.objects.new("splat render camera", data)
    scene.collection.objects.link(cam)
    cam.location = (centre[0], low[1] - (high[1] - low[1]) - 1.0, centre[2])
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)  # looks along +Y, +Z up in the picture
    scene.camera = cam
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.0, 0.0, 0.0)
    tree = world.node_tree
    background = tree.nodes.get("Background") if tree is not None else None
    if background is not None:
        background.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    render: Any = scene.render
    render.engine = "CYCLES"
    render.resolution_x = render.resolution_y = SIZE
    render.resolution_percentage = 100
    render.image_settings.file_format = "PNG"
    render.image_settings.color_depth = "16"
    scene.view_settings.view_transform = "Standard"
    cycles: Any = scene.cycles
    cycles.device = "CPU"
    cycles.samples = SAMPLES
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.seed = 0
    return cam


def show_only(shown: bpy.types.Object, objects: list[bpy.types.Object]) -> None:
    for obj in objects:
        obj.hide_render = obj != shown


def render(path: Path) -> np.ndarray:
    """Render the scene to ``path`` (PNG); its RGBA rows top to bottom, display values."""
    scene = bpy.context.scene
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = image.size
        pixels = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    return pixels.reshape(h, w, 4)[::-1]  # Blender stores rows bottom-up


def _vector(corner: Any) -> Any:
    from mathutils import Vector

    return Vector(corner)
