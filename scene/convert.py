# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Mesh splat objects (the geometry-nodes display) into Blender 5.3's own splats.

A mesh splat object keeps its positions in Blender's frame (turned by the file's
up axis, see ``prepare.position_axes``) and the file's other values as stored;
a native splat object keeps everything in the file's frame and stands upright by
its object rotation (``native.upright_euler``). Converting reads the mesh back
into a SplatCloud in the file's frame (``mesh_cloud``), builds the point cloud
with the importer's own filler (``native.build_pointcloud``), and gives the new
object the old transform composed with the upright turn, so every splat stays
where it was in the world.

Objects imported before display version 4 hold Blender-frame ``rotation``,
``scale``, ``opacity`` and ``color`` instead of the file's values; those are
turned back into file values on the way.
"""

from __future__ import annotations

import contextlib
from typing import Any

import bpy
import mathutils
import numpy as np

from ..splats.axes import frame_quaternion, quat_multiply
from ..splats.cloud import SH_C0, SplatCloud, SplatFormatError
from ..splats.rows import CloudRows
from . import builder, display, native
from .colors import linear_to_srgb
from .mesh_read import mesh_attribute, sh_and_extras
from .prepare import position_axes

_CARRIED = tuple(c.name for c in display.controls_for(native.NATIVE))
"""Display controls both kinds of object have: their values move to the new modifier."""


def is_mesh_splat_object(obj: bpy.types.Object | None) -> bool:
    """A splat object of this add-on that is a mesh (the geometry-nodes display)."""
    return builder.is_splat_object(obj) and obj is not None and obj.type == "MESH"


def mesh_cloud(obj: bpy.types.Object) -> SplatCloud:
    """The splats of a mesh splat object as the file had them (its frame, raw values)."""
    mesh: Any = obj.data
    n = len(mesh.vertices)
    up = str(obj.get(builder.PROP_PREFIX + "up_axis", "Y"))
    turned = mesh_attribute(mesh, "position", 3)
    assert turned is not None
    positions = np.empty_like(turned)
    for dst, (src, sign) in enumerate(position_axes(up)):  # Blender's frame back to the file's
        np.multiply(turned[:, dst], sign, out=positions[:, src])

    rotations = mesh_attribute(mesh, "file_rotation", 4)
    if rotations is None:  # before display version 4: a unit quaternion in Blender's frame
        legacy = mesh_attribute(mesh, "rotation", 4)
        back = frame_quaternion(up) * np.array([1.0, -1.0, -1.0, -1.0])
        rotations = (
            quat_multiply(back, legacy.astype(np.float64)).astype(np.float32)
            if legacy is not None
            else np.tile(np.array([1.0, 0.0, 0.0, 0.0], np.float32), (n, 1))
        )
    log_scales = mesh_attribute(mesh, "log_scale", 3)
    if log_scales is None:
        sigmas = mesh_attribute(mesh, "scale", 3)
        sigmas = np.full((n, 3), 0.01, np.float32) if sigmas is None else sigmas
        log_scales = np.log(np.maximum(sigmas, 1e-30)).astype(np.float32)
    logit = mesh_attribute(mesh, "opacity_logit", 1)
    if logit is None:
        opacity = mesh_attribute(mesh, "opacity", 1)
        p = np.clip(opacity if opacity is not None else np.ones(n, np.float32), 1e-6, 1 - 1e-6)
        logit = np.log(p / (1 - p)).astype(np.float32)
    sh_dc = mesh_attribute(mesh, "sh_dc", 3)
    if sh_dc is None:
        color = mesh_attribute(mesh, "color", 4)
        srgb = linear_to_srgb(color[:, :3]) if color is not None else np.full((n, 3), 0.5)
        sh_dc = ((srgb - 0.5) / SH_C0).astype(np.float32)

    sh_rest, extra = sh_and_extras(mesh)
    return SplatCloud(
        positions=positions,
        log_scales=np.ascontiguousarray(log_scales, np.float32),
        rotations=np.ascontiguousarray(rotations, np.float32),
        opacity_logit=logit,
        sh_dc=np.ascontiguousarray(sh_dc, np.float32),
        sh_rest=sh_rest,
        normals=mesh_attribute(mesh, "file_normal", 3),
        extra=extra,
    )


def upright_matrix(up_axis: str) -> mathutils.Matrix:
    """The native object's turn from the file's frame into Blender's, as a 4x4 matrix."""
    quaternion: Any = mathutils.Quaternion(frame_quaternion(up_axis).tolist())
    return quaternion.to_matrix().to_4x4()  # type: ignore[no-any-return]


