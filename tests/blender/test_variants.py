"""Variants: with ``variants=True`` every worker's result is imported, numbered, side by
side along X and spaced by their bounds, in a collection named after the task (the
simulator runs three successful workers and makes each variant larger than the last)."""

from __future__ import annotations

import io
import itertools
import types
import zipfile

import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    COLLECTION,
    addon_module,
    addon_session,
    row_state,
    splat_objects,
)
from tests.simulator import Fault
from tests.simulator.images import png_bytes
from tests.simulator.results import pack_glb


def mesh_objects() -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects if "gen404_mesh" in o]


def world_points(obj: bpy.types.Object) -> np.ndarray:
    """Every point of ``obj`` and its children in world space, read here from the data."""
    bpy.context.view_layer.update()
    out = []
    for part in [obj, *obj.children_recursive]:
        data = part.data
        if part.type == "POINTCLOUD":
            points = np.empty(len(data.points) * 3, np.float32)
            data.attributes["position"].data.foreach_get("vector", points)
        elif part.type == "MESH":
            points = np.empty(len(data.vertices) * 3, np.float32)
            data.vertices.foreach_get("co", points)
        else:
            continue
        matrix = np.array(part.matrix_world, dtype=np.float64)
        out.append(points.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3])
    return np.concatenate(out)


def _row():
    return list(addon_session().entries.values())[-1]


def _assert_side_by_side(objects: list[bpy.types.Object], start_x: float) -> None:
    """In a row along X from ``start_x``: bounds disjoint, each after the last, a small gap."""
    spans = [(p[:, 0].min(), p[:, 0].max()) for p in map(world_points, objects)]
    assert objects[0].location[0] == pytest.approx(start_x, abs=1e-5)
    for (_, high), (low, _) in itertools.pairwise(spans):
        assert low > high, spans  # disjoint: no overlap
        assert low - high < 0.5 * max(h - lo for lo, h in spans), spans  # a small gap


def _group_of(objects: list[bpy.types.Object], task_id: str, label: str) -> bpy.types.Collection:
    (group,) = {c for o in objects for c in o.users_collection}
    assert group.name == f"{label} ({task_id[:8]})"
    assert group.name in bpy.data.collections[COLLECTION].children
    return group


def test_every_splat_variant_is_imported_numbered_side_by_side(gateway, clean_scene) -> None:
    gateway.set_successes(3)
    clean_scene.cursor.location = (1.0, 2.0, 3.0)
    result = bpy.ops.gen404.generate(prompt="a red robot", variants=True, wait=True)
    assert result == {"FINISHED"}

    objects = sorted(splat_objects(), key=lambda o: o["gen404_variant"])
    assert [o.name for o in objects] == ["a red robot 1", "a red robot 2", "a red robot 3"]
    assert [o["gen404_variant"] for o in objects] == [1, 2, 3]
    assert {o["gen404_variants"] for o in objects} == {3}
    (task_id,) = {o["gen404_task_id"] for o in objects}
    assert {o["gen404_prompt"] for o in objects} == {"a red robot"}
    group = _group_of(objects, task_id, "a red robot")
    assert set(group.objects) == set(objects)
    _assert_side_by_side(objects, 1.0)
    assert all(tuple(o.location)[1:] == pytest.approx((2.0, 3.0)) for o in objects)
    # Different content: the simulator's variant k is 1 + (k - 1) / 2 times as tall.
    heights = [np.ptp(world_points(o)[:, 2]) for o in objects]
    assert heights[1] / heights[0] == pytest.approx(1.5, rel=1e-3)
    assert heights[2] / heights[0] == pytest.approx(2.0, rel=1e-3)
    assert all(o.select_get() for o in objects)
    assert bpy.context.view_layer.objects.active == objects[0]
    row = _row()
    assert row.state is row_state().DONE and row.object_name == group.name
    assert row.message == f"3 variants in '{group.name}'"
    stats = gateway.stats()
    assert len(stats.requests_for("/get_result", task_id)) == 1  # one ZIP for all three
    journal = addon_module("client.journal").open_journal(addon_module("preferences").user_folder())
    entry = journal.get(task_id)
    assert entry.fmt.endswith(".zip") and entry.imported and entry.object_name == group.name

    # Import Again: from the cached ZIP, into a collection of its own, no request.
    assert bpy.ops.gen404.resume_task(job_id=row.job_id) == {"FINISHED"}
    assert bpy.ops.gen404.wait_all(timeout=60) == {"FINISHED"}
    assert len(splat_objects()) == 6
    assert gateway.stats().requests == stats.requests


def test_without_variants_one_object_lands_as_before(gateway, clean_scene) -> None:
    gateway.set_successes(3)
    assert bpy.ops.gen404.generate(prompt="a lone robot", wait=True) == {"FINISHED"}
    (obj,) = splat_objects()
    assert obj.name == "a lone robot" and "gen404_variant" not in obj
    assert [c.name for c in obj.users_collection] == [COLLECTION]


