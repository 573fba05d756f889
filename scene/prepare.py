"""The numpy half of building a splat object: safe on a worker thread (no bpy).

Everything here is computed from a SplatCloud before the main thread copies the
arrays into Blender, so the main-thread part of an import is only ``foreach_set``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..splats.axes import to_blender
from ..splats.cloud import SplatCloud
from .colors import palette_index, srgb_to_linear


@dataclass(frozen=True, eq=False)
class DisplayArrays:
    """A cloud's per-splat arrays in Blender's frame, ready for ``foreach_set``."""

    cloud: SplatCloud
    up_axis: str
    positions: np.ndarray  # (N, 3) Blender frame
    rotations: np.ndarray  # (N, 4) unit w, x, y, z, Blender frame
    scales: np.ndarray  # (N, 3) sigma per local axis
    opacity: np.ndarray  # (N,) 0..1
    colors: np.ndarray  # (N, 4) scene-linear RGBA
    palette: np.ndarray  # (N,) int32 Solid-mode palette entry


def prepare(cloud: SplatCloud, up_axis: str = "Y") -> DisplayArrays:
    """Convert axes and apply the activations (sigmoid, exp, normalise, sRGB decode)."""
    positions, rotations = to_blender(cloud.positions, cloud.rotations_normalised(), up_axis)
    srgb = cloud.colors()
    colors = np.empty((cloud.count, 4), dtype=np.float32)
    colors[:, :3] = srgb_to_linear(srgb)
    colors[:, 3] = 1.0
    return DisplayArrays(
        cloud=cloud,
        up_axis=up_axis,
        positions=positions,
        rotations=rotations,
        scales=cloud.scales_activated(),
        opacity=cloud.opacity_activated(),
        colors=colors,
        palette=palette_index(srgb),
    )
