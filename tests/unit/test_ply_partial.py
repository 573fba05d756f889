"""PLY beyond clean 3DGS files: partial SH bands and point clouds without splat fields."""

from __future__ import annotations

import numpy as np
import pytest
from gen404.splats.cloud import SplatFormatError
from gen404.splats.ply import read_ply, write_ply
from gen404.splats.points import default_sigma

from tests.unit.plyfiles import make_ply, splat_columns

# --- partial SH -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "degree"),
    [(3, 0), (6, 0), (12, 1), (27, 2), (30, 2), (48, 3), (72, 3)],
)
def test_partial_sh_keeps_the_highest_complete_degree(total: int, degree: int) -> None:
    """f_rest_<c*P + k>: per channel, the first coefficients of complete bands are kept."""
    n = 5
    columns = splat_columns(n, seed=total)
    per_channel = total // 3
    for i in range(total):
        columns[f"f_rest_{i}"] = np.full(n, 1000 + i, np.float32)
    cloud = read_ply(make_ply(columns))
    k = {0: 0, 1: 3, 2: 8, 3: 15}[degree]
    assert cloud.sh_degree == degree
    for c in range(3):
        for j in range(k):
            np.testing.assert_array_equal(cloud.sh_rest[:, j, c], 1000 + c * per_channel + j)
    assert not any(name.startswith("f_rest") for name in cloud.extra)
    assert len(cloud.warnings) == 1
    message = cloud.warnings[0]
    assert f"{total} f_rest properties ({per_channel} per colour channel)" in message
    assert f"Kept SH degree {degree} ({k} per channel)" in message
    assert f"dropped {per_channel - k} per channel" in message
    again = read_ply(write_ply(cloud))  # what was kept writes back as a standard file
    assert again.warnings == [] and again.sh_degree == degree


@pytest.mark.parametrize("total", [1, 10, 44])
def test_sh_not_divisible_into_channels_drops_to_degree_0(total: int) -> None:
    columns = splat_columns(3)
    for i in range(total):
        columns[f"f_rest_{i}"] = np.ones(3, np.float32)
    cloud = read_ply(make_ply(columns))
    assert cloud.sh_degree == 0
    assert f"{total} f_rest properties, which do not split into three" in cloud.warnings[0]
    assert cloud.extra == {}


def test_f_rest_with_a_gap_drops_to_degree_0() -> None:
    columns = splat_columns(4, degree=1)
    columns["f_rest_9"] = columns.pop("f_rest_8")
    cloud = read_ply(make_ply(columns))
    assert cloud.sh_degree == 0
    assert "not numbered 0..8 without gaps" in cloud.warnings[0]
    np.testing.assert_array_equal(cloud.positions[:, 0], columns["x"])


def test_clean_files_have_no_warnings() -> None:
    for degree in range(4):
        assert read_ply(make_ply(splat_columns(3, degree=degree))).warnings == []


# --- point clouds ------------------------------------------------------------------------------


def grid(shape: tuple[int, ...], spacing: float) -> np.ndarray:
    axes = [np.arange(s) * spacing for s in shape]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))
    out = np.zeros((len(pts), 3))
    out[:, : len(shape)] = pts
    return out


def xyz_columns(points: np.ndarray) -> dict[str, np.ndarray]:
    return {axis: points[:, i].astype(np.float32) for i, axis in enumerate("xyz")}


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian", "ascii"])
def test_coloured_point_cloud_uchar(fmt: str) -> None:
    points = grid((10, 10), 0.2) + 5.0
    n = len(points)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (n, 3))
    columns = xyz_columns(points)
    columns.update({"red": rgb[:, 0], "green": rgb[:, 1], "blue": rgb[:, 2]})
    columns["confidence"] = np.linspace(0, 1, n)
    types = {"red": "uchar", "green": "uchar", "blue": "uchar"}
    cloud = read_ply(make_ply(columns, types=types, fmt=fmt))
    assert cloud.count == n and cloud.sh_degree == 0
    np.testing.assert_allclose(cloud.positions, points, rtol=1e-6)
    np.testing.assert_allclose(cloud.colors(), rgb / 255, atol=1e-6)
    np.testing.assert_allclose(cloud.opacity_activated(), 1, atol=1e-5)
    np.testing.assert_array_equal(cloud.rotations, np.tile([1, 0, 0, 0], (n, 1)))
    np.testing.assert_allclose(cloud.scales_activated(), 0.1, rtol=0.05)  # half the spacing
    assert set(cloud.extra) == {"confidence"}
    assert "coloured points, not Gaussian splats" in cloud.warnings[0]
    assert "standard deviation 0.1" in cloud.warnings[0]


