# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shaders and materials of the geometry-nodes display, and the Solid-mode palettes.

Each splat is an instance of a low-poly sphere whose local frame is the
Gaussian's own, so in the instance's object space the splat is an isotropic
unit Gaussian. The shader computes the view ray's closest approach d to the
centre in that space and uses alpha = opacity * exp(-d^2 / 2): the exact
Gaussian falloff of the splat's footprint, seen from any side, whatever point of
the shell the ray hit (a ray's closest approach in the whitened frame is the
Mahalanobis distance of the projected 2D Gaussian).

Solid mode ignores shaders and cannot read per-instance attributes, so the
spheres come in a palette of PALETTE_LEVELS^3 colours, each with a material whose
viewport colour is that palette entry. There are two palettes: one wraps the
plain Gaussian shader, the other the shader that also evaluates the spherical
harmonics. Keeping them apart matters for speed: Cycles looks up every attribute
a shader names once per instance, so an object without view-dependent colour
must not pay for fifteen SH lookups per splat. Each palette's instances are the
evaluated geometry of an object kept out of every scene ("gen404 Palette",
"gen404 Palette SH"), so they are built once, not on every evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bpy
import numpy as np

from ...splats.cloud import SH_C0
from ...splats.sh import SH_C1, SH_C2, SH_C3
from ..colors import PALETTE_LEVELS, palette_srgb, srgb_to_linear
from ..prepare import sh_rest_name
from .graph import VERSION_KEY, Graph, sockets

SHADER_GROUP_NAME = "gen404 Gaussian"
SH_SHADER_GROUP_NAME = "gen404 Gaussian SH"
MATERIAL_PREFIX = "gen404 Splat "
SH_MATERIAL_PREFIX = "gen404 Splat SH "
POINTS_MATERIAL_NAME = "gen404 Splat Points"
PALETTE_NAME = "gen404 Palette"
SH_PALETTE_NAME = "gen404 Palette SH"
PALETTE_KEY = "gen404_palette"
"""Marks the two palette objects (its value is the palette's name)."""

DISPLAY_VERSION = 4
"""Version of the geometry-nodes display (its group, shaders and palettes): bumped
whenever they change; older ones are rebuilt in place."""

SIGMA_CUTOFF = 3.0
"""The shell encloses the Gaussian out to this many standard deviations."""

# An icosphere with one subdivision has an inscribed radius of about 0.795 of its
# circumradius; sizing by the inscribed radius keeps the whole 3-sigma ellipsoid inside.
_ICO_INSCRIBED = 0.7947
SHELL_RADIUS = SIGMA_CUTOFF / _ICO_INSCRIBED

SOLID_ALPHA = 0.6
"""Solid-mode opacity of a splat's shell: translucent, so overlaps build up like splats do."""


