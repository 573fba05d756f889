"""Text->3D and image->3D through the installed add-on in the real Blender."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    ADDON_MODULE,
    COLLECTION,
    addon_module,
    addon_session,
    attribute,
    blender_positions,
    row_state,
    splat_count,
    splat_objects,
    wait_for_event,
)
from tests.simulator import PARTS, SIM_API_KEY, make_figure
from tests.simulator.images import png_bytes

FIGURE = make_figure()
PART_NAMES = [p.name for p in PARTS]


def _part_centres(obj: bpy.types.Object) -> dict[str, np.ndarray]:
    positions = blender_positions(obj)
    return {name: positions[FIGURE["part"] == i].mean(axis=0) for i, name in enumerate(PART_NAMES)}


def test_extension_installed_from_zip_with_its_own_wheels(addon, blender_home: Path) -> None:
    assert Path(addon.__file__).is_relative_to(blender_home / "extensions" / "user_default")
    import httpx

    # The test environment has no httpx: it can only come from the zip's wheels.
    assert Path(httpx.__file__).is_relative_to(blender_home / "extensions" / ".local")
    assert bpy.context.preferences.addons.get(ADDON_MODULE) is not None


def test_the_zip_holds_the_add_on_and_nothing_of_the_project_around_it() -> None:
    import zipfile

    from tests.blender.helpers import built_zip

    names = zipfile.ZipFile(built_zip()).namelist()
    assert {"blender_manifest.toml", "__init__.py", "LICENSE", "README.md"} <= set(names)
    tops = {name.split("/")[0] for name in names}
    for excluded in ("tests", "tools", "docs", "requirements", "build", "Makefile"):
        assert excluded not in tops, excluded
    assert any(name.startswith("wheels/httpx-") for name in names)


def test_text_to_3d_places_an_upright_coloured_splat_object(gateway, clean_scene) -> None:
    clean_scene.cursor.location = (1.0, 2.0, 3.0)
    before = gateway.stats().connections

    assert bpy.ops.gen404.generate(prompt="mechanic robot", wait=True) == {"FINISHED"}

    objs = splat_objects()
    assert len(objs) == 1
    obj = objs[0]
    assert obj.name == "mechanic robot"
    assert [c.name for c in obj.users_collection] == [COLLECTION]
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))
    assert bpy.context.view_layer.objects.active == obj and obj.select_get()

    # One point per splat, nothing dropped, with the splat attributes.
    n = len(FIGURE["positions"])
    assert splat_count(obj) == n
    kinds = {a.name: a.data_type for a in obj.data.attributes if not a.name.startswith(".")}
    x, y, z = FIGURE["positions"].T
    if obj.type == "POINTCLOUD":  # Blender 5.3's own splats, with its importer's conventions
        assert obj.data.type == "GAUSSIAN_SPLAT"
        assert kinds == {
            "position": "FLOAT_VECTOR",
            "scale": "FLOAT_VECTOR",
            "rotation": "QUATERNION",
            "radiance:base": "FLOAT4",
        }
        # The file's frame in the data; the object's rotation stands it upright.
        np.testing.assert_array_equal(attribute(obj, "position", 3), FIGURE["positions"])
        np.testing.assert_allclose(
            attribute(obj, "scale", 3), np.exp(FIGURE["log_scales"]), rtol=1e-6
        )
        quats = FIGURE["rotations"] / np.linalg.norm(FIGURE["rotations"], axis=1)[:, None]
        np.testing.assert_allclose(attribute(obj, "rotation", 4), quats, atol=1e-6)
        base = attribute(obj, "radiance:base", 4)
        np.testing.assert_array_equal(base[:, :3], FIGURE["f_dc"])
        opacity = 1 / (1 + np.exp(-FIGURE["opacity"].astype(np.float64)))
        np.testing.assert_allclose(base[:, 3], opacity, rtol=1e-6)
        np.testing.assert_allclose(blender_positions(obj), np.stack((x, -z, y), axis=1), atol=1e-6)
    else:
        assert kinds == {
            "position": "FLOAT_VECTOR",
            "file_rotation": "QUATERNION",
            "log_scale": "FLOAT_VECTOR",
            "opacity_logit": "FLOAT",
            "sh_dc": "FLOAT_VECTOR",
        }
        # The file's values exactly, copied straight into Blender's memory.
        np.testing.assert_array_equal(attribute(obj, "opacity_logit", 1), FIGURE["opacity"])
        np.testing.assert_array_equal(attribute(obj, "log_scale", 3), FIGURE["log_scales"])
        np.testing.assert_array_equal(attribute(obj, "file_rotation", 4), FIGURE["rotations"])
        np.testing.assert_array_equal(attribute(obj, "sh_dc", 3), FIGURE["f_dc"])
        np.testing.assert_array_equal(attribute(obj, "position", 3), np.stack((x, -z, y), axis=1))

    # +Y-up file -> Blender +Z up: red head on top, blue base below, nose towards -Y.
    centres = _part_centres(obj)
    assert centres["head"][2] > centres["body"][2] + 0.4 > centres["base"][2] + 0.8
    assert centres["nose"][1] < centres["head"][1] - 0.2

    # Provenance without secrets.
    assert uuid.UUID(obj["gen404_task_id"])
    assert obj["gen404_prompt"] == "mechanic robot"
    assert obj["gen404_gateway"] == gateway.url.removeprefix("https://")
    assert SIM_API_KEY not in repr(obj.items())
    group = "gen404 Native Splats" if obj.type == "POINTCLOUD" else "gen404 Splats"
    assert obj.modifiers[0].node_group.name == group

    stats = gateway.stats()
    assert stats.connections > before
    assert [r.prompt for r in stats.add_task_log] == ["mechanic robot"]
    entry = list(addon_session().entries.values())[-1]
    assert entry.state is row_state().DONE


def test_image_to_3d_scales_a_large_image_before_upload(gateway, clean_scene, tmp_path) -> None:
    image = tmp_path / "red car.png"
    image.write_bytes(png_bytes(2048, 1536))

    assert bpy.ops.gen404.generate(image_path=str(image), wait=True) == {"FINISHED"}

    (record,) = gateway.stats().add_task_log
    assert record.kind == "image" and record.prompt is None
    assert 0 < record.image_bytes <= 2 * 1024 * 1024
    (obj,) = splat_objects()
    assert obj.name == "red car"
    assert obj["gen404_image"] == "red car"
    assert splat_count(obj) == len(FIGURE["positions"])


def test_a_small_image_is_sent_unchanged(gateway, clean_scene, tmp_path) -> None:
    data = png_bytes(64, 48)
    image = tmp_path / "small.png"
    image.write_bytes(data)
    assert bpy.ops.gen404.generate(image_path=str(image), wait=True) == {"FINISHED"}
    (record,) = gateway.stats().add_task_log
    assert record.image_bytes == len(data)


def test_unreadable_image_is_a_clear_error_before_sending(gateway, clean_scene, tmp_path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(RuntimeError, match=r"cannot read notes\.png"):
        bpy.ops.gen404.generate(image_path=str(bad), wait=True)
    assert gateway.stats().requests.get("/add_task", 0) == 0
    assert splat_objects() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "a chair", "image_path": "/tmp/x.png"}, "not both"),
        ({}, "Enter a prompt or choose an image"),
        ({"prompt": "a_chair & co"}, "'&' '_'"),
        ({"prompt": "ab"}, "too short"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(gateway, clean_scene, kwargs, message):
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.gen404.generate(wait=True, **kwargs)
    assert gateway.stats().connections == 0
    assert splat_objects() == []


def test_failure_shows_the_gateway_reason_and_leaves_the_scene(gateway, clean_scene) -> None:
    gateway.fail_next("Task timed out")
    with pytest.raises(RuntimeError, match="Task timed out"):
        bpy.ops.gen404.generate(prompt="broken lamp", wait=True)
    assert splat_objects() == []
    entry = list(addon_session().entries.values())[-1]
    assert entry.state is row_state().FAILED and "Task timed out" in entry.message


def test_offline_blender_never_connects(gateway, clean_scene) -> None:
    bpy.context.preferences.system.use_online_access = False
    try:
        with pytest.raises(RuntimeError, match="Online access is disabled"):
            bpy.ops.gen404.generate(prompt="a chair", wait=True)
    finally:
        bpy.context.preferences.system.use_online_access = True
    assert gateway.stats().connections == 0


def test_missing_key_says_where_to_set_it(gateway, clean_scene, monkeypatch) -> None:
    monkeypatch.delenv("GEN404_API_KEY")
    with pytest.raises(RuntimeError, match="Preferences → Add-ons → 404 Gen"):
        bpy.ops.gen404.generate(prompt="a chair", wait=True)
    assert gateway.stats().connections == 0


def test_key_from_preferences_is_in_no_saved_blend(
    gateway, clean_scene, monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("GEN404_API_KEY")
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.api_key = SIM_API_KEY
    try:
        assert bpy.ops.gen404.generate(prompt="a blue vase", wait=True) == {"FINISHED"}
        bpy.context.window_manager.gen404.prompt = "a blue vase"
        path = tmp_path / "scene.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, compress=False)
    finally:
        prefs.api_key = ""
    data = path.read_bytes()
    assert b"a blue vase" in data  # the object and its prompt were saved...
    assert SIM_API_KEY.encode() not in data  # ...the key was not
    assert SIM_API_KEY.replace("-", "").encode() not in data


def test_non_blocking_generation_through_the_timer_pump(gateway, clean_scene) -> None:
    session = addon_session()
    assert bpy.ops.gen404.generate(prompt="a red teapot") == {"FINISHED"}
    assert splat_objects() == []  # returned at once: nothing imported yet
    (entry,) = session.active()
    assert bpy.app.timers.is_registered(session.timer)

    seen = [entry.status_text()]
    interval: float | None = 0.0
    while interval is not None:
        if not entry.finished:
            wait_for_event(session.runner.events)
        interval = session.pump()
        if seen[-1] != entry.status_text():
            seen.append(entry.status_text())
    assert seen[0] in ("Submitting", "Queued")
    assert "Importing" not in seen[-1:] and seen[-1] == "Done"
    assert set(seen) <= {
        "Submitting",
        "Queued",
        "In progress",
        "1 of 3 results",
        "Downloading",
        "Done",
    }
    (obj,) = splat_objects()
    assert obj.name == "a red teapot" and entry.object_name == obj.name
    assert interval is None  # nothing left: the timer unregisters itself


def test_several_tasks_at_once(gateway, clean_scene) -> None:
    session = addon_session()
    for prompt in ("a red chair", "a green chair", "a blue chair"):
        assert bpy.ops.gen404.generate(prompt=prompt) == {"FINISHED"}
    assert len(session.active()) == 3
    assert bpy.ops.gen404.wait_all(timeout=60) == {"FINISHED"}
    assert session.active() == []
    assert sorted(o.name for o in splat_objects()) == [
        "a blue chair",
        "a green chair",
        "a red chair",
    ]
    assert len(gateway.stats().add_task_log) == 3


def test_cancel_stops_the_task_and_nothing_is_imported(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(5.0)
    session = addon_session()
    bpy.ops.gen404.generate(prompt="a slow statue")
    (entry,) = session.active()
    while not entry.task_id:
        wait_for_event(session.runner.events)
        session.pump()
    assert bpy.ops.gen404.cancel_task(job_id=entry.job_id) == {"FINISHED"}
    assert entry.state is row_state().CANCELLED
    assert session.pump() is None
    assert splat_objects() == []
    assert gateway.stats().requests.get("/get_result", 0) == 0


def test_wait_all_gives_up_at_its_timeout(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(60.0)
    bpy.ops.gen404.generate(prompt="a very slow statue")
    with pytest.raises(RuntimeError, match="1 task\\(s\\) still running"):
        bpy.ops.gen404.wait_all(timeout=0.3)
    assert len(addon_session().active()) == 1


@pytest.mark.parametrize("fmt", ["ply", "spz"])
def test_download_format_preference(gateway, clean_scene, fmt, capsys) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.result_format = fmt
    try:
        gateway.set_stage_seconds(0.0)
        started = time.perf_counter()
        assert bpy.ops.gen404.generate(prompt=f"a {fmt} robot", wait=True) == {"FINISHED"}
        seconds = time.perf_counter() - started
    finally:
        prefs.result_format = "ply"
    (obj,) = splat_objects()
    assert splat_count(obj) == len(FIGURE["positions"])
    # Same figure either way (SPZ is quantised: 1/4096 positions, 8-bit colours).
    centres = _part_centres(obj)
    assert centres["head"][2] > centres["body"][2] + 0.4 > centres["base"][2] + 0.8
    entry = list(addon_session().entries.values())[-1]
    size = (
        Path(
            addon_module("client.folders").results_folder(addon_module("preferences").user_folder())
            / f"{entry.task_id}.{fmt}"
        )
        .stat()
        .st_size
    )
    with capsys.disabled():
        print(f"\n{fmt}: {size} bytes downloaded, {seconds * 1000:.0f} ms from submit to object")