@pytest.mark.parametrize(
    ("ply_type", "scale"),
    [("float", 1.0), ("double", 1.0), ("float", 255.0), ("ushort", 65535.0)],
)
def test_colour_types(ply_type: str, scale: float) -> None:
    """Integers: full scale is white. Floats: 0..1, or 0..255 when values exceed 1."""
    points = grid((4, 4, 4), 1.0)
    n = len(points)
    rgb = np.random.default_rng(1).uniform(0, 1, (n, 3))
    rgb[0] = 1.0
    columns = xyz_columns(points)
    values = np.round(rgb * scale) if scale > 1 else rgb
    columns.update({"red": values[:, 0], "green": values[:, 1], "blue": values[:, 2]})
    cloud = read_ply(make_ply(columns, types=dict.fromkeys(["red", "green", "blue"], ply_type)))
    np.testing.assert_allclose(cloud.colors(), values / scale, atol=1e-6)


def test_diffuse_colour_names_and_normals() -> None:
    points = grid((5, 5), 1.0)
    columns = xyz_columns(points)
    columns.update({"nx": np.zeros(25), "ny": np.zeros(25), "nz": np.ones(25)})
    columns.update({f"diffuse_{c}": np.full(25, 51) for c in ("red", "green", "blue")})
    types = {f"diffuse_{c}": "uchar" for c in ("red", "green", "blue")}
    cloud = read_ply(make_ply(columns, types=types))
    np.testing.assert_allclose(cloud.colors(), 0.2, atol=1e-6)
    assert cloud.normals is not None
    np.testing.assert_array_equal(cloud.normals[:, 2], 1)
    assert cloud.extra == {}


def test_xyz_only_is_grey() -> None:
    points = grid((6, 6, 6), 0.5)
    cloud = read_ply(make_ply(xyz_columns(points)))
    np.testing.assert_allclose(cloud.colors(), 0.5, atol=1e-7)
    np.testing.assert_allclose(cloud.scales_activated(), 0.25, rtol=0.05)
    assert "points without colour (shown grey)" in cloud.warnings[0]
    again = read_ply(write_ply(cloud))  # exports as a real splat PLY
    assert again.warnings == [] and again.count == len(points)


def test_no_positions_is_refused() -> None:
    with pytest.raises(SplatFormatError, match="has no x, y, z positions"):
        read_ply(make_ply({"x": np.zeros(3), "red": np.zeros(3)}))


def test_one_point_and_all_in_one_place() -> None:
    one = read_ply(make_ply(xyz_columns(np.array([[1.0, 2.0, 3.0]]))))
    assert one.count == 1 and np.isfinite(one.log_scales).all()
    same = read_ply(make_ply(xyz_columns(np.zeros((10, 3)))))
    np.testing.assert_allclose(same.scales_activated(), 0.01)


# --- default size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((150, 150), 0.02), ((40, 40, 40), 3.0), ((20000,), 0.001), ((300, 300), 7.0)],
)
def test_default_sigma_follows_spacing_on_lines_surfaces_volumes(
    shape: tuple[int, ...], spacing: float
) -> None:
    """Half the nearest-neighbour spacing, whatever the dimension and units; jitter added."""
    rng = np.random.default_rng(2)
    points = grid(shape, spacing) + rng.normal(0, spacing * 0.05, (int(np.prod(shape)), 3))
    points = points @ np.linalg.qr(rng.normal(size=(3, 3)))[0]  # any orientation
    assert default_sigma(points) == pytest.approx(spacing / 2, rel=0.2)


def test_default_sigma_ignores_duplicates_and_nan() -> None:
    points = grid((30, 30), 1.0)
    points = np.concatenate([points, points, np.full((5, 3), np.nan)])
    assert default_sigma(points) == pytest.approx(0.5, rel=0.1)