def shader_group(name: str, view_dependent: bool) -> bpy.types.NodeTree:
    """The Gaussian shader every palette material wraps, made or rebuilt in place."""
    group: Any = bpy.data.node_groups.get(name)
    if group is not None and group.get(VERSION_KEY) == DISPLAY_VERSION:
        return group
    if group is None:
        group = bpy.data.node_groups.new(name, "ShaderNodeTree")
    group.nodes.clear()
    # Keep the output socket if it is there: the materials' group nodes stay linked to it.
    outputs = [s for s in sockets(group, "OUTPUT") if s.socket_type == "NodeSocketShader"]
    if not outputs or len(group.interface.items_tree) != 1:
        group.interface.clear()
        group.interface.new_socket(name="Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
    g = Graph(group)

    coords = g.node("ShaderNodeTexCoord")
    geometry = g.node("ShaderNodeNewGeometry")
    to_object = g.node(
        "ShaderNodeVectorTransform", vector_type="VECTOR", convert_from="WORLD", convert_to="OBJECT"
    )
    g.links.new(geometry.outputs["Incoming"], to_object.inputs["Vector"])
    p = coords.outputs["Object"]
    d = to_object.outputs["Vector"]
    # Squared distance from the centre to the view ray: |P|^2 - (P.D)^2 / |D|^2.
    pd = g.vec("DOT_PRODUCT", p, d)
    dist2 = g.math(
        "SUBTRACT",
        g.vec("DOT_PRODUCT", p, p),
        g.math("DIVIDE", g.mul(pd, pd), g.vec("DOT_PRODUCT", d, d)),
    )
    # Beyond the cut-off the Gaussian is treated as zero, as splat renderers do.
    inside = g.math("LESS_THAN", dist2, SIGMA_CUTOFF * SIGMA_CUTOFF)
    falloff = g.mul(g.math("EXPONENT", g.mul(dist2, -0.5)), inside)
    # Count each splat once: its back faces are fully transparent.
    front = g.math("LESS_THAN", geometry.outputs["Backfacing"], 0.5)
    opacity = g.sigmoid(_instancer(g, "opacity_logit").outputs["Fac"])
    alpha = g.mul(falloff, opacity, front)

    dc = _instancer(g, "sh_dc").outputs["Vector"]
    color = display_linear(g, _sh_color(g, dc, d) if view_dependent else dc_srgb(g, dc))
    out = g.node("NodeGroupOutput")
    g.links.new(emit_with_alpha(g, color, alpha), out.inputs["Shader"])
    g.layout()
    group[VERSION_KEY] = DISPLAY_VERSION
    return group


def _instancer(g: Graph, name: str) -> Any:
    return g.node("ShaderNodeAttribute", attribute_type="INSTANCER", attribute_name=name)


def dc_srgb(g: Graph, dc: Any) -> Any:
    """The degree-0 display colour 0.5 + C0 * f_dc (not clamped yet)."""
    return g.vec("MULTIPLY_ADD", dc, (SH_C0,) * 3, (0.5,) * 3)


def display_linear(g: Graph, srgb: Any) -> Any:
    """A display colour clamped to 0..1 and decoded to scene-linear (``colors.srgb_to_linear``)."""
    return _srgb_to_linear(g, g.vec("MINIMUM", g.vec("MAXIMUM", srgb, (0.0,) * 3), (1.0,) * 3))


def _sh_color(g: Graph, dc: Any, incoming: Any) -> Any:
    """Display colour with the view-dependent SH terms, as the Inria renderer does.

    The view direction (camera to splat) is taken in the file's frame, where the
    coefficients live: the instance-space incoming vector is scaled back by the
    splat's sigmas (``sh_sigma``) and turned by ``sh_frame``, the quaternion from
    the splat's frame to the file's (both written on the instances by the group).
    """
    v = g.vec("MULTIPLY", _instancer(g, "sh_sigma").outputs["Vector"], g.scale(incoming, -1.0))
    frame = _instancer(g, "sh_frame")
    u, w = frame.outputs["Vector"], frame.outputs["Alpha"]
    # q v q*: v + w t + u x t with t = 2 u x v.
    t = g.scale(g.vec("CROSS_PRODUCT", u, v), 2.0)
    wt = g.scale(t, w)
    direction = g.vec("NORMALIZE", g.vec("ADD", g.vec("ADD", v, wt), g.vec("CROSS_PRODUCT", u, t)))
    xyz = g.node("ShaderNodeSeparateXYZ")
    g.links.new(direction, xyz.inputs[0])
    x, y, z = (xyz.outputs[i] for i in range(3))
    xx, yy, zz = g.mul(x, x), g.mul(y, y), g.mul(z, z)
    xx_yy = g.add(xx, yy)
    basis = [
        g.mul(y, -SH_C1),
        g.mul(z, SH_C1),
        g.mul(x, -SH_C1),
        g.mul(x, y, SH_C2[0]),
        g.mul(y, z, SH_C2[1]),
        g.mul(g.math("SUBTRACT", g.mul(zz, 2.0), xx_yy), SH_C2[2]),
        g.mul(x, z, SH_C2[3]),
        g.mul(g.math("SUBTRACT", xx, yy), SH_C2[4]),
        g.mul(y, g.math("SUBTRACT", g.mul(xx, 3.0), yy), SH_C3[0]),
        g.mul(x, y, z, SH_C3[1]),
        g.mul(y, g.math("SUBTRACT", g.mul(zz, 4.0), xx_yy), SH_C3[2]),
        g.mul(z, g.math("SUBTRACT", g.mul(zz, 2.0), g.mul(xx_yy, 3.0)), SH_C3[3]),
        g.mul(x, g.math("SUBTRACT", g.mul(zz, 4.0), xx_yy), SH_C3[4]),
        g.mul(z, g.math("SUBTRACT", xx, yy), SH_C3[5]),
        g.mul(x, g.math("SUBTRACT", xx, g.mul(yy, 3.0)), SH_C3[6]),
    ]
    # Display colour: 0.5 + C0 * f_dc + sum of basis * coefficient (clamped by the caller).
    total = dc_srgb(g, dc)
    for k, value in enumerate(basis):
        term = g.scale(_instancer(g, sh_rest_name(k)).outputs["Vector"], value)
        total = g.vec("ADD", total, term)
    return total


def _srgb_to_linear(g: Graph, srgb: Any) -> Any:
    """The sRGB decoding curve per channel (the shader side of ``colors.srgb_to_linear``)."""
    channels = g.node("ShaderNodeSeparateXYZ")
    g.links.new(srgb, channels.inputs[0])
    linear = g.node("ShaderNodeCombineXYZ")
    for i in range(3):
        c = channels.outputs[i]
        low = g.math("DIVIDE", c, 12.92)
        high = g.math("POWER", g.math("DIVIDE", g.math("ADD", c, 0.055), 1.055), 2.4)
        upper = g.math("GREATER_THAN", c, 0.04045)
        value = g.math("MULTIPLY_ADD", upper, g.math("SUBTRACT", high, low), low)
        g.links.new(value, linear.inputs[i])
    return linear.outputs[0]


def emit_with_alpha(g: Graph, color: Any, alpha: Any) -> Any:
    """Unlit colour with coverage ``alpha``: splats carry their own shading."""
    emission = g.node("ShaderNodeEmission")
    g.links.new(color, emission.inputs["Color"])
    transparent = g.node("ShaderNodeBsdfTransparent")
    mix = g.node("ShaderNodeMixShader")
    g.links.new(alpha, mix.inputs["Fac"])
    g.links.new(transparent.outputs[0], mix.inputs[1])
    g.links.new(emission.outputs[0], mix.inputs[2])
    return mix.outputs[0]


def material(name: str) -> Any:
    """A splat material (made if missing): alpha-blended, back faces culled, with nodes."""
    mat: Any = bpy.data.materials.get(name)
    if mat is None:
        mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # Blender < 5.0 creates materials without nodes
        mat.use_nodes = True
    # EEVEE and Material Preview: alpha-blended, sorted per instance, no depth writes.
    if hasattr(mat, "surface_render_method"):
        mat.surface_render_method = "BLENDED"
    else:
        mat.blend_method = "BLEND"
    if hasattr(mat, "use_transparent_shadow"):
        mat.use_transparent_shadow = True
    mat.use_backface_culling = True
    return mat


def palette_materials(prefix: str, shader: bpy.types.NodeTree) -> list[bpy.types.Material]:
    """One material per palette entry, each wrapping ``shader``, its Solid colour the entry's."""
    materials = []
    for index in range(PALETTE_LEVELS**3):
        mat = material(f"{prefix}{index:03d}")
        tree: Any = mat.node_tree
        nodes = tree.nodes
        wrapper = next((n for n in nodes if n.bl_idname == "ShaderNodeGroup"), None)
        output = next((n for n in nodes if n.bl_idname == "ShaderNodeOutputMaterial"), None)
        linked = output is not None and output.inputs["Surface"].is_linked
        if wrapper is None or wrapper.node_tree != shader or len(nodes) != 2 or not linked:
            nodes.clear()
            wrapper = nodes.new("ShaderNodeGroup")
            wrapper.node_tree = shader
            output = nodes.new("ShaderNodeOutputMaterial")
            output.location = (250.0, 0.0)
            tree.links.new(wrapper.outputs["Shader"], output.inputs["Surface"])
        linear = srgb_to_linear(np.array(palette_srgb(index)))
        mat.diffuse_color = (*(float(c) for c in linear), SOLID_ALPHA)
        materials.append(mat)
    return materials


def palette(name: str, materials: Sequence[bpy.types.Material]) -> bpy.types.Object:
    """An object in no scene whose geometry is the palette: instance i is a shell with material i.

    Its own modifier builds the instances, so the depsgraph evaluates them once and
    every splat object's evaluation just reads them (Object Info): built inside the
    shared group, the palette's meshes were remade on every evaluation, and its
    250 nodes made every new object's first one slower.
    """
    group: Any = bpy.data.node_groups.get(name)
    if group is None or group.bl_idname != "GeometryNodeTree":
        group = bpy.data.node_groups.new(name, "GeometryNodeTree")
    group.nodes.clear()
    group.interface.clear()
    group.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    g = Graph(group)
    sphere = g.node("GeometryNodeMeshIcoSphere")
    sphere.inputs["Radius"].default_value = SHELL_RADIUS
    sphere.inputs["Subdivisions"].default_value = 1
    instances = g.node("GeometryNodeGeometryToInstance")
    # A multi-input socket lists its newest link first: link the last entry first
    # so that instance index i is palette entry i.
    for mat in reversed(materials):
        set_material = g.node("GeometryNodeSetMaterial")
        set_material.inputs["Material"].default_value = mat
        set_material.hide = True
        g.links.new(sphere.outputs["Mesh"], set_material.inputs["Geometry"])
        g.links.new(set_material.outputs["Geometry"], instances.inputs["Geometry"])
    g.links.new(instances.outputs["Instances"], g.node("NodeGroupOutput").inputs[0])
    g.layout()
    group[VERSION_KEY] = DISPLAY_VERSION

    obj: Any = next((o for o in bpy.data.objects if o.get(PALETTE_KEY) == name), None)
    if obj is None or obj.type != "MESH":
        obj = bpy.data.objects.new(name, bpy.data.meshes.new(name))
        obj[PALETTE_KEY] = name
    obj.modifiers.clear()
    obj.modifiers.new(name, "NODES").node_group = group
    obj[VERSION_KEY] = DISPLAY_VERSION
    return obj


def points_material() -> bpy.types.Material:
    """Points mode: a sphere per point, coloured and as opaque as its splat (the point
    cloud's own ``sh_dc`` and ``opacity_logit``)."""
    mat = material(POINTS_MATERIAL_NAME)
    tree: Any = mat.node_tree
    tree.nodes.clear()
    g = Graph(tree)
    geometry = g.node("ShaderNodeNewGeometry")
    dc = g.node("ShaderNodeAttribute", attribute_type="GEOMETRY", attribute_name="sh_dc")
    color = display_linear(g, dc_srgb(g, dc.outputs["Vector"]))
    logit = g.node("ShaderNodeAttribute", attribute_type="GEOMETRY", attribute_name="opacity_logit")
    opacity = g.sigmoid(logit.outputs["Fac"])
    alpha = g.mul(opacity, g.math("LESS_THAN", geometry.outputs["Backfacing"], 0.5))
    output = g.node("ShaderNodeOutputMaterial")
    g.links.new(emit_with_alpha(g, color, alpha), output.inputs["Surface"])
    g.layout()
    mat.diffuse_color = (0.6, 0.6, 0.6, 1.0)
    return mat
