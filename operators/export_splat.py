# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.export_splat: a splat object to a 3DGS PLY or an SPZ file, transform baked in.

The file name's extension picks the format. An SPZ is written the way its flavour
stands upright (``splats/upright.py``): Niantic's (version 3, gzip, right-up-back,
what Blender 5.3, Niantic's library, splat-transform and spz-js read) with the
scene's up on the file's +Y, or 404's zstd variant (version 2) in 404's +Y-up PLY
frame. Importing the file again "From File" puts the splats back where they stood.
"""

from __future__ import annotations

import os

import bpy
from bpy_extras.io_utils import ExportHelper

from ..client.atomic import write_atomically
from ..scene import builder
from ..scene.object_read import object_cloud
from ..splats.ply import write_ply
from ..splats.spz_write import GEN404, NIANTIC, write_spz
from ..splats.upright import UPRIGHT, ply_frame_up
from .import_splat import UP_AXIS_ITEMS
from .returns import OperatorReturn

AS_IMPORTED = "AUTO"
"""The Up Axis choice that keeps the axes the object was imported with."""

EXTENSIONS = (".ply", ".spz")
"""What the export writes, by the file name's extension."""
FILTER_GLOB = ";".join(f"*{ext}" for ext in EXTENSIONS)
MENU_LABEL = "Gaussian Splat ({})".format("/".join(EXTENSIONS))

SPZ_FLAVOUR_ITEMS = [
    (
        NIANTIC,
        "SPZ (Niantic)",
        "Upstream SPZ: version 3, gzip, right-up-back with +Y up; read by Blender 5.3, "
        "Niantic's library, splat-transform and other viewers",
    ),
    (
        GEN404,
        "404 SPZ (zstd)",
        "404's variant: version 2, zstd, in 404's +Y-up PLY frame; read by 404's tools",
    ),
]


def spz_bytes(obj: bpy.types.Object, flavour: str) -> tuple[bytes, int]:
    """The SPZ file of ``obj`` in ``flavour``, and its splat count."""
    kind = UPRIGHT["spz" if flavour == NIANTIC else "404 spz"]
    # The PLY-frame axis that becomes the file's up once the writer turns it into RUB.
    cloud = object_cloud(obj, ply_frame_up(kind.file_up, kind.file_frame))
    return write_spz(cloud, flavour), cloud.count


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


class GEN404_OT_export_splat(bpy.types.Operator, ExportHelper):  # type: ignore[misc]
    """Write the selected splat object to a 3D Gaussian splat file (.ply or .spz)"""

    bl_idname = "gen404.export_splat"
    bl_label = "Export Gaussian Splat (404 Gen)"
    bl_description = (
        "Write the selected splat object to a 3DGS .ply or an .spz file (chosen by the "
        "extension), its location, rotation and scale applied"
    )
    bl_options = {"REGISTER", "PRESET"}

    filename_ext = ".ply"
    check_extension = None  # keep the extension typed: it chooses the format
    filter_glob: bpy.props.StringProperty(default=FILTER_GLOB, options={"HIDDEN"})  # type: ignore[valid-type]
    spz_flavour: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="SPZ Flavour",
        description="Which SPZ a .spz file name writes",
        items=SPZ_FLAVOUR_ITEMS,
        default=NIANTIC,
    )
    up_axis: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Up Axis",
        description=(
            "Which axis of a written PLY points up (an SPZ always stands as its flavour "
            "declares: +Y up)"
        ),
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
        path = bpy.path.abspath(self.filepath)  # type: ignore[attr-defined]
        if os.path.splitext(path)[1].lower() not in EXTENSIONS:
            path = bpy.path.ensure_ext(path, ".ply")
        try:
            if path.lower().endswith(".spz"):
                data, count = spz_bytes(obj, self.spz_flavour)
            else:
                cloud = object_cloud(obj, None if self.up_axis == AS_IMPORTED else self.up_axis)
                data, count = write_ply(cloud), cloud.count
            write_atomically(path, data)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"Cannot export {obj.name} to {path}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {count:,} splats of {obj.name} to {path}")
        return {"FINISHED"}
