"""One entry point for every splat file, and the frame maths every reader shares."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SplatFormatError
from gen404.splats.frames import SPZ_COORDINATE_SYSTEMS, frame_matrix, to_ply_frame
from gen404.splats.reader import (
    SUPPORTED_EXTENSIONS,
    SUPPORTED_NAMES,
    detect_format,
    read_splat_bytes,
    read_splat_file,
)
from gen404.splats.sh import sh_axis_change, sh_basis

from tests.unit.plyfiles import make_ply
from tests.unit.spzfiles import (
    RUB_SH_SIGNS,
    SpzOptions,
    assert_close_to_source,
    encode_dot_splat,
    encode_spz,
    realistic_splats,
)

DATA = Path(__file__).resolve().parent.parent / "data"


def test_supported_extensions() -> None:
    assert SUPPORTED_EXTENSIONS == (".ply", ".spz", ".splat", ".sog")
    assert SUPPORTED_NAMES == ("meta.json",)


# --- choosing the reader --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name", "kind"),
    [
        (lambda s: make_ply(s.columns()), "scene.ply", "ply"),
        (lambda s: make_ply(s.columns()), "mislabelled.spz", "ply"),
        (lambda s: make_ply(s.columns()), "mislabelled.splat", "ply"),
        (lambda s: encode_spz(s, SpzOptions(version=2)), "a.spz", "spz"),
        (lambda s: encode_spz(s, SpzOptions(version=3, wrapper="gzip", frame="RUB")), "", "spz"),
        (lambda s: encode_spz(s, SpzOptions(version=4, frame="RUB")), "x.ply", "spz"),
        (lambda s: encode_dot_splat(s), "web.splat", "splat"),
        (lambda s: encode_dot_splat(s), "WEB.SPLAT", "splat"),
    ],
)
def test_content_decides_and_the_name_only_for_splat(make, name: str, kind: str) -> None:
    src = realistic_splats(64, 0 if kind == "splat" else 2, seed=5)
    data = make(src)
    assert detect_format(data, name) == kind
    cloud = read_splat_bytes(data, name)
    assert cloud.count == 64
    if kind == "spz":
        assert_close_to_source(cloud, src, 4 if data[:4] == b"NGSP" else 2)
    else:
        np.testing.assert_allclose(cloud.positions, src.positions, atol=1e-6)


@pytest.mark.parametrize("suffix", [".ply", ".spz", ".splat"])
def test_read_splat_file(tmp_path: Path, suffix: str) -> None:
    src = realistic_splats(50, 0, seed=1)
    data = {
        ".ply": make_ply(src.columns()),
        ".spz": encode_spz(src, SpzOptions(version=2)),
        ".splat": encode_dot_splat(src),
    }[suffix]
    path = tmp_path / f"model{suffix}"
    path.write_bytes(data)
    for arg in (path, str(path)):
        cloud = read_splat_file(arg)
        np.testing.assert_allclose(cloud.positions, src.positions, atol=2**-12)


def test_the_404_fixtures_through_the_entry_point() -> None:
    for name in ["gen404_sh0", "capture_sh3"]:
        spz = read_splat_file(DATA / f"{name}.spz")
        ply = read_splat_file(DATA / f"{name}.decoded.ply")
        np.testing.assert_array_equal(spz.positions, ply.positions)
        np.testing.assert_array_equal(spz.sh_rest, ply.sh_rest)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "x.ply", "The file 'x.ply' is empty"),
        (b"<!DOCTYPE html><html><body>502</body></html>", "m.spz", "an HTML page"),
        (b"  <html>", "", "an HTML page"),
        (b"<?xml version='1.0'?><Error/>", "", "XML or HTML text"),
        (b'{"detail": "Not found"}', "m.ply", "JSON text, but not a SOG meta.json"),
        (b"[1, 2]", "", "JSON text"),
        (b"PK\x03\x04" + bytes(40), "scene.zip", "a zip archive, but not a SOG"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "", "a PNG image"),
        (b"\xff\xd8\xff\xe0" + bytes(20), "", "a JPEG image"),
        (b"glTF\x02\x00\x00\x00" + bytes(20), "", "binary glTF"),
        (b"solid cube\nfacet normal", "cube.stl", "text starting 'solid cube\\nfacet'"),
        (b"\x01\x02\xfe\xff" + bytes(20), "", "unknown binary data (first bytes 01 02 fe ff"),
    ],
)
def test_unknown_content_says_what_it_looks_like(data: bytes, name: str, words: str) -> None:
    with pytest.raises(SplatFormatError) as err:
        read_splat_bytes(data, name)
    message = str(err.value)
    assert words in message
    if data:
        assert "Import a .ply, .spz, .splat, .sog file or a SOG's meta.json" in message


def test_gzip_that_is_not_spz() -> None:
    with pytest.raises(SplatFormatError, match="gzip-compressed data holds bytes"):
        read_splat_bytes(gzip.compress(b"just some text, long enough"), "notes.txt.gz")


# --- the frame maths ----------------------------------------------------------------------------


def random_directions(n: int, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_basis_is_the_inria_one() -> None:
    """Spot values: degree 1 at +x is (0, 0, -C1); degree 2 at z is (0, 0, 2 C2[2], 0, 0)."""
    b = sh_basis(np.eye(3))
    np.testing.assert_allclose(b[0, :3], [0, 0, -0.4886025119029199])
    np.testing.assert_allclose(b[2, 3:8], [0, 0, 2 * 0.31539156525252005, 0, 0])
    # Orthonormal up to the basis' normalisation: the Gram matrix over the sphere is I/(4 pi).
    d = random_directions(200_000, 0)
    gram = sh_basis(d).T @ sh_basis(d) / len(d) * 4 * np.pi
    np.testing.assert_allclose(gram, np.eye(15), atol=0.03)


def test_rub_signs_derived_from_the_basis_match_the_hand_table() -> None:
    t = sh_axis_change(frame_matrix("RUB"))
    np.testing.assert_array_equal(t, np.diag(RUB_SH_SIGNS))


@pytest.mark.parametrize("system", SPZ_COORDINATE_SYSTEMS[1:])
def test_sh_axis_change_keeps_every_colour(system: str) -> None:
    """Colour towards d in the file = colour towards M d after conversion, all 16 frames."""
    m = frame_matrix(system)
    t = sh_axis_change(m)
    coefficients = np.random.default_rng(3).normal(size=15)
    d = random_directions(50, 1)
    np.testing.assert_allclose(
        sh_basis(d @ m.T) @ (t @ coefficients), sh_basis(d) @ coefficients, atol=1e-12
    )


def test_sh_axis_change_for_any_rotation() -> None:
    rng = np.random.default_rng(4)
    for _ in range(5):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        t = sh_axis_change(q)
        a = rng.normal(size=(15, 3))
        d = random_directions(30, 2)
        np.testing.assert_allclose(sh_basis(d @ q.T) @ (t @ a), sh_basis(d) @ a, atol=1e-10)
        # Bands never mix.
        for lo, hi in [(0, 3), (3, 8), (8, 15)]:
            assert np.abs(t[lo:hi, :lo]).max(initial=0) < 1e-12
            assert np.abs(t[lo:hi, hi:]).max(initial=0) < 1e-12


def test_frame_matrices() -> None:
    np.testing.assert_array_equal(frame_matrix("RDF"), np.eye(3))
    np.testing.assert_array_equal(frame_matrix("RUB"), np.diag([1, -1, -1]))
    np.testing.assert_array_equal(frame_matrix("LUF"), np.diag([-1, -1, 1]))
    # RFU: x right, y forward, z up. Its +y (forward) is RDF +z; its +z (up) is RDF -y.
    np.testing.assert_array_equal(frame_matrix("RFU") @ [0, 1, 0], [0, 0, 1])
    np.testing.assert_array_equal(frame_matrix("RFU") @ [0, 0, 1], [0, -1, 0])
    for bad in ["RUX", "RRU", "UP"]:
        with pytest.raises(ValueError):
            frame_matrix(bad)


def covariance(q: np.ndarray, log_scale: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    r = r * np.exp(log_scale)
    return r @ r.T


@pytest.mark.parametrize("system", ["RUB", "LDB", "RDB", "LUF", "RFU", "LBD", "RBU", "LFD"])
def test_to_ply_frame_moves_the_whole_gaussian(system: str) -> None:
    """Centre, ellipsoid and view-dependent colour all follow the axes, reflections too."""
    src = realistic_splats(20, 3, seed=8)
    m = frame_matrix(system)
    pos, rot, sh = src.positions.copy(), src.rotations.copy(), src.sh.copy()
    to_ply_frame(pos, rot, sh, system)
    np.testing.assert_allclose(pos, src.positions @ m.T, atol=1e-6)
    d = random_directions(10, 9)
    for i in range(src.count):
        before = covariance(src.rotations[i].astype(np.float64), src.log_scales[i])
        after = covariance(rot[i].astype(np.float64), src.log_scales[i])
        np.testing.assert_allclose(after, m @ before @ m.T, atol=1e-6)
        np.testing.assert_allclose(sh_basis(d @ m.T) @ sh[i], sh_basis(d) @ src.sh[i], atol=1e-5)


def test_identity_frame_is_untouched() -> None:
    src = realistic_splats(5, 1)
    pos, rot, sh = src.positions.copy(), src.rotations.copy(), src.sh.copy()
    to_ply_frame(pos, rot, sh, "RDF")
    np.testing.assert_array_equal(pos, src.positions)
    np.testing.assert_array_equal(rot, src.rotations)
    np.testing.assert_array_equal(sh, src.sh)