def test_mesh_variants_are_imported_side_by_side(gateway, clean_scene, tmp_path) -> None:
    gateway.set_successes(3)
    image = tmp_path / "red car.png"
    image.write_bytes(png_bytes(64, 48))
    clean_scene.cursor.location = (-2.0, 0.0, 0.0)
    result = bpy.ops.gen404.generate(
        image_path=str(image), model="404-mesh", variants=True, wait=True
    )
    assert result == {"FINISHED"}
    objects = sorted(mesh_objects(), key=lambda o: o["gen404_variant"])
    assert [o.name for o in objects] == ["red car 1", "red car 2", "red car 3"]
    _group_of(objects, objects[0]["gen404_task_id"], "red car")
    _assert_side_by_side(objects, -2.0)
    heights = [o.dimensions[2] for o in objects]  # the box is 1 tall; variants 1.5 and 2
    assert heights == pytest.approx([1.0, 1.5, 2.0], abs=1e-4)
    results = addon_module("client.folders").results_folder(
        addon_module("preferences").user_folder()
    )
    assert not list(results.glob(".variant-*"))  # the GLBs unpacked for the importer are gone


def test_a_variant_blender_cannot_import_leaves_the_scene_as_it_was(
    gateway, clean_scene, tmp_path, blender_glb
) -> None:
    broken = pack_glb({"asset": {"version": "2.0"}, "nodes": [{"mesh": 7}]})  # passes the check
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("1.glb", blender_glb)
        archive.writestr("2.glb", broken)
    gateway.add_fault("/get_result", Fault(status=200, body=buffer.getvalue()))
    image = tmp_path / "red car.png"
    image.write_bytes(png_bytes(64, 48))
    kinds = ("objects", "meshes", "materials", "images")
    counts = {k: len(getattr(bpy.data, k)) for k in kinds}
    collections = {c.name for c in bpy.data.collections} | {COLLECTION}
    with pytest.raises(RuntimeError, match="could not be imported"):
        bpy.ops.gen404.generate(image_path=str(image), model="404-mesh", variants=True, wait=True)
    assert {k: len(getattr(bpy.data, k)) for k in kinds} == counts  # variant 1 went again
    assert {c.name for c in bpy.data.collections} <= collections  # no group was left
    row = _row()
    assert row.state is row_state().FAILED
    folder = addon_module("client.folders").results_folder(
        addon_module("preferences").user_folder()
    )
    assert (folder / f"{row.task_id}.glb.zip").read_bytes() == buffer.getvalue()  # kept
    assert not list(folder.glob(".variant-*"))


def test_with_a_placeholder_the_first_variant_is_fitted_the_others_follow(
    gateway, clean_scene
) -> None:
    gateway.set_successes(2)
    mesh = bpy.data.meshes.new("fit box")
    mesh.from_pydata([(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (0, 2)], [], [])
    box = bpy.data.objects.new("fit box", mesh)
    clean_scene.collection.objects.link(box)
    box.location = (5.0, 0.0, 1.0)  # bounds x 4..6, z 1..3
    bpy.context.view_layer.update()  # removed objects may linger in it (as None) until then
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    box.select_set(True)
    bpy.context.view_layer.objects.active = box
    try:
        result = bpy.ops.gen404.generate(
            prompt="a fitted robot", variants=True, fit_to_placeholder=True, wait=True
        )
        assert result == {"FINISHED"}
        first, second = sorted(splat_objects(), key=lambda o: o["gen404_variant"])
        points = world_points(first)
        assert points.min(axis=0)[2] == pytest.approx(1.0, abs=1e-4)  # on the box's bottom
        assert np.all(points.max(axis=0)[:2] <= np.array([6.0, 1.0]) + 1e-4)
        assert tuple(second.scale) == pytest.approx(tuple(first.scale))
        assert first.scale[0] != pytest.approx(1.0)
        assert world_points(second)[:, 0].min() > points[:, 0].max()  # to its right
    finally:
        bpy.data.objects.remove(box)
        bpy.data.meshes.remove(mesh)


def test_the_sidebar_offers_all_variants_and_hands_it_to_the_operator(gateway, clean_scene) -> None:
    gateway.set_successes(2)
    state = bpy.context.window_manager.gen404
    prop = type(state).bl_rna.properties["variants"]
    assert prop.name == "All Variants" and prop.default is False
    choices = types.SimpleNamespace()
    state.variants = True
    try:
        addon_module("operators.generate").take_choices(choices, state)
    finally:
        state.variants = False
    assert choices.variants is True
    assert bpy.ops.gen404.generate(prompt="a sidebar robot", **vars(choices)) == {"FINISHED"}
    assert bpy.ops.gen404.wait_all(timeout=60) == {"FINISHED"}
    assert sorted(o.name for o in splat_objects()) == ["a sidebar robot 1", "a sidebar robot 2"]
