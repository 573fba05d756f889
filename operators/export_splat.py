"""gen404.export_splat: a splat object back to a 3DGS PLY file, transform baked in."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import bpy
import numpy as np
from bpy_extras.io_utils import ExportHelper

from ..scene import builder, native
from ..scene.colors import linear_to_srgb
from ..scene.native_read import native_export_cloud
from ..scene.prepare import EXTRA_PREFIX, sh_rest_name
from ..splats.axes import frame_quaternion, quat_multiply
from ..splats.cloud import SH_C0
from ..splats.export import export_cloud, rest_count
from ..splats.ply import write_ply
from .import_splat import UP_AXIS_ITEMS
from .returns import OperatorReturn

AS_IMPORTED = "AUTO"
_KEYS = {"FLOAT": "value", "INT": "value", "QUATERNION": "value", "FLOAT_VECTOR": "vector"}


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


def _attribute(mesh: bpy.types.Mesh, name: str, width: int) -> np.ndarray | None:
    attr: Any = mesh.attributes.get(name)
    if attr is None or attr.domain != "POINT":
        return None
    key = _KEYS.get(attr.data_type, "color")
    out = np.empty(len(mesh.vertices) * width, dtype=np.float32)
    attr.data.foreach_get(key, out)
    return out.reshape(-1, width) if width > 1 else out


def object_cloud(obj: bpy.types.Object, up_axis: str = AS_IMPORTED) -> Any:
    """The SplatCloud to write for ``obj``, in the file axes, its world transform applied.

    A native splat point cloud is read by ``native_read``. Of a mesh, the file's
    values stored at import (rotations and log scales in its frame, opacity
    logits, SH) are written back as they were; an object without them (made by
    hand, or imported by an older version) gets them from Blender-frame
    ``rotation``, ``scale``, ``opacity`` and ``color`` attributes.
    """
    if native.is_native(obj):
        return native_export_cloud(obj, None if up_axis == AS_IMPORTED else up_axis)
    mesh: Any = obj.data
    n = len(mesh.vertices)
    imported = str(obj.get(builder.PROP_PREFIX + "up_axis", "Y"))
    axis = imported if up_axis == AS_IMPORTED else up_axis
    positions = _attribute(mesh, "position", 3)
    rotations: np.ndarray | None
    file_rotations = _attribute(mesh, "file_rotation", 4)
    if file_rotations is not None:  # file frame -> Blender's, as the display turns them
        q = file_rotations.astype(np.float64)
        q[np.einsum("ij,ij->i", q, q) < 1e-24] = (1.0, 0.0, 0.0, 0.0)  # none: the identity
        rotations = quat_multiply(frame_quaternion(imported), q)
    elif (rotations := _attribute(mesh, "rotation", 4)) is None:
        rotations = np.tile(np.array([1.0, 0.0, 0.0, 0.0], np.float32), (n, 1))
    sigmas: np.ndarray | None
    log_scales = _attribute(mesh, "log_scale", 3)
    if log_scales is not None:
        sigmas = np.exp(log_scales.astype(np.float64))
    elif (sigmas := _attribute(mesh, "scale", 3)) is None:
        sigmas = np.full((n, 3), 0.01, np.float32)
    logit = _attribute(mesh, "opacity_logit", 1)
    if logit is None:
        opacity = _attribute(mesh, "opacity", 1)
        p = np.clip(opacity if opacity is not None else np.ones(n, np.float32), 1e-6, 1 - 1e-6)
        logit = np.log(p / (1 - p))
    sh_dc = _attribute(mesh, "sh_dc", 3)
    if sh_dc is None:
        color = _attribute(mesh, "color", 4)
        srgb = linear_to_srgb(color[:, :3]) if color is not None else np.full((n, 3), 0.5)
        sh_dc = (srgb - 0.5) / SH_C0
    planes: list[np.ndarray] = []
    while (plane := _attribute(mesh, sh_rest_name(len(planes)), 3)) is not None:
        planes.append(plane)
    planes = planes[: rest_count(len(planes))]
    sh_rest = np.stack(planes, axis=1) if planes else np.zeros((n, 0, 3), np.float32)
    extra = {}
    for attr in mesh.attributes:
        if attr.name.startswith(EXTRA_PREFIX) and attr.domain == "POINT":
            values = _attribute(mesh, attr.name, 1)
            if values is not None:
                extra[attr.name[len(EXTRA_PREFIX) :]] = values
    assert positions is not None
    matrix = np.array(obj.matrix_world)
    cloud = export_cloud(
        positions=positions,
        rotations=rotations,
        sigmas=sigmas,
        opacity_logit=logit,
        sh_dc=sh_dc,
        sh_rest=sh_rest,
        normals=_attribute(mesh, "file_normal", 3),
        extra=extra,
        matrix=matrix,
        up_axis=axis,
        sh_frame=imported,  # a mesh keeps SH and normals in the file's frame
    )
    if axis == imported and np.array_equal(matrix, np.eye(4)):
        # Untouched: the stored file values are the answer, bit for bit.
        if file_rotations is not None:
            cloud.rotations = file_rotations
        if log_scales is not None:
            cloud.log_scales = log_scales
    return cloud


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
    bl_label = "Export Gaussian Splat"
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
            cloud = object_cloud(obj, self.up_axis)
            write_atomically(path, write_ply(cloud))
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"Cannot export {obj.name} to {path}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {cloud.count:,} splats of {obj.name} to {path}")
        return {"FINISHED"}
