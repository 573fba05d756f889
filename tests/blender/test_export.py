"""Export: a splat object back to a 3DGS PLY, in its import axes, its transform baked in.

Files are compared field by field with a PLY parser written here (not the
add-on's reader), so reader and writer cannot agree on a shared mistake.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import ADDON_MODULE, ROOT, addon_module, splat_objects
from tests.blender.test_look import SH_C0, euler_matrix, sh_basis, srgb_to_linear
from tests.blender.test_ui import Recorder, operators_in
from tests.simulator import figure_ply_bytes

DATA = ROOT / "tests" / "data"
AXES = {  # file frame -> Blender frame, per import up axis
    "Y": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
    "-Y": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "Z": np.eye(3),
}


@pytest.fixture(autouse=True)
def mesh_objects(addon) -> Iterator[None]:
    """These tests are of the geometry-nodes mesh: on Blender 5.3+, imports make it by the
    preference (test_native_export.py tests the native point clouds)."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    if bpy.app.version < (5, 3, 0):
        yield
        return
    prefs.splat_object = "NODES"
    try:
        yield
    finally:
        prefs.splat_object = "NATIVE"


def parse_ply(path: Path) -> dict[str, np.ndarray]:
    """Columns of a binary little-endian PLY with float vertex properties only."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    names, count = [], 0
    for line in data[:end].decode("ascii").splitlines():
        words = line.split()
        if words[:2] == ["element", "vertex"]:
            count = int(words[2])
        elif words[:1] == ["property"]:
            assert words[1] == "float", line
            names.append(words[2])
    table = np.frombuffer(data, dtype="<f4", count=count * len(names), offset=end)
    return dict(zip(names, table.reshape(count, len(names)).T, strict=True))


def stack(cols: dict[str, np.ndarray], *names: str) -> np.ndarray:
    return np.stack([cols[n] for n in names], axis=1).astype(np.float64)


def unit(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)  # q and -q are the same rotation


def quat_matrices(q: np.ndarray) -> np.ndarray:
    w, x, y, z = unit(q).T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def y_up_to_blender(q: np.ndarray) -> np.ndarray:
    """Unit quaternions of a +Y-up file turned into Blender's +Z up: (c, c, 0, 0) * q."""
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    c = np.sqrt(0.5)
    return np.stack([c * (w - x), c * (x + w), c * (y - z), c * (z + y)], axis=1)


def covariances(cols: dict[str, np.ndarray]) -> np.ndarray:
    r = quat_matrices(stack(cols, "rot_0", "rot_1", "rot_2", "rot_3"))
    s = np.exp(stack(cols, "scale_0", "scale_1", "scale_2"))
    shape = r * s[:, None, :]
    return shape @ shape.transpose(0, 2, 1)


def sh_rest(cols: dict[str, np.ndarray]) -> np.ndarray:
    """(N, K, 3) from PLY's channel-major f_rest columns."""
    k = sum(1 for name in cols if name.startswith("f_rest_")) // 3
    return np.stack(
        [np.stack([cols[f"f_rest_{c * k + i}"] for c in range(3)], -1) for i in range(k)], 1
    ).astype(np.float64)


def import_and_export(source: Path, out: Path, up_axis: str = "Y", transform=None) -> None:
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis=up_axis) == {"FINISHED"}
    (obj,) = splat_objects()
    if transform is not None:
        transform(obj)
    bpy.context.view_layer.update()
    assert bpy.ops.gen404.export_splat(filepath=str(out)) == {"FINISHED"}


