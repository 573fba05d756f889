"""404's models, seeds, the account's limits and the client origin, through the installed
add-on in the real Blender (the mesh models' GLB comes from Blender's own exporter)."""

from __future__ import annotations

import json
import types
import uuid

import bpy
import pytest

from tests.blender.helpers import (
    COLLECTION,
    addon_module,
    addon_session,
    row_state,
    splat_objects,
    wait_for_event,
)
from tests.refusals import ACCOUNT_REFUSALS
from tests.simulator import SIM_API_KEY
from tests.simulator.images import png_bytes
from tests.simulator.results import pack_glb, unpack_glb

V2 = {"pipeline_type": "1536_cascade", "texture_size": "4096", "face_count": 150_000}


def mesh_objects() -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects if "gen404_mesh" in o]


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "red car.png"
    path.write_bytes(png_bytes(64, 48))
    return path


def _last_row():
    return list(addon_session().entries.values())[-1]


# -- 1. models -------------------------------------------------------------------------
def test_mesh_v2_from_an_image_is_imported_like_a_splat_result(gateway, clean_scene, image) -> None:
    clean_scene.cursor.location = (1.0, 2.0, 3.0)
    objects_before = len(bpy.data.objects)
    result = bpy.ops.gen404.generate(
        image_path=str(image), model="404-mesh-v2", seed=4242, wait=True, **V2
    )
    assert result == {"FINISHED"}

    (record,) = gateway.stats().add_task_log
    assert (record.kind, record.model, record.seed) == ("image", "404-mesh-v2", 4242)
    assert json.loads(record.model_params) == {**V2, "texture_size": 4096}

    (obj,) = mesh_objects()
    assert len(bpy.data.objects) == objects_before + 1
    assert obj.type == "MESH" and obj.name == "red car"
    assert [c.name for c in obj.users_collection] == [COLLECTION]
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))
    assert bpy.context.view_layer.objects.active == obj and obj.select_get()
    # Upright: the box is tall along Blender's Z, as exported (glTF +Y up on the wire).
    x, _, z = obj.dimensions
    assert z == pytest.approx(1.0, abs=1e-4) and x == pytest.approx(0.6, abs=1e-4)
    # Textured: the exporter's image came through the importer.
    material = obj.data.materials[0]
    assert any(n.type == "TEX_IMAGE" and n.image for n in material.node_tree.nodes)
    # Provenance without secrets.
    assert uuid.UUID(obj["gen404_task_id"])
    assert obj["gen404_image"] == "red car" and obj["gen404_model"] == "404-mesh-v2"
    assert obj["gen404_seed"] == 4242
    assert json.loads(obj["gen404_model_params"])["pipeline_type"] == "1536_cascade"
    assert obj["gen404_gateway"] == gateway.url.removeprefix("https://")
    assert SIM_API_KEY not in repr(obj.items())
    row = _last_row()
    assert row.state is row_state().DONE and row.object_name == obj.name
    assert "404-mesh-v2 · seed 4242" in row.settings_text
    # 6. Every request of the task said where it came from.
    origins = gateway.stats().origins
    assert {p for p, _ in origins} == {"/add_task", "/get_status", "/get_result"}
    assert {o for _, o in origins} == {"blender"}


def test_404_mesh_is_imported_too(gateway, clean_scene, image) -> None:
    assert bpy.ops.gen404.generate(image_path=str(image), model="404-mesh", wait=True) == {
        "FINISHED"
    }
    (obj,) = mesh_objects()
    assert obj["gen404_model"] == "404-mesh" and "gen404_model_params" not in obj
    assert gateway.stats().add_task_log[0].model_params is None
    assert splat_objects() == []


@pytest.mark.parametrize("model", ["404-mesh", "404-mesh-v2"])
def test_text_with_a_mesh_model_is_refused_before_anything_is_sent(
    gateway, clean_scene, model
) -> None:
    with pytest.raises(RuntimeError, match="images only"):
        bpy.ops.gen404.generate(prompt="a red car", model=model, wait=True)
    assert gateway.stats().connections == 0


@pytest.mark.parametrize(
    ("glb", "words"),
    [
        (b"ply\nformat binary_little_endian 1.0\nend_header\n" + bytes(64), "not a glTF"),
        (pack_glb({"asset": {"version": "2.0"}, "nodes": [{"mesh": 7}]}), "could not be imported"),
    ],
    ids=["not-glb", "broken-gltf"],
)
def test_a_result_that_cannot_be_imported_leaves_the_scene_as_it_was(
    gateway, clean_scene, image, blender_glb, glb, words
) -> None:
    counts = {k: len(getattr(bpy.data, k)) for k in ("objects", "meshes", "materials", "images")}
    collections = len(bpy.data.collections)
    gateway.set_result_glb(glb)
    try:
        with pytest.raises(RuntimeError, match=words):
            bpy.ops.gen404.generate(image_path=str(image), model="404-mesh", wait=True)
    finally:
        gateway.set_result_glb(blender_glb)
    assert {k: len(getattr(bpy.data, k)) for k in counts} == counts
    assert len(bpy.data.collections) <= collections + 1  # at most the (empty) collection
    assert mesh_objects() == []
    assert _last_row().state is row_state().FAILED


