"""Blender 5.3: a .blend saved by an older Blender still shows its splats (the mesh and
its geometry-nodes display), and Convert to Blender Splats turns those meshes into
Blender's own splat objects with every value and world position kept.

The .blend is made by a separate process running an older release's bpy
(``old_blend_child.py``), installed from the same zip into its own user folder.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import ADDON_MODULE, ROOT, addon_module, built_zip
from tests.blender.test_export import y_up_to_blender
from tests.blender.test_look_controls import splat_instances
from tests.blender.test_ui import Recorder, operators_in
from tests.simulator import figure_ply_bytes, make_figure

CHILD = Path(__file__).with_name("old_blend_child.py")
OLDER = ("5.0.1", "4.5.15", "4.2.23", "5.2.3")
"""Releases that can save the file, first found wins (make test creates them all)."""
REAL = ROOT / "tests" / "data" / "capture_sh3.src.ply"
Y_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # file (+Y up) -> Blender


def older_python() -> Path:
    for version in OLDER:
        python = ROOT / f".venv-bpy-{version}" / "bin" / "python"
        if python.is_file():
            return python
    raise RuntimeError(f"no older bpy venv (.venv-bpy-{{{','.join(OLDER)}}}): run make venvs")


@pytest.fixture(scope="module")
def old_blend(addon, tmp_path_factory) -> tuple[Path, dict]:
    """figure.ply and a real capture imported and saved by an older Blender."""
    folder = tmp_path_factory.mktemp("old-blend")
    figure = folder / "figure.ply"
    figure.write_bytes(figure_ply_bytes())
    out = folder / "old.blend"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(folder / "blender-user"))
    run = subprocess.run(
        [str(older_python()), str(CHILD), str(built_zip()), str(out), str(figure), str(REAL)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0 and out.is_file(), run.stderr[-3000:]
    report = json.loads([line for line in run.stdout.splitlines() if line.startswith("{")][-1])
    assert tuple(report["version"]) < (5, 3, 0)
    return out, report


@pytest.fixture
def opened(old_blend) -> dict[str, bpy.types.Object]:
    """The old file, open in this Blender; its splat objects by name."""
    path, _ = old_blend
    assert bpy.ops.wm.open_mainfile(filepath=str(path)) == {"FINISHED"}
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.splat_object = "NATIVE"
    return {o.name: o for o in bpy.data.objects if "gen404_splats" in o}


def test_a_file_from_an_older_blender_shows_its_splats(old_blend, opened) -> None:
    _, report = old_blend
    assert {o["name"]: o["type"] for o in report["objects"]} == {
        "figure": "MESH",
        "capture_sh3.src": "MESH",
    }
    figure = opened["figure"]
    assert figure.type == "MESH" and figure.modifiers[0].node_group.name == "gen404 Splats"
    bpy.context.view_layer.update()
    instances = splat_instances(figure)
    fig = make_figure()
    assert len(instances) == len(fig["positions"]) == figure["gen404_splats"]
    # Each sphere sits on its splat, turned upright from the file's +Y up.
    got = np.array([np.array(m.translation) for m in instances])
    want = fig["positions"].astype(np.float64) @ Y_UP.T
    np.testing.assert_allclose(got[np.lexsort(got.T)], want[np.lexsort(want.T)], atol=1e-5)
    real = opened["capture_sh3.src"]
    assert len(splat_instances(real)) == real["gen404_splats"] == 2000


def attributes(obj: bpy.types.Object) -> dict[str, np.ndarray]:
    """Every point attribute of a point cloud as float32 (n, width)."""
    out = {}
    for attr in obj.data.attributes:
        if attr.name.startswith(".") or attr.domain != "POINT":
            continue
        width = {"FLOAT": 1, "FLOAT_VECTOR": 3, "QUATERNION": 4, "FLOAT4": 4}[attr.data_type]
        key = "vector" if attr.data_type in ("FLOAT_VECTOR", "FLOAT4") else "value"
        values = np.empty(len(attr.data) * width, np.float32)
        attr.data.foreach_get(key, values)
        out[attr.name] = values.reshape(-1, width)
    return out


def world_positions(obj: bpy.types.Object) -> np.ndarray:
    local = attributes(obj)["position"].astype(np.float64)
    matrix = np.array(obj.matrix_world)
    return local @ matrix[:3, :3].T + matrix[:3, 3]


def fresh_native(path: Path) -> bpy.types.Object:
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    # +Y up, as the old file's objects were imported (old_blend_child.py).
    assert bpy.ops.gen404.import_splat(filepath=str(path), up_axis="Y") == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "POINTCLOUD" and obj.data.type == "GAUSSIAN_SPLAT"
    return obj


def only_selected(obj: bpy.types.Object) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def test_converting_keeps_values_world_places_and_the_object(opened, tmp_path) -> None:
    real = opened["capture_sh3.src"]
    real.location = (1.0, -2.0, 0.5)
    real.rotation_euler = (0.3, -0.2, 1.1)
    real.scale = (1.5, 0.5, 2.0)
    real["my_note"] = "keep me"
    extra = bpy.data.collections.new("Extra")
    bpy.context.scene.collection.children.link(extra)
    extra.objects.link(real)
    child = bpy.data.objects.new("child", None)
    extra.objects.link(child)
    child.parent = real
    child.location = (0.0, 1.0, 0.0)
    bpy.context.view_layer.update()
    child_world = np.array(child.matrix_world)
    mesh_name = real.data.name
    collections = {c.name for c in real.users_collection}
    verts = np.empty(len(real.data.vertices) * 3, np.float32)
    real.data.vertices.foreach_get("co", verts)
    matrix = np.array(real.matrix_world)
    world_before = verts.reshape(-1, 3).astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]

    only_selected(real)
    assert bpy.ops.gen404.convert_to_native() == {"FINISHED"}

    new = bpy.data.objects["capture_sh3.src"]
    assert new.type == "POINTCLOUD" and new.data.type == "GAUSSIAN_SPLAT"
    assert bpy.data.meshes.get(mesh_name) is None  # the mesh went with its object
    assert {c.name for c in new.users_collection} == collections
    assert new.select_get() and bpy.context.view_layer.objects.active == new
    assert new["my_note"] == "keep me" and new["gen404_source"] == "capture_sh3.src.ply"
    assert (new["gen404_up_axis"], new["gen404_sh_degree"], new["gen404_splats"]) == ("Y", 3, 2000)
    assert new.modifiers[0].node_group.name == "gen404 Native Splats"
    bpy.context.view_layer.update()
    assert child.parent == new
    np.testing.assert_allclose(np.array(child.matrix_world), child_world, atol=1e-6)
    np.testing.assert_allclose(world_positions(new), world_before, atol=1e-5)

    fresh = fresh_native(REAL)
    # Same frame as a fresh import: the old transform composed with its upright turn.
    np.testing.assert_allclose(
        np.array(new.matrix_world), matrix @ np.array(fresh.matrix_world), atol=1e-6
    )
    got, want = attributes(new), attributes(fresh)
    assert set(got) == set(want) and "radiance:sh_14" in got and "file_normal" in got
    for name, values in want.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-6, atol=1e-7, err_msg=name)


def test_converting_a_generation_matches_a_fresh_import(opened, tmp_path) -> None:
    figure = opened["figure"]
    figure.location = (0.0, 0.0, 0.0)
    only_selected(figure)
    assert bpy.ops.gen404.convert_to_native() == {"FINISHED"}
    new = bpy.data.objects["figure"]
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    fresh = fresh_native(path)
    assert tuple(new.rotation_euler) == pytest.approx((math.pi / 2, 0.0, 0.0))
    np.testing.assert_allclose(np.array(new.matrix_world), np.array(fresh.matrix_world), atol=1e-6)
    got, want = attributes(new), attributes(fresh)
    assert set(got) == set(want)
    for name, values in want.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-6, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(world_positions(new), world_positions(fresh), atol=1e-6)


def test_converting_an_object_of_an_older_version(opened, tmp_path) -> None:
    """Imports before display version 4 stored Blender-frame ``rotation`` and ``scale``:
    they are turned back into the file's quaternion and log scale."""
    figure = opened["figure"]
    mesh = figure.data
    n = len(mesh.vertices)
    q, log = np.empty(n * 4, np.float32), np.empty(n * 3, np.float32)
    mesh.attributes["file_rotation"].data.foreach_get("value", q)
    mesh.attributes["log_scale"].data.foreach_get("vector", log)
    for name in ("file_rotation", "log_scale"):
        mesh.attributes.remove(mesh.attributes[name])
    legacy = y_up_to_blender(q.reshape(n, 4).astype(np.float64)).astype(np.float32)
    mesh.attributes.new("rotation", "QUATERNION", "POINT").data.foreach_set("value", legacy.ravel())
    mesh.attributes.new("scale", "FLOAT_VECTOR", "POINT").data.foreach_set("vector", np.exp(log))
    only_selected(figure)
    assert bpy.ops.gen404.convert_to_native() == {"FINISHED"}
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    got, want = attributes(bpy.data.objects["figure"]), attributes(fresh_native(path))
    assert set(got) == set(want)
    sign = np.where(np.sum(got["rotation"] * want["rotation"], axis=1) < 0, -1.0, 1.0)
    np.testing.assert_allclose(got["rotation"] * sign[:, None], want["rotation"], atol=1e-6)
    for name in ("position", "scale", "radiance:base"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_convert_needs_a_selected_splat_mesh(opened) -> None:
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    assert not bpy.ops.gen404.convert_to_native.poll()
    with pytest.raises(RuntimeError, match="geometry-nodes display"):
        bpy.ops.gen404.convert_to_native()
    # Native objects are not converted again.
    only_selected(opened["figure"])
    assert bpy.ops.gen404.convert_to_native() == {"FINISHED"}
    assert not bpy.ops.gen404.convert_to_native.poll()
    assert addon_module("scene.convert").is_mesh_splat_object(opened["capture_sh3.src"])


def test_the_splat_panel_offers_the_conversion_for_meshes_only(opened) -> None:
    panel = addon_module("panels.object_panel")
    log: list = []
    panel.draw_splat_controls(Recorder(log), bpy.context, opened["figure"])
    assert "gen404.convert_to_native" in operators_in(log)
    only_selected(opened["figure"])
    assert bpy.ops.gen404.convert_to_native() == {"FINISHED"}
    log.clear()
    panel.draw_splat_controls(Recorder(log), bpy.context, bpy.data.objects["figure"])
    assert "gen404.convert_to_native" not in operators_in(log)
