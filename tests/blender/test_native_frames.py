"""Blender 5.3: an upstream SPZ lands exactly where Blender's own ``wm.spz_import`` puts
it, and the SPZ our export writes is read by that importer where the object stood.

The Niantic SPZ files are made from capture_sh3.src.ply by Niantic's own library
(``@adobe/spz``) and by splat-transform 2.x, both of which turn the PLY's RDF into
SPZ's RUB.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.test_frames import CAPTURE, import_one, spz_header, world
from tests.unit.spzfiles import peer_jobs, run_parallel, splat_transform


@pytest.fixture(scope="module")
def niantic_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("niantic")
    job = {"tool": "niantic", "input": CAPTURE, "from": "RDF"}
    jobs = [{**job, "version": v, "output": folder / f"niantic-v{v}.spz"} for v in (3, 4)]
    run_parallel(
        [
            peer_jobs(jobs, folder),
            splat_transform("2.7.1", CAPTURE, folder / "st2.spz", "--spz-version", "3"),
        ]
    )
    return folder


def blenders_own(path: Path) -> bpy.types.Object:
    before = set(bpy.data.objects)
    assert bpy.ops.wm.spz_import(filepath=str(path)) == {"FINISHED"}
    (obj,) = set(bpy.data.objects) - before
    bpy.context.view_layer.update()
    return obj


@pytest.mark.parametrize("name", ["niantic-v3.spz", "niantic-v4.spz", "st2.spz"])
def test_an_upstream_spz_lands_where_blenders_importer_puts_it(
    addon, clean_scene, niantic_files: Path, name: str
) -> None:
    path = niantic_files / name
    ours = import_one(path)
    theirs = blenders_own(path)
    np.testing.assert_allclose(world(ours), world(theirs), rtol=0, atol=1e-6)
    # And where the capture itself stands "From File" (its -Y up).
    capture = import_one(CAPTURE)
    np.testing.assert_allclose(world(ours), world(capture), rtol=0, atol=2.0**-12)


def test_blenders_importer_reads_our_spz_where_the_object_stood(
    addon, clean_scene, tmp_path
) -> None:
    obj = import_one(CAPTURE)
    obj.location = (1.0, 2.0, -0.5)
    obj.rotation_euler = (obj.rotation_euler[0] - 0.25, 0.1, 0.7)
    obj.scale = (1.5, 1.5, 1.5)
    bpy.context.view_layer.update()
    stood = world(obj)
    out = tmp_path / "ours.spz"
    assert bpy.ops.gen404.export_splat(filepath=str(out)) == {"FINISHED"}
    bits = spz_header(out)[2]
    np.testing.assert_allclose(world(blenders_own(out)), stood, atol=2.0**-bits * 2)


def test_an_object_of_blenders_importer_exports_to_the_same_place(
    addon, clean_scene, niantic_files: Path, tmp_path
) -> None:
    theirs = blenders_own(niantic_files / "niantic-v3.spz")
    theirs.select_set(True)
    bpy.context.view_layer.objects.active = theirs
    out = tmp_path / "again.spz"
    assert bpy.ops.gen404.export_splat(filepath=str(out)) == {"FINISHED"}
    bits = spz_header(out)[2]
    np.testing.assert_allclose(world(import_one(out)), world(theirs), atol=2.0**-bits * 2)