@pytest.mark.parametrize(
    ("source", "up_axis"),
    [
        ("gen404_sh0.src.ply", "Y"),  # 404's layout: 14 floats, degree 0
        ("capture_sh3.src.ply", "-Y"),  # a capture: normals and degree-3 SH
        ("capture_sh3.src.ply", "Z"),
        ("figure", "Y"),  # un-normalised quaternions
    ],
)
def test_round_trip_reproduces_every_field(addon, clean_scene, tmp_path, source, up_axis):
    path = DATA / source
    if source == "figure":
        path = tmp_path / "figure.ply"
        path.write_bytes(figure_ply_bytes())
    out = tmp_path / "out.ply"
    import_and_export(path, out, up_axis)
    before, after = parse_ply(path), parse_ply(out)
    assert list(after) == list(before)  # same properties, same (Inria) order
    # Untouched, the object holds the file's values and gives them back bit for bit
    # (un-normalised quaternions included).
    for name, values in before.items():
        np.testing.assert_array_equal(after[name], values, err_msg=name)


def _transform(location, euler, scale):
    def apply(obj: bpy.types.Object) -> None:
        obj.location, obj.rotation_euler, obj.scale = location, euler, scale

    return apply


@pytest.mark.parametrize("scale", [(1.7, 1.7, 1.7), (2.0, 0.5, 1.25), (-1.5, 1.5, 1.5)])
def test_export_bakes_the_object_transform(addon, clean_scene, tmp_path, scale) -> None:
    """Positions, shapes (covariances) and view-dependent colour follow the object."""
    source, out = DATA / "capture_sh3.src.ply", tmp_path / "moved.ply"
    location, euler = (0.5, -2.0, 1.0), (0.4, -0.3, 1.2)
    import_and_export(source, out, "Y", _transform(location, euler, scale))
    before, after = parse_ply(source), parse_ply(out)
    a = AXES["Y"]
    linear = euler_matrix(*euler) @ np.diag(scale)
    f = a.T @ linear @ a  # the object's linear map, seen in the file's frame

    p = stack(before, "x", "y", "z")
    want = (p @ a.T @ linear.T + np.array(location)) @ a  # A^-1 (M (A p))
    np.testing.assert_allclose(stack(after, "x", "y", "z"), want, atol=1e-5)
    cov = covariances(before)
    want_cov = f @ cov @ f.T
    # float32 quaternions and log-scales: relative to each splat's own size.
    size = np.trace(want_cov, axis1=1, axis2=2)[:, None, None]
    assert np.all(np.abs(covariances(after) - want_cov) <= 1e-5 * size)
    for name in ("f_dc_0", "f_dc_1", "f_dc_2", "opacity"):
        np.testing.assert_array_equal(after[name], before[name])

    # SH: the colour shown towards G d equals the original's towards d, G the object's
    # rotation (its polar factor; a mirror mirrors) in the file's frame.
    u, _, vt = np.linalg.svd(linear)
    g = a.T @ (u @ vt) @ a
    dirs = np.random.default_rng(3).normal(size=(20, 3))
    old, new = sh_rest(before), sh_rest(after)
    for d in dirs:
        colour_before = np.einsum("k,nkc->nc", sh_basis(d), old)
        colour_after = np.einsum("k,nkc->nc", sh_basis(g @ d), new)
        np.testing.assert_allclose(colour_after, colour_before, atol=1e-4)


def test_export_axes_can_be_chosen(addon, clean_scene, tmp_path) -> None:
    source, out = DATA / "gen404_sh0.src.ply", tmp_path / "z_up.ply"
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis="Y") == {"FINISHED"}
    assert bpy.ops.gen404.export_splat(filepath=str(out), up_axis="Z") == {"FINISHED"}
    before, after = parse_ply(source), parse_ply(out)
    want = stack(before, "x", "y", "z") @ AXES["Y"].T  # Blender's frame, as +Z up means
    np.testing.assert_allclose(stack(after, "x", "y", "z"), want, atol=1e-6)


