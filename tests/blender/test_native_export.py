"""Export of Blender 5.3's native Gaussian splats (ours and Blender's own imports) to 3DGS PLY.

Native point clouds hold Blender's values (sigmas, sigmoid opacities, unit
quaternions); an export must give the file's conventions back (log scales,
logits, channel-major f_rest), in the file's frame, the object's transform
baked in. Files are compared with test_export's own PLY parser, not the add-on's.
Only collected on Blender 5.3+ (see conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import ADDON_MODULE, ROOT
from tests.blender.test_export import AXES, covariances, parse_ply, sh_rest, stack
from tests.blender.test_look import euler_matrix, sh_basis
from tests.unit.spzfiles import SpzOptions, encode_spz, realistic_splats

DATA = ROOT / "tests" / "data"
REAL = Path(os.environ.get("GEN404_REAL_FIXTURES", "/work/shared/fixtures/real"))
"""Real splat files (hamburger.ply, tmp_model.ply: see their README), not in this repository."""
ROT = ("rot_0", "rot_1", "rot_2", "rot_3")
SCALES = ("scale_0", "scale_1", "scale_2")
XYZ = ("x", "y", "z")
NORMALS = ("nx", "ny", "nz")
EXACT = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2")


def real_file(name: str) -> Path:
    for folder in (DATA, REAL):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} is neither in {DATA} nor in {REAL} (GEN404_REAL_FIXTURES)")


def is_native(obj: bpy.types.Object) -> bool:
    return obj.type == "POINTCLOUD" and getattr(obj.data, "type", "") == "GAUSSIAN_SPLAT"


@pytest.fixture
def native_scene(clean_scene) -> Iterator[bpy.types.Scene]:
    """No splat objects (Blender's own imports included), nothing selected, and the
    add-on making native objects (its default on 5.3)."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    assert prefs.splat_object == "NATIVE"
    for obj in list(bpy.data.objects):
        if is_native(obj):
            bpy.data.objects.remove(obj)
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    yield clean_scene


def only_native_object() -> bpy.types.Object:
    (obj,) = [o for o in bpy.data.objects if is_native(o)]
    return obj


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def assert_same_quaternions(after: np.ndarray, before: np.ndarray, atol: float = 2e-6) -> None:
    """Unit quaternions equal up to sign (q and -q are one rotation)."""
    a = after / np.linalg.norm(after, axis=1, keepdims=True)
    b = before / np.linalg.norm(before, axis=1, keepdims=True)
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-6)  # written normalised
    error = np.minimum(np.abs(a - b).max(axis=1), np.abs(a + b).max(axis=1))
    assert error.max() <= atol, error.max()


def assert_file_values(after: dict, before: dict) -> None:
    """``after`` holds ``before``'s values, as a native object can keep them."""
    assert list(after) == [n for n in before if n in after]  # the file's order
    for name in [*EXACT, *(n for n in before if n.startswith("f_rest_"))]:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for name in NORMALS:
        if name in after:
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    # sigma = exp(log scale) in float32, and back: float rounding only.
    np.testing.assert_allclose(stack(after, *SCALES), stack(before, *SCALES), rtol=0, atol=1e-6)
    assert_same_quaternions(stack(after, *ROT), stack(before, *ROT))
    # Opacity went through a float32 sigmoid: the same opacity, and where it is
    # not saturated (|logit| < 8) the same logit to float32 precision of the sigmoid.
    assert np.isfinite(after["opacity"]).all()
    np.testing.assert_allclose(sigmoid(after["opacity"]), sigmoid(before["opacity"]), atol=1e-6)
    moderate = np.abs(before["opacity"]) < 8
    np.testing.assert_allclose(
        after["opacity"][moderate], before["opacity"][moderate], rtol=0, atol=1e-3
    )


def export(path: Path, **options: str) -> dict[str, np.ndarray]:
    assert bpy.ops.gen404.export_splat.poll()
    assert bpy.ops.gen404.export_splat(filepath=str(path), **options) == {"FINISHED"}
    return parse_ply(path)


@pytest.mark.parametrize(
    ("name", "up_axis"),
    [
        ("hamburger.ply", "Y"),  # a real 404 result: degree 0, +Y up
        ("tmp_model.ply", "Y"),  # DreamGaussian: normals, quaternions not normalised
        ("capture_sh3.src.ply", "-Y"),  # a capture: normals and degree-3 SH
    ],
)
def test_our_import_exports_its_file(addon, native_scene, tmp_path, name, up_axis) -> None:
    source = real_file(name)
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis=up_axis) == {"FINISHED"}
    obj = only_native_object()
    assert obj["gen404_up_axis"] == up_axis
    assert not np.allclose(np.array(obj.matrix_world), np.eye(4))  # stood upright
    before, after = parse_ply(source), export(tmp_path / "out.ply")
    assert list(after) == list(before)  # same properties (normals too), same order
    assert_file_values(after, before)


