"""Re-import from the cache, file loads mid-task, offline resumes, secrets, many tasks."""

from __future__ import annotations

import bpy
import pytest

from tests.blender.helpers import (
    ADDON_MODULE,
    addon_module,
    addon_session,
    row_state,
    splat_objects,
    wait_for_event,
)
from tests.simulator import SIM_API_KEY, faults


def test_reimporting_a_finished_task_needs_no_network(gateway, clean_scene) -> None:
    assert bpy.ops.gen404.generate(prompt="a cached cup", wait=True) == {"FINISHED"}
    (obj,) = splat_objects()
    bpy.data.objects.remove(obj)
    (entry,) = [e for e in addon_session().entries.values() if e.label == "a cached cup"]
    before = gateway.stats()
    bpy.context.preferences.system.use_online_access = False  # proves no network is needed
    try:
        assert bpy.ops.gen404.resume_task(job_id=entry.job_id) == {"FINISHED"}
        assert addon_session().wait_all(timeout=30)
    finally:
        bpy.context.preferences.system.use_online_access = True
    (again,) = splat_objects()
    assert again.name == "a cached cup" and again["gen404_task_id"] == entry.task_id
    after = gateway.stats()
    assert after.connections == before.connections
    assert after.requests == before.requests


def test_loading_another_file_mid_task_imports_into_the_open_scene(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(0.5)
    bpy.ops.gen404.generate(prompt="a travelling lamp")
    session = addon_session()
    bpy.ops.wm.read_homefile(use_empty=True)  # another file, tasks still running
    assert session.timer and bpy.app.timers.is_registered(session.timer)
    assert bpy.ops.gen404.wait_all(timeout=30) == {"FINISHED"}
    (obj,) = splat_objects()
    assert obj.name == "a travelling lamp"
    assert obj.name in bpy.context.scene.objects


def test_offline_resume_pauses_without_connecting(gateway, clean_scene) -> None:
    gateway.set_stage_seconds(30.0)
    bpy.ops.gen404.generate(prompt="a paused clock")
    session = addon_session()
    (entry,) = session.active()
    while not entry.task_id:
        wait_for_event(session.runner.events)
        session.pump()
    # Blender quits mid-task (the journal keeps it), then starts offline.
    import addon_utils

    addon_utils.disable(ADDON_MODULE)
    connections = gateway.stats().connections
    bpy.context.preferences.system.use_online_access = False
    try:
        addon_utils.enable(ADDON_MODULE, default_set=True)
        session = addon_session()
        session.start()
        (row,) = [e for e in session.entries.values() if e.task_id == entry.task_id]
        assert row.status_text().startswith("Paused: Online access is disabled")
        assert gateway.stats().connections == connections
        with pytest.raises(RuntimeError, match="Online access is disabled"):
            bpy.ops.gen404.resume_task(job_id=row.job_id)
    finally:
        bpy.context.preferences.system.use_online_access = True
    assert gateway.stats().connections == connections
    gateway.advance(120.0)  # the gateway finished the task meanwhile
    assert bpy.ops.gen404.resume_task(job_id=row.job_id) == {"FINISHED"}
    assert bpy.ops.gen404.wait_all(timeout=30) == {"FINISHED"}
    assert [o["gen404_task_id"] for o in splat_objects()] == [entry.task_id]
    assert len(gateway.stats().add_task_log) == 1


def _submitted_then_quit(gateway, prompt: str) -> str:
    """Generate, wait for the task id (journalled), then quit Blender's add-on."""
    bpy.ops.gen404.generate(prompt=prompt)
    session = addon_session()
    (entry,) = [e for e in session.active() if e.label == prompt]
    while not entry.task_id:
        wait_for_event(session.runner.events)
        session.pump()
    import addon_utils

    addon_utils.disable(ADDON_MODULE)
    return entry.task_id


def test_a_task_journalled_for_another_gateway_waits(gateway, clean_scene, monkeypatch) -> None:
    """The key goes only to the gateway the preferences (or GEN404_GATEWAY_URL) name,
    never to the host written in the journal: such a task waits, paused, saying why."""
    import addon_utils

    gateway.set_stage_seconds(30.0)
    task_id = _submitted_then_quit(gateway, "a travelling clock")
    requests = sum(gateway.stats().requests.values())
    monkeypatch.setenv("GEN404_GATEWAY_URL", "https://gateway-eu.404.xyz:4443")
    addon_utils.enable(ADDON_MODULE, default_set=True)
    session = addon_session()
    session.start()
    (row,) = [e for e in session.entries.values() if e.task_id == task_id]
    assert row.state is row_state().PAUSED
    assert row.status_text().startswith(f"Paused: This task was sent to 127.0.0.1:{gateway.port}")
    assert "gateway-eu.404.xyz:4443" in row.message
    assert sum(gateway.stats().requests.values()) == requests  # nothing sent anywhere

    monkeypatch.setenv("GEN404_GATEWAY_URL", gateway.url)  # the user sets it back
    gateway.advance(120.0)
    assert bpy.ops.gen404.resume_task(job_id=row.job_id) == {"FINISHED"}
    assert bpy.ops.gen404.wait_all(timeout=30) == {"FINISHED"}
    assert [o["gen404_task_id"] for o in splat_objects()] == [task_id]
    assert len(gateway.stats().add_task_log) == 1


def test_odd_answers_leave_the_paid_task_to_resume(gateway, clean_scene) -> None:
    """PartialResult(<5000 digits>) and JSON nested 100k deep, to the last retry: the task
    fails for now, stays unfinished in the journal, and resumes on the next start."""
    import addon_utils

    retry = addon_module("client.retry")
    session = addon_session()
    session.runner._retry = retry.RetryPolicy(base_s=0.01, max_delay_s=0.01)
    attempts = retry.RetryPolicy().max_attempts
    gateway.add_faults(
        "/get_status", [faults.huge_partial(5000), faults.deep_json(100_000)] * (attempts // 2)
    )
    bpy.ops.gen404.generate(prompt="an odd robot")
    assert bpy.ops.gen404.wait_all(timeout=60) == {"FINISHED"}
    (row,) = [e for e in session.entries.values() if e.label == "an odd robot"]
    assert row.state is row_state().FAILED
    assert row.message.endswith("resumes when the add-on starts again."), row.message
    assert "ValueError" not in row.message and "RecursionError" not in row.message
    assert splat_objects() == []

    addon_utils.disable(ADDON_MODULE)  # Blender quits and starts again
    addon_utils.enable(ADDON_MODULE, default_set=True)
    addon_session().start()
    assert bpy.ops.gen404.wait_all(timeout=30) == {"FINISHED"}
    assert [o["gen404_task_id"] for o in splat_objects()] == [row.task_id]
    assert len(gateway.stats().add_task_log) == 1


def test_a_malformed_key_is_refused_before_sending_and_never_echoed(
    gateway, clean_scene, monkeypatch
) -> None:
    monkeypatch.setenv("GEN404_API_KEY", "my-secret-key-1234")
    with pytest.raises(RuntimeError, match="not valid") as info:
        bpy.ops.gen404.generate(prompt="a chair", wait=True)
    assert "my-secret-key-1234" not in str(info.value)
    assert gateway.stats().connections == 0


def test_a_wrong_key_is_reported_without_the_key(gateway, clean_scene, monkeypatch) -> None:
    wrong = "00000000-0000-4000-8000-000000000000"
    assert wrong != SIM_API_KEY
    monkeypatch.setenv("GEN404_API_KEY", wrong)
    with pytest.raises(RuntimeError, match="API key") as info:
        bpy.ops.gen404.generate(prompt="a chair", wait=True)
    assert wrong not in str(info.value)
    (entry,) = [e for e in addon_session().entries.values() if e.label == "a chair"]
    assert wrong not in entry.message


def test_twenty_tasks_at_once_all_import_over_few_connections(gateway, clean_scene) -> None:
    session = addon_session()
    prompts = [f"robot number {i}" for i in range(20)]
    # No task ends before all twenty are on the gateway: they share one client (and its
    # connection) however slowly a busy machine runs the operators. Then all may end.
    gateway.set_stage_seconds(3600.0)
    for prompt in prompts:
        assert bpy.ops.gen404.generate(prompt=prompt) == {"FINISHED"}
    while not all(e.task_id for e in session.active()):
        wait_for_event(session.runner.events, timeout=60)
        session.pump()
    assert len(session.active()) == 20
    gateway.advance(3 * 3600.0)
    interval: float | None = 0.0
    while interval is not None:  # drive the real timer callback, as Blender would
        if session.active():
            wait_for_event(session.runner.events, timeout=60)
        interval = session.pump()
    assert sorted(o.name for o in splat_objects()) == sorted(prompts)
    stats = gateway.stats()
    assert len(stats.add_task_log) == 20
    assert stats.requests.get("/get_result", 0) == 20
    assert stats.connections <= 4  # one shared HTTP/2 connection (a few if it was recycled)
    print(f"longest pump tick without an import: {session.longest_tick_s * 1000:.2f} ms")
