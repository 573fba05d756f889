"""An EEVEE render of an imported splat is upright and coloured.

EEVEE runs on software OpenGL here, where every sample costs seconds: one sample
at a tiny resolution keeps this to about a minute.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from tests.blender.helpers import assert_file_values_only, splat_objects
from tests.simulator import figure_ply_bytes

pytestmark = pytest.mark.usefixtures("nodes_display")  # the geometry-nodes display


def _eevee_engine() -> str:
    items = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items.keys()
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items else "BLENDER_EEVEE"


def test_eevee_render_is_upright_and_coloured(addon, clean_scene, tmp_path) -> None:
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path))
    (obj,) = splat_objects()
    assert_file_values_only(obj)
    scene = clean_scene
    for other in list(scene.objects):
        if other != obj:
            bpy.data.objects.remove(other)
    cam = bpy.data.objects.new("eevee camera", bpy.data.cameras.new("eevee camera"))
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 1.8
    scene.collection.objects.link(cam)
    cam.location = (0.0, -5.0, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = cam
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    if world.node_tree is not None and "Background" in world.node_tree.nodes:
        world.node_tree.nodes["Background"].inputs["Color"].default_value = (0, 0, 0, 1)
    world.color = (0.0, 0.0, 0.0)

    scene.render.engine = _eevee_engine()
    scene.eevee.taa_render_samples = 1
    scene.render.resolution_x, scene.render.resolution_y = 24, 36
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(tmp_path / "eevee.png")
    try:
        bpy.ops.render.render(write_still=True)
    finally:
        bpy.data.objects.remove(cam)
    image = bpy.data.images.load(str(tmp_path / "eevee.png"), check_existing=False)
    pixels = np.empty(24 * 36 * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    bpy.data.images.remove(image)
    rgb = pixels.reshape(36, 24, 4)[::-1, :, :3]  # rows top to bottom

    def brightest(rows: slice) -> np.ndarray:
        band = rgb[rows].reshape(-1, 3)
        return band[np.argsort(band.sum(axis=1))[-8:]].mean(axis=0)

    head, body, base = brightest(slice(2, 9)), brightest(slice(14, 22)), brightest(slice(28, 32))
    assert head[0] > 2 * head[2] and head[0] > 0.4, head
    assert body[1] > 2 * body[0] and body[1] > 0.3, body
    assert base[2] > 2 * base[0] and base[2] > 0.4, base
