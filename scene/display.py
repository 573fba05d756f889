"""The shared display for splat objects: one geometry-nodes group, one shader group.

Each point becomes an instance of a low-poly sphere whose local frame is the
Gaussian's own (rotation from `rotation`, per-axis size from `scale`), so in the
instance's object space the splat is an isotropic unit Gaussian. The shader then
computes the view ray's closest approach d to the centre in that space and uses
alpha = opacity * exp(-d^2 / 2): a true Gaussian falloff seen from any side,
whatever point of the shell the ray hit.

Solid mode ignores shaders and cannot read per-instance attributes, so the
spheres come in a palette of PALETTE_LEVELS^3 colours, each with a material whose
viewport colour is that palette entry; every such material only wraps the one
shared shader group, which reads the exact per-splat colour for renders and
Material Preview. All of it is created once per .blend and shared by every splat
object.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from .colors import PALETTE_LEVELS, palette_srgb, srgb_to_linear

NODE_GROUP_NAME = "gen404 Splats"
SHADER_GROUP_NAME = "gen404 Gaussian"
MATERIAL_PREFIX = "gen404 Splat "

SIGMA_CUTOFF = 3.0
"""The shell encloses the Gaussian out to this many standard deviations."""

# An icosphere with one subdivision has an inscribed radius of about 0.795 of its
# circumradius; sizing by the inscribed radius keeps the whole 3-sigma ellipsoid inside.
_ICO_INSCRIBED = 0.7947
SHELL_RADIUS = SIGMA_CUTOFF / _ICO_INSCRIBED

SOLID_ALPHA = 0.6
"""Solid-mode opacity of a splat's shell: translucent, so overlaps build up like splats do."""


def ensure_display() -> bpy.types.NodeTree:
    """The shared geometry-nodes group (and the materials it uses), created on first use."""
    group = bpy.data.node_groups.get(NODE_GROUP_NAME)
    if group is None:
        group = _build_node_group(_palette_materials(_shader_group()))
    return group


