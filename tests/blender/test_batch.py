"""Batch: several prompts at once (one per line, or a Text datablock), sent as the
account's concurrent limit allows, the results laid out in a grid in prompt order,
through the installed add-on in the real Blender and the simulator."""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterator

import bpy
import numpy as np
import pytest

from tests.blender.helpers import addon_module, addon_session, splat_objects, wait_for_event
from tests.blender.test_ui import draw, operators_in
from tests.simulator import SIM_API_KEY

PROMPTS = ["a red chair", "a blue lamp", "a green teapot", "a small robot", "a wooden crate"]


def _bounds(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    bpy.context.view_layer.update()
    bounds = addon_module("scene.fit").world_bounds([obj, *obj.children_recursive])
    assert bounds is not None
    return bounds


def _disjoint_in_xy(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return bool(np.any(a[1][:2] < b[0][:2]) or np.any(b[1][:2] < a[0][:2]))


def _by_prompt() -> dict[str, bpy.types.Object]:
    return {o["gen404_prompt"]: o for o in splat_objects()}


def _assert_grid(objects: list[bpy.types.Object], columns: int, cursor: tuple) -> None:
    """Objects in prompt order sit in a row-major grid from the cursor: columns along +X,
    rows along -Y, their bounds centred in their cells, no two overlapping."""
    boxes = [_bounds(o) for o in objects]
    centres = [(low[:2] + high[:2]) / 2 for low, high in boxes]
    assert centres[0] == pytest.approx(cursor[:2], abs=1e-4)
    step_x = centres[1][0] - centres[0][0] if columns > 1 else 0.0
    step_y = centres[0][1] - centres[columns][1]
    assert step_y > 0 and (step_x > 0 or columns == 1)
    for index, centre in enumerate(centres):
        row, column = divmod(index, columns)
        expected = (cursor[0] + column * step_x, cursor[1] - row * step_y)
        assert centre == pytest.approx(expected, abs=1e-4), index
    for a, b in itertools.combinations(boxes, 2):
        assert _disjoint_in_xy(a, b)
    assert all(o.location.z == pytest.approx(cursor[2]) for o in objects)


# -- sending and laying out ----------------------------------------------------------------
def test_five_prompts_on_two_slots_land_in_a_grid_each_sent_once(gateway, clean_scene) -> None:
    gateway.set_max_concurrent(2)
    cursor = (1.0, 2.0, 0.5)
    clean_scene.cursor.location = cursor
    result = bpy.ops.gen404.generate_batch(prompts="\n".join(PROMPTS), wait=True)
    assert result == {"FINISHED"}

    objects = _by_prompt()
    assert sorted(objects) == sorted(PROMPTS)
    assert [objects[p].name for p in PROMPTS] == PROMPTS  # named after their prompts
    _assert_grid([objects[p] for p in PROMPTS], columns=3, cursor=cursor)
    # Each with a seed of its own, drawn by the add-on and sent.
    stats = gateway.stats()
    log = stats.add_task_log
    assert [r.prompt for r in log] == PROMPTS  # sent once each, in prompt order
    assert len({r.task_id for r in log}) == 5
    assert {objects[r.prompt]["gen404_task_id"] for r in log} == {r.task_id for r in log}
    assert all(objects[r.prompt]["gen404_seed"] == r.seed for r in log)
    assert len({r.seed for r in log}) == 5
    # As the account allows: two at a time, the others refused for want of a slot only.
    assert stats.peak_running == 2 and stats.concurrent_refusals >= 1
    assert stats.requests["/add_task"] == 5 + stats.concurrent_refusals


def test_a_batch_from_a_text_lands_through_the_timer_with_counting_seeds(
    gateway, clean_scene
) -> None:
    text = bpy.data.texts.new("batch prompts")
    text.from_string("a red chair\r\n\r\n   a blue lamp  \r\na green teapot\r\n")
    clean_scene.cursor.location = (-3.0, 4.0, 1.5)
    try:
        assert bpy.ops.gen404.generate_batch(text_name=text.name, seed=100, columns=1) == {
            "FINISHED"
        }
        clean_scene.cursor.location = (50.0, 50.0, 9.0)  # the grid stays where it was asked
        session = addon_session()
        while session.active():  # as Blender's timer does, one import per tick
            wait_for_event(session.runner.events, timeout=30)
            session.pump()
    finally:
        bpy.data.texts.remove(text)
    objects = _by_prompt()
    order = ["a red chair", "a blue lamp", "a green teapot"]
    assert sorted(objects) == sorted(order)
    assert [objects[p]["gen404_seed"] for p in order] == [100, 101, 102]
    assert [(r.prompt, r.seed) for r in gateway.stats().add_task_log] == list(
        zip(order, [100, 101, 102], strict=True)
    )
    _assert_grid([objects[p] for p in order], columns=1, cursor=(-3.0, 4.0, 1.5))


def test_a_waited_batch_with_failed_tasks_says_what_landed_and_why(gateway, clean_scene) -> None:
    """A script waiting for a batch learns how many results landed and why the first
    missing one failed; the ones that landed stay in the scene."""
    gateway.fail_next("Task timed out", count=2)  # the first two sent: in prompt order
    expected = r"1 of 3 results are in the scene; 'a red chair': .*Task timed out.* \(and 1 more\)"
    with pytest.raises(RuntimeError, match=expected):
        bpy.ops.gen404.generate_batch(prompts="\n".join(PROMPTS[:3]), wait=True)
    assert sorted(_by_prompt()) == [PROMPTS[2]]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"prompts": "a red chair\n\na caf\u00e9 table\n"}, r"Line 3 \('a caf\u00e9 table'\)"),
        ({"prompts": "a red chair\nab"}, r"Line 2 \('ab'\): The prompt is too short"),
        ({"prompts": "\n".join(f"chair {i}" for i in range(51))}, "has 51 prompts"),
        ({"prompts": "a red chair", "model": "404-mesh"}, "images only"),
        ({"prompts": " \n "}, "no prompt"),
        ({"text_name": "no such text"}, "no text named 'no such text'"),
        ({"prompts": "a red chair\na blue lamp", "seed": 2**31 - 1}, "choose a seed from 0"),
    ],
    ids=["bad-character", "too-short", "too-many", "mesh-model", "empty", "no-text", "seed"],
)
def test_a_batch_that_cannot_be_sent_is_refused_with_nothing_sent(
    gateway, clean_scene, kwargs, words
) -> None:
    rows = len(addon_session().entries)
    with pytest.raises(RuntimeError, match=words):
        bpy.ops.gen404.generate_batch(wait=True, **kwargs)
    assert gateway.stats().connections == 0
    assert splat_objects() == [] and len(addon_session().entries) == rows


