"""Real splat files from tests/data/real through ``gen404.import_splat``, on every release.

Among them an early SuperSplat compressed PLY (12-float chunks, packed vertices):
it goes the whole way, read by ``splats.compressed_ply`` (not streamed), to an
object with every splat.
"""

from __future__ import annotations

import shutil

import bpy
import numpy as np
import pytest

from tests.blender.helpers import ROOT, attribute, splat_count, splat_objects

REAL = ROOT / "tests" / "data" / "real"

COUNTS = {
    "angel.compressed.ply": 71_377,
    "hamburger.ply": 52_709,
    "tmp_model.ply": 49_744,
    "donut_fused.ply": 45_624,
}


def test_the_supersplat_compressed_ply_imports_every_splat(addon, clean_scene, tmp_path) -> None:
    path = tmp_path / "angel.compressed.ply"
    shutil.copyfile(REAL / path.name, path)
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    objects = splat_objects()
    assert len(objects) == 1
    obj = objects[0]
    assert splat_count(obj) == COUNTS[path.name]
    assert obj["gen404_source"] == path.name
    # The whole figure (about 1.6 x 0.8 x 2.1 units), at finite places.
    positions = attribute(obj, "position", 3)
    assert np.isfinite(positions).all()
    assert np.ptp(positions, axis=0).min() > 0.5


@pytest.mark.parametrize("name", sorted(n for n in COUNTS if not n.endswith(".compressed.ply")))
def test_the_real_plain_plys_import_every_splat(addon, clean_scene, name: str) -> None:
    assert bpy.ops.gen404.import_splat(filepath=str(REAL / name)) == {"FINISHED"}
    (obj,) = splat_objects()
    assert splat_count(obj) == COUNTS[name]
