# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Turn splats into one Blender object: a mesh of points with splat attributes.

The mesh and its attributes are created first, empty; then ``prepare.fill``
copies the source's rows straight into Blender's own attribute memory (numpy
views of it, see ``attribute_views``). No full-size numpy copy of the data
exists at any point, and nothing is copied twice. The mesh belongs to no scene
while it is filled, so nothing else in Blender looks at it meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import bpy

from ..splats.cloud import SplatCloud, SplatFormatError
from ..splats.rows import CloudRows, RowSource
from . import display, native
from .attributes import dropped, fill_attributes, finite_rows
from .prepare import attribute_plan, fill

COLLECTION_NAME = "404 Generations"
MODIFIER_NAME = "gen404 Splats"
PROP_PREFIX = "gen404_"
SPLAT_COUNT_PROP = PROP_PREFIX + "splats"

TONE_MAPPING_VIEWS = ("AgX", "Filmic")
"""Blender's default view transforms (4.0+ and before): the ones an import replaces."""


def is_splat_object(obj: bpy.types.Object | None) -> bool:
    """An object made by this add-on (it keeps its splat count as a custom property)."""
    return (
        obj is not None
        and obj.type in ("MESH", "POINTCLOUD")
        and obj.get(SPLAT_COUNT_PROP) is not None
    )


def is_exportable(obj: bpy.types.Object | None) -> bool:
    """An object ``gen404.export_splat`` can write: ours, or any native splat point cloud
    (also one from Blender's own ``wm.ply_import`` or ``wm.spz_import``)."""
    return is_splat_object(obj) or native.is_native(obj)


def splat_modifier(obj: bpy.types.Object) -> bpy.types.Modifier | None:
    """The object's modifier that runs the shared display group, if any."""
    for mod in obj.modifiers:
        group: Any = getattr(mod, "node_group", None)
        if mod.type == "NODES" and display.group_kind(group) is not None:
            return mod
    return None


def _refuse_empty(source: RowSource) -> None:
    if source.count == 0:
        raise SplatFormatError(
            "it holds no splats (zero vertices), so there is nothing to import. "
            "Check that it was exported or downloaded completely."
        )


def build_mesh(
    name: str,
    source: RowSource,
    up_axis: str = "Y",
) -> tuple[bpy.types.Mesh, list[str]]:
    """A mesh with one vertex per splat and its attributes, and what the user should know."""
    _refuse_empty(source)
    plan, extras, warnings = attribute_plan(source)
    mesh = bpy.data.meshes.new(name)
    try:
        mesh.vertices.add(source.count)
        select = mesh.attributes.get(".select_vert")  # edit-mode selection, all False:
        if select is not None:  # not worth a copy on every instance the display makes
            mesh.attributes.remove(select)
        for attr in plan[1:]:
            mesh.attributes.new(attr.name, attr.kind, "POINT")  # type: ignore[arg-type]
        bad = fill_attributes(
            mesh, source.count, plan, lambda out: fill(source, out, up_axis, extras)
        )
        mesh.update()
    except BaseException:
        bpy.data.meshes.remove(mesh)
        raise
    if bad.size:  # NaN or infinity in some splats: copy again without them
        bpy.data.meshes.remove(mesh)
        mesh, warnings = build_mesh(name, finite_rows(source, bad), up_axis)
        return mesh, [*warnings, dropped(bad.size)]
    return mesh, [*source.warnings, *warnings]


def collection(scene: bpy.types.Scene) -> bpy.types.Collection:
    """The "404 Generations" collection, made and linked to the scene if need be."""
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
    kind: str | None = None,
) -> bpy.types.Object:
    """Create the splat object at the 3D cursor in "404 Generations", selected and active.

    With ``standard_view`` the scene's tone-mapping view transform becomes
    Standard (see ``use_standard_view``); ``report`` gets a sentence for each such
    change to the scene, ``warn`` one for each thing the file lost on the way
    (dropped SH bands, an extra property's name...). If anything fails half-way,
    what was created is removed again so the scene stays as it was.

    ``kind`` is ``native.NATIVE`` (Blender 5.3's own splats) or ``native.NODES``
    (a mesh with the geometry-nodes display); by default the preference's choice.
    """
    rows = CloudRows(source) if isinstance(source, SplatCloud) else source
    kind = kind or native.default_kind()
    _refuse_empty(rows)
    data: Any = None
    obj = None
    try:
        if kind == native.NATIVE:
            data, warnings = native.build_pointcloud(name, rows)
        else:
            data, warnings = build_mesh(name, rows, up_axis)
        group = display.ensure_display(kind)
        defaults = display.object_defaults(kind, rows.count, up_axis, rows.sh_degree)
        obj = bpy.data.objects.new(name, data)
        obj.location = scene.cursor.location
        if kind == native.NATIVE:
            obj.rotation_euler = native.upright_euler(up_axis)
        mod: Any = obj.modifiers.new(MODIFIER_NAME, "NODES")
        mod.node_group = group
        for control, value in defaults.items():
            display.set_input(mod, control, value)
        obj[PROP_PREFIX + "up_axis"] = up_axis
        obj[PROP_PREFIX + "sh_degree"] = rows.sh_degree
        obj[SPLAT_COUNT_PROP] = len(data.points if kind == native.NATIVE else data.vertices)
        for key, value in (properties or {}).items():
            obj[PROP_PREFIX + key] = value
        collection(scene).objects.link(obj)
    except Exception:
        if obj is not None:
            bpy.data.objects.remove(obj)
        if isinstance(data, bpy.types.Mesh):
            bpy.data.meshes.remove(data)
        elif data is not None:
            bpy.data.pointclouds.remove(data)
        raise
    select_only(view_layer, obj)
    for warning in warnings:
        if warn is not None:
            warn(warning)
    for change in ensure_render_settings(scene, standard_view=standard_view):
        if report is not None:
            report(change)
    return obj


def deselect_all(view_layer: bpy.types.ViewLayer) -> None:
    """Nothing selected. The view layer is brought up to date first: until then it may
    still list objects just removed (as None)."""
    view_layer.update()
    for other in view_layer.objects:
        if other is not None and other.select_get(view_layer=view_layer):
            other.select_set(False, view_layer=view_layer)


def select_only(view_layer: bpy.types.ViewLayer, obj: bpy.types.Object) -> None:
    """Make a new result the only selected object, and the active one."""
    deselect_all(view_layer)
    if obj.name in view_layer.objects:
        obj.select_set(True, view_layer=view_layer)
        view_layer.objects.active = obj


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
