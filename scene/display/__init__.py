# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""How splat objects show in Blender: the one interface to both displays.

A splat object is either kind ``scene.native``: Blender 5.3's own splats
(``NATIVE``: a small controls group, ``pointcloud``), or a mesh with the
geometry-nodes display (``NODES``: instanced shells and their shaders, ``mesh``
and ``shading``). Either way the per-object settings are the inputs of a shared
node group on the object's modifier (``controls``), so the builder and the
panels only ask this module for a kind's group and defaults and read or write
the inputs; they never see which nodes draw the splats.

Modules: ``controls`` (the inputs, their defaults, reading and writing them),
``graph`` (the node-building helper), ``shading`` (shaders, materials, palettes),
``mesh`` (the geometry-nodes group), ``pointcloud`` (the native controls group).
"""

from __future__ import annotations

from typing import Any

import bpy

from .. import native
from . import mesh, pointcloud
from .controls import (
    CONTROLS,
    FILE_FRAME,
    MODE,
    MODES,
    NATIVE_CONTROLS,
    OPACITY_THRESHOLD,
    POINTS,
    SIZE,
    SPLATS,
    VIEW_DEPENDENT,
    VIEWPORT_FRACTION,
    Control,
    default_viewport_fraction,
    get_input,
    input_identifier,
    input_slot,
    mesh_defaults,
    native_defaults,
)
from .mesh import NODE_GROUP_NAME, has_sh_palette, is_current, set_input, upgrade_existing
from .pointcloud import NATIVE_GROUP_NAME
from .shading import DISPLAY_VERSION

GROUP_NAMES = (NODE_GROUP_NAME, NATIVE_GROUP_NAME)
"""The shared display groups (a copy appended from another file gets a ``.001`` suffix)."""


def ensure_display(kind: str, view_dependent: bool = False) -> bpy.types.NodeTree:
    """The shared display group for objects of ``kind``, made or upgraded as needed.

    ``view_dependent`` (mesh objects only): build the SH palette now too.
    """
    if kind == native.NATIVE:
        return pointcloud.ensure_display()
    return mesh.ensure_display(view_dependent)


def object_defaults(
    kind: str, count: int, up_axis: str = "Y", sh_degree: int = 0
) -> dict[str, Any]:
    """The controls' starting values for a new object of ``kind`` (by control name)."""
    if kind == native.NATIVE:
        return native_defaults()
    return mesh_defaults(up_axis, sh_degree, count)


def controls_for(kind: str) -> tuple[Control, ...]:
    """The inputs a display group of ``kind`` has, in order."""
    return NATIVE_CONTROLS if kind == native.NATIVE else CONTROLS


def group_kind(group: bpy.types.NodeTree | None) -> str | None:
    """The kind of object a display group serves, or None if it is no display group."""
    name = getattr(group, "name", "")
    if name.startswith(NATIVE_GROUP_NAME):
        return native.NATIVE
    if name.startswith(NODE_GROUP_NAME):
        return native.NODES
    return None


__all__ = [
    "CONTROLS",
    "DISPLAY_VERSION",
    "FILE_FRAME",
    "GROUP_NAMES",
    "MODE",
    "MODES",
    "NATIVE_CONTROLS",
    "NATIVE_GROUP_NAME",
    "NODE_GROUP_NAME",
    "OPACITY_THRESHOLD",
    "POINTS",
    "SIZE",
    "SPLATS",
    "VIEWPORT_FRACTION",
    "VIEW_DEPENDENT",
    "Control",
    "controls_for",
    "default_viewport_fraction",
    "ensure_display",
    "get_input",
    "group_kind",
    "has_sh_palette",
    "input_identifier",
    "input_slot",
    "is_current",
    "object_defaults",
    "set_input",
    "upgrade_existing",
]
