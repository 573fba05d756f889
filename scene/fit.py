# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fit a result to a placeholder: the mesh object selected when the generation started.

The result is scaled uniformly to fit inside the placeholder's world-space bounds,
centred on them in X and Y, and set on their bottom. The placeholder is remembered
by name (a task outlives undo, file loads and renames of anything else: an ID
reference would not), and looked up again when the result lands; gone by then, or no
longer a mesh, the result stays where it was put.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bpy
import numpy as np

from .builder import SPLAT_COUNT_PROP
from .mesh_result import MESH_RESULT_PROP

RESULT_MARKS = (SPLAT_COUNT_PROP, MESH_RESULT_PROP)


def is_result(obj: Any) -> bool:
    """``obj`` is (a part of) an object this add-on made: never a placeholder."""
    while obj is not None:
        if any(mark in obj for mark in RESULT_MARKS):
            return True
        obj = obj.parent
    return False


def placeholder_name(context: bpy.types.Context) -> str:
    """The selected mesh to fit the next result to ("" when there is none): the active
    object if it is a selected mesh, else the first selected mesh; results excluded."""
    active: Any = context.active_object
    selected = list(getattr(context, "selected_objects", None) or ())
    candidates = [active, *selected] if active is not None and active in selected else selected
    for obj in candidates:
        if obj.type == "MESH" and not is_result(obj):
            return str(obj.name)
    return ""


def tree(root: Any) -> list[Any]:
    """``root`` and everything parented under it (a GLB's meshes under their empty)."""
    return [root, *root.children_recursive]


def world_bounds(objects: Iterable[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(min, max) of the points of ``objects`` (meshes and point clouds) in world space;
    None when they hold no point."""
    lows, highs = [], []
    for obj in objects:
        data = obj.data
        if obj.type == "MESH" and len(data.vertices):
            points = np.empty(len(data.vertices) * 3, np.float32)
            data.vertices.foreach_get("co", points)
        elif obj.type == "POINTCLOUD" and len(data.points):
            points = np.empty(len(data.points) * 3, np.float32)
            data.attributes["position"].data.foreach_get("vector", points)
        else:
            continue
        matrix = np.array(obj.matrix_world, dtype=np.float64)
        world = points.reshape(-1, 3).astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
        lows.append(world.min(axis=0))
        highs.append(world.max(axis=0))
    if not lows:
        return None
    return np.min(lows, axis=0), np.max(highs, axis=0)


def to_placeholder(view_layer: bpy.types.ViewLayer, result: Any, name: str) -> bool:
    """Scale, centre and ground ``result`` (an unparented object, with its children) in
    the bounds of the object called ``name``. Returns whether it was fitted."""
    placeholder: Any = bpy.data.objects.get(name) if name else None
    if placeholder is None or placeholder.type != "MESH" or placeholder == result:
        return False
    view_layer.update()  # matrix_world of what was just created
    target = world_bounds([placeholder])
    source = world_bounds(tree(result))
    if target is None or source is None:
        return False
    size, room = source[1] - source[0], target[1] - target[0]
    ratios = [r / s for r, s in zip(room, size, strict=True) if s > 1e-9]
    scale = min(ratios) if ratios else 1.0
    origin = np.array(result.matrix_world.translation, dtype=np.float64)
    low = origin + scale * (source[0] - origin)
    high = origin + scale * (source[1] - origin)
    centre = (target[0] + target[1]) / 2
    shift = np.array(
        [
            centre[0] - (low[0] + high[0]) / 2,
            centre[1] - (low[1] + high[1]) / 2,
            target[0][2] - low[2],
        ]
    )
    result.scale = tuple(float(v) * scale for v in result.scale)
    result.location = tuple(float(v) for v in np.array(result.location) + shift)
    view_layer.update()
    return True