def test_a_larger_result_landing_later_moves_the_earlier_ones(addon, clean_scene) -> None:
    """scene.grid with boxes of unequal sizes built at the cursor, landing out of order."""
    grid_layout, grid = addon_module("scene.grid_layout"), addon_module("scene.grid")
    layout = grid_layout.Grid(count=4, columns=2, origin=(0.0, 0.0))
    boxes: list[bpy.types.Object] = []

    def land(index: int, size: float) -> bpy.types.Object:
        mesh = bpy.data.meshes.new(f"box {index}")
        corners = [(x, y, z) for x in (0, size) for y in (0, size) for z in (0, size)]
        mesh.from_pydata(corners, [], [])  # off-centre: its origin is a corner
        obj = bpy.data.objects.new(f"box {index}", mesh)
        obj["gen404_mesh"] = True  # removed with the scene's results
        clean_scene.collection.objects.link(obj)
        boxes.append(obj)
        assert grid.place(bpy.context.view_layer, obj, grid_layout.Cell(layout, index))
        return obj

    small = land(2, 1.0)
    land(0, 1.0)
    before = tuple(small.location)
    land(3, 4.0)  # the cells grow: the box in cell 2 moves down with its row
    assert tuple(small.location) != before
    for a, b in itertools.combinations([_bounds(o) for o in boxes], 2):
        assert _disjoint_in_xy(a, b)
    # Imported again while the first copy holds the cell: it stays where it was built.
    again = bpy.data.objects.new("box 3 again", bpy.data.meshes["box 3"])
    clean_scene.collection.objects.link(again)
    try:
        assert not grid.place(bpy.context.view_layer, again, grid_layout.Cell(layout, 3))
        assert tuple(again.location) == (0.0, 0.0, 0.0)
    finally:
        bpy.data.objects.remove(again)


