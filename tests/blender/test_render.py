"""Renders of an imported splat: upright and coloured in Cycles and in Solid shading."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from tests.blender import splat_renders
from tests.blender.helpers import assert_file_values_only, picture_path, splat_objects
from tests.simulator import figure_ply_bytes

pytestmark = pytest.mark.usefixtures("nodes_display")  # the geometry-nodes display


def _render(engine: str, path) -> np.ndarray:
    """Render the scene's camera view; returns RGB rows top to bottom, display values."""
    scene = bpy.context.scene
    scene.render.engine = engine
    scene.render.resolution_x, scene.render.resolution_y = 48, 72
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_depth = "8"  # whatever an earlier test left
    scene.view_settings.view_transform = "Standard"
    if engine == "CYCLES":
        scene.cycles.samples = 8
        scene.cycles.min_transparent_bounces = 128
        scene.cycles.device = "CPU"
    return splat_renders.render(path)[..., :3]


@pytest.fixture
def staged_figure(addon, clean_scene, tmp_path):
    """The simulator's figure imported at the origin, a front orthographic camera, black world."""
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path))
    (obj,) = splat_objects()
    assert_file_values_only(obj)  # Solid shading's palette, Cycles' colour and opacity: all derived
    scene = clean_scene
    for other in list(scene.objects):  # the startup file's cube, light and camera
        if other != obj:
            bpy.data.objects.remove(other)
    cam_data = bpy.data.cameras.new("test camera")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 1.8
    cam = bpy.data.objects.new("test camera", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (0.0, -5.0, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)  # looks along +Y, +Z up in the picture
    scene.camera = cam
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.0, 0.0, 0.0)
    if world.node_tree is not None and "Background" in world.node_tree.nodes:
        world.node_tree.nodes["Background"].inputs["Color"].default_value = (0, 0, 0, 1)
    scene.display.shading.background_type = "VIEWPORT"
    scene.display.shading.background_color = (0.0, 0.0, 0.0)
    yield obj
    bpy.data.objects.remove(cam)


def _band(rgb: np.ndarray, top: float, bottom: float) -> np.ndarray:
    """Mean colour of the brightest pixels in a horizontal band (fractions of the height)."""
    h = rgb.shape[0]
    band = rgb[int(top * h) : int(bottom * h)].reshape(-1, 3)
    bright = band[band.sum(axis=1) > np.percentile(band.sum(axis=1), 80)]
    return bright.mean(axis=0)


def _assert_upright_and_coloured(rgb: np.ndarray) -> None:
    # Ortho scale 1.8 over 72 px height: head (z 0.4..0.8) near the top, base (z -0.65..-0.55)
    # near the bottom, body in between.
    head = _band(rgb, 0.05, 0.25)
    body = _band(rgb, 0.40, 0.60)
    base = _band(rgb, 0.78, 0.88)
    assert head[0] > 2 * head[2] and head[0] > 0.4, head
    assert body[1] > 2 * body[0] and body[1] > 0.3, body
    assert base[2] > 2 * base[0] and base[2] > 0.4, base


def test_cycles_render_is_upright_coloured_and_smooth(staged_figure, tmp_path) -> None:
    rgb = _render("CYCLES", picture_path("figure_cycles.png"))
    _assert_upright_and_coloured(rgb)
    # The head's colour is reproduced (display value 0.9, 0.1, 0.1) where splats pile up.
    head = rgb[: rgb.shape[0] // 3].reshape(-1, 3)
    reddest = head[np.argmax(head[:, 0] - head[:, 2])]
    assert reddest[0] == pytest.approx(0.9, abs=0.08) and reddest[2] < 0.2
    # Soft edges: between the empty background and the reddest pixel there are
    # intermediate values, not a hard cut-out.
    red = head[:, 0]
    assert np.count_nonzero((red > 0.1) & (red < 0.7)) > 10


def test_solid_shading_shows_the_colours(staged_figure, tmp_path) -> None:
    bpy.context.scene.display.shading.light = "FLAT"
    rgb = _render("BLENDER_WORKBENCH", picture_path("figure_solid.png"))
    _assert_upright_and_coloured(rgb)
