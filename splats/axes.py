# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Up-axis conversion from a splat file's frame to Blender's +Z-up frame.

Positions and rotations are rotated about X; scales are per local axis and do not
change. SH coefficients stay in the file's frame: a view-dependent shader turns
the view direction back instead, which is exact and costs nothing at import.
"""

from __future__ import annotations

import math

import numpy as np

UP_AXES = ("Y", "-Y", "Z", "-Z")
"""+Y up (404's results), -Y up (Inria/OpenCV captures), +Z up (already Blender's), -Z up
(only reached through a file frame: +Z up of an SPZ in RUB is -Z of the PLY frame)."""

_ANGLE_ABOUT_X = {"Y": math.pi / 2, "-Y": -math.pi / 2, "Z": 0.0, "-Z": math.pi}


def frame_quaternion(up: str) -> np.ndarray:
    """Unit quaternion (w, x, y, z) that turns the file frame into Blender's."""
    if up not in _ANGLE_ABOUT_X:
        raise ValueError(f"up axis {up!r} is not one of {', '.join(UP_AXES)}")
    half = _ANGLE_ABOUT_X[up] / 2
    return np.array([math.cos(half), math.sin(half), 0.0, 0.0], dtype=np.float64)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b for (..., 4) arrays in w, x, y, z order."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def rotation_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
