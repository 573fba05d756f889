"""Up from the file, and SPZ export (every release): the import stands each file as its
format declares, and an object written to .spz comes back where it stood.

Splats are compared where they are in the world: the ``position`` attribute (Blender's
frame for a mesh, the file's for a native point cloud) through the object's matrix.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import bpy
import numpy as np
import pytest
import zstandard

from tests.blender.helpers import ROOT, attribute, splat_objects

DATA = ROOT / "tests" / "data"
CAPTURE = DATA / "capture_sh3.src.ply"


def world(obj: bpy.types.Object) -> np.ndarray:
    local = attribute(obj, "position", 3).astype(np.float64)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    return local @ matrix[:3, :3].T + matrix[:3, 3]


def import_one(path: Path, **options) -> bpy.types.Object:
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    before = set(splat_objects())
    assert bpy.ops.gen404.import_splat(filepath=str(path), **options) == {"FINISHED"}
    (obj,) = set(splat_objects()) - before
    bpy.context.view_layer.update()
    return obj


def spz_header(path: Path) -> tuple[bytes, int, int]:
    """(first bytes, version, fractional bits) of a version 1-3 SPZ."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        payload = gzip.decompress(data)
    else:
        payload = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    _, version, _, _, bits, _, _ = struct.unpack_from("<IIIBBBB", payload)
    return data[:4], version, bits


@pytest.mark.parametrize(
    ("name", "up"),
    [
        ("capture_sh3.src.ply", "-Y"),  # a capture (higher SH): its camera's up, -Y
        ("gen404_sh0.src.ply", "Y"),  # 404's PLY
        ("gen404_sh0.spz", "Y"),  # 404's zstd SPZ
    ],
)
def test_the_import_stands_each_file_as_its_format_declares(
    addon, clean_scene, name: str, up: str
) -> None:
    obj = import_one(DATA / name)
    assert obj["gen404_up_axis"] == up
    explicit = import_one(DATA / name, up_axis="Y")
    assert explicit["gen404_up_axis"] == "Y"


@pytest.mark.parametrize("flavour", ["NIANTIC", "GEN404"])
def test_an_spz_export_comes_back_where_it_stood(
    addon, clean_scene, tmp_path, flavour: str
) -> None:
    obj = import_one(CAPTURE)
    obj.location = (0.5, -1.0, 2.0)
    obj.rotation_euler = (obj.rotation_euler[0] + 0.3, 0.2, -0.4)
    bpy.context.view_layer.update()
    stood = world(obj)
    out = tmp_path / "out.spz"
    assert bpy.ops.gen404.export_splat(filepath=str(out), spz_flavour=flavour) == {"FINISHED"}
    magic, version, bits = spz_header(out)
    if flavour == "NIANTIC":
        assert magic[:2] == b"\x1f\x8b" and version == 3
    else:
        assert magic == b"\x28\xb5\x2f\xfd" and version == 2
    back = import_one(out)
    assert back["gen404_up_axis"] == ("-Y" if flavour == "NIANTIC" else "Y")
    np.testing.assert_allclose(world(back), stood, atol=2.0**-bits * 2)


def test_the_extension_chooses_the_format(addon, clean_scene, tmp_path) -> None:
    import_one(DATA / "gen404_sh0.src.ply")
    assert bpy.ops.gen404.export_splat(filepath=str(tmp_path / "a.spz")) == {"FINISHED"}
    assert (tmp_path / "a.spz").read_bytes()[:2] == b"\x1f\x8b"  # Niantic's by default
    assert bpy.ops.gen404.export_splat(filepath=str(tmp_path / "b.ply")) == {"FINISHED"}
    assert (tmp_path / "b.ply").read_bytes()[:3] == b"ply"
    assert bpy.ops.gen404.export_splat(filepath=str(tmp_path / "c")) == {"FINISHED"}
    assert (tmp_path / "c.ply").read_bytes()[:3] == b"ply"
    props = bpy.ops.gen404.export_splat.get_rna_type().properties
    assert ".spz" in props["filter_glob"].default