def test_export_needs_one_selected_splat_object(addon, clean_scene, tmp_path) -> None:
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    assert not bpy.ops.gen404.export_splat.poll()
    with pytest.raises(RuntimeError):
        bpy.ops.gen404.export_splat(filepath=str(tmp_path / "nothing.ply"))
    assert not (tmp_path / "nothing.ply").exists()
    # It sits in File > Export, where F3 finds it.
    menus = addon_module("panels.menus")
    assert menus.draw_export_menu in bpy.types.TOPBAR_MT_file_export._dyn_ui_initialize()
    log: list = []
    menus.draw_export_menu(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    assert operators_in(log)["gen404.export_splat"][4] == "Gaussian Splat (.ply/.spz)"


def test_an_object_without_the_file_values_exports_what_it_shows(
    addon, clean_scene, tmp_path
) -> None:
    """No raw values (a hand-made object, an older import): Blender-frame display ones serve."""
    source, out = DATA / "gen404_sh0.src.ply", tmp_path / "rebuilt.ply"
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis="Y") == {"FINISHED"}
    (obj,) = splat_objects()
    mesh = obj.data
    for name in ("file_rotation", "log_scale", "opacity_logit", "sh_dc"):
        mesh.attributes.remove(mesh.attributes[name])
    before = parse_ply(source)
    q = unit(stack(before, "rot_0", "rot_1", "rot_2", "rot_3"))
    display = {
        "rotation": ("QUATERNION", "value", y_up_to_blender(q)),
        "scale": ("FLOAT_VECTOR", "vector", np.exp(stack(before, "scale_0", "scale_1", "scale_2"))),
        "opacity": ("FLOAT", "value", 1 / (1 + np.exp(-before["opacity"].astype(np.float64)))),
        "color": (
            "FLOAT_COLOR",
            "color",
            np.concatenate(
                [
                    srgb_to_linear(
                        np.clip(0.5 + SH_C0 * stack(before, "f_dc_0", "f_dc_1", "f_dc_2"), 0, 1)
                    ),
                    np.ones((len(q), 1)),
                ],
                1,
            ),
        ),
    }
    for name, (kind, key, values) in display.items():
        mesh.attributes.new(name, kind, "POINT").data.foreach_set(
            key, values.astype(np.float32).ravel()
        )
    assert bpy.ops.gen404.export_splat(filepath=str(out)) == {"FINISHED"}
    after = parse_ply(out)
    for name in ("x", "y", "z", "scale_0", "scale_1", "scale_2"):
        np.testing.assert_allclose(after[name], before[name], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(unit(stack(after, "rot_0", "rot_1", "rot_2", "rot_3")), q, atol=1e-5)
    moderate = np.abs(before["opacity"]) < 6  # float32 sigmoids saturate beyond
    np.testing.assert_allclose(after["opacity"][moderate], before["opacity"][moderate], atol=2e-3)
    for c in range(3):
        dc = before[f"f_dc_{c}"]
        shown = np.abs(SH_C0 * dc) < 0.499  # colours a display can show (not clipped)
        np.testing.assert_allclose(after[f"f_dc_{c}"][shown], dc[shown], atol=2e-3)


def test_export_to_other_axes_turns_view_dependent_colour(addon, clean_scene, tmp_path) -> None:
    """Exported with other axes than imported, SH and normals turn with the positions."""
    source, out = DATA / "capture_sh3.src.ply", tmp_path / "z_up.ply"
    assert bpy.ops.gen404.import_splat(filepath=str(source), up_axis="-Y") == {"FINISHED"}
    assert bpy.ops.gen404.export_splat(filepath=str(out), up_axis="Z") == {"FINISHED"}
    before, after = parse_ply(source), parse_ply(out)
    g = AXES["-Y"]  # directions of the -Y-up file -> the +Z-up one
    want = stack(before, "x", "y", "z") @ g.T
    np.testing.assert_allclose(stack(after, "x", "y", "z"), want, atol=1e-6)
    normals = stack(before, "nx", "ny", "nz") @ g.T
    np.testing.assert_allclose(stack(after, "nx", "ny", "nz"), normals, atol=1e-6)
    old, new = sh_rest(before), sh_rest(after)
    for d in np.random.default_rng(5).normal(size=(10, 3)):
        colour_before = np.einsum("k,nkc->nc", sh_basis(d), old)
        colour_after = np.einsum("k,nkc->nc", sh_basis(g @ d), new)
        np.testing.assert_allclose(colour_after, colour_before, atol=1e-4)
