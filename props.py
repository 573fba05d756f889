# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""One-line Blender property declarations: a name, a tooltip, a default (and limits).

The sidebar's state, the preferences and the operators declare many properties
alike; each factory here is the whole call, so a declaration states only what
differs.
"""

from __future__ import annotations

from typing import Any

import bpy


def flag(name: str, description: str, default: bool = False, **extra: Any) -> Any:
    """A checkbox."""
    return bpy.props.BoolProperty(name=name, description=description, default=default, **extra)


def whole(name: str, description: str, default: int, **limits: Any) -> Any:
    """An integer field; ``limits``: min, max, soft_min, step..."""
    return bpy.props.IntProperty(name=name, description=description, default=default, **limits)


def choice(
    name: str, description: str, items: list[tuple[Any, ...]], default: str, **extra: Any
) -> Any:
    """A menu of ``items`` (Blender's enum items)."""
    return bpy.props.EnumProperty(
        name=name, description=description, items=items, default=default, **extra
    )
