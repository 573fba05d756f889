"""Import from disk, menus (what F3 searches), the sidebar's content, add-on lifecycle."""

from __future__ import annotations

import types

import addon_utils
import bpy
import numpy as np
import pytest

from tests.blender.helpers import (
    ADDON_MODULE,
    addon_module,
    addon_session,
    row_state,
    splat_count,
    splat_objects,
)
from tests.simulator import SIM_API_KEY, figure_ply_bytes, make_figure


class Recorder:
    """Stands in for a UILayout: records what a draw() function puts on screen."""

    def __init__(self, log: list, enabled: bool = True) -> None:
        self._log = log
        self.enabled = enabled
        self.alert = False
        self.scale_y = 1.0
        self.use_property_split = False
        self.operator_context = "EXEC_DEFAULT"

    def _child(self) -> Recorder:
        return Recorder(self._log, self.enabled)

    row = column = box = split = lambda self, *a, **k: self._child()

    def label(self, text: str = "", **kw) -> None:
        self._log.append(("label", text))
        if self.alert:
            self._log.append(("alert", text))

    def prop(self, data, name: str, **kw) -> None:
        self._log.append(("prop", name))
        self._log.append(("prop_of", data, name, kw.get("text")))
        self._log.append(("prop_kw", name, kw))

    def prop_search(self, data, name: str, search_data, search_name: str, **kw) -> None:
        self._log.append(("prop_search", name, search_name))

    def operator(self, idname: str, **kw):
        props = types.SimpleNamespace()
        self._log.append(("operator", idname, self, props, kw.get("text")))
        return props

    def menu(self, idname: str, **kw) -> None:
        self._log.append(("menu", idname))

    def template_icon(self, **kw) -> None:
        self._log.append(("icon", kw.get("icon_value")))

    def separator(self, **kw) -> None:
        pass


def draw(cls, context=None) -> list:
    log: list = []
    fake = types.SimpleNamespace(layout=Recorder(log))
    cls.draw(fake, context or bpy.context)
    return log


def operators_in(log: list) -> dict[str, tuple]:
    return {entry[1]: entry for entry in log if entry[0] == "operator"}


def test_import_splat_from_disk(addon, clean_scene, tmp_path) -> None:
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    assert bpy.ops.gen404.import_splat(filepath=str(path)) == {"FINISHED"}
    (obj,) = splat_objects()
    assert obj.name == "figure"
    assert splat_count(obj) == len(make_figure()["positions"])
    assert obj["gen404_source"] == "figure.ply"
    assert "gen404_task_id" not in obj


def test_import_up_axis_option_turns_the_scene(addon, clean_scene, tmp_path) -> None:
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    bpy.ops.gen404.import_splat(filepath=str(path), up_axis="Z")
    (obj,) = splat_objects()
    positions = np.empty(splat_count(obj) * 3, dtype=np.float32)
    obj.data.attributes["position"].data.foreach_get("vector", positions)
    np.testing.assert_allclose(positions.reshape(-1, 3), make_figure()["positions"], atol=1e-6)


def test_failed_import_leaves_the_scene_as_it_was(addon, clean_scene, tmp_path) -> None:
    bad = tmp_path / "broken.ply"
    bad.write_bytes(figure_ply_bytes()[:-100])  # truncated
    before = (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.collections))
    with pytest.raises(RuntimeError, match=r"broken\.ply"):
        bpy.ops.gen404.import_splat(filepath=str(bad))
    after = (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.collections))
    assert after == before


