# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Place a mesh model's GLB result in the scene with Blender's own glTF importer.

Placed like a splat result: at the 3D cursor, in "404 Generations", selected and
active, with the task's custom properties. The importer turns glTF's +Y up into
Blender's +Z up. Whatever the import created is removed again when anything
fails, so a failed import leaves the scene as it was. Main thread only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import bpy

from .builder import COLLECTION_NAME, PROP_PREFIX, collection, select_only

MESH_RESULT_PROP = PROP_PREFIX + "mesh"
"""Set on the object a mesh model's result became (its root, when the GLB has several)."""
_DATA_KINDS = (
    "objects",
    "meshes",
    "pointclouds",
    "materials",
    "images",
    "textures",
    "node_groups",
    "collections",
    "cameras",
    "lights",
    "actions",
    "armatures",
)


class MeshImportError(RuntimeError):
    """Blender's glTF importer could not read the result."""


def data_pointers() -> dict[str, set[int]]:
    """What ``bpy.data`` holds now: ``created_since`` tells what an import added."""
    return {kind: {item.as_pointer() for item in getattr(bpy.data, kind)} for kind in _DATA_KINDS}


def created_since(before: dict[str, set[int]]) -> dict[str, list[Any]]:
    return {
        kind: [item for item in getattr(bpy.data, kind) if item.as_pointer() not in before[kind]]
        for kind in _DATA_KINDS
    }


def remove_created(created: dict[str, list[Any]]) -> None:
    """Delete what an import made, objects first (they use the rest)."""
    for kind in _DATA_KINDS:
        collection = getattr(bpy.data, kind)
        for item in created[kind]:
            with contextlib.suppress(ReferenceError, RuntimeError):  # gone already
                collection.remove(item)


def _run_importer(path: str) -> None:
    ops: Any = bpy.ops
    wm: Any = bpy.context.window_manager
    window = wm.windows[0] if wm is not None and len(wm.windows) else None
    try:
        if window is not None and bpy.context.window is None:  # from a timer
            with bpy.context.temp_override(window=window):
                result = ops.import_scene.gltf(filepath=path)
        else:
            result = ops.import_scene.gltf(filepath=path)
    except (RuntimeError, AttributeError) as exc:
        raise MeshImportError(f"Blender's glTF importer could not read it: {exc}") from exc
    if "FINISHED" not in result:
        raise MeshImportError("Blender's glTF importer could not read it")


def import_glb(
    scene: bpy.types.Scene,
    view_layer: bpy.types.ViewLayer,
    path: str,
    name: str,
    *,
    properties: Mapping[str, str | int | float] | None = None,
) -> bpy.types.Object:
    """Import the GLB at ``path`` as one object named ``name`` (an empty parents several)."""
    before = data_pointers()
    try:
        _run_importer(path)
        created = created_since(before)
        objects = created["objects"]
        if not objects:
            raise MeshImportError("the GLB holds no object")
        roots = [obj for obj in objects if obj.parent is None or obj.parent not in objects]
        if len(roots) == 1:
            root = roots[0]
        else:
            root = bpy.data.objects.new(name, None)
            created["objects"].append(root)
            for obj in roots:
                obj.parent = root
        target = collection(scene)
        for obj in [*objects, root]:
            for coll in list(obj.users_collection):
                coll.objects.unlink(obj)
            if obj.name not in target.objects:
                target.objects.link(obj)
        root.name = name
        root.location = scene.cursor.location
        root[MESH_RESULT_PROP] = True
        for key, value in (properties or {}).items():
            root[PROP_PREFIX + key] = value
    except Exception:
        remove_created(created_since(before))
        raise
    select_only(view_layer, root)
    return root


__all__ = [
    "COLLECTION_NAME",
    "MESH_RESULT_PROP",
    "MeshImportError",
    "created_since",
    "data_pointers",
    "import_glb",
    "remove_created",
]
