"""Variants: how the add-on reads the gateway's ZIP of every worker's result
(``all=true``), hostile archives included, and names what it makes of them."""

from __future__ import annotations

import gc
import io
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gen404.client.errors import GatewayError
from gen404.client.generation import result_params
from gen404.client.glb import MeshResult
from gen404.client.models import GenerationRequest
from gen404.client.variants import (
    MAX_VARIANTS,
    Variants,
    VariantsError,
    fit_name,
    group_name,
    read_result,
    read_variants,
    variant_name,
)
from gen404.splats.cloud import SplatCloud

from tests.simulator import figure_ply_bytes, make_figure
from tests.simulator.results import (
    tiny_glb,
    variant_glb,
    variant_ply,
    variant_scale,
    variant_spz,
)

PLY = figure_ply_bytes(200)


def zip_bytes(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # duplicate names are written on purpose
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def cached(folder: Path, data: bytes, fmt: str = "spz.zip") -> Path:
    """``data`` where the job would cache it: ``<task id>.<fmt>``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.{fmt}"
    path.write_bytes(data)
    return path


def refused(path: Path, max_bytes: int = 1 << 30) -> str:
    with pytest.raises(VariantsError) as err:
        read_variants(path, max_bytes)
    message = str(err.value)
    assert message.endswith(f"The download is kept as {path}.") and path.is_file()
    return message


def spz_variants(count: int) -> list[tuple[str, bytes]]:
    return [(f"{n}.spz", variant_spz(PLY, n)) for n in range(1, count + 1)]


# -- what a variants task asks for -------------------------------------------------------
def test_a_variants_task_is_downloaded_as_the_zip_of_its_format() -> None:
    task = "3f2a9c1b-0000-4000-8000-000000000000"
    assert GenerationRequest("x", variants=True).download_format("spz") == "spz.zip"
    assert GenerationRequest("x").download_format("spz") == "spz"
    mesh = GenerationRequest(image=b"x", model="404-mesh", variants=True)
    assert mesh.download_format("ply") == "glb.zip"
    with pytest.raises(GatewayError, match="cannot be downloaded as 'glb'"):
        GenerationRequest("x", variants=True).download_format("glb")
    ply = {"id": task, "format": "ply", "compress": "0", "all": "true"}
    assert result_params(task, "ply.zip") == ply
    assert result_params(task, "glb.zip") == {"id": task, "all": "true"}
    assert "all" not in result_params(task, "spz")


# -- reading a ZIP of variants ---------------------------------------------------------
def test_three_spz_variants_are_read_in_order_each_its_own(tmp_path: Path) -> None:
    entries = spz_variants(3)
    path = cached(tmp_path, zip_bytes([entries[2], entries[0], entries[1]], zipfile.ZIP_DEFLATED))
    found = read_result(path)
    assert isinstance(found, Variants) and len(found) == 3
    assert [v.number for v in found.variants] == [1, 2, 3]
    base = make_figure(200)["positions"]
    for variant in found.variants:
        assert isinstance(variant.result, SplatCloud) and variant.result.count == 200
        expected = base * variant_scale(variant.number)
        np.testing.assert_allclose(variant.result.positions, expected, atol=2 / 4096)


def test_ply_variants_and_a_single_result_beside_them(tmp_path: Path) -> None:
    path = cached(tmp_path, zip_bytes([(f"{n}.ply", variant_ply(PLY, 7, n)) for n in (1, 2)]))
    found = read_variants(path, 1 << 20)
    heights = [np.ptp(v.result.positions[:, 1]) for v in found.variants]  # type: ignore[union-attr]
    assert heights[1] == pytest.approx(1.5 * heights[0], rel=1e-5)
    single = cached(tmp_path, PLY, "ply")
    assert isinstance(read_result(single), SplatCloud)  # not a ZIP: read as before


def test_mesh_variants_are_unpacked_for_the_importer_and_removed_after(tmp_path: Path) -> None:
    glbs = [variant_glb(tiny_glb(), 5, n) for n in (1, 2, 3)]
    path = cached(tmp_path, zip_bytes([(f"{n}.glb", g) for n, g in enumerate(glbs, 1)]), "glb.zip")
    found = read_variants(path)
    paths = [Path(v.result.path) for v in found.variants if isinstance(v.result, MeshResult)]
    assert len(paths) == 3 and all(p.parent == tmp_path for p in paths)
    assert [p.read_bytes() for p in paths] == glbs
    assert all(p.name.startswith(".variant-") and p.suffix == ".glb" for p in paths)
    found.discard()
    assert not any(p.exists() for p in paths)
    # Dropped without an import (Blender quit first): the files go with it.
    again = read_variants(path)
    paths = [Path(v.result.path) for v in again.variants]  # type: ignore[union-attr]
    del again
    gc.collect()
    assert not any(p.exists() for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([(f"{n}.spz", b"") for n in range(1, MAX_VARIANTS + 2)], "is a zip of 9 entries"),
        ([("../1.spz", b"x")], "an entry named '../1.spz', which is no numbered result"),
        ([("/1.spz", b"x")], "an entry named '/1.spz'"),
        ([("C:\\1.spz", b"x")], "an entry named 'C:\\\\1.spz'"),
        ([("sub/1.spz", b"x")], "an entry named 'sub/1.spz'"),
        ([("1.spz", b"a"), ("1.spz", b"b")], "two entries named '1.spz'"),
        ([("1.spz", b"a"), ("1.ply", b"b")], "holds variant 1 twice (1.spz, 1.ply)"),
        ([("1.exe", b"x")], "an entry named '1.exe'"),
        ([("1.glb", b"x")], "an entry named '1.glb'"),  # a mesh in a splat task
        ([("01.spz", b"x")], "an entry named '01.spz'"),
        ([("1.spz\n", b"x")], "an entry named '1.spz\\n'"),
        ([("meta.json", b"{}")], "an entry named 'meta.json'"),
        ([], "holds no result. Generate again; if it happens again, tell 404's support"),
        ([("1.spz", b"<html>error</html>")], "'1.spz' is neither a PLY nor an SPZ file"),
        ([("1.spz", b"")], "'1.spz' is neither a PLY nor an SPZ file (it starts b'')"),
        ([("1.spz", zip_bytes([("meta.json", b"{}")]))], "(it starts b'PK\\x03\\x04"),
    ],
    ids=[
        "too-many",
        "dotdot",
        "absolute",
        "drive",
        "folder",
        "duplicate",
        "one-number-twice",
        "exe",
        "glb-in-splat-task",
        "leading-zero",
        "newline",
        "other-file",
        "empty",
        "html",
        "empty-entry",
        "zip-in-zip",
    ],
)
def test_hostile_or_broken_zips_are_refused_with_a_clear_message(
    tmp_path: Path, entries: list[tuple[str, bytes]], words: str
) -> None:
    path = cached(tmp_path, zip_bytes(entries))
    assert words in refused(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing unpacked
    assert not (tmp_path.parent / "1.spz").exists()


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    bomb = zip_bytes([("1.ply", bytes(200 << 20))], zipfile.ZIP_DEFLATED)
    assert len(bomb) < 300_000
    assert "(a zip bomb?): refused" in refused(cached(tmp_path, bomb))


def test_sizes_are_bound_by_the_download_limit(tmp_path: Path) -> None:
    entries = [(f"{n}.ply", variant_ply(PLY, 1, n)) for n in (1, 2, 3)]
    path = cached(tmp_path, zip_bytes(entries))
    size = max(len(data) for _, data in entries)
    assert "claims to unpack to" in refused(path, max_bytes=size - 1)
    assert len(read_variants(path, max_bytes=size)) == 3  # each fits: all three are taken


def test_an_entry_whose_header_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("1.ply", PLY)], zipfile.ZIP_DEFLATED))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # claims 100 bytes
    assert "'1.ply'" in refused(cached(tmp_path, bytes(data)))


def test_a_download_that_is_no_zip_says_so(tmp_path: Path) -> None:
    assert "is not a readable zip archive" in refused(cached(tmp_path, b"Service unavailable"))


def test_a_broken_glb_variant_is_refused_and_nothing_stays_unpacked(tmp_path: Path) -> None:
    entries = [("1.glb", tiny_glb()), ("2.glb", b"glTF" + bytes(40))]
    path = cached(tmp_path, zip_bytes(entries), "glb.zip")
    assert "its entry '2.glb' is refused" in refused(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# -- names within Blender's 63 bytes ----------------------------------------------------
def test_names_keep_their_number_within_63_bytes() -> None:
    assert variant_name("robot", 2) == "robot 2"
    assert group_name("robot", "3f2a9c1b-0000-4000-8000-000000000000") == "robot (3f2a9c1b)"
    long = "a very long prompt about a mechanic robot with many tools " * 4
    for name in (variant_name(long, 3), group_name(long, str(uuid.uuid4()))):
        assert len(name.encode()) <= 63
    assert variant_name(long, 3).endswith("tools 3") or variant_name(long, 3).endswith(" 3")
    accents = "é" * 40  # two bytes each: never cut inside a character
    name = fit_name(accents, " 12")
    assert name.endswith(" 12") and len(name.encode()) <= 63 and name[:-3] == "é" * 30
