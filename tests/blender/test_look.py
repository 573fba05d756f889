"""The Gaussian look, measured: Cycles renders of known splats against the analytic image.

A splat renderer draws each Gaussian as alpha = opacity * exp(-r^2 / 2), r the
Mahalanobis distance of the pixel in the projected (2D) Gaussian, cut off at
3 sigma, and composites front to back. Here a few large splats are rendered
orthographically with a pixel filter of almost zero width (every sample at the
pixel centre), no denoising, and Russian roulette off for transparency
(``min_transparent_bounces`` = max), so the render is exact up to float
rounding: it must match that formula pixel by pixel, in linear light (EXR).
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    addon_module,
    assert_file_values_only,
    picture_path,
    save_linear_png,
    splat_objects,
)
from tests.unit.plyfiles import make_ply

pytestmark = pytest.mark.usefixtures("nodes_display")  # the geometry-nodes display

SH_C0 = 0.28209479177387814
RES_X, RES_Y, WIDTH = 80, 60, 8.0
"""8 x 6 world units over 80 x 60 pixels: 0.1 unit per pixel."""
PIXEL = WIDTH / RES_X


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def quat_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def splat_ply(splats: list[dict], rest: np.ndarray | None = None) -> bytes:
    """A 3DGS PLY of ``splats`` (centre, sigma, quat, display rgb, opacity), written by hand."""
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"]
    k = 0 if rest is None else rest.shape[1]
    names += [f"f_rest_{i}" for i in range(3 * k)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    columns: dict[str, list[float]] = {name: [] for name in names}
    for i, s in enumerate(splats):
        values = [*s["centre"], *((np.asarray(s["rgb"]) - 0.5) / SH_C0)]
        if rest is not None:
            values += list(rest[i].T.reshape(-1))  # channel-major, as PLY stores it
        p = s["opacity"]
        values += [math.log(p / (1 - p)), *np.log(s["sigma"]), *s["quat"]]
        for name, value in zip(names, values, strict=True):
            columns[name].append(value)
    return make_ply({name: np.array(v, dtype=np.float32) for name, v in columns.items()})


def stage(scene: bpy.types.Scene, keep: bpy.types.Object) -> bpy.types.Object:
    """Orthographic camera looking along +Y (image x = world X, image up = world Z), black world."""
    for other in list(scene.objects):
        if other != keep:
            bpy.data.objects.remove(other)
    cam = bpy.data.objects.new("look camera", bpy.data.cameras.new("look camera"))
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = WIDTH
    cam.data.clip_end = 100.0
    scene.collection.objects.link(cam)
    cam.location = (0.0, -20.0, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.camera = cam
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.0, 0.0, 0.0)
    if world.node_tree is not None and "Background" in world.node_tree.nodes:
        world.node_tree.nodes["Background"].inputs["Color"].default_value = (0, 0, 0, 1)
    return cam


_SETTINGS = (
    ("render", "engine", "CYCLES"),
    ("cycles", "device", "CPU"),
    ("cycles", "samples", 1),
    ("cycles", "use_adaptive_sampling", False),
    ("cycles", "use_denoising", False),
    ("cycles", "pixel_filter_type", "BOX"),
    ("cycles", "filter_width", 0.01),  # every sample at the pixel centre
    ("cycles", "transparent_max_bounces", 64),
    ("cycles", "min_transparent_bounces", 64),  # no Russian roulette: no noise
    ("render", "film_transparent", True),
    ("render", "resolution_x", RES_X),
    ("render", "resolution_y", RES_Y),
    ("render", "resolution_percentage", 100),
    ("view_settings", "view_transform", "Standard"),
)


def render_linear(scene: bpy.types.Scene, path: Path) -> np.ndarray:
    """Exact Cycles render as linear RGBA rows top to bottom (premultiplied, EXR).

    The scene's settings are restored afterwards: other tests render it too.
    """
    owners = {"render": scene.render, "cycles": scene.cycles, "view_settings": scene.view_settings}
    image_settings = scene.render.image_settings
    saved = [(owners[o], name, getattr(owners[o], name)) for o, name, _ in _SETTINGS]
    saved += [
        (image_settings, n, getattr(image_settings, n)) for n in ("file_format", "color_depth")
    ]
    saved.append((scene.render, "filepath", scene.render.filepath))
    try:
        for owner, name, value in _SETTINGS:
            setattr(owners[owner], name, value)
        image_settings.file_format = "OPEN_EXR"
        image_settings.color_depth = "32"
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        pixels = np.empty(RES_X * RES_Y * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    return pixels.reshape(RES_Y, RES_X, 4)[::-1]


def pixel_centres() -> tuple[np.ndarray, np.ndarray]:
    """World X and Z of every pixel centre, rows top to bottom."""
    height = WIDTH * RES_Y / RES_X
    x = -WIDTH / 2 + (np.arange(RES_X) + 0.5) * PIXEL
    z = height / 2 - (np.arange(RES_Y) + 0.5) * PIXEL
    return np.meshgrid(x, z)


def pixel_of(x: float, z: float) -> tuple[int, int]:
    """(row, column) of the pixel whose centre is at world (x, z)."""
    height = WIDTH * RES_Y / RES_X
    col, row = (x + WIDTH / 2) / PIXEL - 0.5, (height / 2 - z) / PIXEL - 0.5
    assert abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6, "not a pixel centre"
    return round(row), round(col)


def mahalanobis2(s: dict, px: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """r^2 of image points in the splat's projection along Y (its marginal on X, Z)."""
    r = quat_matrix(s["quat"])
    cov = r @ np.diag(np.square(s["sigma"])) @ r.T
    inv = np.linalg.inv(cov[np.ix_((0, 2), (0, 2))])
    d = np.stack([px - s["centre"][0], pz - s["centre"][2]], axis=-1)
    return np.einsum("...i,ij,...j->...", d, inv, d)


