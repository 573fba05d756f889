"""Fit to a placeholder: with a mesh selected when the generation starts, the result is
scaled into its bounds, centred on them and set on their bottom. The placeholder is
remembered by name while the task runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import addon_module, addon_session, splat_objects
from tests.simulator.images import png_bytes

LOW, HIGH = np.array([4.0, -3.0, 1.0]), np.array([6.0, 2.0, 4.0])
"""The placeholder's world bounds: 2 x 5 x 3."""


@pytest.fixture
def placeholder(clean_scene) -> Iterator[bpy.types.Object]:
    mesh = bpy.data.meshes.new("fit box")
    corners = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    mesh.from_pydata(corners, [], [])
    obj = bpy.data.objects.new("fit box", mesh)
    clean_scene.collection.objects.link(obj)
    obj.location = tuple((LOW + HIGH) / 2)
    obj.scale = tuple((HIGH - LOW) / 2)
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    clean_scene.cursor.location = (-10.0, 0.0, 0.0)
    yield obj
    bpy.data.objects.remove(bpy.data.objects[obj.name])
    bpy.data.meshes.remove(mesh)


def _bounds(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    bpy.context.view_layer.update()
    fit = addon_module("scene.fit")
    bounds = fit.world_bounds([obj, *obj.children_recursive])
    assert bounds is not None
    return bounds


def _assert_fitted(obj: bpy.types.Object) -> None:
    low, high = _bounds(obj)
    assert np.all(low >= LOW - 1e-4) and np.all(high <= HIGH + 1e-4), (low, high)
    # As large as fits: one axis fills the placeholder.
    assert np.isclose((high - low) / (HIGH - LOW), 1.0, atol=1e-4).any(), (low, high)
    centre = (low + high) / 2
    assert centre[:2] == pytest.approx((LOW[:2] + HIGH[:2]) / 2, abs=1e-4)
    assert low[2] == pytest.approx(LOW[2], abs=1e-4)


def test_a_splat_result_is_fitted_to_the_selected_mesh(gateway, placeholder) -> None:
    assert bpy.ops.gen404.generate(prompt="fitted robot", fit_to_placeholder=True, wait=True) == {
        "FINISHED"
    }
    (obj,) = splat_objects()
    assert obj.scale[0] == pytest.approx(obj.scale[2]) and obj.scale[0] != pytest.approx(1.0)
    _assert_fitted(obj)


def test_without_the_option_the_result_stays_at_the_cursor(gateway, placeholder) -> None:
    assert bpy.ops.gen404.generate(prompt="free robot", wait=True) == {"FINISHED"}
    (obj,) = splat_objects()
    assert tuple(obj.location) == pytest.approx((-10.0, 0.0, 0.0))
    assert tuple(obj.scale) == pytest.approx((1.0, 1.0, 1.0))


def test_the_placeholder_is_remembered_by_name_while_the_task_runs(gateway, placeholder) -> None:
    gateway.set_stage_seconds(0.3)
    assert bpy.ops.gen404.generate(prompt="late robot", fit_to_placeholder=True) == {"FINISHED"}
    # What is selected when the result lands no longer matters: the name was kept.
    placeholder.select_set(False)
    bpy.context.view_layer.objects.active = None
    (entry,) = addon_session().active()
    assert entry.placeholder == "fit box"
    session = addon_session()
    end = time.monotonic() + 30
    while session.active() and time.monotonic() < end:
        session.pump()
        time.sleep(0.05)
    (obj,) = splat_objects()
    _assert_fitted(obj)


def test_a_mesh_result_is_fitted_with_its_parts(gateway, placeholder, tmp_path: Path) -> None:
    image = tmp_path / "car.png"
    image.write_bytes(png_bytes(64, 48))
    done = bpy.ops.gen404.generate(
        image_path=str(image), model="404-mesh", fit_to_placeholder=True, wait=True
    )
    assert done == {"FINISHED"}
    row = [e for e in addon_session().entries.values() if e.object_name][-1]
    _assert_fitted(bpy.data.objects[row.object_name])


def test_a_result_of_the_add_on_is_never_a_placeholder(gateway, placeholder) -> None:
    assert bpy.ops.gen404.generate(prompt="first robot", wait=True) == {"FINISHED"}
    (first,) = splat_objects()
    assert bpy.context.view_layer.objects.active == first and first.select_get()
    fit = addon_module("scene.fit")
    if first.type == "MESH":  # the geometry-nodes display: a mesh, but a result
        assert fit.placeholder_name(bpy.context) == ""
    placeholder.select_set(True)
    assert fit.placeholder_name(bpy.context) == "fit box"


def test_the_sidebar_offers_the_option_and_hands_it_on(addon) -> None:
    import types

    state = bpy.context.window_manager.gen404
    assert state.fit_to_placeholder is True
    choices = types.SimpleNamespace()
    addon_module("operators.generate").take_choices(choices, state)
    assert choices.fit_to_placeholder is True


# Last in the module: the nodes_display fixture stays on until the module ends.
def test_a_geometry_nodes_splat_result_is_fitted_too(gateway, placeholder, nodes_display) -> None:
    assert bpy.ops.gen404.generate(prompt="nodes robot", fit_to_placeholder=True, wait=True) == {
        "FINISHED"
    }
    (obj,) = splat_objects()
    assert obj.type == "MESH"
    _assert_fitted(obj)
