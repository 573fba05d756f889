"""Turn a SplatCloud into one Blender object: a mesh of points with splat attributes.

The heavy maths (axis conversion, activations) is numpy and happens before, in
``prepare`` (on a worker thread when the caller has one); here Blender only
receives ready arrays through ``foreach_set``, one contiguous block per
attribute, each released as soon as Blender holds its copy. The object keeps the
raw SH and opacity logits so an export can reproduce the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bpy
import numpy as np

from ..splats.cloud import SplatCloud
from . import display
from .prepare import ATTRIBUTE_TYPES, EXTRA_PREFIX, DisplayArrays, prepare

COLLECTION_NAME = "404 Generations"
MODIFIER_NAME = "gen404 Splats"
PROP_PREFIX = "gen404_"
SPLAT_COUNT_PROP = PROP_PREFIX + "splats"

TONE_MAPPING_VIEWS = ("AgX", "Filmic")
"""Blender's default view transforms (4.0+ and before): the ones an import replaces."""

_FOREACH_KEY = {
    "FLOAT": "value",
    "INT": "value",
    "QUATERNION": "value",
    "FLOAT_VECTOR": "vector",
    "FLOAT_COLOR": "color",
}


def is_splat_object(obj: bpy.types.Object | None) -> bool:
    """An object made by this add-on (it keeps its splat count as a custom property)."""
    return obj is not None and obj.type == "MESH" and obj.get(SPLAT_COUNT_PROP) is not None


def splat_modifier(obj: bpy.types.Object) -> bpy.types.Modifier | None:
    """The object's modifier that runs the shared display group, if any."""
    for mod in obj.modifiers:
        group: Any = getattr(mod, "node_group", None)
        if (
            mod.type == "NODES"
            and group is not None
            and group.name.startswith(display.NODE_GROUP_NAME)
        ):
            return mod
    return None


def _set(mesh: bpy.types.Mesh, name: str, kind: str, values: np.ndarray) -> None:
    attr: Any = mesh.attributes.get(name) or mesh.attributes.new(name, kind, "POINT")  # type: ignore[arg-type]
    dtype = np.int32 if kind == "INT" else np.float32
    attr.data.foreach_set(_FOREACH_KEY[kind], np.ascontiguousarray(values, dtype=dtype).ravel())


def _set_sh_rest(mesh: bpy.types.Mesh, sh_rest: np.ndarray) -> None:
    """One FLOAT_VECTOR attribute per coefficient (file frame), as the SH shader reads them.

    Each (N, 3) plane is gathered moving whole 12-byte triplets (a void view: half
    the time of a float copy) into one of two reused buffers, on a helper thread
    while Blender allocates and fills the previous plane's attribute: numpy's copy
    runs without the GIL, so the two overlap.
    """
    n, k = sh_rest.shape[:2]
    source = np.ascontiguousarray(sh_rest, dtype=np.float32).reshape(n, 3 * k).view("V12")
    planes = [np.empty((n, 3), dtype=np.float32) for _ in range(min(k, 2))]

    copying = threading.Event()

    def gather(i: int) -> np.ndarray:
        plane = planes[i % 2]
        target = plane.view("V12").reshape(n)
        copying.set()
        np.copyto(target, source[:, i])  # releases the GIL
        return plane

    with ThreadPoolExecutor(1, thread_name_prefix="gen404 sh") as pool:
        pending = pool.submit(gather, 0)
        for i in range(k):
            plane = pending.result()
            if i + 1 < k:  # the other buffer is free again: fill it meanwhile
                copying.clear()
                pending = pool.submit(gather, i + 1)
                # Let the copy start before Blender takes the GIL for its allocation.
                copying.wait()
            attr: Any = mesh.attributes.new(f"sh_rest_{i}", "FLOAT_VECTOR", "POINT")
            attr.data.foreach_set("vector", plane.ravel())


def build_mesh(name: str, arrays: DisplayArrays) -> bpy.types.Mesh:
    """A mesh with one vertex per splat and its attributes; consumes ``arrays.layers``."""
    if not arrays.layers:
        raise ValueError("these splat arrays were already built into an object")
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(arrays.count)
    layers = arrays.layers
    while layers:
        key = next(iter(layers))
        values = layers.pop(key)
        if key == "sh_rest":
            _set_sh_rest(mesh, values)
        elif key.startswith(EXTRA_PREFIX):
            _set(mesh, key, "FLOAT", values)
        else:
            _set(mesh, key, ATTRIBUTE_TYPES[key], values)
        del values  # Blender holds its copy now: let numpy's go
    color: Any = mesh.color_attributes.get("color")
    if color is not None:
        mesh.color_attributes.active_color = color
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
    standard_view: bool = True,
    report: Callable[[str], None] | None = None,
) -> bpy.types.Object:
    """Create the splat object at the 3D cursor in "404 Generations", selected and active.

    A DisplayArrays ``source`` is consumed (see ``DisplayArrays``). With
    ``standard_view`` the scene's tone-mapping view transform becomes Standard
    (see ``use_standard_view``); ``report`` gets a sentence for each such change
    to the scene. If anything fails half-way, what was created is removed again
    so the scene stays as it was.
    """
    arrays = source if isinstance(source, DisplayArrays) else prepare(source, up_axis)
    mesh = obj = None
    try:
        mesh = build_mesh(name, arrays)
        obj = bpy.data.objects.new(name, mesh)
        obj.location = scene.cursor.location
        mod: Any = obj.modifiers.new(MODIFIER_NAME, "NODES")
        mod.node_group = display.ensure_display()
        for control, value in display.object_defaults(
            arrays.up_axis, arrays.sh_degree, arrays.count
        ).items():
            display.set_input(mod, control, value)
        obj[PROP_PREFIX + "up_axis"] = arrays.up_axis
        obj[PROP_PREFIX + "sh_degree"] = arrays.sh_degree
        obj[SPLAT_COUNT_PROP] = arrays.count
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
    for change in ensure_render_settings(scene, standard_view=standard_view):
        if report is not None:
            report(change)
    return obj


def ensure_render_settings(scene: bpy.types.Scene, *, standard_view: bool = True) -> list[str]:
    """Scene settings splats need; returns a sentence for each change a user should know of.

    Overlapping splats need many transparent bounces in Cycles (raised silently).
    """
    changes = []
    cycles = getattr(scene, "cycles", None)
    if cycles is not None and cycles.transparent_max_bounces < 128:
        cycles.transparent_max_bounces = 128
    if standard_view:
        previous = use_standard_view(scene)
        if previous:
            changes.append(
                f"View transform set to Standard (was {previous}) so splat colours show as "
                "in splat viewers; switch it back in Render Properties > Color Management"
            )
    return changes


def use_standard_view(scene: bpy.types.Scene) -> str | None:
    """Switch a tone-mapping view transform (AgX, Filmic) to Standard; the old name if so.

    Splat colours are display-referred: Standard shows them as stored, a tone
    mapper compresses them a second time (greyer, flatter). A view the user
    picked on purpose (Standard, Raw, Khronos PBR Neutral, False Color...) is kept.
    """
    settings: Any = scene.view_settings
    previous = settings.view_transform
    if previous not in TONE_MAPPING_VIEWS:
        return None
    settings.view_transform = "Standard"
    settings.look = "None"
    return str(previous)
