# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The geometry-nodes display of mesh splat objects: one shared group for them all.

Each point becomes an instance of a low-poly sphere whose local frame is the
Gaussian's own (its file quaternion, normalised and turned into Blender's
frame; per-axis size exp(``log_scale``)), so the shaders (``shading``) see an
isotropic unit Gaussian in the instance's object space.

Everything derives from the raw values each splat keeps: rotation and size as
above, opacity as the sigmoid of ``opacity_logit``, the colour (and the
Solid-mode palette entry) from ``sh_dc``, computed where needed (for the splats
drawn, in the shaders, for the opacity threshold), so an import writes no
derived layers. Objects imported before display version 4 keep a Blender-frame
``rotation`` and ``scale``; the group reads those when the raw ones are absent.

Per-object display controls (``controls``) are inputs of the one group, set on
each object's modifier: display mode (Gaussian splats or fast points), size,
opacity threshold, the fraction of splats shown in the viewport (a stable subset
spread evenly; final renders show all) and view-dependent colour.

Created once per .blend and shared by every splat object; a .blend saved by an
older version is upgraded in place (same data-blocks: modifiers keep their values).
"""

from __future__ import annotations

from typing import Any

import bpy

from ...splats.cloud import SH_C0
from ..colors import PALETTE_LEVELS
from .controls import (
    CONTROLS,
    FILE_FRAME,
    MODE,
    MODES,
    OPACITY_THRESHOLD,
    POINT_RADIUS_SIGMAS,
    SIZE,
    VIEW_DEPENDENT,
    VIEWPORT_FRACTION,
    get_input,
    input_identifier,
    mesh_defaults,
    store_input,
)
from .graph import VERSION_KEY, Graph, socket, sockets
from .shading import (
    DISPLAY_VERSION,
    MATERIAL_PREFIX,
    PALETTE_KEY,
    PALETTE_NAME,
    SH_MATERIAL_PREFIX,
    SH_PALETTE_NAME,
    SH_SHADER_GROUP_NAME,
    SHADER_GROUP_NAME,
    palette,
    palette_materials,
    points_material,
    shader_group,
)

NODE_GROUP_NAME = "gen404 Splats"

_UNREAD = ("extra_*", "file_normal", ".select_vert", "opacity", "color", "palette")
_REMOVED_FOR_PLAIN = ("sh_rest_*", *_UNREAD)
_REMOVED_FOR_SH = _UNREAD
_REMOVED_FOR_POINTS = ("sh_rest_*", "file_rotation", "rotation", *_UNREAD)
"""Layers a display branch never reads, dropped before instancing: instances of a
subset get copies of every point attribute that is left. (``opacity``, ``color``
and ``palette`` are what objects imported before version 3 of the display also
carry; ``.select_vert`` is edit-mode selection.)"""

_PLAIN_NODE, _SH_NODE = "Plain Palette", "SH Palette"
"""Names of the group's two Object Info nodes, which read the palette objects."""


def ensure_display(view_dependent: bool = False) -> bpy.types.NodeTree:
    """The shared geometry-nodes group, created on first use and upgraded when outdated.

    The SH palette (125 more materials, and one more object for the depsgraph to
    evaluate when the first splat object appears) is made only once an object
    shows view-dependent colour: ``view_dependent``, an object found with it on
    when the group is rebuilt, or an SH palette already in the file. Until then
    that branch uses the plain palette, which shows an object without SH
    coefficients exactly as the SH one would.
    """
    group: Any = bpy.data.node_groups.get(NODE_GROUP_NAME)
    if group is not None and is_current(group) and (has_sh_palette(group) or not view_dependent):
        return group
    with_sh = view_dependent or _view_dependent_in_use()
    plain = shader_group(SHADER_GROUP_NAME, view_dependent=False)
    plain_palette = palette(PALETTE_NAME, palette_materials(MATERIAL_PREFIX, plain))
    sh_palette = plain_palette
    if with_sh:
        sh = shader_group(SH_SHADER_GROUP_NAME, view_dependent=True)
        sh_palette = palette(SH_PALETTE_NAME, palette_materials(SH_MATERIAL_PREFIX, sh))
    points = points_material()
    if group is None:
        group = bpy.data.node_groups.new(NODE_GROUP_NAME, "GeometryNodeTree")
    _build_node_group(group, plain_palette, sh_palette, points)
    return group


@bpy.app.handlers.persistent
def upgrade_existing(*_args: Any) -> None:
    """After a file loads (and once after enabling): upgrade a group an older version saved.

    Objects keep pointing at the same data-block and keep their settings; only a
    group whose version or inputs are out of date is rebuilt.
    """
    group = bpy.data.node_groups.get(NODE_GROUP_NAME)
    if group is not None and not is_current(group):
        ensure_display()


