# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Blender 5.3's own Gaussian splats: a ``GAUSSIAN_SPLAT`` point cloud, drawn by Blender.

The point cloud holds the file's splats in the file's frame with the attributes
and conventions of Blender's own importer (``native_prepare``); the object's
rotation stands it upright (a quarter turn about X for a +Y-up file), exactly
as a user would turn an object from ``wm.ply_import``. Baking the turn into the
data would also mean turning every SH coefficient (Blender's Apply Transform
does not), and costs a pass over every splat where the rotation costs nothing.

The per-object display controls (``display.pointcloud``) are a small geometry-nodes
modifier on top; with their defaults it passes the splats through untouched.
"""

from __future__ import annotations

from typing import Any

import bpy
import mathutils

from ..splats.axes import frame_quaternion
from ..splats.rows import RowSource
from .attributes import dropped, fill_attributes, finite_rows
from .native_prepare import fill_native, native_plan

NATIVE_VERSION = (5, 3, 0)
"""The first Blender that draws Gaussian splats itself."""

NATIVE, NODES = "NATIVE", "NODES"
"""The two kinds of splat object: Blender's own splats, or a mesh with the geometry-nodes
display (the only kind before Blender 5.3, and what an older Blender can open)."""


def available() -> bool:
    """Whether this Blender has native Gaussian splats."""
    return bpy.app.version >= NATIVE_VERSION


def default_kind() -> str:
    """The kind of object an import makes: the add-on preference on 5.3+, else NODES."""
    if not available():
        return NODES
    root = (__package__ or "").rpartition(".")[0]
    preferences: Any = bpy.context.preferences
    addon = preferences.addons.get(root)
    prefs: Any = addon.preferences if addon is not None else None
    return str(getattr(prefs, "splat_object", NATIVE) or NATIVE)


def is_native(obj: Any) -> bool:
    """Whether ``obj`` is a native Gaussian-splat point cloud (ours or Blender's own)."""
    data = getattr(obj, "data", None)
    return (
        obj is not None
        and obj.type == "POINTCLOUD"
        and getattr(data, "type", "") == ("GAUSSIAN_SPLAT")
    )


def build_pointcloud(name: str, source: RowSource) -> tuple[bpy.types.PointCloud, list[str]]:
    """A native splat point cloud of ``source``, and what the user should know."""
    plan, extras, warnings = native_plan(source)
    cloud: Any = bpy.data.pointclouds.new(name)
    try:
        cloud.resize(source.count)
        cloud.type = "GAUSSIAN_SPLAT"
        for attr in plan[1:]:
            cloud.attributes.new(attr.name, attr.kind, "POINT")
        bad = fill_attributes(
            cloud, source.count, plan, lambda out: fill_native(source, out, extras)
        )
        cloud.update_tag()
    except BaseException:
        bpy.data.pointclouds.remove(cloud)
        raise
    if bad.size:  # NaN or infinity (or a scale past float32) in some splats: again without
        bpy.data.pointclouds.remove(cloud)
        cloud, warnings = build_pointcloud(name, finite_rows(source, bad))
        return cloud, [*warnings, dropped(bad.size)]
    return cloud, [*source.warnings, *warnings]


def upright_euler(up_axis: str) -> tuple[float, float, float]:
    """The object rotation that stands a file with ``up_axis`` up in Blender (+Z up)."""
    euler: Any = mathutils.Quaternion(frame_quaternion(up_axis).tolist()).to_euler("XYZ")
    return float(euler.x), float(euler.y), float(euler.z)
