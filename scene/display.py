"""The shared display for splat objects: one geometry-nodes group, its shaders and materials.

Each point becomes an instance of a low-poly sphere whose local frame is the
Gaussian's own (its file quaternion, normalised and turned into Blender's
frame; per-axis size exp(``log_scale``)), so in the
instance's object space the splat is an isotropic unit Gaussian. The shader then
computes the view ray's closest approach d to the centre in that space and uses
alpha = opacity * exp(-d^2 / 2): the exact Gaussian falloff of the splat's
footprint, seen from any side, whatever point of the shell the ray hit (a ray's
closest approach in the whitened frame is the Mahalanobis distance of the
projected 2D Gaussian).

Everything derives from the raw values each splat keeps: rotation and size as
above, opacity as the sigmoid of ``opacity_logit``, the colour (and the
Solid-mode palette entry) from ``sh_dc``, computed where needed (for the splats
drawn, in the shaders, for the opacity threshold), so an import writes no
derived layers. Objects imported before display version 4 keep a Blender-frame
``rotation`` and ``scale``; the group reads those when the raw ones are absent.

Per-object display controls are inputs of the one group, set on each object's
modifier: display mode (Gaussian splats or fast points), size, opacity
threshold, the fraction of splats shown in the viewport (a stable subset spread
evenly; final renders show all) and view-dependent colour.

Solid mode ignores shaders and cannot read per-instance attributes, so the
spheres come in a palette of PALETTE_LEVELS^3 colours, each with a material whose
viewport colour is that palette entry. There are two palettes: one wraps the
plain Gaussian shader, the other the shader that also evaluates the spherical
harmonics. Keeping them apart matters for speed: Cycles looks up every attribute
a shader names once per instance, so an object without view-dependent colour
must not pay for fifteen SH lookups per splat. Each palette's instances are the
evaluated geometry of an object kept out of every scene ("gen404 Palette",
"gen404 Palette SH"), so they are built once, not on every evaluation.

Everything is created once per .blend and shared by every splat object; a
.blend saved by an older version is upgraded in place (same data-blocks, so
every object's modifier keeps its values).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import bpy
import mathutils
import numpy as np

from ..splats.axes import frame_quaternion
from ..splats.cloud import SH_C0
from ..splats.sh import SH_C1, SH_C2, SH_C3
from .colors import PALETTE_LEVELS, palette_srgb, srgb_to_linear
from .prepare import sh_rest_name

NODE_GROUP_NAME = "gen404 Splats"
SHADER_GROUP_NAME = "gen404 Gaussian"
SH_SHADER_GROUP_NAME = "gen404 Gaussian SH"
MATERIAL_PREFIX = "gen404 Splat "
SH_MATERIAL_PREFIX = "gen404 Splat SH "
POINTS_MATERIAL_NAME = "gen404 Splat Points"
PALETTE_NAME = "gen404 Palette"
SH_PALETTE_NAME = "gen404 Palette SH"
PALETTE_KEY = "gen404_palette"
"""Marks the two palette objects (its value is the palette's name)."""
VERSION_KEY = "gen404_version"
DISPLAY_VERSION = 4
"""Bumped whenever the groups change; older groups are rebuilt in place."""

SIGMA_CUTOFF = 3.0
"""The shell encloses the Gaussian out to this many standard deviations."""

# An icosphere with one subdivision has an inscribed radius of about 0.795 of its
# circumradius; sizing by the inscribed radius keeps the whole 3-sigma ellipsoid inside.
_ICO_INSCRIBED = 0.7947
SHELL_RADIUS = SIGMA_CUTOFF / _ICO_INSCRIBED

SOLID_ALPHA = 0.6
"""Solid-mode opacity of a splat's shell: translucent, so overlaps build up like splats do."""

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

SPLATS, POINTS = "Splats", "Points"
MODES = (SPLATS, POINTS)


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

_UNREAD = ("extra_*", "file_normal", ".select_vert", "opacity", "color", "palette")
_REMOVED_FOR_PLAIN = ("sh_rest_*", *_UNREAD)
_REMOVED_FOR_SH = _UNREAD
_REMOVED_FOR_POINTS = ("sh_rest_*", "file_rotation", "rotation", *_UNREAD)
"""Layers a display branch never reads, dropped before instancing: instances of a
subset get copies of every point attribute that is left. (``opacity``, ``color``
and ``palette`` are what objects imported before version 3 of the display also
carry; ``.select_vert`` is edit-mode selection.)"""


# --- public API -------------------------------------------------------------------------


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
    plain = _shader_group(SHADER_GROUP_NAME, view_dependent=False)
    plain_palette = _palette(PALETTE_NAME, _palette_materials(MATERIAL_PREFIX, plain))
    sh_palette = plain_palette
    if with_sh:
        sh = _shader_group(SH_SHADER_GROUP_NAME, view_dependent=True)
        sh_palette = _palette(SH_PALETTE_NAME, _palette_materials(SH_MATERIAL_PREFIX, sh))
    points = _points_material()
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
    have = {(s.name, s.socket_type) for s in _sockets(group, "INPUT")}
    # A palette object deleted by hand leaves its Object Info node empty.
    palettes = [_palette_of(group, node) for node in (_PLAIN_NODE, _SH_NODE)]
    built = [p for p in palettes if p is not None and p.get(VERSION_KEY) == DISPLAY_VERSION]
    return len(built) == 2 and all((c.name, c.socket_type) in have for c in CONTROLS)


def has_sh_palette(group: bpy.types.NodeTree) -> bool:
    """Whether the group's view-dependent branch has its own (SH) palette yet."""
    palette = _palette_of(group, _SH_NODE)
    return palette is not None and palette.get(PALETTE_KEY) == SH_PALETTE_NAME


_PLAIN_NODE, _SH_NODE = "Plain Palette", "SH Palette"
"""Names of the group's two Object Info nodes, which read the palette objects."""


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


def input_identifier(group: bpy.types.NodeTree, name: str) -> str:
    """The modifier key (e.g. ``Socket_3``) of the group input called ``name``."""
    for socket in _sockets(group, "INPUT"):
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


def set_input(modifier: bpy.types.Modifier, name: str, value: Any) -> None:
    """Set a control on an object's modifier; menu inputs take the item's name."""
    if name == VIEW_DEPENDENT.name and value:
        ensure_display(view_dependent=True)  # may rebuild the group: look the slot up after
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


def object_defaults(up_axis: str, sh_degree: int, count: int) -> dict[str, Any]:
    """The controls' starting values for one object (by control name)."""
    return {
        MODE.name: SPLATS,
        FILE_FRAME.name: file_frame_euler(up_axis),
        VIEW_DEPENDENT.name: sh_degree > 0,
        VIEWPORT_FRACTION.name: default_viewport_fraction(count),
    }


def default_viewport_fraction(count: int) -> float:
    """Share of splats the viewport shows at first: all, or about VIEWPORT_BUDGET of them."""
    return 1.0 if count <= VIEWPORT_BUDGET else round(VIEWPORT_BUDGET / count, 4)


def file_frame_euler(up_axis: str) -> tuple[float, float, float]:
    """Euler angles of the rotation from Blender's frame back to the file's."""
    back = mathutils.Quaternion(frame_quaternion(up_axis).tolist()).inverted()
    euler: Any = back.to_euler("XYZ")
    return float(euler.x), float(euler.y), float(euler.z)


def _sockets(group: bpy.types.NodeTree, in_out: str) -> list[Any]:
    interface: Any = group.interface
    items = interface.items_tree
    return [i for i in items if i.item_type == "SOCKET" and i.in_out == in_out]


# --- node-building helpers --------------------------------------------------------------


class _Graph:
    """Small helpers to wire nodes of one tree; sockets and nodes are dynamic (Any)."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree
        self.nodes = tree.nodes
        self.links = tree.links

    def node(self, kind: str, **props: Any) -> Any:
        node = self.nodes.new(kind)
        for key, value in props.items():
            setattr(node, key, value)
        return node

    def feed(self, socket: Any, value: Any) -> None:
        """Link a socket output into ``socket``, or set a constant."""
        if hasattr(value, "is_output"):
            self.links.new(value, socket)
        else:
            socket.default_value = value

    def math(self, op: str, a: Any, b: Any = None, c: Any = None) -> Any:
        node = self.node("ShaderNodeMath", operation=op)
        for i, value in enumerate((a, b, c)):
            if value is not None:
                self.feed(node.inputs[i], value)
        return node.outputs[0]

    def vec(self, op: str, a: Any, b: Any = None, c: Any = None) -> Any:
        node = self.node("ShaderNodeVectorMath", operation=op)
        for i, value in enumerate((a, b, c)):
            if value is not None:
                self.feed(node.inputs[i], value)
        return node.outputs["Value" if op in ("DOT_PRODUCT", "LENGTH", "DISTANCE") else "Vector"]

    def scale(self, vector: Any, factor: Any) -> Any:
        node = self.node("ShaderNodeVectorMath", operation="SCALE")
        self.feed(node.inputs[0], vector)
        self.feed(node.inputs["Scale"], factor)
        return node.outputs["Vector"]

    def mul(self, *factors: Any) -> Any:
        out = factors[0]
        for f in factors[1:]:
            out = self.math("MULTIPLY", out, f)
        return out

    def add(self, *terms: Any) -> Any:
        out = terms[0]
        for t in terms[1:]:
            out = self.math("ADD", out, t)
        return out

    def layout(self) -> None:
        for i, node in enumerate(self.nodes):
            node.location = (220.0 * (i // 12), -180.0 * (i % 12))


# --- shaders ----------------------------------------------------------------------------


def _shader_group(name: str, view_dependent: bool) -> bpy.types.NodeTree:
    group: Any = bpy.data.node_groups.get(name)
    if group is not None and group.get(VERSION_KEY) == DISPLAY_VERSION:
        return group
    if group is None:
        group = bpy.data.node_groups.new(name, "ShaderNodeTree")
    group.nodes.clear()
    # Keep the output socket if it is there: the materials' group nodes stay linked to it.
    outputs = [s for s in _sockets(group, "OUTPUT") if s.socket_type == "NodeSocketShader"]
    if not outputs or len(group.interface.items_tree) != 1:
        group.interface.clear()
        group.interface.new_socket(name="Shader", in_out="OUTPUT", socket_type="NodeSocketShader")
    g = _Graph(group)

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
    opacity = _sigmoid(g, _instancer(g, "opacity_logit").outputs["Fac"])
    alpha = g.mul(falloff, opacity, front)

    dc = _instancer(g, "sh_dc").outputs["Vector"]
    color = _display_linear(g, _sh_color(g, dc, d) if view_dependent else _dc_srgb(g, dc))
    out = g.node("NodeGroupOutput")
    g.links.new(_emit_with_alpha(g, color, alpha), out.inputs["Shader"])
    g.layout()
    group[VERSION_KEY] = DISPLAY_VERSION
    return group


def _instancer(g: _Graph, name: str) -> Any:
    return g.node("ShaderNodeAttribute", attribute_type="INSTANCER", attribute_name=name)


def _sigmoid(g: _Graph, logit: Any) -> Any:
    """Opacity from the file's raw value: 1 / (1 + exp(-logit))."""
    return g.math("DIVIDE", 1.0, g.math("ADD", g.math("EXPONENT", g.mul(logit, -1.0)), 1.0))


def _dc_srgb(g: _Graph, dc: Any) -> Any:
    """The degree-0 display colour 0.5 + C0 * f_dc (not clamped yet)."""
    return g.vec("MULTIPLY_ADD", dc, (SH_C0,) * 3, (0.5,) * 3)


def _display_linear(g: _Graph, srgb: Any) -> Any:
    """A display colour clamped to 0..1 and decoded to scene-linear (``colors.srgb_to_linear``)."""
    return _srgb_to_linear(g, g.vec("MINIMUM", g.vec("MAXIMUM", srgb, (0.0,) * 3), (1.0,) * 3))


def _sh_color(g: _Graph, dc: Any, incoming: Any) -> Any:
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
    total = _dc_srgb(g, dc)
    for k, value in enumerate(basis):
        term = g.scale(_instancer(g, sh_rest_name(k)).outputs["Vector"], value)
        total = g.vec("ADD", total, term)
    return total


def _srgb_to_linear(g: _Graph, srgb: Any) -> Any:
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


def _material(name: str) -> Any:
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


def _palette_materials(prefix: str, shader: bpy.types.NodeTree) -> list[bpy.types.Material]:
    materials = []
    for index in range(PALETTE_LEVELS**3):
        mat = _material(f"{prefix}{index:03d}")
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


def _palette(name: str, materials: Sequence[bpy.types.Material]) -> bpy.types.Object:
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
    g = _Graph(group)
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


def _points_material() -> bpy.types.Material:
    """Points mode: a sphere per point, coloured and as opaque as its splat (the point
    cloud's own ``sh_dc`` and ``opacity_logit``)."""
    mat = _material(POINTS_MATERIAL_NAME)
    tree: Any = mat.node_tree
    tree.nodes.clear()
    g = _Graph(tree)
    geometry = g.node("ShaderNodeNewGeometry")
    dc = g.node("ShaderNodeAttribute", attribute_type="GEOMETRY", attribute_name="sh_dc")
    color = _display_linear(g, _dc_srgb(g, dc.outputs["Vector"]))
    logit = g.node("ShaderNodeAttribute", attribute_type="GEOMETRY", attribute_name="opacity_logit")
    opacity = _sigmoid(g, logit.outputs["Fac"])
    alpha = g.mul(opacity, g.math("LESS_THAN", geometry.outputs["Backfacing"], 0.5))
    output = g.node("ShaderNodeOutputMaterial")
    g.links.new(_emit_with_alpha(g, color, alpha), output.inputs["Surface"])
    g.layout()
    mat.diffuse_color = (0.6, 0.6, 0.6, 1.0)
    return mat


# --- the geometry-nodes group -----------------------------------------------------------


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
        socket = next(s for s in _sockets(group, "INPUT") if s.name == control.name)
        socket.description = control.description
        if control.socket_type != "NodeSocketMenu":  # its items come from the Menu Switch
            socket.default_value = control.default
        if control.min_value is not None:
            socket.min_value, socket.max_value = control.min_value, control.max_value
        if control.subtype and hasattr(socket, "subtype"):
            socket.subtype = control.subtype
        if hasattr(socket, "hide_in_modifier"):
            socket.hide_in_modifier = control.hidden
    return added


def _build_node_group(
    group: Any,
    plain_palette: bpy.types.Object,
    sh_palette: bpy.types.Object,
    points_material: bpy.types.Material,
) -> None:
    group.nodes.clear()
    added = _sync_interface(group)
    g = _Graph(group)
    g_in = g.node("NodeGroupInput")
    g_out = g.node("NodeGroupOutput")
    geometry = g_in.outputs["Geometry"]
    size = g_in.outputs[SIZE.name]
    view_dependent = g_in.outputs[VIEW_DEPENDENT.name]

    def named(name: str, data_type: str) -> Any:
        node = g.node("GeometryNodeInputNamedAttribute", data_type=data_type)
        node.inputs["Name"].default_value = name
        return node.outputs["Attribute"]

    def switch(kind: str, condition: Any, if_false: Any, if_true: Any) -> Any:
        return _switch(g, kind, condition, if_false, if_true)

    def compare(op: str, a: Any, b: Any) -> Any:
        node = g.node("FunctionNodeCompare", data_type="FLOAT", operation=op)
        g.feed(node.inputs[0], a)
        g.feed(node.inputs[1], b)
        return node.outputs[0]

    def boolean(op: str, a: Any, b: Any) -> Any:
        node = g.node("FunctionNodeBooleanMath", operation=op)
        g.feed(node.inputs[0], a)
        g.feed(node.inputs[1], b)
        return node.outputs[0]

    def strip(source: Any, patterns: Sequence[str]) -> Any:
        for pattern in patterns:
            node = g.node("GeometryNodeRemoveAttribute")
            if "Pattern Mode" in node.inputs:  # Blender 5: a menu input
                node.inputs["Pattern Mode"].default_value = "Wildcard"
            elif "*" in pattern:
                node.pattern_mode = "WILDCARD"
            node.inputs["Name"].default_value = pattern
            g.links.new(source, node.inputs["Geometry"])
            source = node.outputs["Geometry"]
        return source

    def palette(obj: bpy.types.Object, name: str) -> Any:
        node = g.node("GeometryNodeObjectInfo", transform_space="ORIGINAL", name=name)
        node.inputs["Object"].default_value = obj
        return node.outputs["Geometry"]

    # Which splats show: in the viewport only a stable subset (see _subset_rank);
    # and, with a threshold, only those opaque enough. Each costs a pass over every
    # splat, so the switches (single values) leave out what cannot drop anything.
    threshold = g_in.outputs[OPACITY_THRESHOLD.name]
    fraction = g_in.outputs[VIEWPORT_FRACTION.name]
    viewport = g.node("GeometryNodeIsViewport").outputs[0]
    thinned = boolean("AND", viewport, compare("LESS_THAN", fraction, 1.0))
    shown = switch("BOOLEAN", thinned, True, compare("LESS_THAN", _subset_rank(g), fraction))
    opacity = _sigmoid(g, named("opacity_logit", "FLOAT"))
    opaque_enough = compare("GREATER_EQUAL", opacity, threshold)
    selection = switch(
        "BOOLEAN",
        compare("GREATER_THAN", threshold, 0.0),
        shown,
        boolean("AND", shown, opaque_enough),
    )

    plain_points = strip(geometry, _REMOVED_FOR_PLAIN)
    points_in = switch("GEOMETRY", view_dependent, plain_points, strip(geometry, _REMOVED_FOR_SH))

    # Splats: a palette sphere per point, in the Gaussian's frame and size.
    sigma = _sigmas(g, named)
    file_rotation = _file_rotation(g, named, g_in.outputs[FILE_FRAME.name])
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
        switch(
            "GEOMETRY",
            view_dependent,
            palette(plain_palette, _PLAIN_NODE),
            palette(sh_palette, _SH_NODE),
        ),
        instance.inputs["Instance"],
    )
    palette_index = _palette_index(g, named("sh_dc", "FLOAT_VECTOR"))
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
    splats = switch("GEOMETRY", view_dependent, splats, store_sigma.outputs[0])

    # Points: the splats' centres as a point cloud, sized from their mean sigma.
    mean_sigma = g.vec("DOT_PRODUCT", sigma, (1 / 3,) * 3)
    to_points = g.node("GeometryNodeMeshToPoints")
    g.links.new(strip(geometry, _REMOVED_FOR_POINTS), to_points.inputs["Mesh"])
    g.links.new(selection, to_points.inputs["Selection"])
    g.links.new(g.mul(mean_sigma, size, POINT_RADIUS_SIGMAS), to_points.inputs["Radius"])
    set_points_material = g.node("GeometryNodeSetMaterial")
    set_points_material.inputs["Material"].default_value = points_material
    g.links.new(to_points.outputs["Points"], set_points_material.inputs["Geometry"])

    menu = g.node("GeometryNodeMenuSwitch", data_type="GEOMETRY")
    menu.enum_items[0].name, menu.enum_items[1].name = MODES
    g.links.new(g_in.outputs[MODE.name], menu.inputs["Menu"])
    g.links.new(splats, menu.inputs[1])
    g.links.new(set_points_material.outputs["Geometry"], menu.inputs[2])
    g.links.new(menu.outputs[0], g_out.inputs["Geometry"])
    _socket(group, MODE.name).default_value = MODE.default
    g.layout()
    group[VERSION_KEY] = DISPLAY_VERSION
    _fill_new_inputs(group, added)


