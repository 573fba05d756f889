# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Coordinate systems of splat files and the conversion into the PLY frame (RDF).

Every reader returns its cloud in one convention, that of 3DGS PLY captures:
x right, y down, z forward (RDF), so that a scene stands the same way whichever
file it came from and one *Up axis* choice at import fits them all.

A system is named by where its +X, +Y and +Z axes point: R/L (right/left),
U/D (up/down), F/B (forward/back). Upstream SPZ stores RUB unless its header
carries a coordinate-system extension; the names and their codes follow the SPZ
library's ``CoordinateSystem`` enum.
"""

from __future__ import annotations

import numpy as np

from .axes import quat_multiply
from .sh import sh_axis_change

PLY_FRAME = "RDF"

SPZ_COORDINATE_SYSTEMS = (
    "UNSPECIFIED",
    "LDB",
    "RDB",
    "LUB",
    "RUB",
    "LDF",
    "RDF",
    "LUF",
    "RUF",
    "LFD",
    "RFD",
    "LFU",
    "RFU",
    "LBD",
    "RBD",
    "LBU",
    "RBU",
)
"""Index = the code the SPZ library writes in its coordinate-system extension."""

_DIRECTION = {
    "R": (1, 0, 0),
    "L": (-1, 0, 0),
    "D": (0, 1, 0),
    "U": (0, -1, 0),
    "F": (0, 0, 1),
    "B": (0, 0, -1),
}
"""Each direction letter in RDF coordinates."""


def frame_matrix(system: str) -> np.ndarray:
    """3x3 matrix taking coordinates in ``system`` to RDF (columns: its axes in RDF)."""
    letters = system.upper()
    if len(letters) != 3 or any(ch not in _DIRECTION for ch in letters):
        raise ValueError(f"{system!r} is not a coordinate system name like 'RUB'")
    m = np.array([_DIRECTION[ch] for ch in letters], dtype=np.float64).T
    if abs(np.linalg.det(m)) != 1.0:
        raise ValueError(f"{system!r} names one axis twice")
    return m


def sh_change(system: str, k: int) -> np.ndarray:
    """(k, k) T turning higher-SH coefficients read in ``system`` into the PLY frame.

    ``rest_ply = T @ rest_file`` per colour channel. For axis flips T is diagonal
    (±1), which readers fold into their decoding for free.
    """
    return sh_axis_change(frame_matrix(system))[:k, :k]


def to_ply_frame(
    positions: np.ndarray, rotations: np.ndarray, sh_rest: np.ndarray | None, system: str
) -> None:
    """Convert arrays read in ``system`` to the PLY frame, in place.

    positions (N, 3), rotations (N, 4) as w, x, y, z, sh_rest (N, K, 3) with K <= 15
    (None: the caller applies ``sh_change`` itself). Scales stay as they are: each
    belongs to a local axis, which turns with the rotation.
    """
    m = frame_matrix(system)
    if np.array_equal(m, np.eye(3)):
        return
    diagonal = np.array_equal(m, np.diag(np.diag(m)))
    if diagonal:
        positions *= np.diag(m).astype(positions.dtype)
    else:
        positions[...] = positions @ m.T.astype(positions.dtype)

    # Covariance R S² Rᵀ becomes M R S² Rᵀ Mᵀ. A reflection (det -1) acts on it like
    # the rotation G = -M, so only rotations need handling.
    g = m * np.linalg.det(m)
    if diagonal:
        # G R Gᵀ: for a diagonal G this keeps S and is what the SPZ library computes
        # (w kept, x y z flipped with the axes), so values match its output exactly.
        rotations[:, 1:] *= np.diag(g).astype(rotations.dtype)
    else:
        # A quarter turn does not commute with S: R' = G R keeps each scale on its axis.
        rotations[...] = quat_multiply(_quaternion(g), rotations.astype(np.float64))

    n, k = (sh_rest.shape[0], sh_rest.shape[1]) if sh_rest is not None else (0, 0)
    if k and sh_rest is not None:
        t = sh_change(system, k)
        if np.array_equal(t, np.diag(np.diag(t))):
            # Contiguous (N, 3K) times a row: much faster than a (1, K, 1) broadcast.
            flat = sh_rest.reshape(n, 3 * k)
            flat *= np.repeat(np.diag(t), 3).astype(sh_rest.dtype)
        else:
            sh_rest[...] = np.einsum("kj,njc->nkc", t.astype(sh_rest.dtype), sh_rest)


def _quaternion(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix (Shepperd's method)."""
    trace = np.trace(r)
    if trace > 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i] = s / 4
        q[1 + j] = (r[j, i] + r[i, j]) / s
        q[1 + k] = (r[k, i] + r[i, k]) / s
    return np.array(q, dtype=np.float64)
