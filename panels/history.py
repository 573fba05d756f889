# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sidebar's History: every result of every session, with its thumbnail and buttons.

Drawing only: rows and previews come from ``history_view`` (read and made on
worker threads); the buttons are the History's operators.
"""

from __future__ import annotations

from typing import Any

import bpy

from .. import history_view
from ..history.rows import HistoryRow
from ..operators.history import again_problem
from .sidebar_tab import SidebarSubPanel

THUMB_SCALE = 5.0


def draw_row(layout: Any, row: HistoryRow) -> None:
    """One result: thumbnail (a placeholder until made), what and when, and buttons."""
    box = layout.box()
    split = box.split(factor=0.4)
    icon_id = history_view.preview_id(row.task_id)
    picture = split.column()
    if icon_id:
        picture.template_icon(icon_value=icon_id, scale=THUMB_SCALE)
    elif row.failed:
        picture.label(text="Failed", icon="ERROR")
    elif not row.cached:
        picture.label(text="Not cached", icon="GHOST_DISABLED")
    else:
        picture.label(text=history_view.problem(row.task_id) or "Thumbnail…", icon="TIME")
    about = split.column()
    about.active = not row.failed  # failed rows are greyed
    about.label(text=row.label, icon="FONT_DATA" if row.kind == "prompt" else "IMAGE_DATA")
    about.label(text=row.date_text)
    about.label(text=row.settings_text)
    if row.failed:
        about.label(text=f"Failed: {row.message}" if row.message else "Failed")
    elif not row.cached:
        about.label(text="Not in the cache any more")
    elif not row.imported:
        about.label(text="Never imported", icon="INFO")
    buttons = box.row(align=True)
    again_import = buttons.row(align=True)
    again_import.enabled = row.cached
    op = again_import.operator("gen404.history_import", text="Import", icon="IMPORT")
    op.task_id = row.task_id
    again = buttons.row(align=True)
    again.enabled = again_problem(row) is None
    op = again.operator("gen404.history_generate_again", text="Again", icon="FILE_REFRESH")
    op.task_id = row.task_id
    op = buttons.operator("gen404.history_copy_id", text="", icon="COPYDOWN")
    op.task_id = row.task_id
    buttons.operator("gen404.history_open_folder", text="", icon="FILE_FOLDER")
    op = buttons.operator("gen404.history_remove", text="", icon="TRASH")
    op.task_id = row.task_id


class VIEW3D_PT_gen404_history(SidebarSubPanel):
    bl_label = "History"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        state = context.window_manager.gen404  # type: ignore[union-attr]
        rows = [r for r in history_view.rows() if state.history_failed or not r.failed]
        top = layout.row(align=True)
        top.prop(state, "history_failed")
        top.operator("gen404.history_refresh", text="", icon="FILE_REFRESH")
        if not rows:
            layout.label(text="Results of every session appear here")
            return
        for row in rows[: state.history_shown]:
            draw_row(layout, row)
        if len(rows) > state.history_shown:
            layout.label(text=f"{len(rows) - state.history_shown} older result(s)")
        layout.prop(state, "history_shown")


classes = (VIEW3D_PT_gen404_history,)
