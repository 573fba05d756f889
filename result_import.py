# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Build a finished task's result into the scene: a splat cloud, a mesh, or every variant
of the task side by side in a collection of its own.

Called by the session's pump on the main thread with what the worker read
(``client.variants.read_result``); the session records the import and pushes the one
undo step. What fails leaves the scene as it was (the file stays in the cache for
Import Again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bpy

from .client.glb import MeshResult
from .client.task_rows import TaskEntry, result_properties
from .client.variants import Variants, group_name, variant_name
from .scene import builder, fit, grid, mesh_result
from .scene import variants as layout
from .splats.cloud import SplatCloud

Properties = Mapping[str, str | int | float]


class ImportFailed(Exception):
    """The result could not become Blender data; the message says why."""


@dataclass(frozen=True)
class Placed:
    name: str
    """The object made, or the collection holding the variants."""
    message: str


def place(entry: TaskEntry, payload: object) -> Placed:
    """Build ``payload`` (a READY event's) for the task ``entry``; ImportFailed or another
    exception when it cannot be, with nothing of it left in the scene."""
    scene, view_layer = bpy.context.scene, bpy.context.view_layer
    assert scene is not None and view_layer is not None
    properties = result_properties(entry)
    if isinstance(payload, Variants):
        try:
            return _place_variants(scene, view_layer, payload, entry, properties)
        finally:
            payload.discard()  # the GLBs unpacked for the importer
    obj, message = _build(scene, view_layer, payload, entry.label, properties)
    fit.to_placeholder(view_layer, obj, entry.placeholder)
    grid.place(view_layer, obj, entry.grid_cell)  # a batch's result: into its cell
    return Placed(obj.name, message)


def _build(
    scene: bpy.types.Scene,
    view_layer: bpy.types.ViewLayer,
    result: object,
    name: str,
    properties: Properties,
) -> tuple[Any, str]:
    """One result as one object at the 3D cursor in "404 Generations", and what to say."""
    if isinstance(result, MeshResult):
        try:
            obj = mesh_result.import_glb(
                scene, view_layer, result.path, name, properties=properties
            )
        except Exception as exc:  # the scene is as it was: say why, keep the file
            raise ImportFailed(f"The mesh could not be imported: {exc}") from exc
        return obj, "Mesh imported"
    if isinstance(result, SplatCloud):
        obj = builder.build_object(
            scene, view_layer, result, name, up_axis="Y", properties=properties
        )  # 404's results are +Y up
        return obj, f"{result.count} splats"
    raise TypeError("the worker delivered no result to import")


def _place_variants(
    scene: bpy.types.Scene,
    view_layer: bpy.types.ViewLayer,
    variants: Variants,
    entry: TaskEntry,
    properties: Properties,
) -> Placed:
    """Every variant, numbered, in a new collection named after the task, in a row along
    X from the 3D cursor. With a placeholder the first variant is fitted to it and the
    others take its scale and place, lined up to its right."""
    before = mesh_result.data_pointers()
    try:
        roots = []
        for variant in variants.variants:
            numbered = {**properties, "variant": variant.number, "variants": len(variants)}
            name = variant_name(entry.label, variant.number)
            roots.append(_build(scene, view_layer, variant.result, name, numbered)[0])
        group = layout.group_collection(scene, group_name(entry.label, entry.task_id))
        for root in roots:
            layout.move_into(group, root)
        first, scale = roots[0], float(roots[0].scale[0])
        if fit.to_placeholder(view_layer, first, entry.placeholder) and scale:
            layout.follow(first, roots[1:], float(first.scale[0]) / scale)
        layout.lay_out(view_layer, roots)
        layout.select(view_layer, roots)
    except Exception:
        mesh_result.remove_created(mesh_result.created_since(before))
        raise
    return Placed(group.name, f"{len(roots)} variants in '{group.name}'")
