# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Redrawing the 3D Views, whose sidebar shows the task list and the History: their rows
change on the add-on's timers, which Blender does not redraw for."""

from __future__ import annotations

import bpy


def redraw_3d_views() -> None:
    """Ask every 3D View of every window to draw again (main thread)."""
    wm = bpy.context.window_manager
    for window in wm.windows if wm else ():
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