def is_current(group: bpy.types.NodeTree) -> bool:
    """Whether ``group`` was built by this version and has every control."""
    if group.get(VERSION_KEY) != DISPLAY_VERSION:
        return False
    have = {(s.name, s.socket_type) for s in sockets(group, "INPUT")}
    # A palette object deleted by hand leaves its Object Info node empty.
    palettes = [_palette_of(group, node) for node in (_PLAIN_NODE, _SH_NODE)]
    built = [p for p in palettes if p is not None and p.get(VERSION_KEY) == DISPLAY_VERSION]
    return len(built) == 2 and all((c.name, c.socket_type) in have for c in CONTROLS)


def has_sh_palette(group: bpy.types.NodeTree) -> bool:
    """Whether the group's view-dependent branch has its own (SH) palette yet."""
    found = _palette_of(group, _SH_NODE)
    return found is not None and found.get(PALETTE_KEY) == SH_PALETTE_NAME


def set_input(modifier: bpy.types.Modifier, name: str, value: Any) -> None:
    """Set a control on an object's modifier; menu inputs take the item's name.

    It lives here, not in ``controls``, because turning view-dependent colour on
    first needs the SH palette, which only this module builds.
    """
    if name == VIEW_DEPENDENT.name and value:
        ensure_display(view_dependent=True)  # may rebuild the group: look the slot up after
    store_input(modifier, name, value)


def _palette_of(group: bpy.types.NodeTree, node_name: str) -> Any:
    node: Any = group.nodes.get(node_name)
    return None if node is None else node.inputs["Object"].default_value


def _view_dependent_in_use() -> bool:
    """An SH palette exists already, or some object's modifier has view-dependent colour on."""
    if any(o.get(PALETTE_KEY) == SH_PALETTE_NAME for o in bpy.data.objects):
        return True
    group = bpy.data.node_groups.get(NODE_GROUP_NAME)
    if group is None:
        return False
    try:
        input_identifier(group, VIEW_DEPENDENT.name)
    except KeyError:  # a group from before the control: objects with SH get it on
        return any(int(o.get("gen404_sh_degree", 0)) > 0 for o in bpy.data.objects)
    return any(
        bool(get_input(mod, VIEW_DEPENDENT.name))
        for obj in bpy.data.objects
        for mod in obj.modifiers
        if getattr(mod, "node_group", None) == group
    )


def _sync_interface(group: Any) -> list[str]:
    """Give the group exactly the wanted sockets, keeping those that already match.

    A socket kept keeps its identifier, so every modifier keeps its value for it.
    Returns the names of the controls that had to be added.
    """
    iface = group.interface
    wanted = [("INPUT", "Geometry", "NodeSocketGeometry")]
    wanted += [("INPUT", c.name, c.socket_type) for c in CONTROLS]
    wanted.append(("OUTPUT", "Geometry", "NodeSocketGeometry"))
    found: dict[tuple[str, str, str], Any] = {}
    for item in list(iface.items_tree):
        key = (getattr(item, "in_out", ""), item.name, getattr(item, "socket_type", ""))
        if item.item_type != "SOCKET" or key not in wanted or key in found:
            iface.remove(item)
        else:
            found[key] = item
    added = []
    for in_out, name, socket_type in wanted:
        if (in_out, name, socket_type) not in found:
            iface.new_socket(name=name, in_out=in_out, socket_type=socket_type)
            added.append(name)
    for control in CONTROLS:
        item = socket(group, control.name)
        item.description = control.description
        if control.socket_type != "NodeSocketMenu":  # its items come from the Menu Switch
            item.default_value = control.default
        if control.min_value is not None:
            item.min_value, item.max_value = control.min_value, control.max_value
        if control.subtype and hasattr(item, "subtype"):
            item.subtype = control.subtype
        if hasattr(item, "hide_in_modifier"):
            item.hide_in_modifier = control.hidden
    return added