Named = Callable[[str, str], Any]
"""``named(attribute, data_type)``: a Named Attribute node's value output."""


def _exists(named: Named, name: str, data_type: str) -> tuple[Any, Any]:
    """An attribute's value and whether the geometry has it (a single value, cheap to switch on)."""
    value = named(name, data_type)
    return value, value.node.outputs["Exists"]


def _switch(g: _Graph, kind: str, condition: Any, if_false: Any, if_true: Any) -> Any:
    node = g.node("GeometryNodeSwitch", input_type=kind)
    g.feed(node.inputs["Switch"], condition)
    g.feed(node.inputs["False"], if_false)
    g.feed(node.inputs["True"], if_true)
    return node.outputs[0]


def _sigmas(g: _Graph, named: Named) -> Any:
    """Standard deviations per local axis: exp of the file's ``log_scale``.

    Objects imported before display version 4 hold them ready in ``scale``.
    """
    log_scale, has_log = _exists(named, "log_scale", "FLOAT_VECTOR")
    xyz = g.node("ShaderNodeSeparateXYZ")
    g.links.new(log_scale, xyz.inputs[0])
    combined = g.node("ShaderNodeCombineXYZ")
    for i in range(3):
        g.links.new(g.math("EXPONENT", xyz.outputs[i]), combined.inputs[i])
    return _switch(g, "VECTOR", has_log, named("scale", "FLOAT_VECTOR"), combined.outputs[0])


