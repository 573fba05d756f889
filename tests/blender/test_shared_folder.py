"""Two Blenders on one user folder: neither loses the other's tasks, and each task is
resumed (polled, downloaded, imported) by exactly one of them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.blender.helpers import built_zip, last_json, run_child
from tests.simulator import SIM_API_KEY

CHILD = Path(__file__).with_name("shared_child.py")


def _env(sim, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BLENDER_USER_RESOURCES=str(tmp_path / "blender-user"),
        GEN404_GATEWAY_URL=sim.url,
        GEN404_API_KEY=SIM_API_KEY,
    )
    return env


def _journal(tmp_path: Path) -> dict:
    folder = tmp_path / "blender-user" / "extensions" / ".user" / "user_default" / "gen404"
    return json.loads((folder / "tasks.json").read_text())


def _together(env: dict[str, str], mode: str, tmp_path: Path) -> list[dict]:
    """Two Blenders in ``mode``, let go at the same moment once both are ready."""
    go = tmp_path / f"go-{mode}"
    ready = [tmp_path / f"ready-{mode}-{n}" for n in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), mode, str(flag), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    try:
        end = time.monotonic() + 120
        while not all(flag.exists() for flag in ready):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < end, "the Blenders did not start"
            time.sleep(0.05)
        go.touch()
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    return [last_json(out) for out, _ in outs]


def _install(env: dict[str, str]) -> None:
    run = run_child(CHILD, env, "install", str(built_zip()))
    assert run.returncode == 0 and "FINISHED" in run.stdout, run.stderr[-2000:]


def test_two_blenders_recording_at_once_both_keep_their_task(addon, sim, tmp_path) -> None:
    """Before: the journal listed 1 task (the last writer's) after each Blender recorded
    one; now it lists both, each imported by the Blender that submitted it."""
    env = _env(sim, tmp_path)
    _install(env)
    reports = _together(env, "record", tmp_path)

    submitted = {r.task_id for r in sim.stats().add_task_log}
    assert len(submitted) == 2
    for report in reports:
        assert report["wait_all"] == ["FINISHED"]
        (obj,) = report["objects"]
        assert obj["task_id"] in submitted
    tasks = {t["task_id"]: t for t in _journal(tmp_path)["tasks"]}
    assert set(tasks) == submitted
    assert all(t["state"] == "ready" and t["imported"] for t in tasks.values())


def test_two_blenders_starting_together_resume_each_task_once(addon, sim, tmp_path) -> None:
    """A Blender submits two tasks and is killed; two Blenders then start on the same
    folder at once. Before: both resumed both tasks (two downloads and two imports of
    each); now each task is polled, downloaded and imported by exactly one of them."""
    sim.set_stage_seconds(2.0)  # still running when the first Blender dies
    env = _env(sim, tmp_path)
    _install(env)
    first = run_child(CHILD, env, "submit-and-die", "2")
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    task_ids = last_json(first.stdout)["task_ids"]
    assert len(set(task_ids)) == 2
    before = sim.stats()
    assert [r.task_id for r in before.add_task_log] == task_ids

    reports = _together(env, "resume", tmp_path)

    stats = sim.stats()
    assert len(stats.add_task_log) == 2  # never submitted again
    since = stats.request_log[len(before.request_log) :]
    imports = Counter(o["task_id"] for r in reports for o in r["objects"])
    assert imports == dict.fromkeys(task_ids, 1), reports
    for task_id in task_ids:
        downloads = stats.requests_for("/get_result", task_id)
        assert len(downloads) == 1, downloads
        polls = [r for r in since if r.path == "/get_status" and r.task_id == task_id]
        pollers = {r.client for r in polls}
        assert len(pollers) == 1, polls  # one Blender's connection polled it
        assert downloads[0].client in pollers
    for report in reports:  # the other Blender leaves the task alone: no row, no error
        assert report["wait_all"] == ["FINISHED"]
        mine = {o["task_id"] for o in report["objects"]}
        assert {row["task_id"] for row in report["rows"]} == mine, report
    tasks = {t["task_id"]: t for t in _journal(tmp_path)["tasks"]}
    assert all(tasks[t]["state"] == "ready" and tasks[t]["imported"] for t in task_ids)
