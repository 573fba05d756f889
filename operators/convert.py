# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.convert_to_native: splat meshes into Blender 5.3's own splats (``scene.convert``)."""

from __future__ import annotations

import bpy

from ..scene import convert, native
from ..splats.cloud import SplatFormatError
from .returns import OperatorReturn

NEEDS_NATIVE = "Blender's own Gaussian splats need Blender 5.3 or newer"
NEEDS_SELECTION = "Select splat objects that use the geometry-nodes display (meshes)"


def convert_targets(context: bpy.types.Context) -> list[bpy.types.Object]:
    """The selected splat objects that are meshes."""
    return [o for o in context.selected_objects if convert.is_mesh_splat_object(o)]


class GEN404_OT_convert_to_native(bpy.types.Operator):
    """Turn the selected splat meshes into Blender's own Gaussian splat objects"""

    bl_idname = "gen404.convert_to_native"
    bl_label = "Convert to Blender Splats (404 Gen)"
    bl_description = (
        "Turn the selected splat objects that use the geometry-nodes display into Blender's "
        "own Gaussian splats (Blender 5.3+), keeping every value, their place in the world, "
        "name, collections and custom properties"
    )
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not native.available():
            cls.poll_message_set(NEEDS_NATIVE)
            return False
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to convert splat objects")
            return False
        if not convert_targets(context):
            cls.poll_message_set(NEEDS_SELECTION)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        view_layer = context.view_layer
        assert view_layer is not None
        converted, splats = 0, 0
        for obj in convert_targets(context):
            name = obj.name
            try:
                new = convert.convert_object(obj, view_layer)
            except (SplatFormatError, ValueError, RuntimeError) as exc:
                self.report({"WARNING"}, f"Cannot convert {name}: {exc}")
                continue
            converted += 1
            splats += int(new.get("gen404_splats", 0))
        if not converted:
            self.report({"ERROR"}, "No splat object was converted")
            return {"CANCELLED"}
        self.report(
            {"INFO"}, f"Converted {converted} object(s), {splats:,} splats, to Blender's splats"
        )
        return {"FINISHED"}