@pytest.mark.parametrize("name", ["hamburger.ply", "capture_sh3.src.ply"])
def test_blender_ply_import_exports_its_file(addon, native_scene, tmp_path, name) -> None:
    """An object of Blender's own importer: its frame is the file's, its values the file's."""
    source = real_file(name)
    assert bpy.ops.wm.ply_import(filepath=str(source)) == {"FINISHED"}
    obj = only_native_object()
    assert "gen404_splats" not in obj and "gen404_up_axis" not in obj
    obj.select_set(True)
    before, after = parse_ply(source), export(tmp_path / "out.ply")
    # Blender drops the normals; everything else comes back.
    assert list(after) == [n for n in before if n not in NORMALS]
    assert_file_values(after, before)


def read_attribute(obj: bpy.types.Object, name: str, width: int) -> np.ndarray:
    attr = obj.data.attributes[name]
    key = "value" if attr.data_type in ("FLOAT", "QUATERNION") else "vector"
    out = np.empty(len(obj.data.points) * width, np.float32)
    attr.data.foreach_get(key, out)
    return out.reshape(-1, width)


def test_blender_spz_import_exports_what_it_holds(addon, native_scene, tmp_path) -> None:
    """An object of Blender's own SPZ importer (gzip, version 3, degree 3)."""
    source = tmp_path / "capture.spz"
    source.write_bytes(
        encode_spz(realistic_splats(500, 3, seed=7), SpzOptions(version=3, wrapper="gzip"))
    )
    assert bpy.ops.wm.spz_import(filepath=str(source)) == {"FINISHED"}
    obj = only_native_object()
    obj.select_set(True)
    after = export(tmp_path / "out.ply")
    assert len(after["x"]) == 500 and sum(n.startswith("f_rest_") for n in after) == 45
    np.testing.assert_array_equal(stack(after, *XYZ), read_attribute(obj, "position", 3))
    base = read_attribute(obj, "radiance:base", 4)
    np.testing.assert_array_equal(stack(after, "f_dc_0", "f_dc_1", "f_dc_2"), base[:, :3])
    np.testing.assert_allclose(sigmoid(after["opacity"]), base[:, 3], atol=1e-6)
    sigma = read_attribute(obj, "scale", 3).astype(np.float64)
    np.testing.assert_allclose(stack(after, *SCALES), np.log(sigma), rtol=0, atol=1e-6)
    assert_same_quaternions(stack(after, *ROT), read_attribute(obj, "rotation", 4))
    rest = sh_rest(after)
    for k in range(15):
        np.testing.assert_array_equal(rest[:, k], read_attribute(obj, f"radiance:sh_{k}", 3))


def _ours(source: Path) -> tuple[bpy.types.Object, np.ndarray]:
    """Our import of a -Y-up capture, and its file -> Blender turn."""
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis="-Y") == {"FINISHED"}
    return only_native_object(), AXES["-Y"]


def _blenders(source: Path) -> tuple[bpy.types.Object, np.ndarray]:
    """Blender's own import: the file's frame is Blender's."""
    assert bpy.ops.wm.ply_import(filepath=str(source)) == {"FINISHED"}
    obj = only_native_object()
    obj.select_set(True)
    return obj, np.eye(3)


