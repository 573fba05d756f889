# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A splat object's arrays back to a file-frame SplatCloud, its transform baked in (no bpy).

An imported object keeps its splats in Blender's frame (positions, unit
rotations, sigmas) next to the raw values of the file (opacity logits, SH). To
write it back, the object's transform M and the import's axis change A are
undone or applied per splat, in float64:

* positions:   p' = A^-1 (M p)
* shapes:      a linear map L (M's 3x3 part) turns a Gaussian with covariance
               S = R diag(sigma^2) R^T into an exact Gaussian with covariance
               L S L^T. With a uniform scale (the common case) that is just
               R' = A^-1 Q R and sigma' = s sigma, and an untouched object
               reproduces its file's quaternions and scales to float rounding.
               Non-uniform scale or shear has no such shortcut: each covariance
               is built and eigen-decomposed, still exact. What it changes is
               the splat's proportions along world axes: a sphere becomes an
               ellipsoid, a thin disc turned off the axes gets thicker.
* SH:          view-dependent colour turns with the object's rotation Q (the
               orthogonal polar factor of L; a mirror flips it). Under
               non-uniform scale the directions themselves are distorted, which
               SH coefficients cannot follow; using Q there is an approximation.
               SH (and normals) may be stored in another frame than the
               positions: a mesh keeps them in the file's frame B, so they turn
               by A^-1 Q B (``sh_frame`` names B; a native point cloud keeps
               everything in one frame, B = identity).
* opacity logits, f_dc and extra properties are written as stored.

Blender keeps object rotations as float32 angles, so a quarter turn leaves about
1e-7 where its matrix should hold 0 (cos of float32 pi/2). ``exact_axes`` takes
such entries for the zeros they stand for: an object turned by quarter turns only
(a native object standing upright, a mesh turned by 90 degrees) then maps file
axes exactly onto file axes and exports its positions bit for bit.
"""

from __future__ import annotations

import numpy as np

from .axes import frame_quaternion, quat_multiply, rotation_matrix
from .cloud import SH_REST_COUNT, SplatCloud
from .sh import sh_axis_change

UNIFORM_TOLERANCE = 1e-6
"""Relative spread of the singular values below which a scale counts as uniform."""
MIN_SIGMA = 1e-12
"""Sigma written for a collapsed axis (log of zero is not a number)."""
AXIS_NOISE = 1e-6
"""Matrix entries this small relative to their column's length are float32 noise."""


