# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A mesh splat object back to a SplatCloud: the inverse of ``builder.build_mesh``.

Beside ``native_read``, which does the same for Blender 5.3's native splat point
clouds; ``object_read`` picks between them. Reading the mesh's attributes needs
bpy, so this lives in scene/; the frame and transform maths is ``splats.export``'s.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ..splats.axes import frame_quaternion, quat_multiply
from ..splats.cloud import SH_C0, SplatCloud
from ..splats.export import export_cloud, rest_count
from .builder import PROP_PREFIX
from .colors import linear_to_srgb
from .prepare import EXTRA_PREFIX, sh_rest_name

UP_AXIS_PROP = PROP_PREFIX + "up_axis"
_KEYS = {"FLOAT": "value", "INT": "value", "QUATERNION": "value", "FLOAT_VECTOR": "vector"}


def mesh_attribute(mesh: bpy.types.Mesh, name: str, width: int) -> np.ndarray | None:
    """A point attribute as float32 (n, width), or (n,) for width 1; None if absent."""
    attr: Any = mesh.attributes.get(name)
    if attr is None or attr.domain != "POINT":
        return None
    key = _KEYS.get(attr.data_type, "color")
    out = np.empty(len(mesh.vertices) * width, dtype=np.float32)
    attr.data.foreach_get(key, out)
    return out.reshape(-1, width) if width > 1 else out


def mesh_export_cloud(obj: bpy.types.Object, up_axis: str | None = None) -> SplatCloud:
    """The SplatCloud to write for a mesh splat object, in the axes of a file with
    ``up_axis`` up (None: the file it came from), its world transform baked in.

    The file's values stored at import (rotations and log scales in its frame, opacity
    logits, SH) are written back as they were; an object without them (made by
    hand, or imported by an older version) gets them from Blender-frame
    ``rotation``, ``scale``, ``opacity`` and ``color`` attributes.
    """
    mesh: Any = obj.data
    n = len(mesh.vertices)
    imported = str(obj.get(UP_AXIS_PROP, "Y"))
    axis = imported if up_axis is None else up_axis
    positions = mesh_attribute(mesh, "position", 3)
    rotations: np.ndarray | None
    file_rotations = mesh_attribute(mesh, "file_rotation", 4)
    if file_rotations is not None:  # file frame -> Blender's, as the display turns them
        q = file_rotations.astype(np.float64)
        q[np.einsum("ij,ij->i", q, q) < 1e-24] = (1.0, 0.0, 0.0, 0.0)  # none: the identity
        rotations = quat_multiply(frame_quaternion(imported), q)
    elif (rotations := mesh_attribute(mesh, "rotation", 4)) is None:
        rotations = np.tile(np.array([1.0, 0.0, 0.0, 0.0], np.float32), (n, 1))
    sigmas: np.ndarray | None
    log_scales = mesh_attribute(mesh, "log_scale", 3)
    if log_scales is not None:
        sigmas = np.exp(log_scales.astype(np.float64))
    elif (sigmas := mesh_attribute(mesh, "scale", 3)) is None:
        sigmas = np.full((n, 3), 0.01, np.float32)
    logit = mesh_attribute(mesh, "opacity_logit", 1)
    if logit is None:
        opacity = mesh_attribute(mesh, "opacity", 1)
        p = np.clip(opacity if opacity is not None else np.ones(n, np.float32), 1e-6, 1 - 1e-6)
        logit = np.log(p / (1 - p))
    sh_dc = mesh_attribute(mesh, "sh_dc", 3)
    if sh_dc is None:
        color = mesh_attribute(mesh, "color", 4)
        srgb = linear_to_srgb(color[:, :3]) if color is not None else np.full((n, 3), 0.5)
        sh_dc = (srgb - 0.5) / SH_C0
    sh_rest, extra = sh_and_extras(mesh)
    assert positions is not None
    matrix = np.array(obj.matrix_world)
    cloud = export_cloud(
        positions=positions,
        rotations=rotations,
        sigmas=sigmas,
        opacity_logit=logit,
        sh_dc=sh_dc,
        sh_rest=sh_rest,
        normals=mesh_attribute(mesh, "file_normal", 3),
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


def sh_and_extras(mesh: bpy.types.Mesh) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The higher SH coefficients (n, K, 3) of whole degrees, and the extra properties."""
    n = len(mesh.vertices)
    planes: list[np.ndarray] = []
    while (plane := mesh_attribute(mesh, sh_rest_name(len(planes)), 3)) is not None:
        planes.append(plane)
    planes = planes[: rest_count(len(planes))]
    sh_rest = np.stack(planes, axis=1) if planes else np.zeros((n, 0, 3), np.float32)
    extra = {}
    for attr in mesh.attributes:
        if attr.name.startswith(EXTRA_PREFIX) and attr.domain == "POINT":
            values = mesh_attribute(mesh, attr.name, 1)
            if values is not None:
                extra[attr.name[len(EXTRA_PREFIX) :]] = values
    return sh_rest, extra
