"""The add-on's SPZ writer (splats/spz_write.py), read back by our reader and by the peers.

Niantic's flavour (version 3, gzip, RUB) must read back as the scene it was written
from with Niantic's own library (converting RUB to RDF), with splat-transform 2.x
(which converts too) and 3.x (which reads the stored RUB values raw), and, written
as version 2, with spz-js (which reads versions 1-2 raw). 404's flavour (version 2,
zstd, PLY frame) is read by 404's tools only: our reader stands for them. Every
field within SPZ's quantisation; the test encoder in spzfiles.py stays the
independent reference for the bytes.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard
from gen404.splats.cloud import SplatCloud
from gen404.splats.ply import read_ply_file
from gen404.splats.spz import read_spz
from gen404.splats.spz_write import (
    GEN404,
    MAX_FRACTIONAL_BITS,
    NIANTIC,
    fractional_bits,
    write_spz,
)

from tests.unit.spzfiles import (
    Splats,
    SpzOptions,
    assert_close_to_source,
    encode_spz,
    peer_jobs,
    realistic_splats,
    run_parallel,
    splat_transform,
)

BUCKETS = 1 / 16 + 1 / 256
"""SH error after upstream's default 5/4-bit buckets."""
EIGHT_BITS = 1 / 256 + 1e-6


def cloud_of(splats: Splats) -> SplatCloud:
    return SplatCloud(
        positions=splats.positions.copy(),
        log_scales=splats.log_scales.copy(),
        rotations=splats.rotations.copy(),
        opacity_logit=splats.opacity.copy(),
        sh_dc=splats.f_dc.copy(),
        sh_rest=splats.sh.copy(),
    )


def header(data: bytes) -> tuple[int, int, int, int, int]:
    """(version, count, degree, fractional bits, flags) of a v1-3 SPZ."""
    if data[:2] == b"\x1f\x8b":
        payload = gzip.decompress(data)
    else:
        payload = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    magic, version, count, degree, bits, flags, _ = struct.unpack_from("<IIIBBBB", payload)
    assert magic == 0x5053474E
    return version, count, degree, bits, flags


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_niantic_flavour_reads_back_within_quantisation(degree: int) -> None:
    splats = realistic_splats(600, degree, seed=20 + degree)
    data = write_spz(cloud_of(splats))
    assert data[:2] == b"\x1f\x8b"
    version, count, read_degree, bits, flags = header(data)
    assert (version, count, read_degree, flags) == (3, 600, degree, 0)
    assert bits == 20  # |x| <= 5 fits 24 bits with 20 fractional ones
    cloud = read_spz(data)
    assert (cloud.file_up, cloud.file_frame) == ("Y", "RUB")
    assert_close_to_source(cloud, splats, 3, bits, sh_atol=BUCKETS)


@pytest.mark.parametrize("degree", [0, 3])
def test_404_flavour_reads_back_within_quantisation(degree: int) -> None:
    splats = realistic_splats(600, degree, seed=30 + degree)
    data = write_spz(cloud_of(splats), GEN404)
    assert data[:4] == b"\x28\xb5\x2f\xfd"
    assert header(data)[:3] == (2, 600, degree)
    cloud = read_spz(data)
    assert (cloud.file_up, cloud.file_frame) == ("Y", "RDF")
    assert_close_to_source(cloud, splats, 2, header(data)[3], sh_atol=EIGHT_BITS)


def test_the_bytes_are_what_the_reference_encoder_writes() -> None:
    """Same quantisation as the test encoder (an independent implementation): the arrays
    after the header agree byte for byte but for rounding ties."""
    splats = realistic_splats(400, 3, seed=7)
    for flavour, options in (
        (NIANTIC, SpzOptions(version=3, wrapper="gzip", frame="RUB", fractional_bits=20)),
        (GEN404, SpzOptions(version=2, wrapper="zstd", fractional_bits=20)),
    ):
        ours = read_spz(write_spz(cloud_of(splats), flavour, sh_bits=(8, 8)))
        reference = read_spz(encode_spz(splats, options))
        for name in ("positions", "log_scales", "opacity_logit", "sh_dc", "sh_rest"):
            a, b = getattr(ours, name), getattr(reference, name)
            assert np.mean(a == b) > 0.999, (flavour, name)
        dots = np.abs(np.sum(ours.rotations * reference.rotations, axis=1))
        assert dots.min() > 0.99999