def test_every_operator_is_searchable_and_in_a_menu(addon) -> None:
    ours = [name for name in dir(bpy.ops.gen404) if not name.startswith("_")]
    assert {
        "generate",
        "import_splat",
        "cancel_task",
        "clear_tasks",
        "wait_all",
        "resume_task",
    } <= set(ours)
    for name in ours:
        rna = getattr(bpy.ops.gen404, name).get_rna_type()
        assert rna.name and rna.description, name
    # Helpers the UI calls with a task (status-bar reports, a task's details) are internal:
    # F3 does not list them. Every other one sits in a menu, which is what F3 searches.
    internal = {n for n in ours if "INTERNAL" in getattr(bpy.types, _class_of(n)).bl_options}
    assert internal == {"report", "task_details"}
    menus = addon_module("panels.menus")
    assert menus.draw_add_menu in bpy.types.VIEW3D_MT_add._dyn_ui_initialize()
    assert menus.draw_import_menu in bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize()
    assert menus.draw_export_menu in bpy.types.TOPBAR_MT_file_export._dyn_ui_initialize()
    add_menu = draw(bpy.types.VIEW3D_MT_gen404_add)
    assert ("menu", "VIEW3D_MT_gen404_history") in add_menu
    submenu = operators_in(add_menu + draw(bpy.types.VIEW3D_MT_gen404_history))
    # Export is File > Export's: the Add menu adds things.
    assert {f"gen404.{name}" for name in ours} - {f"gen404.{n}" for n in internal} == set(
        submenu
    ) | {"gen404.export_splat"}
    assert "gen404.export_splat" not in submenu
    log: list = []
    menus.draw_import_menu(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    assert operators_in(log)["gen404.import_splat"][4] == "Gaussian Splat (.ply/.spz/.splat/.sog)"
    log = []
    menus.draw_export_menu(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    assert "gen404.export_splat" in operators_in(log)


def _class_of(name: str) -> str:
    return "GEN404_OT_" + name


def test_convert_to_blender_splats_says_what_it_needs(addon, clean_scene, tmp_path) -> None:
    """Before Blender 5.3 there are no Blender splats to convert to; from 5.3 it needs a
    selected splat mesh (an import with the geometry-nodes display)."""
    path = tmp_path / "figure.ply"
    path.write_bytes(figure_ply_bytes())
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    kind = getattr(prefs, "splat_object", None)  # 5.3+: ask for the geometry-nodes mesh
    if kind is not None:
        prefs.splat_object = "NODES"
    try:
        bpy.ops.gen404.import_splat(filepath=str(path))
    finally:
        if kind is not None:
            prefs.splat_object = kind
    (figure,) = splat_objects()
    assert figure.type == "MESH" and figure.select_get()
    native = bpy.app.version >= (5, 3, 0)
    assert bpy.ops.gen404.convert_to_native.poll() == native
    figure.select_set(False)
    assert not bpy.ops.gen404.convert_to_native.poll()
    with pytest.raises(RuntimeError, match="geometry-nodes display" if native else "5.3 or newer"):
        bpy.ops.gen404.convert_to_native()
    convert = bpy.types.VIEW3D_MT_object_convert._dyn_ui_initialize()
    assert addon_module("panels.menus").draw_convert_menu in convert
    log: list = []
    addon_module("panels.menus").draw_convert_menu(
        types.SimpleNamespace(layout=Recorder(log)), bpy.context
    )
    assert ("gen404.convert_to_native" in operators_in(log)) == native


def test_sidebar_says_how_to_fix_a_missing_key(addon, monkeypatch) -> None:
    monkeypatch.delenv("GEN404_API_KEY", raising=False)
    state = bpy.context.window_manager.gen404
    state.input_mode, state.prompt = "TEXT", "a small robot"
    log = draw(bpy.types.VIEW3D_PT_gen404)
    labels = [entry[1] for entry in log if entry[0] == "label"]
    assert "No API key set" in labels
    ops = operators_in(log)
    assert ops["preferences.addon_show"][3].module == ADDON_MODULE
    assert ops["gen404.generate"][2].enabled is False


def test_sidebar_offline_blocks_generate(addon, monkeypatch) -> None:
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    bpy.context.preferences.system.use_online_access = False
    try:
        log = draw(bpy.types.VIEW3D_PT_gen404)
    finally:
        bpy.context.preferences.system.use_online_access = True
    assert ("label", "Online access is disabled") in log
    assert operators_in(log)["gen404.generate"][2].enabled is False


def test_sidebar_text_and_image_modes(addon, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    state = bpy.context.window_manager.gen404
    state.input_mode, state.prompt = "TEXT", "a small robot"
    log = draw(bpy.types.VIEW3D_PT_gen404)
    generate = operators_in(log)["gen404.generate"]
    assert generate[2].enabled is True and generate[3].prompt == "a small robot"
    assert ("prop", "input_mode") in log and ("prop", "prompt") in log

    state.prompt = "bad_prompt"
    log = draw(bpy.types.VIEW3D_PT_gen404)
    assert any("'_'" in entry[1] for entry in log if entry[0] == "label")
    assert operators_in(log)["gen404.generate"][2].enabled is False

    from tests.simulator.images import png_bytes

    image = tmp_path / "photo.png"
    image.write_bytes(png_bytes(32, 32))
    state.input_mode, state.image_path = "IMAGE", str(image)
    log = draw(bpy.types.VIEW3D_PT_gen404)
    assert ("prop", "image_path") in log
    # The preview is loaded when the path is set (Blender has no icons to draw in
    # background mode, so its icon id is 0 here; the UI draws it when non-zero).
    preview = addon_module("properties")._previews.get(str(image))
    assert preview is not None and tuple(preview.image_size) == (32, 32)
    generate = operators_in(log)["gen404.generate"]
    assert generate[2].enabled is True and generate[3].image_path == str(image)
    state.input_mode = "TEXT"


def test_task_list_rows_show_status_time_and_cancel(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(30.0)
    bpy.ops.gen404.generate(prompt="a slow statue")
    log = draw(bpy.types.VIEW3D_PT_gen404_tasks)
    labels = [entry[1] for entry in log if entry[0] == "label"]
    assert "a slow statue" in labels
    assert "0:00" in labels
    assert labels[-1] in ("Submitting", "Queued")
    (entry,) = addon_session().active()
    assert operators_in(log)["gen404.cancel_task"][3].job_id == entry.job_id


def test_task_list_buttons_and_alerts_follow_the_row_state(addon) -> None:
    rows, session = addon_module("client.task_rows"), addon_session()
    states = [rows.RowState.DONE, rows.RowState.PAUSED, rows.RowState.READY_TO_IMPORT]
    states.append(rows.RowState.FAILED)
    saved = session.entries
    session.entries = {
        f"k{i}": rows.TaskEntry(
            job_id=f"k{i}",
            label=f"robot {i}",
            kind="prompt",
            host="gw",
            state=state,
            message="why",
            started=0.0,
            ended=0.0,
        )
        for i, state in enumerate(states)
    }
    try:
        log = draw(bpy.types.VIEW3D_PT_gen404_tasks)
    finally:
        session.entries = saved
    resumes = [(e[3].job_id, e[4]) for e in log if e[:2] == ("operator", "gen404.resume_task")]
    assert sorted(resumes) == [("k0", "Import Again"), ("k1", "Resume"), ("k2", "Import")]
    assert [e[1] for e in log if e[0] == "alert"] == ["Failed: why"]
    assert "gen404.clear_tasks" in operators_in(log)


def test_disable_and_enable_again(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(30.0)
    bpy.ops.gen404.generate(prompt="a statue")
    session = addon_session()
    (entry,) = session.active()
    cancelled = row_state().CANCELLED
    addon_utils.disable(ADDON_MODULE)
    assert entry.state is cancelled
    assert not bpy.app.timers.is_registered(session.timer)
    assert not hasattr(bpy.ops.gen404, "generate") or not hasattr(bpy.types, "VIEW3D_PT_gen404")
    addon_utils.enable(ADDON_MODULE, default_set=True)
    assert hasattr(bpy.types, "VIEW3D_PT_gen404")
    assert addon_session() is not session and addon_session().entries == {}


def test_sidebar_offers_the_models_their_parameters_and_the_seed(
    addon, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    state = bpy.context.window_manager.gen404
    state.input_mode, state.prompt, state.model = "TEXT", "a small robot", "404-3dgs"
    log = draw(bpy.types.VIEW3D_PT_gen404)
    props = {entry[1] for entry in log if entry[0] == "prop"}
    assert {"model", "random_seed"} <= props and "pipeline_type" not in props
    assert "seed" not in props  # random: the add-on draws one and records it

    state.model, state.random_seed, state.seed = "404-mesh-v2", False, 12
    log = draw(bpy.types.VIEW3D_PT_gen404)
    props = {entry[1] for entry in log if entry[0] == "prop"}
    assert {"pipeline_type", "texture_size", "face_count", "seed"} <= props
    # Text with a mesh model: refused here already, with the reason.
    assert any("images only" in entry[1] for entry in log if entry[0] == "alert")
    assert operators_in(log)["gen404.generate"][2].enabled is False

    from tests.simulator.images import png_bytes

    image = tmp_path / "photo.png"
    image.write_bytes(png_bytes(32, 32))
    state.input_mode, state.image_path = "IMAGE", str(image)
    generate = operators_in(draw(bpy.types.VIEW3D_PT_gen404))["gen404.generate"]
    assert generate[2].enabled is True
    op = generate[3]
    assert (op.model, op.seed, op.pipeline_type, op.face_count) == (
        "404-mesh-v2",
        12,
        state.pipeline_type,
        state.face_count,
    )
    state.input_mode, state.model, state.random_seed = "TEXT", "404-3dgs", True


def test_a_finished_row_offers_generate_again_with_its_seed(addon) -> None:
    rows, session = addon_module("client.task_rows"), addon_session()
    models = addon_module("client.models")
    request = models.GenerationRequest(prompt="a small robot", seed=99)
    row = rows.TaskEntry("again-row", "a small robot", "prompt", "h", seed=99, request=request)
    row.state = rows.RowState.DONE
    session.entries[row.job_id] = row
    try:
        log = draw(bpy.types.VIEW3D_PT_gen404_tasks)
        again = operators_in(log)["gen404.generate_again"]
        assert again[3].job_id == "again-row" and again[4] == "Generate Again"
        assert ("label", "404-3dgs · seed 99") in log
    finally:
        del session.entries[row.job_id]
