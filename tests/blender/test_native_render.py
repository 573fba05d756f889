"""Blender 5.3: Cycles renders our native splats as it renders its own importer's.

Collected on Blender 5.3 and newer only (see conftest.py). A file is imported
by the add-on and by ``wm.ply_import``, the latter given the add-on's object
rotation, and each is rendered alone (``splat_renders``): a real 404 result
(SH degree 0, +Y up) and a capture with SH degree 3 (-Y up, so its view-dependent
colour is seen through a turned object). The pictures match; the little that
differs is Cycles' noise following float32 rounding in exp and normalisation
(values equal to 1e-6, see test_native_import), which the last check shows by
handing our object Blender's own rounding: then the pictures are identical.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from tests.blender import splat_renders
from tests.blender.helpers import ROOT, picture_path

DATA = ROOT / "tests" / "data"
ROUNDED = {"scale": ("vector", 3), "rotation": ("value", 4), "radiance:base": ("vector", 4)}
"""Attributes whose values Blender computes (exp, normalisation, sigmoid), as foreach keys."""


@pytest.mark.parametrize(
    ("path", "up_axis"),
    [
        (DATA / "real" / "hamburger.ply", "Y"),  # a real 404 result, 52,709 splats
        (DATA / "capture_sh3.src.ply", "-Y"),  # normals and SH degree 3
    ],
    ids=["hamburger", "capture_sh3"],
)
def test_cycles_renders_ours_as_blenders_own(addon, clean_scene, path, up_axis) -> None:
    ours, theirs = splat_renders.import_both(path, up_axis)
    assert tuple(theirs.rotation_euler) == tuple(ours.rotation_euler) != (0.0, 0.0, 0.0)
    both = [ours, theirs]
    camera = splat_renders.stage(clean_scene, both)
    try:

        def picture(obj: bpy.types.Object, name: str) -> np.ndarray:
            splat_renders.show_only(obj, both)
            return splat_renders.render(picture_path(f"native_{path.stem}_{name}.png"))

        mine, native = picture(ours, "gen404"), picture(theirs, "wm_ply_import")
        assert native[..., 3].mean() > 0.2 and native[..., :3].max() > 0.3  # splats in view
        difference = np.abs(mine - native)
        assert difference[..., :3].mean() < 0.02, difference[..., :3].mean()
        assert difference[..., 3].mean() < 0.02, difference[..., 3].mean()
        np.testing.assert_allclose(
            mine[..., :3].mean(axis=(0, 1)), native[..., :3].mean(axis=(0, 1)), atol=0.003
        )

        for name, (key, width) in ROUNDED.items():  # Blender's float32 rounding
            values = np.empty(len(theirs.data.points) * width, np.float32)
            theirs.data.attributes[name].data.foreach_get(key, values)
            ours.data.attributes[name].data.foreach_set(key, values)
        ours.data.update_tag()
        np.testing.assert_array_equal(picture(ours, "gen404_their_rounding"), native)
    finally:
        bpy.data.objects.remove(camera)
