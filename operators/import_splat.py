"""gen404.import_splat: a splat file from disk through the same builder as generations."""

from __future__ import annotations

import os

import bpy
from bpy_extras.io_utils import ImportHelper

from ..scene import builder
from ..scene.prepare import prepare
from ..splats.cloud import SplatFormatError
from ..splats.ply import read_ply_file
from .returns import OperatorReturn

UP_AXIS_ITEMS = [
    ("Y", "+Y", "+Y is up: 404's results"),
    ("-Y", "-Y", "-Y is up: Inria-style captures (OpenCV camera frame)"),
    ("Z", "+Z", "+Z is up: already Blender's frame"),
]


class GEN404_OT_import_splat(bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Import a 3D Gaussian splat file (.ply) as a splat object"""

    bl_idname = "gen404.import_splat"
    bl_label = "Import Gaussian Splat"
    bl_description = "Import a 3D Gaussian splat file (.ply) as a splat object at the 3D cursor"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filename_ext = ".ply"
    filter_glob: bpy.props.StringProperty(default="*.ply", options={"HIDDEN"})  # type: ignore[valid-type]
    up_axis: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Up Axis",
        description="Which axis of the file points up",
        items=UP_AXIS_ITEMS,
        default="Y",
    )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        path = bpy.path.abspath(self.filepath)  # type: ignore[attr-defined]
        name = os.path.splitext(os.path.basename(path))[0] or "Splat"
        try:
            arrays = prepare(read_ply_file(path), self.up_axis)
            scene, view_layer = context.scene, context.view_layer
            assert scene is not None and view_layer is not None
            builder.build_object(
                scene,
                view_layer,
                arrays,
                name,
                properties={"source": os.path.basename(path)},
            )
        except FileNotFoundError:
            self.report({"ERROR"}, f"{path} does not exist: choose another file.")
            return {"CANCELLED"}
        except (SplatFormatError, OSError) as exc:
            self.report({"ERROR"}, f"Cannot import {os.path.basename(path)}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Imported {arrays.cloud.count} splats from {name}")
        return {"FINISHED"}