def export_cloud(
    *,
    positions: np.ndarray,
    rotations: np.ndarray,
    sigmas: np.ndarray,
    opacity_logit: np.ndarray,
    sh_dc: np.ndarray,
    sh_rest: np.ndarray,
    matrix: np.ndarray,
    up_axis: str,
    sh_frame: str = "Z",
    normals: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> SplatCloud:
    """The cloud to write for an object, in the frame of a file with ``up_axis`` up.

    ``matrix`` is the object's 4x4 world matrix: it maps the arrays' frame (Blender's
    for a mesh, the file's for a native point cloud) into the world. SH and normals
    are stored in the frame of a file with ``sh_frame`` up relative to the arrays'
    ("Z": the same frame).
    """
    a = axes_matrix(up_axis)
    m = exact_axes(np.asarray(matrix, dtype=np.float64))
    linear, offset = m[:3, :3], m[:3, 3]
    n = len(positions)

    world = positions.astype(np.float64) @ linear.T + offset
    out_positions = world @ a  # rows times A == (A^T p)^T == (A^-1 p)^T

    u, singular, vt = np.linalg.svd(linear)
    q = u @ vt  # orthogonal polar factor
    unit = _normalised(rotations)
    if singular.max() - singular.min() <= UNIFORM_TOLERANCE * max(singular.max(), 1e-300):
        # Uniform scale s and rotation Q (a mirror is -1 times a rotation: same covariance).
        proper = q * np.sign(np.linalg.det(q))
        turn = _matrix_to_quaternion((a.T @ proper)[None])[0]
        out_rotations = quat_multiply(turn, unit)
        out_sigmas = sigmas.astype(np.float64) * singular.mean()
    else:
        out_rotations, out_sigmas = _covariance_split(a.T @ linear, unit, sigmas)

    turn_sh = a.T @ q @ axes_matrix(sh_frame)  # SH directions before -> after
    k = sh_rest.shape[1]
    rest = sh_rest
    out_normals = normals
    if not np.allclose(turn_sh, np.eye(3), atol=1e-12):
        if k:
            t = sh_axis_change(turn_sh)[:k, :k]
            rest = np.einsum("ij,njc->nic", t, sh_rest.astype(np.float64))
        if normals is not None:
            out_normals = normals.astype(np.float64) @ turn_sh.T

    return SplatCloud(
        positions=_f32(out_positions),
        log_scales=_f32(np.log(np.maximum(out_sigmas, MIN_SIGMA))),
        rotations=_f32(out_rotations),
        opacity_logit=_f32(opacity_logit.reshape(n)),
        sh_dc=_f32(sh_dc),
        sh_rest=_f32(rest),
        normals=None if out_normals is None else _f32(out_normals),
        extra={name: _f32(values.reshape(n)) for name, values in (extra or {}).items()},
    )


def axes_matrix(up_axis: str) -> np.ndarray:
    """The exact signed permutation that turns a file with ``up_axis`` up into Blender's frame."""
    return np.round(rotation_matrix(frame_quaternion(up_axis)))  # quarter turns: 0, +-1


def exact_axes(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` (4x4) with its 3x3 part's float32-noise entries made exact zeros."""
    m = np.array(matrix, dtype=np.float64)
    linear = m[:3, :3]
    length = np.linalg.norm(linear, axis=0)
    linear[np.abs(linear) < AXIS_NOISE * length[None, :]] = 0.0
    return m


def rest_count(available: int) -> int:
    """Coefficients per channel to write when ``available`` consecutive ones are stored."""
    return max(c for c in SH_REST_COUNT.values() if c <= available)


def _f32(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32)


def _normalised(rotations: np.ndarray) -> np.ndarray:
    q = rotations.astype(np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 1e-12, q / np.where(norm > 1e-12, norm, 1.0), (1.0, 0.0, 0.0, 0.0))
    return q


def _covariance_split(
    linear: np.ndarray, rotations: np.ndarray, sigmas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rotations and sigmas of the Gaussians ``linear`` makes of (rotations, sigmas)."""
    r = _quaternion_to_matrix(rotations)
    shape = np.einsum("ij,njk->nik", linear, r) * sigmas.astype(np.float64)[:, None, :]
    cov = shape @ shape.transpose(0, 2, 1)
    eigenvalues, vectors = np.linalg.eigh(cov)
    flip = np.linalg.det(vectors) < 0  # a rotation, not a reflection
    vectors[flip, :, 2] *= -1
    return _matrix_to_quaternion(vectors), np.sqrt(np.maximum(eigenvalues, 0.0))


def _quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = (q[:, i] for i in range(4))
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def _matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Unit quaternions (N, 4) w, x, y, z of rotation matrices (N, 3, 3), w >= 0.

    Each one from its largest of 4w^2, 4x^2, 4y^2, 4z^2, so no division is by a
    small number (Shepperd's method).
    """
    m = np.asarray(m, dtype=np.float64)
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    candidates = np.stack(
        [trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1
    )  # 4w^2-1, ... up to a common offset
    pick = np.argmax(candidates, axis=1)
    out = np.empty((len(m), 4))
    for case in range(4):
        sel = pick == case
        if not sel.any():
            continue
        r = m[sel]
        if case == 0:
            s = np.sqrt(1.0 + trace[sel]) * 2  # 4w
            out[sel] = np.stack(
                [
                    s / 4,
                    (r[:, 2, 1] - r[:, 1, 2]) / s,
                    (r[:, 0, 2] - r[:, 2, 0]) / s,
                    (r[:, 1, 0] - r[:, 0, 1]) / s,
                ],
                axis=1,
            )
        elif case == 1:
            s = np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2]) * 2  # 4x
            out[sel] = np.stack(
                [
                    (r[:, 2, 1] - r[:, 1, 2]) / s,
                    s / 4,
                    (r[:, 0, 1] + r[:, 1, 0]) / s,
                    (r[:, 0, 2] + r[:, 2, 0]) / s,
                ],
                axis=1,
            )
        elif case == 2:
            s = np.sqrt(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2]) * 2  # 4y
            out[sel] = np.stack(
                [
                    (r[:, 0, 2] - r[:, 2, 0]) / s,
                    (r[:, 0, 1] + r[:, 1, 0]) / s,
                    s / 4,
                    (r[:, 1, 2] + r[:, 2, 1]) / s,
                ],
                axis=1,
            )
        else:
            s = np.sqrt(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1]) * 2  # 4z
            out[sel] = np.stack(
                [
                    (r[:, 1, 0] - r[:, 0, 1]) / s,
                    (r[:, 0, 2] + r[:, 2, 0]) / s,
                    (r[:, 1, 2] + r[:, 2, 1]) / s,
                    s / 4,
                ],
                axis=1,
            )
    out *= np.where(out[:, :1] < 0, -1.0, 1.0)
    return out / np.linalg.norm(out, axis=1, keepdims=True)
