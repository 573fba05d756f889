"""Which way is up: each reader declares its file's frame and up axis (splats/upright.py).

The import "From File" stands a file by that declaration. The same scene saved as
PLY, SPZ and .splat by splat-transform lands in one place; 404's PLY and zstd SPZ
stay +Y up; an upstream SPZ stands as Blender 5.3's wm.spz_import puts it (file
x, y, z -> Blender x, -z, y).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gen404.splats.cloud import SplatCloud
from gen404.splats.export import axes_matrix
from gen404.splats.reader import open_rows, read_splat_file
from gen404.splats.upright import (
    AUTO,
    UPRIGHT,
    frame_up,
    import_up,
    ply_frame_up,
    ply_upright,
)

from tests.unit.sogfiles import pillow_webp
from tests.unit.spzfiles import (
    SpzOptions,
    coordinate_system_extension,
    encode_spz,
    peer_jobs,
    realistic_splats,
    run_parallel,
    splat_transform,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURE = DATA / "capture_sh3.src.ply"


def world(cloud: SplatCloud, choice: str = AUTO) -> np.ndarray:
    """Positions in Blender's world as the import places them (object at the origin)."""
    up = import_up(choice, cloud.file_up, cloud.file_frame)
    return cloud.positions.astype(np.float64) @ axes_matrix(up).T


# --- the rule --------------------------------------------------------------------------------


def test_the_table_names_every_format_and_its_reason() -> None:
    assert set(UPRIGHT) == {
        "404 ply",
        "ply capture",
        "splat",
        "spz",
        "404 spz",
        "compressed ply",
        "sog",
    }
    assert {k: v.file_up for k, v in UPRIGHT.items()} == {
        "404 ply": "Y",
        "ply capture": "-Y",
        "splat": "-Y",
        "spz": "Y",
        "404 spz": "Y",
        "compressed ply": "-Y",
        "sog": "-Y",
    }
    assert UPRIGHT["spz"].file_frame == "RUB"
    assert all(entry.why for entry in UPRIGHT.values())
    assert ply_upright(0) is UPRIGHT["404 ply"]
    assert ply_upright(3) is UPRIGHT["ply capture"]


@pytest.mark.parametrize(
    ("frame", "up"), [("RUB", "Y"), ("RDF", "-Y"), ("RFU", "Z"), ("LBD", "-Z"), ("RBU", "Z")]
)
def test_a_frame_name_declares_its_up(frame: str, up: str) -> None:
    assert frame_up(frame) == up


def test_a_file_axis_becomes_an_axis_of_the_ply_frame_once() -> None:
    # No conversion: the file's axis is the PLY frame's.
    for axis in ("Y", "-Y", "Z"):
        assert ply_frame_up(axis, "RDF") == axis
    # RUB was turned into RDF by negating y and z: the file's +Y is the values' -Y.
    assert ply_frame_up("Y", "RUB") == "-Y"
    assert ply_frame_up("-Y", "RUB") == "Y"
    assert ply_frame_up("Z", "RUB") == "-Z"
    # A frame whose up is z (RFU): its +Z is the PLY frame's up (-Y).
    assert ply_frame_up("Z", "RFU") == "-Y"
    assert import_up(AUTO, "Y", "RUB") == "-Y"
    assert import_up("Z", "Y", "RUB") == "-Z"


def test_minus_z_stands_the_values_on_their_head() -> None:
    np.testing.assert_array_equal(axes_matrix("-Z"), np.diag([1.0, -1.0, -1.0]))


# --- what each reader declares -------------------------------------------------------------


def test_readers_declare_their_files_frame_and_up() -> None:
    capture = read_splat_file(CAPTURE)
    assert (capture.file_up, capture.file_frame) == ("-Y", "RDF")
    ours = read_splat_file(DATA / "gen404_sh0.src.ply")
    assert (ours.file_up, ours.file_frame) == ("Y", "RDF")
    zstd = read_splat_file(DATA / "gen404_sh0.spz")
    assert (zstd.file_up, zstd.file_frame) == ("Y", "RDF")
    hamburger = read_splat_file(DATA / "real" / "hamburger.ply")
    assert hamburger.file_up == "Y"
    # The streaming PLY reader says the same as the whole-file one.
    for path, up in ((CAPTURE, "-Y"), (DATA / "gen404_sh0.src.ply", "Y")):
        rows = open_rows(path)
        try:
            assert (rows.file_up, rows.file_frame) == (up, "RDF")
        finally:
            rows.close()


def test_spz_declares_the_frame_it_was_turned_from() -> None:
    splats = realistic_splats(50, 1, seed=3)
    upstream = read_splat_file_bytes(encode_spz(splats, SpzOptions(version=3, wrapper="gzip")))
    assert (upstream.file_up, upstream.file_frame) == ("Y", "RUB")
    declared = read_splat_file_bytes(
        encode_spz(
            splats, SpzOptions(version=4, flags=2, extensions=coordinate_system_extension(6))
        )
    )
    assert (declared.file_up, declared.file_frame) == ("-Y", "RDF")  # RDF: y is down
    rfu = read_splat_file_bytes(
        encode_spz(
            splats, SpzOptions(version=4, flags=2, extensions=coordinate_system_extension(12))
        )
    )
    assert (rfu.file_up, rfu.file_frame) == ("Z", "RFU")
    ours = read_splat_file_bytes(encode_spz(splats, SpzOptions(version=2, wrapper="zstd")))
    assert (ours.file_up, ours.file_frame) == ("Y", "RDF")


