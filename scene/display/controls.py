# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The per-object display controls: inputs of a shared group, set on each object's modifier.

Both displays (the geometry-nodes one for meshes, ``mesh``; the one on Blender
5.3's own splats, ``pointcloud``) take their settings as node-group inputs, so
one object's settings live on its modifier and changing one re-evaluates that
object alone. This module defines those inputs, their starting values for a new
object, and how to read and write them on a modifier on every Blender release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy
import mathutils

from ...splats.axes import frame_quaternion
from .graph import sockets

SPLATS, POINTS = "Splats", "Points"
MODES = (SPLATS, POINTS)

POINT_RADIUS_SIGMAS = 1.5
"""Points mode: a point's radius in (mean) standard deviations, about where a
Gaussian of typical opacity fades below a quarter of its peak."""

VIEWPORT_BUDGET = 150_000
"""Splats drawn in the viewport by default: bigger objects start with a viewport
fraction that shows about this many (final renders always show all), because
each splat is an instance: a million make the viewport crawl, and each costs the
import's first evaluation about 70 ns (tools/bench_display.py; 250,000 took
about 8 ms more at 1M splats). The price: a dense surface shown at 15% lets the
far side show through in places (Material Preview), where 25% was nearly opaque."""


@dataclass(frozen=True)
class Control:
    """One input of the shared group: a per-object setting on the modifier."""

    name: str
    socket_type: str
    default: Any
    description: str
    min_value: float | None = None
    max_value: float | None = None
    subtype: str = ""
    hidden: bool = False


MODE = Control(
    "Display",
    "NodeSocketMenu",
    SPLATS,
    "Splats: smooth Gaussians. Points: one coloured point per splat, fast for "
    "million-splat objects (colours show in Material Preview and renders)",
)
SIZE = Control("Size", "NodeSocketFloat", 1.0, "Multiplier on every splat's size", 0.0, 100.0)
OPACITY_THRESHOLD = Control(
    "Opacity Threshold",
    "NodeSocketFloat",
    0.0,
    "Hide splats whose opacity is below this",
    0.0,
    1.0,
    "FACTOR",
)
VIEWPORT_FRACTION = Control(
    "Viewport Fraction",
    "NodeSocketFloat",
    1.0,
    "Share of the splats shown in the viewport (always the same ones); "
    "final renders show all of them",
    0.0,
    1.0,
    "FACTOR",
)
VIEW_DEPENDENT = Control(
    "View-Dependent Color",
    "NodeSocketBool",
    True,
    "Renders add the file's spherical harmonics (degree 1-3), so colours change with "
    "the viewing direction; off shows the base (degree-0) colour",
)
FILE_FRAME = Control(
    "File Frame",
    "NodeSocketRotation",
    (0.0, 0.0, 0.0),
    "Turns Blender's frame back into the file's, where the SH coefficients live (set on import)",
    hidden=True,
)
CONTROLS = (MODE, SIZE, OPACITY_THRESHOLD, VIEWPORT_FRACTION, VIEW_DEPENDENT, FILE_FRAME)
"""The geometry-nodes display's inputs, in order."""
NATIVE_CONTROLS = (MODE, SIZE, OPACITY_THRESHOLD, VIEWPORT_FRACTION)
"""The inputs on Blender's own splats, which always show their SH colour in the file's frame."""


def mesh_defaults(up_axis: str, sh_degree: int, count: int) -> dict[str, Any]:
    """The controls' starting values for a mesh splat object (by control name)."""
    return {
        MODE.name: SPLATS,
        FILE_FRAME.name: file_frame_euler(up_axis),
        VIEW_DEPENDENT.name: sh_degree > 0,
        VIEWPORT_FRACTION.name: default_viewport_fraction(count),
    }


def native_defaults() -> dict[str, Any]:
    """The controls' starting values for a native splat object (by control name): every
    splat shown.

    The geometry-nodes display starts big files with a viewport subset because each
    of its splats is an instance; Blender draws its own splats itself, all of them
    from its own importer, and a subset here would cost a depsgraph pass over every
    splat (hiding most of a million took as long as the import) before the first draw.
    """
    return {MODE.name: SPLATS, VIEWPORT_FRACTION.name: 1.0}


def default_viewport_fraction(count: int) -> float:
    """Share of splats the viewport shows at first: all, or about VIEWPORT_BUDGET of them."""
    return 1.0 if count <= VIEWPORT_BUDGET else round(VIEWPORT_BUDGET / count, 4)


def file_frame_euler(up_axis: str) -> tuple[float, float, float]:
    """Euler angles of the rotation from Blender's frame back to the file's."""
    back = mathutils.Quaternion(frame_quaternion(up_axis).tolist()).inverted()
    euler: Any = back.to_euler("XYZ")
    return float(euler.x), float(euler.y), float(euler.z)


def input_identifier(group: bpy.types.NodeTree, name: str) -> str:
    """The modifier key (e.g. ``Socket_3``) of the group input called ``name``."""
    for socket in sockets(group, "INPUT"):
        if socket.name == name:
            return str(socket.identifier)
    raise KeyError(f"{group.name!r} has no input {name!r}")


def input_slot(modifier: bpy.types.Modifier, name: str) -> tuple[Any, str]:
    """Where a control's value lives on a modifier: ``(owner, property path)``.

    Blender 5.2 moved node-group inputs from the modifier's ID properties
    (``modifier["Socket_3"]``, menus stored as item numbers) to RNA properties
    (``modifier.properties.inputs.Socket_3.value``, menus as item names). The
    pair suits ``layout.prop(owner, path)`` on every release.
    """
    mod: Any = modifier
    key = input_identifier(mod.node_group, name)
    inputs = getattr(getattr(mod, "properties", None), "inputs", None)
    if inputs is not None:
        return getattr(inputs, key), "value"
    return mod, f'["{key}"]'


def _menu_items(modifier: bpy.types.Modifier, identifier: str) -> dict[str, int]:
    """Item name -> stored value of a menu input on a modifier (Blender before 5.2)."""
    ui: Any = modifier.id_properties_ui(identifier)
    ui = ui.as_dict()
    return {item[1]: int(item[4]) for item in ui.get("items", ())}


def store_input(modifier: bpy.types.Modifier, name: str, value: Any) -> None:
    """Write a control's value on a modifier; menu inputs take the item's name.

    Only writes: ``mesh.set_input`` first makes what a value needs (the SH palette).
    """
    owner, path = input_slot(modifier, name)
    if path == "value":
        owner.value = value
        return
    key = path[2:-2]
    if isinstance(value, str):
        value = _menu_items(owner, key)[value]
    elif isinstance(value, tuple):
        value = list(value)
    owner[key] = value


def get_input(modifier: bpy.types.Modifier, name: str) -> Any:
    """A control's value on an object's modifier; menu inputs give the item's name."""
    owner, path = input_slot(modifier, name)
    if path == "value":
        value = owner.value
        return tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) else value
    key = path[2:-2]
    control = next(c for c in CONTROLS if c.name == name)
    value = owner.get(key, control.default)  # absent on a modifier older than the input
    if control.socket_type == "NodeSocketMenu":
        names = {v: k for k, v in _menu_items(owner, key).items()}
        return names.get(value, control.default)
    return value
