"""The History across sessions, through the installed add-on: a Blender generates, a new
Blender lists the results with their thumbnails and imports, generates again, copies,
removes. The thumbnails are copied to build/history-thumbnails/ for a look."""

from __future__ import annotations

import os
from pathlib import Path

import addon_utils
import bpy
import numpy as np

from tests.blender.helpers import (
    ADDON_MODULE,
    ROOT,
    addon_module,
    addon_session,
    built_zip,
    last_json,
    run_child,
)
from tests.blender.test_ui import draw, operators_in
from tests.simulator import SIM_API_KEY
from tests.simulator.images import png_bytes

CHILD = Path(__file__).with_name("history_child.py")
LOOK = ROOT / "build" / "history-thumbnails"


def test_the_history_of_an_earlier_session(addon, sim, blender_glb, tmp_path) -> None:
    env = dict(os.environ)
    env.update(
        BLENDER_USER_RESOURCES=str(tmp_path / "blender-user"),
        GEN404_GATEWAY_URL=sim.url,
        GEN404_API_KEY=SIM_API_KEY,
    )
    image = tmp_path / "red car.png"
    image.write_bytes(png_bytes(64, 48))
    first = run_child(CHILD, env, "generate", str(built_zip()), str(image))
    assert first.returncode == 0, first.stderr[-3000:]
    made = last_json(first.stdout)["tasks"]
    splat, mesh = made["prompt"], made["image"]
    assert len(sim.stats().add_task_log) == 2
    results_before = sim.stats().requests.get("/get_result", 0)

    # A new Blender, on the same user folder: the History is all it knows of them.
    second = run_child(CHILD, env, "history", str(LOOK))
    assert second.returncode == 0, second.stderr[-3000:]
    report = last_json(second.stdout)
    rows = {row["task_id"]: row for row in report["rows"]}
    assert list(rows) == [mesh, splat]  # newest first
    assert rows[splat]["label"] == "a history robot" and rows[splat]["seed"] == 4242
    assert rows[mesh]["model"] == "404-mesh-v2" and rows[mesh]["kind"] == "image"
    assert all(row["cached"] and row["has_thumbnail"] for row in rows.values())
    assert rows[splat]["again_problem"] is None
    assert "image of 'red car'" in rows[mesh]["again_problem"]

    # The previews hold the thumbnails (Blender has no icons in background mode: icon
    # id 0 there; the panel draws the icon when it is not).
    for task_id in (splat, mesh):
        preview = report["previews"][task_id]
        assert preview["size"] == [128, 128], preview
        assert preview["opaque"] > 128 * 128 // 10 and preview["corner_alpha"] == 0.0
    release = "blender-{}.{}".format(*bpy.app.version[:2])
    for name in ("prompt-404-3dgs", "image-404-mesh-v2"):
        assert (LOOK / f"{release}-{name}.png").stat().st_size > 100

    # Import Again: from the cache, nothing sent to the gateway for it.
    assert report["import"] == ["FINISHED"] and report["import_mesh"] == ["FINISHED"]
    new = set(report["objects_after_import"]) - set(report["objects_before"])
    assert [report["objects_after_import"][name] for name in new] == [splat]
    new_mesh = set(report["objects_after_mesh"]) - set(report["objects_after_import"])
    assert [report["objects_after_mesh"][name] for name in new_mesh] == [mesh]
    stats = sim.stats()
    assert len(stats.requests_for("/get_result", splat)) == 1  # the first Blender's only
    assert len(stats.requests_for("/get_result", mesh)) == 1

    # Generate Again: one new task, same prompt, model and seed; an earlier session's
    # image is not kept, and it says so.
    assert "not kept" in report["again_image"]
    assert report["again"] == ["FINISHED"]
    *_, again = stats.add_task_log
    assert len(stats.add_task_log) == 3
    assert (again.prompt, again.model, again.seed) == ("a history robot", "404-3dgs", 4242)
    assert stats.requests.get("/get_result", 0) == results_before + 1  # its own download
    assert again.task_id in report["objects_after_again"].values()

    # Copy Task ID, Open Folder's folder, Remove.
    assert report["copy"] == ["FINISHED"]
    assert f"copied the task id {splat}" in second.stdout + second.stderr
    folder = Path(report["user_folder"])
    assert Path(report["results_folder"]) == folder / "results"
    assert (folder / "results" / f"{splat}.ply").is_file()
    assert report["remove"] == ["FINISHED"]
    assert mesh not in report["rows_after_remove"] and splat in report["rows_after_remove"]
    assert not report["preview_after_remove"] and not report["journal_after_remove"]
    assert not (folder / "results" / f"{mesh}.glb").exists()
    assert not (folder / "thumbnails" / f"{mesh}.png").exists()
    assert (folder / "thumbnails" / f"{splat}.png").is_file()
    assert "not a task id" in report["hostile"]
    assert (folder / "tasks.json").is_file()