# -- the sidebar and F3 ---------------------------------------------------------------------
@pytest.fixture
def batch_mode(addon, monkeypatch) -> Iterator[bpy.types.PropertyGroup]:
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    state = bpy.context.window_manager.gen404
    text = bpy.data.texts.new("sidebar prompts")
    state.input_mode, state.batch_text, state.random_seed = "BATCH", text.name, True
    yield state
    state.input_mode, state.batch_text, state.random_seed = "TEXT", "", True
    bpy.data.texts.remove(text)


def test_the_sidebar_batch_mode_counts_the_prompts_and_checks_them(batch_mode) -> None:
    text = bpy.data.texts[batch_mode.batch_text]
    text.from_string("a red chair\n\na blue lamp\na green teapot\n")
    log = draw(bpy.types.VIEW3D_PT_gen404)
    assert ("prop_search", "batch_text", "texts") in log
    assert ("label", "One prompt per line (blank lines are skipped)") in log
    assert ("prop", "model") in log and ("prop", "random_seed") in log
    assert ("prop", "fit_to_placeholder") not in log and ("prop", "prompt") not in log
    _, _, row, op, label = operators_in(log)["gen404.generate_batch"]
    assert label == "Generate 3" and row.enabled is True
    assert (op.text_name, op.model, op.seed) == (text.name, "404-3dgs", -1)

    batch_mode.random_seed, batch_mode.seed = False, 7
    log = draw(bpy.types.VIEW3D_PT_gen404)
    assert ("label", "Seeds 7 to 9, in prompt order") in log
    assert operators_in(log)["gen404.generate_batch"][3].seed == 7

    text.from_string("a red chair\nbad_line\n")
    log = draw(bpy.types.VIEW3D_PT_gen404)
    assert any(e[0] == "alert" and "Line 2 ('bad_line')" in e[1] for e in log)
    _, _, row, _, label = operators_in(log)["gen404.generate_batch"]
    assert row.enabled is False and label == "Generate Batch"


def test_f3_finds_generate_batch_and_it_takes_the_sidebars_text(
    gateway, clean_scene, batch_mode
) -> None:
    rna = bpy.ops.gen404.generate_batch.get_rna_type()
    assert rna.name == "Generate Batch (404 Gen)" and "grid" in rna.description
    assert "gen404.generate_batch" in operators_in(draw(bpy.types.VIEW3D_MT_gen404_add))
    # From F3 (invoke: Blender calls it only with a window) the sidebar's choices go in.
    bpy.data.texts[batch_mode.batch_text].from_string("a red chair\na blue lamp\n")
    batch_mode.random_seed, batch_mode.seed = False, 5
    op = types.SimpleNamespace(text_name="", model="", seed=0)
    addon_module("operators.generate_batch").take_batch_choices(op, batch_mode)
    assert (op.text_name, op.model, op.seed) == (batch_mode.batch_text, "404-3dgs", 5)
    assert bpy.ops.gen404.generate_batch(**vars(op)) == {"FINISHED"}
    assert addon_session().wait_all(30)
    assert {p: o["gen404_seed"] for p, o in _by_prompt().items()} == {
        "a red chair": 5,
        "a blue lamp": 6,
    }
