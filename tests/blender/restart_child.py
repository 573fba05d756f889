"""A separate Blender process for the restart test (run as a script, not collected).

    python restart_child.py submit ZIP   -> installs the add-on, submits a task, prints
                                            its id once journalled, then dies (SIGKILL)
    python restart_child.py resume       -> enables the installed add-on, waits for
                                            every outstanding task, prints the splat objects

The caller sets BLENDER_USER_RESOURCES (shared by both runs), GEN404_GATEWAY_URL,
GEN404_API_KEY and SSL_CERT_FILE.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import bpy

ADDON = "bl_ext.user_default.gen404"


def submit(zip_path: str) -> None:
    bpy.context.preferences.system.use_online_access = True
    bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=zip_path, enable_on_install=True
    )
    assert bpy.ops.gen404.generate(prompt="a restarted robot") == {"FINISHED"}
    session = sys.modules[ADDON + ".session"].get_session()
    row_state = sys.modules[ADDON + ".client.task_rows"].RowState
    (entry,) = session.active()
    # Apply worker events until the gateway has the task (it is journalled before polling).
    while entry.state is row_state.SUBMITTING:
        session.handle(session.runner.events.get(timeout=30))
    print(json.dumps({"task_id": entry.task_id, "state": entry.state}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def quit_mid_task(zip_path: str) -> None:
    """Start a task and let the process end while it runs (Blender quitting)."""
    bpy.context.preferences.system.use_online_access = True
    bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=zip_path, enable_on_install=True
    )
    assert bpy.ops.gen404.generate(prompt="an abandoned robot") == {"FINISHED"}
    print(json.dumps({"quitting": True}), flush=True)


def resume() -> None:
    import addon_utils  # importable only once bpy is

    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable(ADDON, default_set=True)
    result = bpy.ops.gen404.wait_all(timeout=60)
    objects = [
        {"name": o.name, "task_id": o.get("gen404_task_id"), "splats": int(o["gen404_splats"])}
        for o in bpy.data.objects
        if "gen404_splats" in o
    ]
    print(json.dumps({"wait_all": sorted(result), "objects": objects}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "submit":
        submit(sys.argv[2])
    elif sys.argv[1] == "quit":
        quit_mid_task(sys.argv[2])
    else:
        resume()