def _build_node_group(
    group: Any,
    plain_palette: bpy.types.Object,
    sh_palette: bpy.types.Object,
    points: bpy.types.Material,
) -> None:
    """Rebuild the group's nodes in place (its data-block and kept inputs stay)."""
    group.nodes.clear()
    added = _sync_interface(group)
    g = Graph(group)
    g_in = g.node("NodeGroupInput")
    g_out = g.node("NodeGroupOutput")
    geometry = g_in.outputs["Geometry"]
    size = g_in.outputs[SIZE.name]
    view_dependent = g_in.outputs[VIEW_DEPENDENT.name]

    # Which splats show: in the viewport only a stable subset (see Graph.subset_rank);
    # and, with a threshold, only those opaque enough. Each costs a pass over every
    # splat, so the switches (single values) leave out what cannot drop anything.
    threshold = g_in.outputs[OPACITY_THRESHOLD.name]
    fraction = g_in.outputs[VIEWPORT_FRACTION.name]
    viewport = g.node("GeometryNodeIsViewport").outputs[0]
    thinned = g.boolean("AND", viewport, g.compare("LESS_THAN", fraction, 1.0))
    subset = g.compare("LESS_THAN", g.subset_rank(), fraction)
    shown = g.switch("BOOLEAN", thinned, True, subset)
    opacity = g.sigmoid(g.named("opacity_logit", "FLOAT"))
    opaque_enough = g.compare("GREATER_EQUAL", opacity, threshold)
    selection = g.switch(
        "BOOLEAN",
        g.compare("GREATER_THAN", threshold, 0.0),
        shown,
        g.boolean("AND", shown, opaque_enough),
    )

    plain_points = g.strip(geometry, _REMOVED_FOR_PLAIN)
    points_in = g.switch(
        "GEOMETRY", view_dependent, plain_points, g.strip(geometry, _REMOVED_FOR_SH)
    )

    # Splats: a palette sphere per point, in the Gaussian's frame and size.
    sigma = _sigmas(g)
    file_rotation = _file_rotation(g, g_in.outputs[FILE_FRAME.name])
    scale = g.scale(sigma, size)
    instance = g.node("GeometryNodeInstanceOnPoints")
    instance.inputs["Pick Instance"].default_value = True
    # Keep only the splats shown first: Instance on Points then evaluates its inputs
    # over whole arrays and shares them with the instances instead of gathering
    # each one through a scattered selection.
    shown_points = g.node("GeometryNodeSeparateGeometry", domain="POINT")
    g.links.new(points_in, shown_points.inputs["Geometry"])
    g.links.new(selection, shown_points.inputs["Selection"])
    g.links.new(shown_points.outputs["Selection"], instance.inputs["Points"])
    g.links.new(
        g.switch(
            "GEOMETRY",
            view_dependent,
            g.object_geometry(plain_palette, _PLAIN_NODE),
            g.object_geometry(sh_palette, _SH_NODE),
        ),
        instance.inputs["Instance"],
    )
    palette_index = _palette_index(g, g.named("sh_dc", "FLOAT_VECTOR"))
    g.links.new(palette_index, instance.inputs["Instance Index"])
    g.links.new(
        _blender_rotation(g, file_rotation, g_in.outputs[FILE_FRAME.name]),
        instance.inputs["Rotation"],
    )
    g.links.new(scale, instance.inputs["Scale"])
    splats = instance.outputs["Instances"]
    # For the SH shader: each instance's rotation into the file's frame (a quaternion)
    # and its sigmas, stored on the instances.
    quaternion = g.node("FunctionNodeRotationToQuaternion")
    g.links.new(file_rotation, quaternion.inputs[0])
    packed = g.node("FunctionNodeCombineColor")
    for src, dst in (("X", "Red"), ("Y", "Green"), ("Z", "Blue"), ("W", "Alpha")):
        g.links.new(quaternion.outputs[src], packed.inputs[dst])
    store = g.node("GeometryNodeStoreNamedAttribute", data_type="FLOAT_COLOR", domain="INSTANCE")
    store.inputs["Name"].default_value = "sh_frame"
    g.links.new(splats, store.inputs["Geometry"])
    g.links.new(packed.outputs[0], store.inputs["Value"])
    store_sigma = g.node(
        "GeometryNodeStoreNamedAttribute", data_type="FLOAT_VECTOR", domain="INSTANCE"
    )
    store_sigma.inputs["Name"].default_value = "sh_sigma"
    g.links.new(store.outputs[0], store_sigma.inputs["Geometry"])
    g.links.new(sigma, store_sigma.inputs["Value"])
    splats = g.switch("GEOMETRY", view_dependent, splats, store_sigma.outputs[0])

    # Points: the splats' centres as a point cloud, sized from their mean sigma.
    mean_sigma = g.vec("DOT_PRODUCT", sigma, (1 / 3,) * 3)
    to_points = g.node("GeometryNodeMeshToPoints")
    g.links.new(g.strip(geometry, _REMOVED_FOR_POINTS), to_points.inputs["Mesh"])
    g.links.new(selection, to_points.inputs["Selection"])
    g.links.new(g.mul(mean_sigma, size, POINT_RADIUS_SIGMAS), to_points.inputs["Radius"])
    set_points_material = g.node("GeometryNodeSetMaterial")
    set_points_material.inputs["Material"].default_value = points
    g.links.new(to_points.outputs["Points"], set_points_material.inputs["Geometry"])

    shown = g.menu_switch(
        g_in.outputs[MODE.name], MODES, splats, set_points_material.outputs["Geometry"]
    )
    g.links.new(shown, g_out.inputs["Geometry"])
    socket(group, MODE.name).default_value = MODE.default
    g.layout()
    group[VERSION_KEY] = DISPLAY_VERSION
    _fill_new_inputs(group, added)


