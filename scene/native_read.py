# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A native Gaussian-splat point cloud back to a SplatCloud, and the cloud an export writes.

The inverse of ``native.build_pointcloud``: it reads any ``GAUSSIAN_SPLAT`` point
cloud, ours or one from Blender's own ``wm.ply_import`` / ``wm.spz_import``. The
values stay in the point cloud's own frame (the file's, for ours); the object's
world transform, upright turn included, is baked in by ``export_cloud``.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ..splats.cloud import SplatCloud
from ..splats.export import export_cloud
from .builder import PROP_PREFIX
from .native_prepare import RADIANCE_BASE, native_cloud, radiance_sh_name
from .prepare import EXTRA_PREFIX

UP_AXIS_PROP = PROP_PREFIX + "up_axis"
BLENDER_UP_AXIS = "Z"
"""The frame of a point cloud from Blender's own importers: Blender's (+Z up)."""

_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
_WIDTH = {"FLOAT": 1, "FLOAT_VECTOR": 3, "QUATERNION": 4, "FLOAT4": 4, "FLOAT_COLOR": 4}
_KEY = {"FLOAT": "value", "QUATERNION": "value", "FLOAT_VECTOR": "vector", "FLOAT4": "vector"}


def point_attribute(cloud: Any, name: str, width: int) -> np.ndarray | None:
    """A float point attribute of ``cloud`` as an (N, width) float32 array, if it has one."""
    attr: Any = cloud.attributes.get(name)
    if attr is None or attr.domain != "POINT" or _WIDTH.get(attr.data_type) != width:
        return None
    out = np.empty(len(cloud.points) * width, dtype=np.float32)
    attr.data.foreach_get(_KEY.get(attr.data_type, "color"), out)
    return out.reshape(-1, width)


def read_native(obj: bpy.types.Object) -> SplatCloud:
    """The splats of a native splat object, in its point cloud's frame, file conventions."""
    cloud: Any = obj.data
    n = len(cloud.points)
    position = point_attribute(cloud, "position", 3)
    if position is None:
        raise ValueError("its point cloud has no positions")
    scale = point_attribute(cloud, "scale", 3)
    rotation = point_attribute(cloud, "rotation", 4)
    base = point_attribute(cloud, RADIANCE_BASE, 4)
    sh: list[np.ndarray] = []
    while (plane := point_attribute(cloud, radiance_sh_name(len(sh)), 3)) is not None:
        sh.append(plane)
    extra = {}
    for attr in cloud.attributes:
        if attr.name.startswith(EXTRA_PREFIX):
            values = point_attribute(cloud, attr.name, 1)
            if values is not None:
                extra[attr.name[len(EXTRA_PREFIX) :]] = values[:, 0]
    if base is None:  # none: mid grey (f_dc 0), opaque
        base = np.tile(np.array([0.0, 0.0, 0.0, 1.0], np.float32), (n, 1))
    return native_cloud(
        position=position,
        scale=scale if scale is not None else np.full((n, 3), 0.01, np.float32),
        rotation=rotation if rotation is not None else np.tile(_IDENTITY, (n, 1)),
        base=base,
        sh=sh,
        normals=point_attribute(cloud, "file_normal", 3),
        extra=extra,
    )


def native_up_axis(obj: bpy.types.Object) -> str:
    """The up axis of the file a native object came from: ours keep it, Blender's are +Z."""
    return str(obj.get(UP_AXIS_PROP, BLENDER_UP_AXIS))


def native_export_cloud(obj: bpy.types.Object, up_axis: str | None = None) -> SplatCloud:
    """The SplatCloud to write for a native object, in the axes of a file with ``up_axis``
    up (None: the file it came from), its world transform baked in."""
    cloud = read_native(obj)
    return export_cloud(
        positions=cloud.positions,
        rotations=cloud.rotations,
        sigmas=np.exp(cloud.log_scales.astype(np.float64)),
        opacity_logit=cloud.opacity_logit,
        sh_dc=cloud.sh_dc,
        sh_rest=cloud.sh_rest,
        normals=cloud.normals,
        extra=cloud.extra,
        matrix=np.array(obj.matrix_world, dtype=np.float64),
        up_axis=up_axis or native_up_axis(obj),
        sh_frame="Z",  # SH, normals and positions share the point cloud's frame
    )
