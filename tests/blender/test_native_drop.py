"""Blender 5.3: dropping splat files where Blender's own .spz and .ply handlers live too.

When several file handlers take a dropped file and poll true, Blender's drop
operator (``wm.drop_import_file``) opens a menu listing each handler's import
operator by its name, and the user picks one. So ours must stay registered for
.spz and .ply, poll true over the 3D Viewport, and carry a name that tells it
apart; picked, it reads 404's zstd SPZ, which Blender's own importer refuses.
"""

from __future__ import annotations

import bpy
import pytest

from tests.blender.helpers import ROOT, splat_objects

DATA = ROOT / "tests" / "data"
ZSTD_SPZ = "gen404_sh0.spz"


def test_blender_and_gen404_handlers_both_take_spz_and_ply(addon) -> None:
    label = bpy.types.FileHandler.label_with_extensions
    assert label("IO_FH_spz") == "SPZ (.spz)"  # Blender's own, registered in C++
    assert label("IO_FH_ply") == "Stanford PLY (.ply)"
    assert label("GEN404_FH_splat") == "Gaussian Splat (404 Gen) (.ply/.spz/.splat/.sog)"
    ours = bpy.types.GEN404_FH_splat
    assert set(ours.bl_file_extensions.split(";")) >= {".spz", ".ply"}
    # Blender's chooser names each handler by its import operator.
    names = {
        bpy.ops.wm.spz_import.get_rna_type().name,
        bpy.ops.wm.ply_import.get_rna_type().name,
        bpy.ops.gen404.import_splat.get_rna_type().name,
    }
    assert names == {"Import SPZ", "Import PLY", "Import Gaussian Splat (404 Gen)"}


def test_ours_polls_true_over_the_3d_viewport(addon) -> None:
    window = bpy.context.window
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=area, region=region):
        assert bpy.types.GEN404_FH_splat.poll_drop(bpy.context)
    other = next(a for a in window.screen.areas if a.type == "PROPERTIES")
    with bpy.context.temp_override(window=window, area=other):
        assert not bpy.types.GEN404_FH_splat.poll_drop(bpy.context)


def test_a_dropped_zstd_spz_imports_with_ours_and_not_with_blenders(addon, clean_scene) -> None:
    before = set(bpy.data.objects)
    with pytest.raises(RuntimeError, match="Unrecognized file format"):
        bpy.ops.wm.spz_import(filepath=str(DATA / ZSTD_SPZ))
    assert set(bpy.data.objects) == before
    # What a drop hands the chosen importer: the folder and the dropped file's name.
    result = bpy.ops.gen404.import_splat(directory=str(DATA), files=[{"name": ZSTD_SPZ}])
    assert result == {"FINISHED"}
    (obj,) = splat_objects()
    assert obj.type == "POINTCLOUD" and obj.data.type == "GAUSSIAN_SPLAT"
    assert obj["gen404_source"] == ZSTD_SPZ and obj["gen404_splats"] == len(obj.data.points) > 0
