"""Turn a SplatCloud into one Blender object: a mesh of points with splat attributes.

The heavy maths (axis conversion, activations) is numpy; Blender only receives
ready arrays through ``foreach_set``. The object keeps the raw SH and opacity
logits so an export can reproduce the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import bpy
import numpy as np

from ..splats.cloud import SplatCloud
from . import display
from .prepare import DisplayArrays, prepare

COLLECTION_NAME = "404 Generations"
MODIFIER_NAME = "gen404 Splats"
PROP_PREFIX = "gen404_"


def _set(mesh: bpy.types.Mesh, name: str, kind: str, key: str, values: np.ndarray) -> None:
    attr: Any = mesh.attributes.get(name) or mesh.attributes.new(name, kind, "POINT")  # type: ignore[arg-type]
    dtype = np.int32 if kind == "INT" else np.float32
    attr.data.foreach_set(key, np.ascontiguousarray(values, dtype=dtype).ravel())


def build_mesh(name: str, arrays: DisplayArrays) -> bpy.types.Mesh:
    """A mesh with one vertex per splat and its attributes."""
    cloud = arrays.cloud
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(cloud.count)
    _set(mesh, "position", "FLOAT_VECTOR", "vector", arrays.positions)
    _set(mesh, "opacity", "FLOAT", "value", arrays.opacity)
    _set(mesh, "scale", "FLOAT_VECTOR", "vector", arrays.scales)
    _set(mesh, "rotation", "QUATERNION", "value", arrays.rotations)
    _set(mesh, "color", "FLOAT_COLOR", "color", arrays.colors)
    _set(mesh, "palette", "INT", "value", arrays.palette)
    # Raw values, in the file's frame, for a faithful export and view-dependent colour.
    _set(mesh, "opacity_logit", "FLOAT", "value", cloud.opacity_logit)
    _set(mesh, "sh_dc", "FLOAT_VECTOR", "vector", cloud.sh_dc)
    for k in range(cloud.sh_rest.shape[1]):
        _set(mesh, f"sh_rest_{k}", "FLOAT_VECTOR", "vector", cloud.sh_rest[:, k, :])
    for extra_name, values in cloud.extra.items():
        safe = f"extra_{extra_name}"[:60]
        _set(mesh, safe, "FLOAT", "value", values)
    mesh.color_attributes.active_color = mesh.color_attributes["color"]
    mesh.update()
    return mesh


def _collection(scene: bpy.types.Scene) -> bpy.types.Collection:
    coll = bpy.data.collections.get(COLLECTION_NAME)
    if coll is None:
        coll = bpy.data.collections.new(COLLECTION_NAME)
    if (
        scene.collection.children.get(coll.name) is None
        and coll not in scene.collection.children[:]
    ):
        scene.collection.children.link(coll)
    return coll


def build_object(
    scene: bpy.types.Scene,
    view_layer: bpy.types.ViewLayer,
    source: SplatCloud | DisplayArrays,
    name: str,
    *,
    up_axis: str = "Y",
    properties: Mapping[str, str | int | float] | None = None,
) -> bpy.types.Object:
    """Create the splat object at the 3D cursor in "404 Generations", selected and active.

    If anything fails half-way, what was created is removed again so the scene
    stays as it was.
    """
    arrays = source if isinstance(source, DisplayArrays) else prepare(source, up_axis)
    cloud = arrays.cloud
    mesh = obj = None
    try:
        mesh = build_mesh(name, arrays)
        obj = bpy.data.objects.new(name, mesh)
        obj.location = scene.cursor.location
        group = display.ensure_display()
        mod: Any = obj.modifiers.new(MODIFIER_NAME, "NODES")
        mod.node_group = group
        obj[PROP_PREFIX + "up_axis"] = arrays.up_axis
        obj[PROP_PREFIX + "sh_degree"] = cloud.sh_degree
        obj[PROP_PREFIX + "splats"] = cloud.count
        for key, value in (properties or {}).items():
            obj[PROP_PREFIX + key] = value
        _collection(scene).objects.link(obj)
    except Exception:
        if obj is not None:
            bpy.data.objects.remove(obj)
        if mesh is not None:
            bpy.data.meshes.remove(mesh)
        raise
    view_layer.update()
    for other in view_layer.objects:
        if other is not None and other.select_get(view_layer=view_layer):
            other.select_set(False, view_layer=view_layer)
    if obj.name in view_layer.objects:
        obj.select_set(True, view_layer=view_layer)
        view_layer.objects.active = obj
    _ensure_render_settings(scene)
    return obj


def _ensure_render_settings(scene: bpy.types.Scene) -> None:
    """Overlapping splats need many transparent bounces in Cycles; raise a low limit."""
    cycles = getattr(scene, "cycles", None)
    if cycles is not None and cycles.transparent_max_bounces < 128:
        cycles.transparent_max_bounces = 128
