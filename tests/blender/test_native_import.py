"""Blender 5.3: imports make Blender's own Gaussian splats, interchangeable with its importer's.

Collected on Blender 5.3 and newer only (see conftest.py). Each real file is
imported twice, by the add-on and by Blender's own ``wm.ply_import``: the two
point clouds must hold the same attributes with the same values, and differ only
in the add-on's object rotation that stands a +Y-up file upright.
"""

from __future__ import annotations

import math
import types

import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    ROOT,
    addon_module,
    attribute,
    blender_positions,
    splat_count,
    splat_objects,
)
from tests.blender.test_ui import Recorder
from tests.simulator import figure_ply_bytes, make_figure

DATA = ROOT / "tests" / "data"
REAL = DATA / "real"

WIDTH = {"FLOAT": 1, "FLOAT_VECTOR": 3, "QUATERNION": 4, "FLOAT4": 4}


def layers(obj: bpy.types.Object) -> dict[str, tuple[str, np.ndarray]]:
    return {
        a.name: (a.data_type, attribute(obj, a.name, WIDTH[a.data_type]))
        for a in obj.data.attributes
        if not a.name.startswith(".")
    }


def blender_import(path) -> bpy.types.Object:
    assert bpy.ops.wm.ply_import(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "POINTCLOUD" and obj.data.type == "GAUSSIAN_SPLAT"
    return obj


@pytest.mark.parametrize(
    ("name", "extras"),
    [
        ("hamburger.ply", set()),  # a real 404 result, SH degree 0
        ("tmp_model.ply", {"file_normal"}),  # DreamGaussian: normals, un-normalised quaternions
        ("donut_fused.ply", set()),  # Mip-Splatting: a tiny scene
        ("capture_sh3.src.ply", {"file_normal"}),  # a capture with SH degree 3 and normals
    ],
)
def test_our_objects_hold_what_blenders_own_importer_makes(
    addon, clean_scene, name, extras
) -> None:
    path = REAL / name if (REAL / name).exists() else DATA / name
    assert bpy.ops.gen404.import_splat(filepath=str(path), up_axis="Y") == {"FINISHED"}
    (ours,) = splat_objects()
    theirs = blender_import(path)
    assert ours.type == "POINTCLOUD" and ours.data.type == "GAUSSIAN_SPLAT"

    mine, native = layers(ours), layers(theirs)
    assert set(mine) == set(native) | extras  # the same names, plus what Blender drops
    for key, (kind, values) in native.items():
        assert mine[key][0] == kind, key
        got = mine[key][1]
        if key == "radiance:base":  # the stored colour exactly; the sigmoid to float32 rounding
            np.testing.assert_array_equal(got[:, :3], values[:, :3])
            np.testing.assert_allclose(got[:, 3], values[:, 3], rtol=1e-6, atol=1e-12)
        elif key in ("scale", "rotation"):  # exp, normalisation: to float32 rounding
            np.testing.assert_allclose(got, values, rtol=1e-6, atol=1e-6, err_msg=key)
        else:  # position and SH: copied as stored
            np.testing.assert_array_equal(got, values, err_msg=key)
    if name == "capture_sh3.src.ply":
        assert {f"radiance:sh_{k}" for k in range(15)} <= set(native)

    # The same splats; ours stands upright (+Y up -> +Z up), Blender's keeps the file's frame.
    assert tuple(theirs.rotation_euler) == (0.0, 0.0, 0.0)
    assert tuple(ours.rotation_euler) == pytest.approx((math.pi / 2, 0.0, 0.0))
    x, y, z = attribute(theirs, "position", 3).astype(np.float64).T
    np.testing.assert_allclose(blender_positions(ours), np.stack((x, -z, y), 1), atol=1e-6)
    assert ours["gen404_splats"] == splat_count(theirs) and ours["gen404_up_axis"] == "Y"
    bpy.data.objects.remove(theirs)


@pytest.mark.parametrize("name", ["gen404_sh0.spz", "capture_sh3.spz"])
def test_spz_files_become_blenders_own_splats(addon, clean_scene, name) -> None:
    """404's zstd SPZ, which Blender 5.3's own SPZ importer refuses."""
    assert bpy.ops.gen404.import_splat(filepath=str(DATA / name)) == {"FINISHED"}
    (obj,) = splat_objects()
    assert obj.type == "POINTCLOUD" and obj.data.type == "GAUSSIAN_SPLAT"
    degree = obj["gen404_sh_degree"]
    names = {a.name for a in obj.data.attributes}
    assert names >= {"position", "scale", "rotation", "radiance:base"}
    assert {n for n in names if n.startswith("radiance:sh_")} == {
        f"radiance:sh_{k}" for k in range((degree + 1) ** 2 - 1)
    }
    with pytest.raises(RuntimeError):
        bpy.ops.wm.spz_import(filepath=str(DATA / name))


def evaluated(obj: bpy.types.Object):
    """The object's point cloud as the viewport draws it (the display group applied)."""
    obj.update_tag()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    return obj.evaluated_get(depsgraph).data


def set_control(obj: bpy.types.Object, name: str, value) -> None:
    addon_module("scene.display").set_input(obj.modifiers[0], name, value)


@pytest.fixture
def figure(addon, clean_scene, tmp_path) -> bpy.types.Object:
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    (obj,) = splat_objects()
    return obj


def test_with_default_controls_the_display_passes_the_splats_through(figure) -> None:
    cloud = evaluated(figure)
    assert cloud.type == "GAUSSIAN_SPLAT" and len(cloud.points) == splat_count(figure)
    for name in ("position", "scale", "rotation", "radiance:base"):
        width = WIDTH[figure.data.attributes[name].data_type]
        got = np.empty(len(cloud.points) * width, np.float32)
        key = "value" if width == 4 and name == "rotation" else "vector"
        cloud.attributes[name].data.foreach_get(key, got)
        np.testing.assert_array_equal(got.reshape(-1, width), attribute(figure, name, width))


def test_size_scales_every_splat(figure) -> None:
    set_control(figure, "Size", 2.5)
    cloud = evaluated(figure)
    got = np.empty(len(cloud.points) * 3, np.float32)
    cloud.attributes["scale"].data.foreach_get("vector", got)
    np.testing.assert_allclose(got.reshape(-1, 3), 2.5 * attribute(figure, "scale", 3), rtol=1e-6)


def test_opacity_threshold_hides_the_faint_splats(figure) -> None:
    alpha = attribute(figure, "radiance:base", 4)[:, 3]
    threshold = float(np.median(alpha))
    set_control(figure, "Opacity Threshold", threshold)
    cloud = evaluated(figure)
    assert len(cloud.points) == int((alpha >= threshold).sum()) < splat_count(figure)


def test_viewport_fraction_shows_a_stable_nested_subset(figure) -> None:
    def shown() -> set[tuple[float, ...]]:
        cloud = evaluated(figure)
        got = np.empty(len(cloud.points) * 3, np.float32)
        cloud.attributes["position"].data.foreach_get("vector", got)
        return {tuple(p) for p in got.reshape(-1, 3).tolist()}

    n = splat_count(figure)
    set_control(figure, "Viewport Fraction", 0.5)
    half = shown()
    set_control(figure, "Viewport Fraction", 0.2)
    fifth = shown()
    set_control(figure, "Viewport Fraction", 0.5)
    assert shown() == half and fifth < half
    assert abs(len(half) - n / 2) <= 4 and abs(len(fifth) - n / 5) <= 4


def test_points_mode_draws_plain_coloured_points(figure) -> None:
    set_control(figure, "Display", "Points")
    assert addon_module("scene.display").get_input(figure.modifiers[0], "Display") == "Points"
    cloud = evaluated(figure)
    assert cloud.type == "POINTS" and len(cloud.points) == splat_count(figure)
    assert [m.name for m in cloud.materials] == ["gen404 Native Points"]
    radius = np.empty(len(cloud.points), np.float32)
    cloud.attributes["radius"].data.foreach_get("value", radius)
    sigma = np.exp(make_figure()["log_scales"].astype(np.float64)).mean(axis=1)
    np.testing.assert_allclose(radius, 1.5 * sigma, rtol=1e-5)


def test_the_panels_show_the_native_controls(figure) -> None:
    for panel in (bpy.types.OBJECT_PT_gen404_splat, bpy.types.VIEW3D_PT_gen404_splat):
        assert panel.poll(bpy.context)
        log: list = []
        panel.draw(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
        drawn = {e[3]: e[1].path_resolve(e[2]) for e in log if e[0] == "prop_of" and e[3]}
        display = addon_module("scene.display")
        for name in ("Display", "Size", "Opacity Threshold", "Viewport Fraction"):
            assert drawn[name] == display.get_input(figure.modifiers[0], name), name
        assert "View-Dependent Color" not in drawn  # Blender's splats always show SH colour


def test_the_geometry_nodes_kind_can_still_be_chosen(addon, clean_scene, tmp_path) -> None:
    """For a .blend that Blender 4.2-5.2 must open: the preference picks the mesh kind."""
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    prefs.splat_object = "NODES"
    try:
        assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    finally:
        prefs.splat_object = "NATIVE"
    (obj,) = splat_objects()
    assert obj.type == "MESH" and obj.modifiers[0].node_group.name == "gen404 Splats"
