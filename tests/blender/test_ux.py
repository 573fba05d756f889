"""An artist's first hour: every message seen in full, one naming, nothing that freezes."""

from __future__ import annotations

import time
import types

import bpy
import pytest

from tests.blender.helpers import addon_module, addon_session, row_state, splat_objects
from tests.blender.test_ui import Recorder, draw, operators_in
from tests.simulator import SIM_API_KEY

LONG_REASON = (
    "The gateway could not generate this: every worker ran out of memory while refining "
    "the splats of this very long and detailed prompt. Generate again; if it fails again, "
    "try a simpler prompt or image, or later."
)


def _pump_until_ended(timeout: float = 30.0):
    """Run the session's timer callback as Blender would, until no task is running."""
    session = addon_session()
    end = time.monotonic() + timeout
    while session.active() and time.monotonic() < end:
        session.pump()
        time.sleep(0.02)
    for _ in range(3):  # the tick that applies the last event also reports it
        session.pump()
    assert not session.active()


def _rows(entries: dict):
    rows = addon_module("client.task_rows")
    return {
        key: rows.TaskEntry(
            job_id=key,
            label=label,
            kind="prompt",
            host="gw",
            state=getattr(rows.RowState, state),
            message=message,
            task_id="123e4567-e89b-12d3-a456-426614174000",
            started=0.0,
            ended=0.0,
        )
        for key, (label, state, message) in entries.items()
    }


@pytest.fixture
def fake_rows():
    """Replace the session's task list for a test; yields a function that sets it."""
    session = addon_session()
    saved = session.entries

    def use(entries: dict) -> None:
        session.entries = _rows(entries)

    yield use
    session.entries = saved


def _labels(log: list) -> list[str]:
    return [entry[1] for entry in log if entry[0] == "label"]


# -- 1. every task's end reaches the status bar, and a failure is readable in full ----------


def test_a_landed_task_reports_info_from_the_timer(gateway, clean_scene, capsys) -> None:
    bpy.ops.gen404.generate(prompt="a bronze statue")
    _pump_until_ended()
    level, text = addon_session().reports[-1]
    assert (level, text) == ("INFO", f"404 Gen: '{splat_objects()[0].name}' is in the scene")
    # Reported through gen404.report, which Blender prints where no window shows it.
    assert f"Info: {text}" in capsys.readouterr().out


def test_a_failed_task_reports_error_with_the_reason(gateway, clean_scene, capsys) -> None:
    gateway.fail_next("Task timed out")
    bpy.ops.gen404.generate(prompt="a doomed statue")
    _pump_until_ended()
    level, text = addon_session().reports[-1]
    assert level == "ERROR"
    assert text.startswith("404 Gen: 'a doomed statue' failed: The gateway could not generate")
    assert "Task timed out. Generate again" in text
    assert f"Error: {text}" in capsys.readouterr().out


def test_a_script_that_waits_is_not_reported_twice(gateway, clean_scene) -> None:
    session = addon_session()
    before = len(session.reports)
    assert bpy.ops.gen404.generate(prompt="a waited statue", wait=True) == {"FINISHED"}
    session.pump()  # the timer's first tick after the script
    assert len(session.reports) == before  # the operator reported it itself


def test_a_failure_is_readable_in_full_in_the_sidebar(addon, fake_rows) -> None:
    fake_rows({"k1": ("a long robot", "FAILED", LONG_REASON)})
    log = draw(bpy.types.VIEW3D_PT_gen404_tasks)
    alerts = [entry[1] for entry in log if entry[0] == "alert"]
    assert len(alerts) > 2 and max(len(line) for line in alerts) <= 40
    assert " ".join(alerts) == f"Failed: {LONG_REASON}"  # every word, none clipped
    assert operators_in(log)["gen404.task_details"][3].job_id == "k1"
    # The Details popup: the whole message, what to do next, and the task id for support.
    details: list = []
    addon_module("operators.reports").draw_details(Recorder(details), "k1")
    labels = _labels(details)
    assert " ".join(e[1] for e in details if e[0] == "alert") == "Failed: " + LONG_REASON
    assert any(line.startswith("Generate again from the sidebar") for line in labels)
    assert any("123e4567-e89b-12d3-a456-426614174000" in line for line in labels)


