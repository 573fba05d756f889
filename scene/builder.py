"""Turn splats into one Blender object: a mesh of points with splat attributes.

The mesh and its attributes are created first, empty; then ``prepare.fill``
copies the source's rows straight into Blender's own attribute memory (numpy
views of it, see ``attribute_views``). No full-size numpy copy of the data
exists at any point, and nothing is copied twice. The mesh belongs to no scene
while it is filled, so nothing else in Blender looks at it meanwhile.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping
from typing import Any

import bpy
import numpy as np

from ..splats.cloud import SplatCloud, SplatFormatError
from ..splats.rows import CloudRows, RowSource
from . import display
from .prepare import Attribute, attribute_plan, fill

COLLECTION_NAME = "404 Generations"
MODIFIER_NAME = "gen404 Splats"
PROP_PREFIX = "gen404_"
SPLAT_COUNT_PROP = PROP_PREFIX + "splats"

TONE_MAPPING_VIEWS = ("AgX", "Filmic")
"""Blender's default view transforms (4.0+ and before): the ones an import replaces."""

_FOREACH_KEY = {"FLOAT": "value", "QUATERNION": "value", "FLOAT_VECTOR": "vector"}


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


def attribute_views(mesh: bpy.types.Mesh, plan: list[Attribute]) -> dict[str, np.ndarray] | None:
    """(N, width) float32 numpy views of the mesh's attribute arrays, or None.

    An attribute element's RNA pointer is its address in the attribute's array;
    the views are made only if the first and last elements are exactly where a
    packed float32 array puts them (else None, and the caller copies with
    ``foreach_set``). Valid until the mesh's attributes change: use them at once.
    """
    n = len(mesh.vertices)
    if n == 0:
        return None
    views = {}
    for attr in plan:
        attribute: Any = mesh.attributes[attr.name]  # typed as the base class, without .data
        data = attribute.data
        first, last = data[0].as_pointer(), data[n - 1].as_pointer()
        if not first or last - first != (n - 1) * 4 * attr.width:
            return None
        block = (ctypes.c_float * (n * attr.width)).from_address(first)
        views[attr.name] = np.ctypeslib.as_array(block).reshape(n, attr.width)
    return views


def build_mesh(
    name: str,
    source: RowSource,
    up_axis: str = "Y",
) -> tuple[bpy.types.Mesh, list[str]]:
    """A mesh with one vertex per splat and its attributes, and what the user should know."""
    if source.count == 0:
        raise SplatFormatError(
            "it holds no splats (zero vertices), so there is nothing to import. "
            "Check that it was exported or downloaded completely."
        )
    plan, extras, warnings = attribute_plan(source)
    mesh = bpy.data.meshes.new(name)
    try:
        mesh.vertices.add(source.count)
        select = mesh.attributes.get(".select_vert")  # edit-mode selection, all False:
        if select is not None:  # not worth a copy on every instance the display makes
            mesh.attributes.remove(select)
        for attr in plan[1:]:
            mesh.attributes.new(attr.name, attr.kind, "POINT")  # type: ignore[arg-type]
        views = attribute_views(mesh, plan)
        if views is not None:
            fill(source, views, up_axis, extras)
            del views
        else:  # no direct access: fill numpy arrays, then copy them in
            arrays = {a.name: np.empty((source.count, a.width), np.float32) for a in plan}
            fill(source, arrays, up_axis, extras)
            for attr in plan:
                values = arrays.pop(attr.name).ravel()
                target: Any = mesh.attributes[attr.name]
                target.data.foreach_set(_FOREACH_KEY[attr.kind], values)
        mesh.update()
    except BaseException:
        bpy.data.meshes.remove(mesh)
        raise
    return mesh, [*source.warnings, *warnings]


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
    source: SplatCloud | RowSource,
    name: str,
    *,
    up_axis: str = "Y",
    properties: Mapping[str, str | int | float] | None = None,
    standard_view: bool = True,
    report: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> bpy.types.Object:
    """Create the splat object at the 3D cursor in "404 Generations", selected and active.

    With ``standard_view`` the scene's tone-mapping view transform becomes
    Standard (see ``use_standard_view``); ``report`` gets a sentence for each such
    change to the scene, ``warn`` one for each thing the file lost on the way
    (dropped SH bands, an extra property's name...). If anything fails half-way,
    what was created is removed again so the scene stays as it was.
    """
    rows = CloudRows(source) if isinstance(source, SplatCloud) else source
    mesh = obj = None
    try:
        mesh, warnings = build_mesh(name, rows, up_axis)
        obj = bpy.data.objects.new(name, mesh)
        obj.location = scene.cursor.location
        mod: Any = obj.modifiers.new(MODIFIER_NAME, "NODES")
        mod.node_group = display.ensure_display()
        for control, value in display.object_defaults(up_axis, rows.sh_degree, rows.count).items():
            display.set_input(mod, control, value)
        obj[PROP_PREFIX + "up_axis"] = up_axis
        obj[PROP_PREFIX + "sh_degree"] = rows.sh_degree
        obj[SPLAT_COUNT_PROP] = rows.count
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
    for warning in warnings:
        if warn is not None:
            warn(warning)
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
