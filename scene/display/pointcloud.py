# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Display controls for Blender 5.3's own splats: one shared geometry-nodes group.

Blender draws native splats itself and has no per-object settings for them, so
the controls the sidebar shows on older Blenders (display mode, size, opacity
threshold, viewport fraction) are the inputs of a small group on each object's
modifier, as there. With its defaults (Splats, size 1, threshold 0, every
splat) the group hands the point cloud on untouched: a render pays nothing.

- Size multiplies the ``scale`` attribute.
- Opacity Threshold hides splats whose opacity (``radiance:base`` alpha) is below it.
- Viewport Fraction shows the same stable subset as the geometry-nodes display,
  in the viewport only.
- Points turns the cloud into plain points (``Set Point Cloud Type``), one sphere
  per splat sized from its mean sigma, coloured from ``radiance:base``.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..native_prepare import RADIANCE_BASE
from .controls import (
    MODE,
    MODES,
    NATIVE_CONTROLS,
    OPACITY_THRESHOLD,
    POINT_RADIUS_SIGMAS,
    SIZE,
    VIEWPORT_FRACTION,
)
from .graph import VERSION_KEY, Graph, socket
from .shading import dc_srgb, display_linear, emit_with_alpha, material

NATIVE_GROUP_NAME = "gen404 Native Splats"
NATIVE_POINTS_MATERIAL = "gen404 Native Points"
NATIVE_DISPLAY_VERSION = 1


def ensure_display() -> bpy.types.NodeTree:
    """The shared group, created on first use and rebuilt in place when outdated."""
    group: Any = bpy.data.node_groups.get(NATIVE_GROUP_NAME)
    if group is not None and group.get(VERSION_KEY) == NATIVE_DISPLAY_VERSION:
        return group
    if group is None:
        group = bpy.data.node_groups.new(NATIVE_GROUP_NAME, "GeometryNodeTree")
    _build(group, _points_material())
    return group


def _points_material() -> bpy.types.Material:
    """Points mode: each point coloured and as opaque as its splat (``radiance:base``)."""
    mat = material(NATIVE_POINTS_MATERIAL)
    tree: Any = mat.node_tree
    tree.nodes.clear()
    g = Graph(tree)
    geometry = g.node("ShaderNodeNewGeometry")
    base = g.node("ShaderNodeAttribute", attribute_type="GEOMETRY", attribute_name=RADIANCE_BASE)
    color = display_linear(g, dc_srgb(g, base.outputs["Vector"]))
    alpha = g.mul(base.outputs["Alpha"], g.math("LESS_THAN", geometry.outputs["Backfacing"], 0.5))
    output = g.node("ShaderNodeOutputMaterial")
    g.links.new(emit_with_alpha(g, color, alpha), output.inputs["Surface"])
    g.layout()
    return mat


def _build(group: Any, points_material: bpy.types.Material) -> None:
    """Rebuild the group's nodes in place; its inputs are remade only if they differ."""
    iface = group.interface
    if [(s.name, s.socket_type) for s in iface.items_tree] != _WANTED:
        iface.clear()
        iface.new_socket(name="Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
        for control in NATIVE_CONTROLS:
            item = iface.new_socket(
                name=control.name, in_out="INPUT", socket_type=control.socket_type
            )
            item.description = control.description
            if control.min_value is not None:
                item.min_value, item.max_value = control.min_value, control.max_value
            if control.subtype:
                item.subtype = control.subtype
        iface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    for control in NATIVE_CONTROLS[1:]:
        socket(group, control.name).default_value = control.default
    group.nodes.clear()
    g = Graph(group)
    g_in, g_out = g.node("NodeGroupInput"), g.node("NodeGroupOutput")
    geometry = g_in.outputs["Geometry"]
    size, threshold = g_in.outputs[SIZE.name], g_in.outputs[OPACITY_THRESHOLD.name]
    fraction = g_in.outputs[VIEWPORT_FRACTION.name]

    base = g.node("GeometryNodeInputNamedAttribute", data_type="FLOAT_COLOR")
    base.inputs["Name"].default_value = RADIANCE_BASE
    alpha = g.node("FunctionNodeSeparateColor")
    g.links.new(base.outputs["Attribute"], alpha.inputs["Color"])

    # Hide: fainter than the threshold, or outside the viewport's share of splats.
    viewport = g.node("GeometryNodeIsViewport").outputs[0]
    subset = g.math("MULTIPLY", viewport, g.math("LESS_THAN", fraction, 1.0))
    outside = g.math("MULTIPLY", subset, g.math("GREATER_THAN", g.subset_rank(), fraction))
    faint = g.math("LESS_THAN", alpha.outputs["Alpha"], threshold)
    delete = g.node("GeometryNodeDeleteGeometry", domain="POINT")
    g.links.new(geometry, delete.inputs["Geometry"])
    g.links.new(g.math("MAXIMUM", faint, outside), delete.inputs["Selection"])
    hiding = g.math("MAXIMUM", subset, g.math("GREATER_THAN", threshold, 0.0))
    shown = g.switch("GEOMETRY", hiding, geometry, delete.outputs[0])

    # Size: scale the splats (skipped at 1, so the data stays shared).
    scale = g.node("GeometryNodeInputNamedAttribute", data_type="FLOAT_VECTOR")
    scale.inputs["Name"].default_value = "scale"
    store = g.node("GeometryNodeStoreNamedAttribute", data_type="FLOAT_VECTOR", domain="POINT")
    store.inputs["Name"].default_value = "scale"
    g.links.new(shown, store.inputs["Geometry"])
    g.links.new(g.scale(scale.outputs["Attribute"], size), store.inputs["Value"])
    resized = g.switch("GEOMETRY", g.math("COMPARE", size, 1.0, 0.0), store.outputs[0], shown)

    # Points: plain points of a sphere each, about where the Gaussian fades.
    to_points = g.node("GeometryNodePointsSetType")
    g.links.new(resized, to_points.inputs["Points"])
    mean_sigma = g.vec("DOT_PRODUCT", scale.outputs["Attribute"], (1 / 3,) * 3)
    radius = g.node("GeometryNodeSetPointRadius")
    g.links.new(to_points.outputs[0], radius.inputs["Points"])
    g.links.new(g.mul(mean_sigma, size, POINT_RADIUS_SIGMAS), radius.inputs["Radius"])
    set_material = g.node("GeometryNodeSetMaterial")
    set_material.inputs["Material"].default_value = points_material
    g.links.new(radius.outputs[0], set_material.inputs["Geometry"])

    shown = g.menu_switch(g_in.outputs[MODE.name], MODES, resized, set_material.outputs["Geometry"])
    g.links.new(shown, g_out.inputs["Geometry"])
    socket(group, MODE.name).default_value = MODE.default
    g.layout()
    group[VERSION_KEY] = NATIVE_DISPLAY_VERSION


_WANTED = [
    ("Geometry", "NodeSocketGeometry"),
    *((c.name, c.socket_type) for c in NATIVE_CONTROLS),
    ("Geometry", "NodeSocketGeometry"),
]