def footprint_alpha(s: dict, px: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """opacity * exp(-r^2/2), zero beyond 3 sigma."""
    r2 = mahalanobis2(s, px, pz)
    return s["opacity"] * np.exp(-0.5 * r2) * (r2 < 9.0)


def composite(splats: list[dict], px: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Front-to-back (nearest centre first) premultiplied RGBA, linear."""
    out = np.zeros((*px.shape, 4))
    transmit = np.ones(px.shape)
    for s in sorted(splats, key=lambda s: s["centre"][1]):
        alpha = footprint_alpha(s, px, pz)
        out[..., :3] += (transmit * alpha)[..., None] * srgb_to_linear(s["rgb"])
        out[..., 3] += transmit * alpha
        transmit *= 1 - alpha
    return out


def about_y(degrees: float) -> tuple[float, float, float, float]:
    half = math.radians(degrees) / 2
    return (math.cos(half), 0.0, math.sin(half), 0.0)


ISOTROPIC = {
    "centre": (-1.95, 0.0, 0.95),
    "sigma": (0.4, 0.4, 0.4),
    "quat": (1.0, 0.0, 0.0, 0.0),
    "rgb": (0.9, 0.3, 0.2),
    "opacity": 0.9,
}
ROTATED = {  # anisotropic, turned 30 degrees in the image plane, tilted out of it too
    "centre": (1.75, 0.0, 1.15),
    "sigma": (0.9, 0.3, 0.25),
    "quat": (0.9537, 0.0998, 0.2588, 0.1228),
    "rgb": (0.2, 0.6, 0.9),
    "opacity": 0.8,
}
FRONT = {  # nearer the camera (smaller y), overlapping BEHIND on screen
    "centre": (-1.05, -3.0, -1.25),
    "sigma": (0.5, 0.5, 0.5),
    "quat": about_y(10.0),
    "rgb": (0.95, 0.9, 0.1),
    "opacity": 0.6,
}
BEHIND = {
    "centre": (-0.45, 3.0, -1.25),
    "sigma": (0.55, 0.4, 0.45),
    "quat": about_y(-20.0),
    "rgb": (0.1, 0.2, 0.9),
    "opacity": 0.7,
}
SPLATS = [ISOTROPIC, ROTATED, FRONT, BEHIND]


@pytest.fixture
def known_splats(addon, clean_scene, tmp_path):
    path = tmp_path / "known.ply"
    path.write_bytes(splat_ply(SPLATS))
    assert bpy.ops.gen404.import_splat(filepath=str(path), up_axis="Z") == {"FINISHED"}
    (obj,) = splat_objects()
    assert_file_values_only(obj)
    cam = stage(clean_scene, obj)
    yield obj
    bpy.data.objects.remove(cam)


def test_cycles_render_matches_the_analytic_gaussians(known_splats, clean_scene, tmp_path) -> None:
    rgba = render_linear(clean_scene, tmp_path / "known.exr")
    save_linear_png(rgba, picture_path("known_gaussians.png"))
    px, pz = pixel_centres()
    expected = composite(SPLATS, px, pz)
    save_linear_png(expected, picture_path("known_gaussians_expected.png"))

    # The whole picture, every pixel and channel (alpha included), in linear light.
    err = np.abs(rgba - expected).max(axis=-1)
    edge = np.any([np.abs(mahalanobis2(s, px, pz) - 9.0) < 0.05 for s in SPLATS], axis=0)
    assert err[~edge].max() < 1e-3
    # At the 3-sigma cut-off itself float rounding may keep or drop a pixel.
    assert err[edge].max() < max(s["opacity"] for s in SPLATS) * math.exp(-4.5) + 1e-3

    # Centre colour, and the falloff at 1 and 2 sigma: opacity * exp(-r^2/2) * colour.
    linear = srgb_to_linear(ISOTROPIC["rgb"])
    row, col = pixel_of(*ISOTROPIC["centre"][::2])
    step = round(ISOTROPIC["sigma"][0] / PIXEL)  # 1 sigma in pixels
    for r_sigma in (0, 1, 2):
        for dr, dc in ((0, r_sigma * step), (r_sigma * step, 0), (0, -r_sigma * step)):
            got = rgba[row + dr, col + dc]
            want = ISOTROPIC["opacity"] * math.exp(-0.5 * r_sigma**2)
            np.testing.assert_allclose(got[:3], want * linear, atol=2e-3)
            assert got[3] == pytest.approx(want, abs=2e-3)
    # Beyond the 3-sigma cut-off nothing is drawn.
    assert rgba[row, col + 3 * step + 1, 3] == pytest.approx(0.0, abs=1e-6)

    # Where two overlap, the front one is composited over the one behind it.
    row, col = pixel_of(*FRONT["centre"][::2])
    a_front = FRONT["opacity"]
    a_behind = footprint_alpha(BEHIND, np.array(FRONT["centre"][0]), np.array(FRONT["centre"][2]))
    assert 0.2 < a_behind < 0.6  # a real overlap
    want = a_front * srgb_to_linear(FRONT["rgb"]) + (1 - a_front) * a_behind * srgb_to_linear(
        BEHIND["rgb"]
    )
    np.testing.assert_allclose(rgba[row, col, :3], want, atol=2e-3)
    assert rgba[row, col, 3] == pytest.approx(1 - (1 - a_front) * (1 - a_behind), abs=2e-3)


# --- view-dependent colour -------------------------------------------------------------

C1 = 0.4886025119029199
C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def sh_basis(d: np.ndarray) -> np.ndarray:
    """The 15 degree 1-3 basis values at unit direction d, as the Inria renderer's eval_sh."""
    x, y, z = d / np.linalg.norm(d)
    xx, yy, zz = x * x, y * y, z * z
    return np.array(
        [
            -C1 * y,
            C1 * z,
            -C1 * x,
            C2[0] * x * y,
            C2[1] * y * z,
            C2[2] * (2 * zz - xx - yy),
            C2[3] * x * z,
            C2[4] * (xx - yy),
            C3[0] * y * (3 * xx - yy),
            C3[1] * x * y * z,
            C3[2] * y * (4 * zz - xx - yy),
            C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            C3[4] * x * (4 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3 * yy),
        ]
    )


def euler_matrix(ex: float, ey: float, ez: float) -> np.ndarray:
    """Blender's XYZ Euler: R = Rz @ Ry @ Rx."""
    cx, sx, cy, sy, cz, sz = (f(a) for a in (ex, ey, ez) for f in (math.cos, math.sin))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


Y_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
"""File (+Y up) to Blender: (x, y, z) -> (x, -z, y), a +90 degree turn about X."""

SH_SPLAT = {
    "centre": (0.0, 0.0, 0.0),
    "sigma": (0.8, 0.5, 0.6),  # anisotropic and turned: the direction must be undone exactly
    "quat": (0.8, 0.3, -0.4, 0.33),
    "rgb": (0.45, 0.5, 0.55),
    "opacity": 0.97,
}


def test_view_dependent_colour_follows_the_sh_formula(addon, clean_scene, tmp_path) -> None:
    rest = np.random.default_rng(7).uniform(-0.35, 0.35, size=(1, 15, 3))
    path = tmp_path / "sh3.ply"
    path.write_bytes(splat_ply([SH_SPLAT], rest))
    assert bpy.ops.gen404.import_splat(filepath=str(path), up_axis="Y") == {"FINISHED"}
    (obj,) = splat_objects()
    assert obj["gen404_sh_degree"] == 3
    assert_file_values_only(obj)
    cam = stage(clean_scene, obj)
    obj.location = (0.05, 0.0, 0.05)  # the centre lands on a pixel centre
    row, col = pixel_of(0.05, 0.05)
    opacity = SH_SPLAT["opacity"]
    base = 0.5 + SH_C0 * (np.asarray(SH_SPLAT["rgb"]) - 0.5) / SH_C0
    modifier = obj.modifiers[0]
    try:
        for angles in ((0.3, -0.2, 0.7), (-1.1, 0.4, 2.5)):
            obj.rotation_euler = angles
            obj.scale = (1.3, 1.3, 1.3)
            # Camera to splat is world +Y; in the file's frame that is (R_obj Y_UP)^T (0, 1, 0).
            view_file = (euler_matrix(*angles) @ Y_UP).T @ np.array([0.0, 1.0, 0.0])
            srgb = np.clip(base + sh_basis(view_file) @ rest[0], 0.0, 1.0)
            assert np.abs(srgb - base).max() > 0.05  # the SH terms really change the colour
            got = render_linear(clean_scene, tmp_path / "sh.exr")[row, col]
            np.testing.assert_allclose(got[:3], opacity * srgb_to_linear(srgb), atol=2e-3)

        # Off: the degree-0 colour, whatever the view.
        addon_module("scene.display").set_input(modifier, "View-Dependent Color", False)
        obj.update_tag()
        got = render_linear(clean_scene, tmp_path / "dc.exr")[row, col]
        np.testing.assert_allclose(got[:3], opacity * srgb_to_linear(base), atol=2e-3)
    finally:
        bpy.data.objects.remove(cam)
