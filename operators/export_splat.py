"""gen404.export_splat: a splat object back to a 3DGS PLY file, transform baked in."""

from __future__ import annotations

import os
import tempfile

import bpy
from bpy_extras.io_utils import ExportHelper

from ..scene import builder
from ..scene.object_read import object_cloud
from ..splats.ply import write_ply
from .import_splat import UP_AXIS_ITEMS
from .returns import OperatorReturn

AS_IMPORTED = "AUTO"
"""The Up Axis choice that keeps the axes the object was imported with."""


def export_target(context: bpy.types.Context) -> bpy.types.Object | None:
    """The active object if it is a selected splat object, else the only selected one.

    Splat objects: ours (meshes or native point clouds), and Blender's own native
    splats (``wm.ply_import``, ``wm.spz_import``).
    """
    active = context.active_object
    if builder.is_exportable(active) and active is not None and active.select_get():
        return active
    selected = [o for o in context.selected_objects if builder.is_exportable(o)]
    return selected[0] if len(selected) == 1 else None


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: no half-written file is left."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".gen404-", suffix=".ply", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


class GEN404_OT_export_splat(bpy.types.Operator, ExportHelper):  # type: ignore[misc]
    """Write the selected splat object to a 3D Gaussian splat PLY file"""

    bl_idname = "gen404.export_splat"
    bl_label = "Export Gaussian Splat (404 Gen)"
    bl_description = (
        "Write the selected splat object to a 3DGS .ply file, in the axes it was imported "
        "with, its location, rotation and scale applied"
    )
    bl_options = {"REGISTER", "PRESET"}

    filename_ext = ".ply"
    filter_glob: bpy.props.StringProperty(default="*.ply", options={"HIDDEN"})  # type: ignore[valid-type]
    up_axis: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Up Axis",
        description="Which axis of the written file points up",
        items=[
            (
                AS_IMPORTED,
                "As Imported",
                "The axes the object was imported with (an object of Blender's own "
                "importers: its point cloud's, +Z up)",
            ),
            *UP_AXIS_ITEMS,
        ],
        default=AS_IMPORTED,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if export_target(context) is None:
            cls.poll_message_set("Select one splat object (imported or generated) to export")
            return False
        return True

    def invoke(  # type: ignore[override]
        self, context: bpy.types.Context, event: bpy.types.Event
    ) -> OperatorReturn:
        obj = export_target(context)
        if obj is not None and not self.filepath:  # type: ignore[has-type]
            folder = os.path.dirname(bpy.data.filepath) or os.path.expanduser("~")
            self.filepath = os.path.join(folder, bpy.path.clean_name(obj.name) + ".ply")
        context.window_manager.fileselect_add(self)  # type: ignore[union-attr]
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        obj = export_target(context)
        if obj is None:
            self.report({"ERROR"}, "Select one splat object (imported or generated) to export")
            return {"CANCELLED"}
        path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), ".ply")  # type: ignore[attr-defined]
        try:
            cloud = object_cloud(obj, None if self.up_axis == AS_IMPORTED else self.up_axis)
            write_atomically(path, write_ply(cloud))
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"Cannot export {obj.name} to {path}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {cloud.count:,} splats of {obj.name} to {path}")
        return {"FINISHED"}
