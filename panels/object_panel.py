# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Display controls of the active splat object: Properties > Object, and the 404 sidebar tab.

The values live on the object's modifier (inputs of the one shared node group),
so these panels only draw them: changing one re-evaluates that object alone and
never touches its data.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..scene import builder, convert, display, native

_SHOWN = (
    display.MODE,
    display.SIZE,
    display.OPACITY_THRESHOLD,
    display.VIEWPORT_FRACTION,
)


def draw_splat_controls(layout: Any, context: bpy.types.Context, obj: bpy.types.Object) -> None:
    """The controls, a line about the splats, and a colour-management hint when it matters."""
    mod: Any = builder.splat_modifier(obj)
    if mod is None:
        layout.label(text="This object has lost its splat display modifier", icon="ERROR")
        return
    group = mod.node_group
    is_native = display.group_kind(group) == native.NATIVE
    if not is_native and not display.is_current(group):
        layout.label(text="Display made by an older version: reopen the file", icon="INFO")
        return
    col = layout.column()
    col.use_property_split = True
    for control in _SHOWN:
        col.prop(*display.input_slot(mod, control.name), text=control.name)
    degree = int(obj.get(builder.PROP_PREFIX + "sh_degree", 0))
    if not is_native:  # Blender's own splats always show their SH colour
        row = col.row()
        row.enabled = degree > 0
        name = display.VIEW_DEPENDENT.name
        row.prop(*display.input_slot(mod, name), text=name)

    count = int(obj.get(builder.SPLAT_COUNT_PROP, 0))
    up = str(obj.get(builder.PROP_PREFIX + "up_axis", "Y"))
    up = up if up.startswith("-") else "+" + up
    info = layout.column(align=True)
    info.label(text=f"{count:,} splats, SH degree {degree}, file {up} up")
    source = obj.get(builder.PROP_PREFIX + "source")
    if source:
        info.label(text=f"From {source}")

    view: Any = context.scene.view_settings if context.scene is not None else None
    if view is not None and view.view_transform != "Standard":
        box = layout.box()
        box.label(text="Splat colours look as in splat viewers", icon="INFO")
        box.label(text="with the Standard view transform:")
        box.prop(view, "view_transform", text="")
    layout.operator("gen404.export_splat", icon="EXPORT")
    if native.available() and convert.is_mesh_splat_object(obj):
        layout.operator("gen404.convert_to_native", icon="OUTLINER_OB_POINTCLOUD")


class OBJECT_PT_gen404_splat(bpy.types.Panel):
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "object"
    bl_label = "Splat Display"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return builder.is_splat_object(context.object)

    def draw(self, context: bpy.types.Context) -> None:
        assert context.object is not None
        draw_splat_controls(self.layout, context, context.object)


class VIEW3D_PT_gen404_splat(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "404"
    bl_label = "Splat Display"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return builder.is_splat_object(context.active_object)

    def draw(self, context: bpy.types.Context) -> None:
        assert context.active_object is not None
        layout: Any = self.layout
        layout.label(text=context.active_object.name, icon="OUTLINER_OB_POINTCLOUD")
        draw_splat_controls(layout, context, context.active_object)


classes = (OBJECT_PT_gen404_splat, VIEW3D_PT_gen404_splat)