def test_fractional_bits_follow_the_extent() -> None:
    assert fractional_bits(np.zeros((0, 3))) == MAX_FRACTIONAL_BITS
    assert fractional_bits(np.array([[0.1, 0, 0]])) == MAX_FRACTIONAL_BITS
    assert fractional_bits(np.array([[1000.0, 0, 0]])) == 13  # 1000 * 2^13 < 2^23
    assert fractional_bits(np.array([[0, -5e6, 0]])) == 0
    with pytest.raises(ValueError, match="24-bit"):
        fractional_bits(np.array([[0, 0, 1e7]]))
    with pytest.raises(ValueError, match="NaN"):
        fractional_bits(np.array([[np.nan, 0, 0]]))
    far = realistic_splats(100, 0, seed=9)
    far.positions *= 200  # up to 1000
    cloud = read_spz(write_spz(cloud_of(far)))
    np.testing.assert_allclose(cloud.positions, far.positions, rtol=0, atol=2**-13)


def test_rotations_of_every_largest_component_and_sign() -> None:
    q = np.array(
        [
            [1, 0, 0, 0],
            [-1, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, -1, 0],
            [0, 0, 0, 1],
            [0.1, -0.2, 0.3, -0.9],
            [-0.7, 0.7, 0.1, 0.0],
            [0, 0, 0, 0],  # no rotation: the identity
        ],
        np.float32,
    )
    n = len(q)
    cloud = SplatCloud(
        positions=np.zeros((n, 3), np.float32),
        log_scales=np.zeros((n, 3), np.float32),
        rotations=q,
        opacity_logit=np.zeros(n, np.float32),
        sh_dc=np.zeros((n, 3), np.float32),
        sh_rest=np.zeros((n, 0, 3), np.float32),
    )
    expected = q.copy()
    expected[-1] = (1, 0, 0, 0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    for flavour in (NIANTIC, GEN404):
        back = read_spz(write_spz(cloud, flavour)).rotations  # RUB turned back into RDF
        dots = np.abs(np.sum(back * expected, axis=1))
        assert dots.min() > (0.9999 if flavour == NIANTIC else 0.99), flavour


def test_bad_flavours_and_versions_are_refused() -> None:
    cloud = cloud_of(realistic_splats(3, 0))
    with pytest.raises(ValueError, match="flavour"):
        write_spz(cloud, "PLAYCANVAS")
    with pytest.raises(ValueError, match="version 3"):
        write_spz(cloud, GEN404, version=3)
    assert header(write_spz(cloud, NIANTIC, version=2))[0] == 2


# --- the peers read our files -------------------------------------------------------------


@pytest.fixture(scope="module")
def peers_read(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Splats]:
    folder = tmp_path_factory.mktemp("spz-write")
    splats = realistic_splats(800, 3, seed=41)
    (folder / "v3.spz").write_bytes(write_spz(cloud_of(splats), sh_bits=(8, 8)))
    (folder / "v2.spz").write_bytes(write_spz(cloud_of(splats), version=2, sh_bits=(8, 8)))
    jobs: list[dict[str, object]] = [
        {"tool": "niantic-decode", "input": folder / "v3.spz", "output": folder / "niantic.ply"},
        {"tool": "spz-js-decode", "input": folder / "v2.spz", "output": folder / "spzjs.ply"},
    ]
    commands = [
        splat_transform(version, folder / "v3.spz", folder / f"st{version}.ply")
        for version in ("2.7.1", "3.7.0")
    ]
    run_parallel([*commands, peer_jobs(jobs, folder)])
    return folder, splats


def test_niantics_library_reads_our_spz_as_the_scene(peers_read: tuple[Path, Splats]) -> None:
    folder, splats = peers_read
    cloud = read_ply_file(folder / "niantic.ply")  # converted from RUB to RDF by the library
    assert_close_to_source(cloud, splats, 3, 20)


def test_splat_transform_reads_our_spz(peers_read: tuple[Path, Splats]) -> None:
    folder, splats = peers_read
    # 2.x converts SPZ's RUB to its PLY frame: the scene.
    assert_close_to_source(read_ply_file(folder / "st2.7.1.ply"), splats, 3, 20)
    # 3.x reads SPZ raw: the RUB values the file holds.
    assert_close_to_source(read_ply_file(folder / "st3.7.0.ply"), splats.in_rub(), 3, 20)


def test_spz_js_reads_our_version_2(peers_read: tuple[Path, Splats]) -> None:
    folder, splats = peers_read
    cloud = read_ply_file(folder / "spzjs.ply")  # raw: RUB as stored
    assert_close_to_source(cloud, splats.in_rub(), 2, 20)