def _file_rotation(g: _Graph, named: Named, file_frame: Any) -> Any:
    """Each splat's rotation in the file's frame: its quaternion there, normalised.

    A quaternion attribute read straight into a rotation is used as it is, and an
    un-normalised one would scale the splat; the round trip through its four
    components normalises it (no rotation at all becomes the identity). Objects
    imported before display version 4 hold a Blender-frame ``rotation`` instead:
    it is turned by the file frame.
    """
    stored, has_file = _exists(named, "file_rotation", "QUATERNION")
    raw = g.node("FunctionNodeRotationToQuaternion")
    g.links.new(stored, raw.inputs[0])
    rotation = g.node("FunctionNodeQuaternionToRotation")
    for part in "WXYZ":
        g.links.new(raw.outputs[part], rotation.inputs[part])
    legacy = g.node("FunctionNodeRotateRotation", rotation_space="GLOBAL")
    g.links.new(named("rotation", "QUATERNION"), legacy.inputs["Rotation"])
    g.links.new(file_frame, legacy.inputs["Rotate By"])
    return _switch(g, "ROTATION", has_file, legacy.outputs[0], rotation.outputs[0])


def _blender_rotation(g: _Graph, file_rotation: Any, file_frame: Any) -> Any:
    """A splat's rotation in Blender's frame: the file frame's turn undone."""
    to_blender = g.node("FunctionNodeInvertRotation")
    g.links.new(file_frame, to_blender.inputs[0])
    turned = g.node("FunctionNodeRotateRotation", rotation_space="GLOBAL")
    g.links.new(file_rotation, turned.inputs["Rotation"])
    g.links.new(to_blender.outputs[0], turned.inputs["Rotate By"])
    return turned.outputs[0]