def _copy_properties(old: bpy.types.Object, new: bpy.types.Object) -> None:
    for key, item in old.items():
        value: Any = item
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        elif hasattr(value, "to_list"):
            value = value.to_list()
        new[key] = value


def _copy_display(old: bpy.types.Object, new: bpy.types.Object, count: int) -> None:
    """The native display modifier, with the old one's values for the shared controls."""
    values = display.object_defaults(native.NATIVE, count)
    previous = builder.splat_modifier(old)
    if previous is not None:
        for name in _CARRIED:
            with contextlib.suppress(KeyError, StopIteration):  # a group older than it
                values[name] = display.get_input(previous, name)
    mod: Any = new.modifiers.new(builder.MODIFIER_NAME, "NODES")
    mod.node_group = display.ensure_display(native.NATIVE)
    for name, value in values.items():
        display.set_input(mod, name, value)


def convert_object(obj: bpy.types.Object, view_layer: bpy.types.ViewLayer) -> bpy.types.Object:
    """Replace the mesh splat object ``obj`` by a native one; returns the new object.

    Same name, splats, world placement, custom properties, collections, parent,
    children, visibility and selection; the mesh is removed if nothing else uses it.
    """
    if not is_mesh_splat_object(obj):
        raise SplatFormatError(f"{obj.name} is not a splat mesh of this add-on")
    cloud = mesh_cloud(obj)
    if cloud.count == 0:
        raise SplatFormatError(f"{obj.name} holds no splats")
    mesh: Any = obj.data
    up = str(obj.get(builder.PROP_PREFIX + "up_axis", "Y"))
    upright = upright_matrix(up)
    data, _warnings = native.build_pointcloud(mesh.name, CloudRows(cloud))
    new: Any = bpy.data.objects.new(obj.name, data)
    try:
        new.parent = obj.parent
        new.parent_type = obj.parent_type
        new.parent_bone = obj.parent_bone
        new.matrix_parent_inverse = obj.matrix_parent_inverse.copy()
        new.rotation_mode = obj.rotation_mode
        new.matrix_basis = obj.matrix_basis @ upright
        _copy_properties(obj, new)
        new[builder.PROP_PREFIX + "sh_degree"] = cloud.sh_degree
        new[builder.SPLAT_COUNT_PROP] = cloud.count
        _copy_display(obj, new, cloud.count)
        for attr in ("hide_viewport", "hide_render", "hide_select"):
            setattr(new, attr, getattr(obj, attr))
        for collection in obj.users_collection:
            collection.objects.link(new)
    except Exception:
        bpy.data.objects.remove(new)
        bpy.data.pointclouds.remove(data)
        raise
    back = upright.inverted()
    for child in obj.children:  # each keeps its world placement under the turned parent
        inverse = child.matrix_parent_inverse.copy()
        child.parent = new
        child.matrix_parent_inverse = back @ inverse
    selected = obj.select_get(view_layer=view_layer)
    active = view_layer.objects.active == obj
    hidden = obj.hide_get(view_layer=view_layer)
    name = obj.name
    bpy.data.objects.remove(obj)
    if mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    new.name = name
    if new.name in view_layer.objects:
        new.hide_set(hidden, view_layer=view_layer)
        new.select_set(selected, view_layer=view_layer)
        if active:
            view_layer.objects.active = new
    return new  # type: ignore[no-any-return]