# -- 2. waiting from the UI never freezes Blender --------------------------------------------


def test_wait_from_the_ui_is_modal_and_esc_stops_only_the_waiting(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(30.0)
    bpy.ops.gen404.generate(prompt="a slow statue")
    tasks = addon_module("operators.tasks")
    said: list = []
    op = types.SimpleNamespace(
        _total=1, _end=time.monotonic() + 60, _timer=None, report=lambda *a: said.append(a)
    )
    # Every other event goes on to Blender: the artist keeps working while it waits.
    assert tasks.wait_step(op, bpy.context, "MOUSEMOVE") == {"PASS_THROUGH"}
    assert tasks.wait_step(op, bpy.context, "TIMER") == {"PASS_THROUGH"}
    assert tasks.wait_step(op, bpy.context, "ESC") == {"CANCELLED"}
    assert said[-1] == ({"INFO"}, "404 Gen: stopped waiting; 1 task(s) keep running")
    assert len(addon_session().active()) == 1  # Esc stopped the waiting, not the task
    op._end = time.monotonic() - 1
    assert tasks.wait_step(op, bpy.context, "TIMER") == {"CANCELLED"}
    assert said[-1][0] == {"WARNING"}
    addon_session().cancel_all()
    assert tasks.wait_step(op, bpy.context, "TIMER") == {"FINISHED"}
    assert said[-1] == ({"INFO"}, "404 Gen: every task has ended")


def test_wait_from_a_script_still_blocks(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(30.0)
    bpy.ops.gen404.generate(prompt="a slow statue")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"still running after 0\.5 s"):
        bpy.ops.gen404.wait_all(timeout=0.5)
    assert time.monotonic() - started >= 0.5
    # With no window events (background mode, the bpy module) the UI form blocks too.
    with pytest.raises(RuntimeError, match="still running"):
        bpy.ops.gen404.wait_all("INVOKE_DEFAULT", timeout=0.2)


# -- 3. scripting starts offline: the message says the script way ----------------------------


def test_offline_message_says_the_script_way(gateway, clean_scene) -> None:
    bpy.context.preferences.system.use_online_access = False
    try:
        assert not bpy.ops.gen404.generate.poll()
        with pytest.raises(RuntimeError) as caught:
            bpy.ops.gen404.generate(prompt="a chair")
    finally:
        bpy.context.preferences.system.use_online_access = True
    assert "bpy.context.preferences.system.use_online_access = True" in str(caught.value)
    assert "Preferences → System → Network" in str(caught.value)
    assert str(caught.value).endswith("use_online_access = True")  # not cut short


def test_missing_key_says_the_script_way(gateway, monkeypatch) -> None:
    monkeypatch.delenv("GEN404_API_KEY")
    with pytest.raises(RuntimeError, match=r"os\.environ\['GEN404_API_KEY'\]"):
        bpy.ops.gen404.generate(prompt="a chair")


# -- 4. names ---------------------------------------------------------------------------------


def test_one_naming_pattern_and_one_word_for_a_task(addon) -> None:
    labels = {
        name: getattr(bpy.ops.gen404, name).get_rna_type().name
        for name in dir(bpy.ops.gen404)
        if not name.startswith("_")
    }
    assert all(label.endswith(" (404 Gen)") for label in labels.values()), labels
    assert not any("Generation" in label or "404 Task" in label for label in labels.values())
    assert labels["generate"] == "Generate Gaussian Splat (404 Gen)"
    assert labels["wait_all"] == "Wait for Tasks (404 Gen)"
    # The display controls have one name, in the 404 tab and in Properties.
    assert bpy.types.OBJECT_PT_gen404_splat.bl_label == "Splat Display"
    assert bpy.types.VIEW3D_PT_gen404_splat.bl_label == "Splat Display"


def test_each_resume_button_says_what_it_does(addon, fake_rows) -> None:
    fake_rows(
        {
            "done": ("robot", "DONE", "3000 splats"),
            "ready": ("robot", "READY_TO_IMPORT", ""),
            "paused": ("robot", "PAUSED", "offline"),
        }
    )
    describe = bpy.types.GEN404_OT_resume_task.description
    texts = {
        key: describe(bpy.context, types.SimpleNamespace(job_id=key))
        for key in ("done", "ready", "paused", "")
    }
    assert "once more from the local cache" in texts["done"]
    assert "downloaded in an earlier session" in texts["ready"]
    assert "never submitted" in texts["paused"]
    assert texts[""] == bpy.types.GEN404_OT_resume_task.bl_description  # from a menu: all
    assert len(set(texts.values())) == 4


# -- 5. the sidebar ---------------------------------------------------------------------------


def _sidebar(monkeypatch, mode: str, prompt: str = "", image: str = "") -> list:
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    state = bpy.context.window_manager.gen404
    state.input_mode, state.prompt, state.image_path = mode, prompt, image
    try:
        return draw(bpy.types.VIEW3D_PT_gen404)
    finally:
        state.input_mode, state.prompt, state.image_path = "TEXT", "", ""


def test_prompt_field_has_a_placeholder_and_an_empty_one_says_what_to_do(
    addon, monkeypatch
) -> None:
    log = _sidebar(monkeypatch, "TEXT")
    (kw,) = [entry[2] for entry in log if entry[:2] == ("prop_kw", "prompt")]
    assert "e.g. mechanic robot" in kw["placeholder"]
    assert operators_in(log)["gen404.generate"][2].enabled is False
    assert "Type a prompt (3 to 384 characters) to generate" in _labels(log)


def test_image_mode_checks_the_path_and_shows_it_as_typed(addon, monkeypatch, tmp_path) -> None:
    typed = f"{tmp_path}/missing/../missing/photo.png"  # shown as typed, not normalised
    log = _sidebar(monkeypatch, "IMAGE", image=typed)
    assert operators_in(log)["gen404.generate"][2].enabled is False
    lines = [entry[1] for entry in log if entry[0] == "alert"]
    assert lines[0].startswith("There is no file")
    assert typed in "".join(lines)  # a long path wraps mid-path: joined, it is whole
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    log = _sidebar(monkeypatch, "IMAGE", image=str(notes))
    assert operators_in(log)["gen404.generate"][2].enabled is False
    assert "notes.txt is not an image file" in " ".join(e[1] for e in log if e[0] == "alert")


def test_offline_generate_is_greyed_with_the_reason(addon, monkeypatch) -> None:
    monkeypatch.setenv("GEN404_API_KEY", SIM_API_KEY)
    assert bpy.ops.gen404.generate.poll()
    monkeypatch.delenv("GEN404_API_KEY")
    assert not bpy.ops.gen404.generate.poll()  # its tooltip is the poll message


def test_object_names_are_cut_at_a_word(addon) -> None:
    name_for = addon_module("operators.generate").object_name_for
    prompt = "a weathered bronze statue of a mechanic robot holding an enormous wrench aloft"
    name = name_for(prompt, "")
    assert len(name) <= 60 and prompt.startswith(name) and prompt[len(name)] == " "
    assert name_for("x" * 80, "") == "x" * 60  # one long word: cut where it must be
    assert name_for("", "//photos/my cat.png") == "my cat"


# -- 8. every message of the add-on starts the same way ---------------------------------------


def test_local_errors_carry_the_prefix(gateway, clean_scene) -> None:
    with pytest.raises(RuntimeError, match="404 Gen: The prompt contains characters"):
        bpy.ops.gen404.generate(prompt="café au lait")
    with pytest.raises(RuntimeError, match=r"404 Gen: There is no file /nothing/here\.png"):
        bpy.ops.gen404.generate(image_path="/nothing/here.png")
    assert row_state().FAILED  # nothing was submitted for either
    assert addon_session().active() == []