SUBSET_PERIOD = 4096
"""The viewport subset's pattern repeats every this many splats (see _subset_rank)."""

_GOLDEN = 0.6180339887498949


def _subset_rank(g: _Graph) -> Any:
    """Per splat a value in [0, 1): the viewport shows the splats whose value is below the fraction.

    frac(m * golden ratio) with m = index mod SUBSET_PERIOD: the golden-ratio
    sequence spreads any fraction evenly over the file (the same share of every
    4096 consecutive splats), the same splats every time, and a smaller fraction
    shows a part of what a larger one does. Restarting it keeps the product small
    enough for float32 (to about 1e-4), and it takes three cheap passes where
    hashing every index (Random Value) took longer.
    """
    index = g.node("GeometryNodeInputIndex").outputs[0]
    m = g.math("FLOORED_MODULO", index, float(SUBSET_PERIOD))
    return g.math("FRACT", g.math("MULTIPLY", m, _GOLDEN))


def _palette_index(g: _Graph, dc: Any) -> Any:
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
            values = object_defaults(
                str(obj.get("gen404_up_axis", "Y")),
                int(obj.get("gen404_sh_degree", 0)),
                int(obj.get("gen404_splats", 0)),
            )
            for control in controls:
                set_input(mod, control.name, values.get(control.name, control.default))


def _socket(group: Any, name: str) -> Any:
    return next(s for s in _sockets(group, "INPUT") if s.name == name)


def _emit_with_alpha(g: _Graph, color: Any, alpha: Any) -> Any:
    """Unlit colour with coverage ``alpha``: splats carry their own shading."""
    emission = g.node("ShaderNodeEmission")
    g.links.new(color, emission.inputs["Color"])
    transparent = g.node("ShaderNodeBsdfTransparent")
    mix = g.node("ShaderNodeMixShader")
    g.links.new(alpha, mix.inputs["Fac"])
    g.links.new(transparent.outputs[0], mix.inputs[1])
    g.links.new(emission.outputs[0], mix.inputs[2])
    return mix.outputs[0]