def read_splat_file_bytes(data: bytes) -> SplatCloud:
    from gen404.splats.reader import read_splat_bytes

    return read_splat_bytes(data, "x.spz")


def test_an_upstream_spz_stands_as_blender_53_puts_it() -> None:
    """wm.spz_import: file (x, y, z) -> Blender (x, -z, y), for the file's raw values."""
    splats = realistic_splats(200, 0, seed=5)
    rub = splats.in_rub()  # what an upstream file stores
    cloud = read_splat_file_bytes(
        encode_spz(splats, SpzOptions(version=3, wrapper="gzip", frame="RUB"))
    )
    stored = rub.positions.astype(np.float64)
    blender = np.stack([stored[:, 0], -stored[:, 2], stored[:, 1]], axis=1)
    np.testing.assert_allclose(world(cloud), blender, atol=2**-12)
    # Naming the file's own +Y explicitly is the same as taking its declaration.
    np.testing.assert_array_equal(world(cloud, "Y"), world(cloud))


def test_404_files_stay_y_up() -> None:
    ply = read_splat_file(DATA / "gen404_sh0.src.ply")
    spz = read_splat_file(DATA / "gen404_sh0.spz")
    p = ply.positions.astype(np.float64)
    np.testing.assert_array_equal(world(ply), np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1))
    np.testing.assert_allclose(world(spz), world(ply), atol=2**-12)


# --- one scene, every format splat-transform writes ---------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """capture_sh3.src.ply saved by splat-transform 2.x and 3.x, and by Niantic's library.

    splat-transform 3.x's SPZ is left out: it stores the PLY's values without turning
    them into SPZ's RUB, so it breaks the format's frame and comes in upside down here
    as in Blender's own importer (see test_spz_peers); the explicit -Y is for it.
    """
    folder = tmp_path_factory.mktemp("upright")
    commands = [  # 2.x writes no .splat
        splat_transform(version, CAPTURE, folder / f"st{version}.{ext}")
        for version, ext in (("2.7.1", "ply"), ("3.7.0", "ply"), ("3.7.0", "splat"))
    ]
    commands.append(splat_transform("3.7.0", CAPTURE, folder / "st3.7.0.compressed.ply"))
    commands.append(splat_transform("3.7.0", "-g", "cpu", CAPTURE, folder / "st3.7.0.sog"))
    commands.append(splat_transform("2.7.1", CAPTURE, folder / "st2.7.1.spz"))
    commands.append(splat_transform("3.7.0", CAPTURE, folder / "st3.7.0.spz"))
    job = {"tool": "niantic", "input": CAPTURE, "output": folder / "niantic.spz"}
    commands.append(peer_jobs([{**job, "version": 3, "from": "RDF"}], folder))
    run_parallel(commands)
    return folder


def test_one_scene_lands_in_one_place_whatever_the_format(saved: Path) -> None:
    source = world(read_splat_file(CAPTURE))
    places = {
        name: world(read_splat_file(saved / name))
        for name in (
            "st2.7.1.ply",
            "st3.7.0.ply",
            "st3.7.0.splat",
            "st2.7.1.spz",
            "niantic.spz",
        )
    }
    for name, place in places.items():
        tolerance = 2**-12 if name.endswith(".spz") else 1e-6
        np.testing.assert_allclose(place, source, atol=tolerance, err_msg=name)
    # splat-transform 3.x's SPZ breaks SPZ's frame (PLY values in the RUB slots): upside
    # down by its declaration, in place with the explicit choice of the file's -Y.
    broken = read_splat_file(saved / "st3.7.0.spz")
    np.testing.assert_allclose(world(broken, "-Y"), source, atol=2**-12)
    assert not np.allclose(world(broken), source, atol=0.1)
    # PlayCanvas's compressed PLY and SOG: reordered (Morton order) and quantised, so
    # each axis's sorted coordinates must match, within the formats' quantisation.
    extent = np.ptp(source, axis=0).max()
    for name in ("st3.7.0.compressed.ply", "st3.7.0.sog"):
        place = world(read_splat_file(saved / name, decode_webp=pillow_webp))
        assert place.shape == source.shape, name
        np.testing.assert_allclose(
            np.sort(place, axis=0), np.sort(source, axis=0), atol=extent * 2e-3, err_msg=name
        )
    # And that place has the capture's -Y (its camera's up) pointing up in Blender.
    capture = read_splat_file(CAPTURE).positions.astype(np.float64)
    np.testing.assert_allclose(source[:, 2], -capture[:, 1])
