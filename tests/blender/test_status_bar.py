"""Running tasks in Blender's status bar, kept up by the session's pump; an INFO
report (the existing end report) when each one lands. Headless: no errors."""

from __future__ import annotations

import logging
import time

import bpy

from tests.blender.helpers import addon_module, addon_session, splat_objects


def _pump_until_idle(timeout: float = 30.0) -> list[str | None]:
    session, bar = addon_session(), addon_module("status_bar")
    lines: list[str | None] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        again = session.pump()
        if not lines or lines[-1] != bar.current:
            lines.append(bar.current)
        if again is None:
            return lines
        time.sleep(0.05)
    raise TimeoutError("the tasks did not end")


def test_the_status_bar_follows_running_tasks_and_each_landing_is_reported(
    gateway, clean_scene, capfd, caplog
) -> None:
    gateway.set_stage_seconds(0.4)
    caplog.set_level(logging.ERROR)
    assert bpy.ops.gen404.generate(prompt="status robot") == {"FINISHED"}
    assert bpy.ops.gen404.generate(prompt="status cat") == {"FINISHED"}
    capfd.readouterr()

    lines = _pump_until_idle()

    shown = [line for line in lines if line]
    assert shown, lines
    assert all(line.startswith("404 Gen: ") for line in shown)
    assert any("2 tasks" in line and "'status robot'" in line for line in shown), shown
    assert any("In progress" in line or "Queued" in line for line in shown), shown
    assert lines[-1] is None  # given back to Blender once nothing runs
    assert sorted(o.name for o in splat_objects()) == ["status cat", "status robot"]
    out = capfd.readouterr().out
    for name in ("status robot", "status cat"):
        assert out.count(f"404 Gen: '{name}' is in the scene") == 1, out
    assert not [r for r in caplog.records if "pump failed" in r.getMessage()]


def test_showing_and_clearing_the_line_headless_never_raises(addon) -> None:
    bar = addon_module("status_bar")
    bar.show("404 Gen: test")
    assert bar.current == "404 Gen: test"
    bar.show(None)
    assert bar.current is None
    assert bpy.app.background or bpy.context.window_manager is not None
