"""The .splat reader against hand-written files and splat-transform's reading of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SH_C0, SplatFormatError
from gen404.splats.ply import read_ply_file
from gen404.splats.splat_format import read_dot_splat

from tests.unit.spzfiles import (
    encode_dot_splat,
    realistic_splats,
    run_parallel,
    sigmoid,
    splat_transform,
    unit,
)


def test_reads_back_the_source() -> None:
    src = realistic_splats(500, seed=3)
    cloud = read_dot_splat(encode_dot_splat(src))
    assert cloud.count == 500 and cloud.sh_degree == 0 and cloud.warnings == []
    np.testing.assert_array_equal(cloud.positions, src.positions)
    # Scales are stored linear in float32: the log comes back to float rounding.
    np.testing.assert_allclose(cloud.log_scales, src.log_scales, rtol=0, atol=1e-6)
    rgb = np.clip(0.5 + SH_C0 * src.f_dc, 0, 1)
    np.testing.assert_allclose(cloud.colors(), rgb, rtol=0, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(
        sigmoid(cloud.opacity_logit), sigmoid(src.opacity), rtol=0, atol=0.5 / 255 + 1e-6
    )
    dots = np.abs(np.sum(unit(cloud.rotations) * unit(src.rotations), axis=1))
    assert dots.min() > 0.999
    for arr in [cloud.positions, cloud.log_scales, cloud.rotations, cloud.sh_dc]:
        assert arr.dtype == np.float32 and arr.flags.c_contiguous


def test_known_record() -> None:
    record = np.zeros(1, dtype=[("p", "<f4", 3), ("s", "<f4", 3), ("c", "u1", 4), ("r", "u1", 4)])
    record["p"] = (1.5, -2.0, 3.25)
    record["s"] = (1.0, np.e, 0.5)
    record["c"] = (255, 0, 128, 255)
    record["r"] = (255, 128, 0, 128)
    cloud = read_dot_splat(record.tobytes())
    np.testing.assert_array_equal(cloud.positions[0], [1.5, -2.0, 3.25])
    np.testing.assert_allclose(cloud.log_scales[0], [0, 1, np.log(0.5)], atol=1e-6)
    np.testing.assert_allclose(cloud.colors()[0], [1, 0, 128 / 255], atol=1e-6)
    assert cloud.opacity_activated()[0] == pytest.approx(1, abs=1e-6)
    np.testing.assert_array_equal(cloud.rotations[0], [127 / 128, 0, -1, 0])


def test_zero_and_negative_scales_are_made_tiny_with_a_warning() -> None:
    src = realistic_splats(4)
    data = bytearray(encode_dot_splat(src))
    data[12:16] = np.float32(0).tobytes()
    data[32 + 16 : 32 + 20] = np.float32(-1).tobytes()
    data[64 + 20 : 64 + 24] = np.float32(np.nan).tobytes()
    cloud = read_dot_splat(bytes(data))
    assert np.isfinite(cloud.log_scales).all()
    assert cloud.log_scales[0, 0] < -60
    assert "3 values of scale" in cloud.warnings[0]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (bytes(33), "has 33 bytes (1 splats and 1 bytes over)"),
        (bytes(31), "whole number of 32-byte splats"),
    ],
)
def test_refused(data: bytes, words: str) -> None:
    with pytest.raises(SplatFormatError) as err:
        read_dot_splat(data)
    assert words in str(err.value)


@pytest.mark.parametrize("version", ["2.7.1", "3.7.0"])
def test_matches_splat_transform(tmp_path: Path, version: str) -> None:
    """splat-transform reading the same .splat (to PLY) gives the same values."""
    src = realistic_splats(800, seed=11)
    src.opacity[:2] = (-30, 30)  # alpha bytes 0 and 255: both sides clamp the logit
    path = tmp_path / "scene.splat"
    path.write_bytes(encode_dot_splat(src))
    run_parallel([splat_transform(version, path, tmp_path / "scene.ply")])
    theirs = read_ply_file(tmp_path / "scene.ply")
    ours = read_dot_splat(path.read_bytes())
    np.testing.assert_array_equal(ours.positions, theirs.positions)
    np.testing.assert_allclose(ours.log_scales, theirs.log_scales, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.sh_dc, theirs.sh_dc, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.opacity_logit, theirs.opacity_logit, rtol=1e-5, atol=1e-5)
    # They read rotation bytes as b/255*2-1 then normalise, we as (b-128)/128: same turn.
    dots = np.abs(np.sum(ours.rotations_normalised() * theirs.rotations_normalised(), axis=1))
    assert dots.min() > 0.9999
