# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""SplatCloud: one set of 3D Gaussians as plain numpy arrays, in the file's own axes.

Fields keep the raw (pre-activation) values a 3DGS PLY stores, so an export can
reproduce the file; the ``*_activated`` helpers give what a renderer needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SH_C0 = 0.28209479177387814
"""Degree-0 real spherical-harmonic constant: rgb = 0.5 + SH_C0 * f_dc."""

SH_REST_COUNT = {0: 0, 1: 3, 2: 8, 3: 15}
"""Higher-order SH coefficients per colour channel for each SH degree."""


class SplatFormatError(ValueError):
    """A splat file that cannot be read; the message names the problem and the fix."""


@dataclass(eq=False)
class SplatCloud:
    """N Gaussians. All arrays are float32 and C-contiguous.

    positions:     (N, 3) centres.
    log_scales:    (N, 3) log of the standard deviation per local axis.
    rotations:     (N, 4) quaternions w, x, y, z as stored (not necessarily unit).
    opacity_logit: (N,)   opacity before the sigmoid.
    sh_dc:         (N, 3) degree-0 SH coefficient per channel (f_dc_0..2).
    sh_rest:       (N, K, 3) higher SH, coefficient-major with the channel fastest;
                   K = 0, 3, 8 or 15 for degree 0..3.
    normals:       (N, 3) or None, kept only so an export can write them back.
    extra:         other per-splat properties of the file, by name.
    warnings:      what the reader changed or dropped to make the file fit (dropped SH
                   bands, a point cloud given default sizes...), one sentence each, for
                   the user to see; empty for a clean read.
    file_up:       the file's own axis that points up by its format's convention
                   ("Y", "-Y" or "Z"; see ``upright.py``); "Y" (404's) unless a reader
                   says otherwise.
    file_frame:    the axes the reader converted the values from into the PLY frame
                   ("RDF": none, the values are as stored; "RUB" for upstream SPZ).
    """

    positions: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray
    opacity_logit: np.ndarray
    sh_dc: np.ndarray
    sh_rest: np.ndarray
    normals: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    file_up: str = "Y"
    file_frame: str = "RDF"

    def __post_init__(self) -> None:
        n = len(self.positions)
        shapes = {
            "positions": (self.positions, (n, 3)),
            "log_scales": (self.log_scales, (n, 3)),
            "rotations": (self.rotations, (n, 4)),
            "opacity_logit": (self.opacity_logit, (n,)),
            "sh_dc": (self.sh_dc, (n, 3)),
        }
        for name, (arr, shape) in shapes.items():
            if arr.shape != shape:
                raise SplatFormatError(f"{name} has shape {arr.shape}, expected {shape}")
        if self.sh_rest.ndim != 3 or self.sh_rest.shape[0] != n or self.sh_rest.shape[2] != 3:
            raise SplatFormatError(f"sh_rest has shape {self.sh_rest.shape}, expected (N, K, 3)")
        if self.sh_rest.shape[1] not in SH_REST_COUNT.values():
            raise SplatFormatError(
                f"{self.sh_rest.shape[1]} higher SH coefficients per channel is no SH degree 0-3"
            )

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def sh_degree(self) -> int:
        k = self.sh_rest.shape[1]
        return next(d for d, c in SH_REST_COUNT.items() if c == k)

    def opacity_activated(self) -> np.ndarray:
        """Opacity in 0..1 (sigmoid of the logit)."""
        x = self.opacity_logit.astype(np.float32, copy=False)
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)

    def scales_activated(self) -> np.ndarray:
        """Standard deviation per local axis (exp of the stored log)."""
        return np.exp(self.log_scales).astype(np.float32)

    def rotations_normalised(self) -> np.ndarray:
        """Unit quaternions w, x, y, z; a zero quaternion becomes the identity."""
        q = self.rotations.astype(np.float32, copy=True)
        norm = np.linalg.norm(q, axis=1)
        zero = norm < 1e-12
        q[zero] = (1.0, 0.0, 0.0, 0.0)
        norm[zero] = 1.0
        q /= norm[:, None]
        return q

    def colors(self) -> np.ndarray:
        """Display colour (N, 3) from the SH DC term, clamped to 0..1."""
        return np.clip(0.5 + SH_C0 * self.sh_dc, 0.0, 1.0).astype(np.float32)