@pytest.mark.parametrize("importer", [_ours, _blenders], ids=["ours", "blender"])
@pytest.mark.parametrize("scale", [(1.7, 1.7, 1.7), (2.0, 0.5, 1.25), (-1.5, 1.5, 1.5)])
def test_export_bakes_the_object_transform(
    addon,
    native_scene,
    tmp_path,
    importer: Callable[[Path], tuple[bpy.types.Object, np.ndarray]],
    scale: tuple[float, float, float],
) -> None:
    """Positions, shapes (covariances) and view-dependent colour follow the object."""
    source = DATA / "capture_sh3.src.ply"
    obj, a = importer(source)
    location, euler = np.array((0.5, -2.0, 1.0)), (0.4, -0.3, 1.2)
    obj.location, obj.rotation_euler, obj.scale = location, euler, scale
    bpy.context.view_layer.update()
    before, after = parse_ply(source), export(tmp_path / "moved.ply")
    linear = euler_matrix(*euler) @ np.diag(scale)  # the point cloud's frame -> world
    f = a.T @ linear  # ... -> the written file's frame (the imported axes)

    p = stack(before, *XYZ)
    want = (p @ linear.T + location) @ a
    np.testing.assert_allclose(stack(after, *XYZ), want, atol=1e-5)
    cov, want_cov = covariances(after), f @ covariances(before) @ f.T
    size = np.trace(want_cov, axis1=1, axis2=2)[:, None, None]
    assert np.all(np.abs(cov - want_cov) <= 1e-5 * size)
    for name in ("f_dc_0", "f_dc_1", "f_dc_2"):
        np.testing.assert_array_equal(after[name], before[name])
    np.testing.assert_allclose(sigmoid(after["opacity"]), sigmoid(before["opacity"]), atol=1e-6)

    # The colour shown towards G d equals the original's towards d, G the object's
    # rotation (the polar factor of its linear map; a mirror mirrors) in file axes.
    u, _, vt = np.linalg.svd(linear)
    g = a.T @ (u @ vt)
    old, new = sh_rest(before), sh_rest(after)
    for d in np.random.default_rng(3).normal(size=(20, 3)):
        colour_before = np.einsum("k,nkc->nc", sh_basis(d), old)
        colour_after = np.einsum("k,nkc->nc", sh_basis(g @ d), new)
        np.testing.assert_allclose(colour_after, colour_before, atol=1e-4)
    if "nx" in after:  # ours keeps the normals: they turn as directions do
        np.testing.assert_allclose(stack(after, *NORMALS), stack(before, *NORMALS) @ g.T, atol=1e-5)


def test_export_axes_can_be_chosen(addon, native_scene, tmp_path) -> None:
    """+Z up writes the object as it stands in Blender: positions, SH and normals turned."""
    source = DATA / "capture_sh3.src.ply"
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis="-Y") == {"FINISHED"}
    before, after = parse_ply(source), export(tmp_path / "z_up.ply", up_axis="Z")
    g = AXES["-Y"]
    # A quarter turn moves coordinates between axes: exactly, as the upright one.
    np.testing.assert_array_equal(stack(after, *XYZ), stack(before, *XYZ) @ g.T)
    np.testing.assert_array_equal(stack(after, *NORMALS), stack(before, *NORMALS) @ g.T)
    old, new = sh_rest(before), sh_rest(after)
    for d in np.random.default_rng(4).normal(size=(10, 3)):
        colour_before = np.einsum("k,nkc->nc", sh_basis(d), old)
        colour_after = np.einsum("k,nkc->nc", sh_basis(g @ d), new)
        np.testing.assert_allclose(colour_after, colour_before, atol=1e-4)


def test_export_accepts_native_splats_only(addon, native_scene, tmp_path) -> None:
    """Blender's own splat objects can be exported; other point clouds and meshes cannot."""
    assert not bpy.ops.gen404.export_splat.poll()  # nothing selected
    assert bpy.ops.wm.ply_import(filepath=str(DATA / "gen404_sh0.src.ply")) == {"FINISHED"}
    splats = only_native_object()
    splats.select_set(False)
    cloud = bpy.data.objects.new("points", bpy.data.pointclouds.new("points"))
    bpy.context.scene.collection.objects.link(cloud)
    try:
        cloud.select_set(True)
        bpy.context.view_layer.objects.active = cloud
        assert not bpy.ops.gen404.export_splat.poll()  # a point cloud, not splats
        splats.select_set(True)
        assert bpy.ops.gen404.export_splat.poll()  # the one selected splat object
    finally:
        bpy.data.objects.remove(cloud)


def test_opacity_zero_and_one_export_finite_logits(addon, native_scene, tmp_path) -> None:
    """No logit exists for 0 or 1: they become the nearest float32 opacities that have one."""
    assert bpy.ops.wm.ply_import(filepath=str(DATA / "gen404_sh0.src.ply")) == {"FINISHED"}
    obj = only_native_object()
    obj.select_set(True)
    base = read_attribute(obj, "radiance:base", 4)
    base[:3, 3] = (0.0, 1.0, 0.5)
    obj.data.attributes["radiance:base"].data.foreach_set("vector", base.ravel())
    opacity = export(tmp_path / "ends.ply")["opacity"]
    assert np.isfinite(opacity).all()
    tiny, below_one = np.finfo(np.float32).tiny, 1 - 2.0**-24
    np.testing.assert_allclose(opacity[:3], [np.log(tiny), np.log(below_one / 2.0**-24), 0.0])
    assert opacity[0] < opacity[3:].min() and opacity[1] >= opacity[3:].max()