def _shader_group() -> bpy.types.NodeTree:
    existing = bpy.data.node_groups.get(SHADER_GROUP_NAME)
    if existing is not None:
        return existing
    # Nodes are created from type names, so their Python types are only known at run
    # time: the graph-building code works on Any.
    group: Any = bpy.data.node_groups.new(SHADER_GROUP_NAME, "ShaderNodeTree")
    group.interface.new_socket(name="Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
    nodes, links = group.nodes, group.links

    def math(op: str, a, b=None, value_b: float | None = None):
        node = nodes.new("ShaderNodeMath")
        node.operation = op
        links.new(a, node.inputs[0])
        if b is not None:
            links.new(b, node.inputs[1])
        elif value_b is not None:
            node.inputs[1].default_value = value_b
        return node.outputs[0]

    def dot(a, b):
        node = nodes.new("ShaderNodeVectorMath")
        node.operation = "DOT_PRODUCT"
        links.new(a, node.inputs[0])
        links.new(b, node.inputs[1])
        return node.outputs["Value"]

    coords = nodes.new("ShaderNodeTexCoord")
    geometry = nodes.new("ShaderNodeNewGeometry")
    to_object = nodes.new("ShaderNodeVectorTransform")
    to_object.vector_type = "VECTOR"
    to_object.convert_from = "WORLD"
    to_object.convert_to = "OBJECT"
    links.new(geometry.outputs["Incoming"], to_object.inputs["Vector"])

    p = coords.outputs["Object"]
    d = to_object.outputs["Vector"]
    # Squared distance from the centre to the view ray: |P|^2 - (P.D)^2 / |D|^2.
    pd = dot(p, d)
    dist2 = math("SUBTRACT", dot(p, p), math("DIVIDE", math("MULTIPLY", pd, pd), dot(d, d)))
    # Beyond the cut-off the Gaussian is treated as zero, as splat renderers do.
    inside = math("LESS_THAN", dist2, value_b=SIGMA_CUTOFF * SIGMA_CUTOFF)
    falloff = math("MULTIPLY", math("EXPONENT", math("MULTIPLY", dist2, value_b=-0.5)), inside)

    opacity = nodes.new("ShaderNodeAttribute")
    opacity.attribute_type = "INSTANCER"
    opacity.attribute_name = "opacity"
    # Count each splat once: its back faces are fully transparent.
    front = math("LESS_THAN", geometry.outputs["Backfacing"], value_b=0.5)
    alpha = math("MULTIPLY", math("MULTIPLY", falloff, opacity.outputs["Fac"]), front)

    color = nodes.new("ShaderNodeAttribute")
    color.attribute_type = "INSTANCER"
    color.attribute_name = "color"
    emission = nodes.new("ShaderNodeEmission")
    links.new(color.outputs["Color"], emission.inputs["Color"])
    transparent = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")
    links.new(alpha, mix.inputs["Fac"])
    links.new(transparent.outputs[0], mix.inputs[1])
    links.new(emission.outputs[0], mix.inputs[2])
    out = nodes.new("NodeGroupOutput")
    links.new(mix.outputs[0], out.inputs["Shader"])
    for i, node in enumerate(nodes):
        node.location = (200.0 * (i % 8), -220.0 * (i // 8))
    return group


def _palette_materials(shader: bpy.types.NodeTree) -> list[bpy.types.Material]:
    materials = []
    for index in range(PALETTE_LEVELS**3):
        name = f"{MATERIAL_PREFIX}{index:03d}"
        mat = bpy.data.materials.get(name)
        if mat is None:
            mat = bpy.data.materials.new(name)
            if mat.node_tree is None:  # Blender < 5.0 creates materials without nodes
                mat.use_nodes = True
            tree: Any = mat.node_tree
            nodes = tree.nodes
            nodes.clear()
            wrapper = nodes.new("ShaderNodeGroup")
            wrapper.node_tree = shader
            output = nodes.new("ShaderNodeOutputMaterial")
            output.location = (250.0, 0.0)
            tree.links.new(wrapper.outputs["Shader"], output.inputs["Surface"])
            # EEVEE: alpha-blended, no depth writes between splats.
            if hasattr(mat, "surface_render_method"):
                mat.surface_render_method = "BLENDED"
            else:
                mat.blend_method = "BLEND"
            mat.use_backface_culling = True
            linear = srgb_to_linear(np.array(palette_srgb(index)))
            mat.diffuse_color = (*(float(c) for c in linear), SOLID_ALPHA)  # type: ignore[assignment]
        materials.append(mat)
    return materials


def _build_node_group(materials: list[bpy.types.Material]) -> bpy.types.NodeTree:
    group: Any = bpy.data.node_groups.new(NODE_GROUP_NAME, "GeometryNodeTree")
    group.interface.new_socket(name="Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    size = group.interface.new_socket(name="Size", in_out="INPUT", socket_type="NodeSocketFloat")
    size.default_value = 1.0
    size.min_value = 0.0
    size.description = "Multiplier on every splat's size"
    group.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")

    nodes, links = group.nodes, group.links
    g_in = nodes.new("NodeGroupInput")
    g_out = nodes.new("NodeGroupOutput")

    sphere = nodes.new("GeometryNodeMeshIcoSphere")
    sphere.inputs["Radius"].default_value = SHELL_RADIUS
    sphere.inputs["Subdivisions"].default_value = 1
    palette = nodes.new("GeometryNodeGeometryToInstance")
    # A multi-input socket lists its newest link first: link the last entry first
    # so that instance index i is palette entry i.
    for i, mat in reversed(list(enumerate(materials))):
        set_material = nodes.new("GeometryNodeSetMaterial")
        set_material.inputs["Material"].default_value = mat
        set_material.location = (200.0, -60.0 * i)
        set_material.hide = True
        links.new(sphere.outputs["Mesh"], set_material.inputs["Geometry"])
        links.new(set_material.outputs["Geometry"], palette.inputs["Geometry"])

    def named(name: str, data_type: str):
        node = nodes.new("GeometryNodeInputNamedAttribute")
        node.data_type = data_type
        node.inputs["Name"].default_value = name
        return node.outputs["Attribute"]

    sized = nodes.new("ShaderNodeVectorMath")
    sized.operation = "SCALE"
    links.new(named("scale", "FLOAT_VECTOR"), sized.inputs[0])
    links.new(g_in.outputs["Size"], sized.inputs["Scale"])

    instance = nodes.new("GeometryNodeInstanceOnPoints")
    instance.inputs["Pick Instance"].default_value = True
    links.new(g_in.outputs["Geometry"], instance.inputs["Points"])
    links.new(palette.outputs["Instances"], instance.inputs["Instance"])
    links.new(named("palette", "INT"), instance.inputs["Instance Index"])
    links.new(named("rotation", "QUATERNION"), instance.inputs["Rotation"])
    links.new(sized.outputs["Vector"], instance.inputs["Scale"])
    links.new(instance.outputs["Instances"], g_out.inputs["Geometry"])

    g_in.location = (0.0, 200.0)
    sphere.location = (0.0, -200.0)
    palette.location = (450.0, -200.0)
    sized.location = (450.0, 100.0)
    instance.location = (700.0, 0.0)
    g_out.location = (950.0, 0.0)
    return group