def _sigmas(g: Graph) -> Any:
    """Standard deviations per local axis: exp of the file's ``log_scale``.

    Objects imported before display version 4 hold them ready in ``scale``.
    """
    log_scale, has_log = g.exists("log_scale", "FLOAT_VECTOR")
    xyz = g.node("ShaderNodeSeparateXYZ")
    g.links.new(log_scale, xyz.inputs[0])
    combined = g.node("ShaderNodeCombineXYZ")
    for i in range(3):
        g.links.new(g.math("EXPONENT", xyz.outputs[i]), combined.inputs[i])
    return g.switch("VECTOR", has_log, g.named("scale", "FLOAT_VECTOR"), combined.outputs[0])


def _file_rotation(g: Graph, file_frame: Any) -> Any:
    """Each splat's rotation in the file's frame: its quaternion there, normalised.

    A quaternion attribute read straight into a rotation is used as it is, and an
    un-normalised one would scale the splat; the round trip through its four
    components normalises it (no rotation at all becomes the identity). Objects
    imported before display version 4 hold a Blender-frame ``rotation`` instead:
    it is turned by the file frame.
    """
    stored, has_file = g.exists("file_rotation", "QUATERNION")
    raw = g.node("FunctionNodeRotationToQuaternion")
    g.links.new(stored, raw.inputs[0])
    rotation = g.node("FunctionNodeQuaternionToRotation")
    for part in "WXYZ":
        g.links.new(raw.outputs[part], rotation.inputs[part])
    legacy = g.node("FunctionNodeRotateRotation", rotation_space="GLOBAL")
    g.links.new(g.named("rotation", "QUATERNION"), legacy.inputs["Rotation"])
    g.links.new(file_frame, legacy.inputs["Rotate By"])
    return g.switch("ROTATION", has_file, legacy.outputs[0], rotation.outputs[0])


def _blender_rotation(g: Graph, file_rotation: Any, file_frame: Any) -> Any:
    """A splat's rotation in Blender's frame: the file frame's turn undone."""
    to_blender = g.node("FunctionNodeInvertRotation")
    g.links.new(file_frame, to_blender.inputs[0])
    turned = g.node("FunctionNodeRotateRotation", rotation_space="GLOBAL")
    g.links.new(file_rotation, turned.inputs["Rotation"])
    g.links.new(to_blender.outputs[0], turned.inputs["Rotate By"])
    return turned.outputs[0]


def _palette_index(g: Graph, dc: Any) -> Any:
    """Solid-mode palette entry of each splat, as ``colors.dc_to_display`` computes it.

    Per channel, level = min(floor(clamp(0.5 + C0 * f_dc, 0, 1) * LEVELS), LEVELS - 1),
    which is clamp(floor(LEVELS * C0 * f_dc + LEVELS / 2), 0, LEVELS - 1): one pass
    fewer. The entry is the levels' dot product with (LEVELS^2, LEVELS, 1). Every
    step after the floor is on small whole numbers, exact in float, so the
    conversion to the integer Instance Index cannot round it either way.
    """
    levels = g.vec(
        "FLOOR",
        g.vec("MULTIPLY_ADD", dc, (PALETTE_LEVELS * SH_C0,) * 3, (PALETTE_LEVELS / 2,) * 3),
    )
    top = float(PALETTE_LEVELS - 1)
    levels = g.vec("MINIMUM", g.vec("MAXIMUM", levels, (0.0,) * 3), (top,) * 3)
    weights = (float(PALETTE_LEVELS**2), float(PALETTE_LEVELS), 1.0)
    return g.vec("DOT_PRODUCT", levels, weights)


def _fill_new_inputs(group: Any, names: list[str]) -> None:
    """Objects made before an upgrade: give the controls just added their proper values.

    A new input starts at zero on every modifier; the per-object ones (file frame,
    SH toggle) follow from what the object records about its import.
    """
    controls = [c for c in CONTROLS if c.name in names]
    if not controls:
        return
    for obj in bpy.data.objects:
        for mod in obj.modifiers:
            if mod.type != "NODES" or getattr(mod, "node_group", None) != group:
                continue
            values = mesh_defaults(
                str(obj.get("gen404_up_axis", "Y")),
                int(obj.get("gen404_sh_degree", 0)),
                int(obj.get("gen404_splats", 0)),
            )
            for control in controls:
                set_input(mod, control.name, values.get(control.name, control.default))
