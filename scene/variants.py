# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Lay a task's variants out: a collection of their own, side by side along X.

The variants of one task go into a child collection of "404 Generations" named
after the task. The first stays where it was put (the 3D cursor, or fitted to the
placeholder); each next one moves along X so that its bounds start a small gap
after the previous one's end: variants of any size never overlap. Main thread only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bpy

from . import builder
from .builder import collection
from .fit import tree, world_bounds

GAP_RATIO = 0.1
"""The gap between two variants: this share of the widest one..."""
MIN_GAP = 0.05
"""...and at least this (metres), should they have no width."""


def group_collection(scene: bpy.types.Scene, name: str) -> bpy.types.Collection:
    """A new collection ``name`` (Blender numbers a taken name) in "404 Generations"."""
    group = bpy.data.collections.new(name)
    collection(scene).children.link(group)
    return group


def move_into(group: bpy.types.Collection, root: Any) -> None:
    """Make ``group`` the only collection of ``root`` and its children."""
    for obj in tree(root):
        for other in list(obj.users_collection):
            other.objects.unlink(obj)
        group.objects.link(obj)


def follow(first: Any, others: Sequence[Any], factor: float) -> None:
    """Give ``others`` the place ``first`` was fitted to and its change of scale."""
    for obj in others:
        obj.location = first.location
        obj.scale = tuple(float(v) * factor for v in obj.scale)


def lay_out(view_layer: bpy.types.ViewLayer, roots: Sequence[Any]) -> None:
    """Move each root after the first along X: its bounds start a gap after the last's."""
    view_layer.update()
    spans = []
    for root in roots:
        bounds = world_bounds(tree(root))
        x = float(root.matrix_world.translation[0])
        spans.append((x, x) if bounds is None else (float(bounds[0][0]), float(bounds[1][0])))
    gap = max(MIN_GAP, GAP_RATIO * max(high - low for low, high in spans))
    edge = spans[0][1]
    for root, (low, high) in zip(roots[1:], spans[1:], strict=True):
        shift = edge + gap - low
        root.location[0] += shift
        edge = high + shift
    view_layer.update()


def select(view_layer: bpy.types.ViewLayer, roots: Sequence[Any]) -> None:
    """Every variant selected (to move them as one), the first one active."""
    builder.deselect_all(view_layer)
    for root in roots:
        if root.name in view_layer.objects:
            root.select_set(True, view_layer=view_layer)
    if roots and roots[0].name in view_layer.objects:
        view_layer.objects.active = roots[0]
