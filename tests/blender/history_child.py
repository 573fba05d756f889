"""Separate Blender processes for the History test (run as a script, not collected).

    python history_child.py generate ZIP IMAGE -> installs the add-on, generates a splat
                                                 from a prompt and a mesh from IMAGE,
                                                 prints their task ids, quits
    python history_child.py history OUT        -> a new Blender: enables the installed
                                                 add-on, reads the History, loads its
                                                 previews, copies the thumbnails to OUT,
                                                 then Import Again, Generate Again,
                                                 Copy Task ID and Remove; prints a report

The caller sets BLENDER_USER_RESOURCES (shared by both runs), GEN404_GATEWAY_URL,
GEN404_API_KEY and SSL_CERT_FILE. Each run ends with ``os._exit`` after printing:
bpy 4.2's glTF code can crash the interpreter's shutdown.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import bpy

ADDON = "bl_ext.user_default.gen404"
PROMPT = "a history robot"
SEED = 4242


def addon(name: str):
    return sys.modules[f"{ADDON}.{name}"]


def generate(zip_path: str, image: str) -> dict:
    bpy.context.preferences.system.use_online_access = True
    bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=zip_path, enable_on_install=True
    )
    assert bpy.ops.gen404.generate(prompt=PROMPT, seed=SEED, wait=True) == {"FINISHED"}
    assert bpy.ops.gen404.generate(image_path=image, model="404-mesh-v2", wait=True) == {"FINISHED"}
    rows = list(addon("session").get_session().entries.values())
    return {"tasks": {row.kind: row.task_id for row in rows}, "objects": len(bpy.data.objects)}


def objects() -> dict[str, str]:
    """The generated objects in the file, by name: their task ids."""
    return {o.name: o["gen404_task_id"] for o in bpy.data.objects if "gen404_task_id" in o}


def history(out: str) -> dict:
    import addon_utils  # importable only once bpy is

    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable(ADDON, default_set=True)
    view = addon("history_view")
    report: dict = {"objects_before": objects()}
    assert bpy.ops.gen404.history_refresh(wait=True) == {"FINISHED"}
    rows = view.rows()
    report["rows"] = [
        {
            "task_id": r.task_id,
            "label": r.label,
            "kind": r.kind,
            "seed": r.seed,
            "model": r.model,
            "cached": r.cached,
            "has_thumbnail": r.has_thumbnail,
            "again_problem": addon("operators.history").again_problem(r),
        }
        for r in rows
    ]
    report["previews"] = {}
    for r in rows:
        preview = view.preview(r.task_id)
        pixels = list(preview.image_pixels_float) if preview is not None else []
        report["previews"][r.task_id] = {
            "icon_id": preview.icon_id if preview is not None else None,
            "size": list(preview.image_size) if preview is not None else None,
            "opaque": sum(1 for a in pixels[3::4] if a > 0.5),
            "corner_alpha": pixels[3] if pixels else None,
        }
        Path(out).mkdir(parents=True, exist_ok=True)
        release = "blender-{}.{}".format(*bpy.app.version[:2])
        shutil.copyfile(r.thumbnail, Path(out) / f"{release}-{r.kind}-{r.model}.png")
    folder = addon("preferences").user_folder()
    report["user_folder"] = folder
    report["results_folder"] = str(addon("history.rows").result_folder(folder))
    tasks = {r.kind: r.task_id for r in rows}
    splat, mesh = tasks["prompt"], tasks["image"]

    report["import"] = sorted(bpy.ops.gen404.history_import(task_id=splat, wait=True))
    report["objects_after_import"] = objects()
    report["import_mesh"] = sorted(bpy.ops.gen404.history_import(task_id=mesh, wait=True))
    report["objects_after_mesh"] = objects()
    try:
        bpy.ops.gen404.history_generate_again(task_id=mesh, wait=True)
        report["again_image"] = "FINISHED"
    except RuntimeError as exc:  # an ERROR report raises from a script
        report["again_image"] = str(exc)
    report["again"] = sorted(bpy.ops.gen404.history_generate_again(task_id=splat, wait=True))
    report["objects_after_again"] = objects()
    report["copy"] = sorted(bpy.ops.gen404.history_copy_id(task_id=splat))
    report["remove"] = sorted(bpy.ops.gen404.history_remove(task_id=mesh))
    report["rows_after_remove"] = [r.task_id for r in view.rows()]
    report["preview_after_remove"] = view.preview(mesh) is not None
    journal = addon("client.journal").open_journal(folder)
    report["journal_after_remove"] = journal.get(mesh) is not None
    try:
        bpy.ops.gen404.history_import(task_id="../../tasks", wait=True)
        report["hostile"] = "FINISHED"
    except RuntimeError as exc:
        report["hostile"] = str(exc)
    return report


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        result = generate(sys.argv[2], sys.argv[3])
    else:
        result = history(sys.argv[2])
    print(json.dumps(result), flush=True)
    sys.stderr.flush()
    os._exit(0)
