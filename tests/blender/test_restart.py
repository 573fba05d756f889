"""Kill Blender mid-task; a new Blender finishes the task without submitting it again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.blender.helpers import built_zip, last_json, run_child
from tests.simulator import SIM_API_KEY, make_figure

CHILD = Path(__file__).with_name("restart_child.py")


def test_a_killed_blender_resumes_its_task_and_imports_it(addon, sim, tmp_path) -> None:
    sim.set_stage_seconds(2.0)  # the task is still running when the first Blender dies
    env = dict(os.environ)
    env.update(
        BLENDER_USER_RESOURCES=str(tmp_path / "blender-user"),
        GEN404_GATEWAY_URL=sim.url,
        GEN404_API_KEY=SIM_API_KEY,
    )

    first = run_child(CHILD, env, "submit", str(built_zip()))
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    task_id = last_json(first.stdout)["task_id"]
    assert [r.task_id for r in sim.stats().add_task_log] == [task_id]
    journal = tmp_path / "blender-user" / "extensions" / ".user" / "user_default" / "gen404"
    assert task_id in (journal / "tasks.json").read_text()
    assert SIM_API_KEY not in (journal / "tasks.json").read_text()

    second = run_child(CHILD, env, "resume")
    assert second.returncode == 0, second.stderr[-2000:]
    report = last_json(second.stdout)
    assert report["wait_all"] == ["FINISHED"]
    (obj,) = report["objects"]
    assert obj["task_id"] == task_id and obj["name"] == "a restarted robot"
    assert obj["splats"] == len(make_figure()["positions"])
    stats = sim.stats()
    assert len(stats.add_task_log) == 1  # never submitted again
    assert stats.requests.get("/get_result", 0) == 1


def test_quitting_while_a_task_runs_is_prompt_and_clean(addon, sim, tmp_path) -> None:
    sim.set_stage_seconds(30.0)
    env = dict(os.environ)
    env.update(
        BLENDER_USER_RESOURCES=str(tmp_path / "blender-user"),
        GEN404_GATEWAY_URL=sim.url,
        GEN404_API_KEY=SIM_API_KEY,
    )
    started = time.monotonic()
    run = run_child(CHILD, env, "quit", str(built_zip()))
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-2000:]
    assert last_json(run.stdout) == {"quitting": True}
    assert "Traceback" not in run.stderr and "Fatal" not in run.stderr, run.stderr[-2000:]
    # A task that polls for 90 s more must not hold the exit (generous bound: CI is slow).
    assert elapsed < 60, elapsed
