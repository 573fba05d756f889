"""Blender processes sharing one user folder, for test_shared_folder.py (not collected).

    python shared_child.py install ZIP        install and enable the add-on, then exit
    python shared_child.py record READY GO    enable it, read the journal, touch READY,
                                              wait for GO, generate one task, wait for
                                              it, print its id and the splat objects
    python shared_child.py submit-and-die N   enable it, submit N tasks, print their ids
                                              once journalled, then die (SIGKILL)
    python shared_child.py resume READY GO    enable it, touch READY, wait for GO, pick
                                              up the journal (wait_all), print the
                                              splat objects and the task list

The caller sets BLENDER_USER_RESOURCES (shared by every run), GEN404_GATEWAY_URL,
GEN404_API_KEY and SSL_CERT_FILE.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import bpy

ADDON = "bl_ext.user_default.gen404"


def _enable() -> object:
    import addon_utils  # importable only once bpy is

    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable(ADDON, default_set=True)
    return sys.modules[ADDON + ".session"].get_session()  # type: ignore[attr-defined]


def _barrier(ready: str, go: str) -> None:
    Path(ready).touch()
    end = time.monotonic() + 120
    while not Path(go).exists():
        if time.monotonic() > end:
            raise SystemExit("no go")
        time.sleep(0.01)


def _objects() -> list[dict]:
    return [
        {"name": o.name, "task_id": o.get("gen404_task_id")}
        for o in bpy.data.objects
        if "gen404_splats" in o
    ]


def install(zip_path: str) -> None:
    bpy.context.preferences.system.use_online_access = True
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=zip_path, enable_on_install=True
    )
    print(json.dumps({"installed": sorted(result)}), flush=True)


def record(ready: str, go: str) -> None:
    session = _enable()
    session.start()  # type: ignore[attr-defined]  # the journal is read: empty
    _barrier(ready, go)
    assert bpy.ops.gen404.generate(prompt=f"robot of {os.getpid()}") == {"FINISHED"}
    result = bpy.ops.gen404.wait_all(timeout=60)
    print(json.dumps({"wait_all": sorted(result), "objects": _objects()}), flush=True)


def submit_and_die(count: int) -> None:
    session: object = _enable()
    for n in range(count):
        assert bpy.ops.gen404.generate(prompt=f"orphan {n}") == {"FINISHED"}
    rows = session.active()  # type: ignore[attr-defined]
    while any(not row.task_id for row in rows):  # journalled once the gateway answers
        session.handle(session.runner.events.get(timeout=30))  # type: ignore[attr-defined]
    print(json.dumps({"task_ids": [row.task_id for row in rows]}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def resume(ready: str, go: str) -> None:
    session = _enable()
    _barrier(ready, go)
    result = bpy.ops.gen404.wait_all(timeout=60)
    rows = [
        {"task_id": r.task_id, "state": str(r.state.value), "message": r.message}
        for r in session.entries.values()  # type: ignore[attr-defined]
    ]
    print(json.dumps({"wait_all": sorted(result), "objects": _objects(), "rows": rows}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "install":
        install(sys.argv[2])
    elif mode == "record":
        record(sys.argv[2], sys.argv[3])
    elif mode == "submit-and-die":
        submit_and_die(int(sys.argv[2]))
    else:
        resume(sys.argv[2], sys.argv[3])
