# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Menu entries, so every operator is also found by F3 search."""

from __future__ import annotations

from typing import Any

import bpy

from ..operators import history
from ..operators.export_splat import MENU_LABEL as EXPORT_LABEL
from ..operators.import_splat import MENU_LABEL as IMPORT_LABEL
from ..scene import native

CONVERT_ICON = "OUTLINER_OB_POINTCLOUD"


def invoking(layout: Any) -> Any:
    """``layout`` with its operator entries invoked as a button invokes them: one that
    lacks its input opens its dialog, or takes the sidebar's choices."""
    layout.operator_context = "INVOKE_DEFAULT"
    return layout


class VIEW3D_MT_gen404_add(bpy.types.Menu):
    bl_idname = "VIEW3D_MT_gen404_add"
    bl_label = "404 Gen"

    def draw(self, context: bpy.types.Context | None) -> None:
        layout = invoking(self.layout)
        layout.operator("gen404.generate", icon="PLAY")
        layout.operator("gen404.generate_again", icon="FILE_REFRESH")
        layout.operator("gen404.generate_batch", icon="LINENUMBERS_ON")
        layout.operator("gen404.import_splat", icon="IMPORT")
        layout.operator("gen404.convert_to_native", icon=CONVERT_ICON)  # greyed before 5.3
        layout.separator()
        layout.operator("gen404.cancel_task", icon="X")
        layout.operator("gen404.resume_task", icon="RECOVER_LAST")
        layout.operator("gen404.clear_tasks", icon="TRASH")
        layout.operator("gen404.wait_all", icon="SORTTIME")
        layout.menu(VIEW3D_MT_gen404_history.bl_idname, icon="TIME")


class VIEW3D_MT_gen404_history(bpy.types.Menu):
    """The History's operators; without a task they act on the newest result."""

    bl_idname = "VIEW3D_MT_gen404_history"
    bl_label = "History"

    def draw(self, context: bpy.types.Context | None) -> None:
        layout = invoking(self.layout)
        for operator in history.classes:
            layout.operator(operator.bl_idname, icon=operator.menu_icon)


def draw_add_menu(self: Any, context: bpy.types.Context) -> None:
    self.layout.menu(VIEW3D_MT_gen404_add.bl_idname, icon="OUTLINER_OB_POINTCLOUD")


def draw_import_menu(self: Any, context: bpy.types.Context) -> None:
    self.layout.operator("gen404.import_splat", text=IMPORT_LABEL)


def draw_export_menu(self: Any, context: bpy.types.Context) -> None:
    self.layout.operator("gen404.export_splat", text=EXPORT_LABEL)


def draw_convert_menu(self: Any, context: bpy.types.Context) -> None:
    """Object > Convert: to Blender's own splats, on the Blenders that have them."""
    if native.available():
        self.layout.operator("gen404.convert_to_native", icon=CONVERT_ICON)


classes = (VIEW3D_MT_gen404_history, VIEW3D_MT_gen404_add)


def register() -> None:
    bpy.types.VIEW3D_MT_add.append(draw_add_menu)  # type: ignore[arg-type]
    bpy.types.TOPBAR_MT_file_import.append(draw_import_menu)  # type: ignore[arg-type]
    bpy.types.TOPBAR_MT_file_export.append(draw_export_menu)  # type: ignore[arg-type]
    bpy.types.VIEW3D_MT_object_convert.append(draw_convert_menu)  # type: ignore[arg-type]


def unregister() -> None:
    bpy.types.VIEW3D_MT_object_convert.remove(draw_convert_menu)  # type: ignore[arg-type]
    bpy.types.TOPBAR_MT_file_export.remove(draw_export_menu)  # type: ignore[arg-type]
    bpy.types.TOPBAR_MT_file_import.remove(draw_import_menu)  # type: ignore[arg-type]
    bpy.types.VIEW3D_MT_add.remove(draw_add_menu)  # type: ignore[arg-type]
