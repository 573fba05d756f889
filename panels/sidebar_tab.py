# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the add-on's sidebar panels sit: the 404 tab of the 3D View's sidebar.

A panel there subclasses ``SidebarPanel`` (one inside the tab's main panel,
``SidebarSubPanel``) and names only its label and what it draws.
"""

from __future__ import annotations

import bpy

MAIN_PANEL = "VIEW3D_PT_gen404"
"""The tab's main panel (panels/sidebar.py): generation, with the others inside it."""


class SidebarPanel(bpy.types.Panel):
    """The base of the panels in the 404 tab (a base is never registered itself)."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "404"


class SidebarSubPanel(SidebarPanel):
    """The base of the panels inside the tab's main panel."""

    bl_parent_id = MAIN_PANEL
