# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Graph: wires the nodes of one node tree, geometry nodes or a shader.

Every display tree here is built in code, node by node, so each operation the
builders repeat (a Math node fed two values, a Switch, a Named Attribute...) is
one method that makes the node, links or sets its inputs and returns the output
socket to use next. Sockets and nodes are dynamic (``Any``): their RNA types
depend on the node and the Blender release.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bpy

VERSION_KEY = "gen404_version"
"""The custom property that records which version of the add-on built a tree or object."""

SUBSET_PERIOD = 4096
"""The viewport subset's pattern repeats every this many splats (see ``Graph.subset_rank``)."""

_GOLDEN = 0.6180339887498949


def sockets(group: bpy.types.NodeTree, in_out: str) -> list[Any]:
    """The group's interface sockets on one side (``"INPUT"`` or ``"OUTPUT"``)."""
    interface: Any = group.interface
    items = interface.items_tree
    return [i for i in items if i.item_type == "SOCKET" and i.in_out == in_out]


def socket(group: bpy.types.NodeTree, name: str) -> Any:
    """The group's input socket called ``name`` (its interface item, not a node's)."""
    return next(s for s in sockets(group, "INPUT") if s.name == name)


class Graph:
    """Makes and links the nodes of one tree; each method returns the socket to use next."""

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

    def sigmoid(self, logit: Any) -> Any:
        """Opacity from the file's raw value: 1 / (1 + exp(-logit))."""
        exp = self.math("EXPONENT", self.mul(logit, -1.0))
        return self.math("DIVIDE", 1.0, self.math("ADD", exp, 1.0))

    def compare(self, op: str, a: Any, b: Any) -> Any:
        """A float comparison (geometry nodes), as a boolean field."""
        node = self.node("FunctionNodeCompare", data_type="FLOAT", operation=op)
        self.feed(node.inputs[0], a)
        self.feed(node.inputs[1], b)
        return node.outputs[0]

    def boolean(self, op: str, a: Any, b: Any) -> Any:
        node = self.node("FunctionNodeBooleanMath", operation=op)
        self.feed(node.inputs[0], a)
        self.feed(node.inputs[1], b)
        return node.outputs[0]

    def switch(self, kind: str, condition: Any, if_false: Any, if_true: Any) -> Any:
        """A geometry-nodes Switch of type ``kind`` (``"GEOMETRY"``, ``"BOOLEAN"``...)."""
        node = self.node("GeometryNodeSwitch", input_type=kind)
        self.feed(node.inputs["Switch"], condition)
        self.feed(node.inputs["False"], if_false)
        self.feed(node.inputs["True"], if_true)
        return node.outputs[0]

    def named(self, name: str, data_type: str) -> Any:
        """The value of the geometry's attribute ``name`` (a Named Attribute node)."""
        node = self.node("GeometryNodeInputNamedAttribute", data_type=data_type)
        node.inputs["Name"].default_value = name
        return node.outputs["Attribute"]

    def exists(self, name: str, data_type: str) -> tuple[Any, Any]:
        """An attribute's value and whether the geometry has it (one value: cheap to switch on)."""
        value = self.named(name, data_type)
        return value, value.node.outputs["Exists"]

    def strip(self, source: Any, patterns: Sequence[str]) -> Any:
        """``source`` without the attributes matching ``patterns`` (``*`` wildcards)."""
        for pattern in patterns:
            node = self.node("GeometryNodeRemoveAttribute")
            if "Pattern Mode" in node.inputs:  # Blender 5: a menu input
                node.inputs["Pattern Mode"].default_value = "Wildcard"
            elif "*" in pattern:
                node.pattern_mode = "WILDCARD"
            node.inputs["Name"].default_value = pattern
            self.links.new(source, node.inputs["Geometry"])
            source = node.outputs["Geometry"]
        return source

    def object_geometry(self, obj: bpy.types.Object, name: str) -> Any:
        """The evaluated geometry of ``obj`` (an Object Info node called ``name``)."""
        node = self.node("GeometryNodeObjectInfo", transform_space="ORIGINAL", name=name)
        node.inputs["Object"].default_value = obj
        return node.outputs["Geometry"]

    def subset_rank(self) -> Any:
        """Per splat a value in [0, 1): the viewport shows those below its fraction.

        frac(m * golden ratio) with m = index mod SUBSET_PERIOD: the golden-ratio
        sequence spreads any fraction evenly over the file (the same share of every
        4096 consecutive splats), the same splats every time, and a smaller fraction
        shows a part of what a larger one does. Restarting it keeps the product small
        enough for float32 (to about 1e-4), and it takes three cheap passes where
        hashing every index (Random Value) took longer.
        """
        index = self.node("GeometryNodeInputIndex").outputs[0]
        m = self.math("FLOORED_MODULO", index, float(SUBSET_PERIOD))
        return self.math("FRACT", self.math("MULTIPLY", m, _GOLDEN))

    def menu_switch(self, menu: Any, items: Sequence[str], *branches: Any) -> Any:
        """A Menu Switch of geometry: ``branches[i]`` when ``menu`` names ``items[i]``."""
        node = self.node("GeometryNodeMenuSwitch", data_type="GEOMETRY")
        for item, name in zip(node.enum_items, items, strict=True):
            item.name = name
        self.links.new(menu, node.inputs["Menu"])
        for i, branch in enumerate(branches, start=1):
            self.links.new(branch, node.inputs[i])
        return node.outputs[0]

    def layout(self) -> None:
        """Spread the nodes on a grid, in the order they were made."""
        for i, node in enumerate(self.nodes):
            node.location = (220.0 * (i // 12), -180.0 * (i % 12))