def test_the_history_panel_draws_every_result_with_its_buttons(
    gateway, clean_scene, tmp_path
) -> None:
    image = tmp_path / "blue car.png"
    image.write_bytes(png_bytes(32, 32, (40, 60, 200)))
    assert bpy.ops.gen404.generate(prompt="a panel robot", seed=77, wait=True) == {"FINISHED"}
    assert bpy.ops.gen404.generate(image_path=str(image), model="404-mesh", wait=True) == {
        "FINISHED"
    }
    splat, mesh = (row.task_id for row in list(addon_session().entries.values())[-2:])
    assert bpy.ops.gen404.history_refresh(wait=True) == {"FINISHED"}
    view = addon_module("history_view")
    preview = view.preview(splat)
    assert preview is not None and tuple(preview.image_size) == (128, 128)
    pixels = np.array(preview.image_pixels_float).reshape(128, 128, 4)
    assert (pixels[..., 3] > 0.5).any() and pixels[0, 0, 3] == 0.0

    state = bpy.context.window_manager.gen404
    state.history_shown = 2
    log = draw(bpy.types.VIEW3D_PT_gen404_history)
    buttons = [entry for entry in log if entry[0] == "operator"]
    imports = [e[3].task_id for e in buttons if e[1] == "gen404.history_import"]
    assert imports == [mesh, splat]  # newest first, as many as shown
    assert ("label", "a panel robot") in log and ("label", "404-3dgs · seed 77") in log
    for name in ("generate_again", "copy_id", "remove"):
        assert [e[3].task_id for e in buttons if e[1] == f"gen404.history_{name}"] == imports
    assert "gen404.history_open_folder" in operators_in(log)
    again = {e[3].task_id: e[2].enabled for e in buttons if e[1].endswith("generate_again")}
    assert again == {mesh: True, splat: True}  # this session still holds the image

    bpy.ops.gen404.clear_tasks()  # the session's rows (and the image they held) go
    log = draw(bpy.types.VIEW3D_PT_gen404_history)
    again = {
        e[3].task_id: e[2].enabled
        for e in log
        if e[0] == "operator" and e[1].endswith("generate_again")
    }
    assert again == {mesh: False, splat: True}
    tip = bpy.types.GEN404_OT_history_generate_again.description(
        bpy.context, type("P", (), {"task_id": mesh})()
    )
    assert "not kept" in tip and "blue car" in tip
    state.history_shown = 5


def test_disabling_the_add_on_stops_the_history(addon) -> None:
    view = addon_module("history_view")
    assert bpy.app.timers.is_registered(view.tick)
    assert view.sync(60.0)
    service = view.service()
    addon_utils.disable(ADDON_MODULE)
    assert not bpy.app.timers.is_registered(view.tick)
    assert view._previews is None and view._service is None
    assert service.refresh(force=True) is None  # its workers take no more work
    addon_utils.enable(ADDON_MODULE, default_set=True)
    assert bpy.app.timers.is_registered(addon_module("history_view").tick)
