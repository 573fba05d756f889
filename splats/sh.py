# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The real spherical-harmonic basis of 3DGS (degrees 1-3) and how axis changes act on it.

Splat files store view-dependent colour as coefficients of this basis, in the
order and with the signs of the Inria reference renderer (``sh_utils.eval_sh``).
When a reader changes a file's axes (upstream SPZ is stored right-up-back, PLY
right-down-front), the coefficients must change with them, or colours seen from
one side appear on the other. Rather than hand-copied sign tables, the change is
derived here from the basis itself, so it holds for any axis flip or quarter turn.
"""

from __future__ import annotations

import numpy as np

SH_C1 = 0.4886025119029199
SH_C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)

MAX_REST = 15
"""Coefficients per channel in degrees 1-3 (3 + 5 + 7)."""


def sh_basis(dirs: np.ndarray) -> np.ndarray:
    """(M, 15) values of the degree 1-3 basis functions at unit directions (M, 3).

    Column k multiplies ``sh_rest[:, k, :]``; the first 3 are degree 1, the next 5
    degree 2, the last 7 degree 3, exactly as the Inria renderer evaluates them.
    """
    x, y, z = (np.asarray(dirs, dtype=np.float64)[:, i] for i in range(3))
    xx, yy, zz = x * x, y * y, z * z
    return np.stack(
        [
            -SH_C1 * y,
            SH_C1 * z,
            -SH_C1 * x,
            SH_C2[0] * x * y,
            SH_C2[1] * y * z,
            SH_C2[2] * (2 * zz - xx - yy),
            SH_C2[3] * x * z,
            SH_C2[4] * (xx - yy),
            SH_C3[0] * y * (3 * xx - yy),
            SH_C3[1] * x * y * z,
            SH_C3[2] * y * (4 * zz - xx - yy),
            SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            SH_C3[4] * x * (4 * zz - xx - yy),
            SH_C3[5] * z * (xx - yy),
            SH_C3[6] * x * (xx - 3 * yy),
        ],
        axis=1,
    )


def sh_axis_change(matrix: np.ndarray) -> np.ndarray:
    """(15, 15) T with ``rest_new = T @ rest_old`` when directions change as d' = matrix @ d.

    ``matrix`` is orthogonal (a rotation or a reflection). The colour a splat shows
    towards d' in the new axes must be the colour it showed towards d = matrixᵀ d' in
    the old ones: Y(matrixᵀ d') · rest_old = Y(d') · rest_new for every d', and since
    each SH band maps onto itself, T is the least-squares solution over enough
    directions — exact up to float rounding, which is snapped away so that axis flips
    give exactly ±1 on the diagonal.
    """
    m = np.asarray(matrix, dtype=np.float64)
    dirs = _fibonacci_sphere(64)
    before = sh_basis(dirs @ m)  # rows: Y(mᵀ d) for each d
    after = sh_basis(dirs)
    # before = after @ t, and then Y(d') · rest_new = Y(d') @ t @ rest_old.
    t: np.ndarray = np.linalg.lstsq(after, before, rcond=None)[0]
    snapped = np.round(t)
    close = np.abs(t - snapped) < 1e-9
    t[close] = snapped[close]
    return t


def _fibonacci_sphere(count: int) -> np.ndarray:
    """Evenly spread unit directions: enough to pin down every degree-3 coefficient."""
    i = np.arange(count) + 0.5
    z = 1 - 2 * i / count
    r = np.sqrt(1 - z * z)
    phi = i * np.pi * (3 - np.sqrt(5))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