# -- 2. seeds --------------------------------------------------------------------------
def test_a_random_seed_is_drawn_recorded_and_generate_again_repeats_it(
    gateway, clean_scene
) -> None:
    assert bpy.ops.gen404.generate(prompt="a green teapot", wait=True) == {"FINISHED"}
    (record,) = gateway.stats().add_task_log
    assert isinstance(record.seed, int) and record.seed >= 0  # drawn by the add-on, sent
    (obj,) = splat_objects()
    assert obj["gen404_seed"] == record.seed and obj["gen404_model"] == "404-3dgs"
    row = _last_row()
    assert row.seed == record.seed and f"seed {record.seed}" in row.settings_text
    journal = addon_module("client.journal").open_journal(addon_module("preferences").user_folder())
    assert journal.get(row.task_id).seed == record.seed

    assert bpy.ops.gen404.generate_again(job_id=row.job_id, wait=True) == {"FINISHED"}
    first, again = gateway.stats().add_task_log
    assert (again.prompt, again.seed, again.model) == (first.prompt, first.seed, first.model)
    assert again.task_id != first.task_id
    objs = splat_objects()
    assert len(objs) == 2 and {o["gen404_seed"] for o in objs} == {record.seed}


def test_generate_again_repeats_an_image_mesh_task_with_its_parameters(
    gateway, clean_scene, image
) -> None:
    bpy.ops.gen404.generate(image_path=str(image), model="404-mesh-v2", wait=True, **V2)
    # From a menu / F3: the latest finished task.
    assert bpy.ops.gen404.generate_again(wait=True) == {"FINISHED"}
    first, again = gateway.stats().add_task_log
    assert (again.kind, again.model, again.seed, again.model_params, again.image_bytes) == (
        first.kind,
        first.model,
        first.seed,
        first.model_params,
        first.image_bytes,
    )
    assert len(mesh_objects()) == 2


def test_generate_again_needs_a_finished_task(gateway, clean_scene) -> None:
    addon_session().clear_finished()
    assert not bpy.ops.gen404.generate_again.poll()


def test_a_chosen_seed_is_sent_as_it_is_and_out_of_range_is_refused(gateway, clean_scene) -> None:
    assert bpy.ops.gen404.generate(prompt="a grey stone", seed=-7, wait=True) == {"FINISHED"}
    assert bpy.ops.gen404.generate(prompt="a grey stone", seed=2**31 - 1, wait=True) == {"FINISHED"}
    assert [r.seed for r in gateway.stats().add_task_log] == [-7, 2**31 - 1]
    requests = gateway.stats().requests.get("/add_task", 0)
    with pytest.raises((TypeError, ValueError, OverflowError)):
        bpy.ops.gen404.generate(prompt="a grey stone", seed=2**31, wait=True)
    assert gateway.stats().requests.get("/add_task", 0) == requests


def test_the_same_seed_gives_the_same_result(gateway, clean_scene, image) -> None:
    for _ in range(2):
        bpy.ops.gen404.generate(image_path=str(image), model="404-mesh", seed=9, wait=True)
    bpy.ops.gen404.generate(image_path=str(image), model="404-mesh", seed=10, wait=True)
    folder = addon_module("client.folders").results_folder(
        addon_module("preferences").user_folder()
    )
    rows = list(addon_session().entries.values())[-3:]
    data = [(folder / f"{r.task_id}.glb").read_bytes() for r in rows]
    assert data[0] == data[1] != data[2]
    assert unpack_glb(data[2])[0]["asset"]["extras"]["gen404_sim_seed"] == 10


# -- the sidebar and F3 -----------------------------------------------------------------
def test_the_sidebar_offers_models_params_and_seed_and_f3_takes_them(
    gateway, clean_scene, image
) -> None:
    state = bpy.context.window_manager.gen404
    sidebar = addon_module("panels.sidebar")
    state.input_mode, state.prompt, state.model = "TEXT", "a red car", "404-mesh-v2"
    problem, is_error = sidebar.input_problem(state)
    assert is_error and "images only" in problem
    state.input_mode, state.image_path = "IMAGE", str(image)
    state.pipeline_type, state.texture_size, state.face_count = "1024", "1024", 20_000
    state.random_seed, state.seed = False, 77
    assert sidebar.input_problem(state)[0] is None
    # What the sidebar's Generate button (and F3's invoke) hands the operator.
    choices = types.SimpleNamespace()
    addon_module("operators.generate").take_choices(choices, state)
    try:
        assert bpy.ops.gen404.generate(image_path=state.image_path, **vars(choices)) == {"FINISHED"}
        assert bpy.ops.gen404.wait_all(timeout=60) == {"FINISHED"}
    finally:
        state.model, state.random_seed, state.input_mode = "404-3dgs", True, "TEXT"
    (record,) = gateway.stats().add_task_log
    assert (record.model, record.seed) == ("404-mesh-v2", 77)
    params = {"pipeline_type": "1024", "texture_size": 1024, "face_count": 20000}
    assert json.loads(record.model_params) == params


# -- 5. limits and billing -------------------------------------------------------------
@ACCOUNT_REFUSALS
def test_account_refusals_stop_and_say_what_to_do(gateway, clean_scene, fault, words) -> None:
    gateway.add_fault("/add_task", fault)
    with pytest.raises(RuntimeError, match=words):
        bpy.ops.gen404.generate(prompt="a red chair", wait=True)
    assert gateway.stats().requests["/add_task"] == 1
    assert splat_objects() == []


def test_a_task_waits_for_a_free_slot_then_runs(gateway, clean_scene) -> None:
    gateway.set_max_concurrent(1)
    gateway.set_stage_seconds(0.4)
    session = addon_session()
    bpy.ops.gen404.generate(prompt="a red chair")
    first = _last_row()
    while not first.task_id:
        wait_for_event(session.runner.events)
        session.pump()
    bpy.ops.gen404.generate(prompt="a blue chair")
    second = _last_row()
    seen = set()
    while not second.finished:
        wait_for_event(session.runner.events, timeout=30)
        session.pump()
        seen.add(second.status_text())
    assert "Waiting for a free slot" in seen
    assert first.state is row_state().DONE and second.state is row_state().DONE
    assert [r.prompt for r in gateway.stats().add_task_log] == ["a red chair", "a blue chair"]
