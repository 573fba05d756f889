# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Any splat object back to the SplatCloud an export writes, whichever kind it is.

One entry for the export operator: a mesh (the geometry-nodes display) is read by
``mesh_read``, a native Gaussian-splat point cloud (ours on 5.3, or one from
Blender's own importers) by ``native_read``.
"""

from __future__ import annotations

import bpy

from ..splats.cloud import SplatCloud
from . import native
from .mesh_read import mesh_export_cloud
from .native_read import native_export_cloud


def object_cloud(obj: bpy.types.Object, up_axis: str | None = None) -> SplatCloud:
    """The SplatCloud to write for ``obj``, in the axes of a file with ``up_axis`` up
    (None: the axes it was imported with), its world transform baked in."""
    if native.is_native(obj):
        return native_export_cloud(obj, up_axis)
    return mesh_export_cloud(obj, up_axis)
