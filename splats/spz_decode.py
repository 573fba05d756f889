# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decode SPZ's arrays into a SplatCloud: positions, alphas, colours, scales, rotations, SH.

Whole-array numpy operations only, never a loop over splats. ``spz.py`` finds
the arrays in each container variant and checks their sizes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .cloud import SplatCloud
from .frames import PLY_FRAME, sh_change, to_ply_frame
from .quantize import SPZ_DC, SPZ_LOG_SCALE, U8_OPACITY_LOGIT
from .sh import MAX_REST
from .upright import frame_up

REST_PER_CHANNEL = {0: 0, 1: 3, 2: 8, 3: 15, 4: 24}
"""Higher SH coefficients per colour channel for SH degrees 0-4 (4 only in version 4)."""

_SQRT1_2 = np.float32(np.sqrt(0.5))


@dataclass(frozen=True)
class SpzLayout:
    """What the header promises: from it follows the size of every array."""

    version: int
    count: int
    degree: int
    fractional_bits: int
    flags: int

    @property
    def rest(self) -> int:
        return REST_PER_CHANNEL[self.degree]

    def sizes(self) -> list[tuple[str, int]]:
        n = self.count
        return [
            ("positions", n * (6 if self.version == 1 else 9)),
            ("alphas", n),
            ("colors", n * 3),
            ("scales", n * 3),
            ("rotations", n * (3 if self.version < 3 else 4)),
            ("sh", n * self.rest * 3),
        ]

    @property
    def data_size(self) -> int:
        return sum(size for _, size in self.sizes())

    @property
    def claim(self) -> str:
        return f"{self.count:,} splats of SH degree {self.degree}"


def decode(
    arrays: Mapping[str, memoryview | bytes], layout: SpzLayout, frame: str, warnings: list[str]
) -> SplatCloud:
    n = layout.count
    u8 = {name: np.frombuffer(arrays[name], dtype=np.uint8) for name in arrays}
    if layout.version == 1:
        positions = np.frombuffer(arrays["positions"], dtype="<f2").astype(np.float32)
        positions = positions.reshape(n, 3)
    else:
        positions = fixed24(u8["positions"], n, layout.fractional_bits)
    rotations = (
        first_three(u8["rotations"], n)
        if layout.version < 3
        else smallest_three(np.frombuffer(arrays["rotations"], dtype="<u4"), n)
    )
    keep = min(layout.rest, MAX_REST)
    t = sh_change(frame, keep) if frame != PLY_FRAME else np.eye(keep)
    diagonal = np.array_equal(t, np.diag(np.diag(t)))
    sh_rest = decode_sh(u8["sh"], n, layout.rest, keep, np.diag(t) if diagonal else None)
    if not diagonal:
        sh_rest = np.ascontiguousarray(np.einsum("kj,njc->nkc", t.astype(np.float32), sh_rest))
    if layout.rest > keep:
        warnings.append(
            f"The SPZ has SH degree {layout.degree}; the highest band was dropped, keeping "
            "degree 3 (what Blender's splat display uses)."
        )
    if frame != PLY_FRAME:
        to_ply_frame(positions, rotations, None, frame)
    return SplatCloud(
        positions=positions,
        log_scales=SPZ_LOG_SCALE[u8["scales"]].reshape(n, 3),
        rotations=rotations,
        opacity_logit=U8_OPACITY_LOGIT[u8["alphas"]],
        sh_dc=SPZ_DC[u8["colors"]].reshape(n, 3),
        sh_rest=sh_rest,
        warnings=warnings,
        file_up=frame_up(frame),
        file_frame=frame,
    )


def decode_sh(
    raw: np.ndarray, n: int, rest: int, keep: int, signs: np.ndarray | None
) -> np.ndarray:
    """(n, keep, 3) coefficients from bytes (x - 128) / 128, times per-coefficient signs.

    Arithmetic on whole rows beats a lookup table here (no index conversion), and
    folding the frame's signs into the scale costs nothing. Exact: 1/128 is a power of 2.
    """
    if keep == 0:
        return np.zeros((n, 0, 3), dtype=np.float32)
    rows = raw.reshape(n, rest * 3)[:, : keep * 3]
    factor = np.repeat(np.ones(keep) if signs is None else signs, 3) / 128
    out = np.empty((n, keep * 3), dtype=np.float32)
    np.subtract(rows, np.float32(128), out=out, dtype=np.float32)
    out *= factor.astype(np.float32)
    return out.reshape(n, keep, 3)


def fixed24(raw: np.ndarray, n: int, fractional_bits: int) -> np.ndarray:
    """(n, 3) float32 from 24-bit little-endian signed fixed-point coordinates."""
    triples = raw.reshape(n * 3, 3)
    words = np.empty((n * 3, 4), dtype=np.uint8)
    words[:, :3] = triples
    words[:, 3] = (triples[:, 2] >> 7) * np.uint8(255)  # sign extension
    ints = words.view("<i4").reshape(n, 3)
    return ints.astype(np.float32) * np.float32(2.0**-fractional_bits)


def first_three(raw: np.ndarray, n: int) -> np.ndarray:
    """Versions 1-2: x y z bytes as r/127.5 - 1, w = sqrt(1 - |xyz|²) >= 0."""
    xyz = raw.reshape(n, 3).astype(np.float32) * np.float32(1 / 127.5) - np.float32(1)
    q = np.empty((n, 4), dtype=np.float32)
    q[:, 1:] = xyz
    q[:, 0] = np.sqrt(np.maximum(0, 1 - np.einsum("ij,ij->i", xyz, xyz)))
    return q


def smallest_three(packed: np.ndarray, n: int) -> np.ndarray:
    """Versions 3+: 2-bit index L of the largest component, three 10-bit sign+magnitude.

    The fields, from the low bits up, hold the other components from the highest
    index down (x=0, y=1, z=2, w=3), as upstream's packer shifts them in. So for
    component i: field 3 - i if i > L, field 2 - i if i < L, and the largest is
    rebuilt from the unit norm.
    """
    largest = packed >> np.uint32(30)
    values = np.empty((3, n), dtype=np.float32)
    for j in range(3):
        field = (packed >> np.uint32(10 * j)) & np.uint32(0x3FF)
        magnitude = (field & np.uint32(0x1FF)).astype(np.float32) * (_SQRT1_2 / np.float32(511))
        values[j] = np.where(field & np.uint32(0x200), -magnitude, magnitude)
    big = np.sqrt(np.maximum(0, 1 - np.einsum("ij,ij->j", values, values)))
    q = np.empty((n, 4), dtype=np.float32)
    for i in range(4):
        above = values[3 - i] if i > 0 else big  # used where L < i
        below = values[2 - i] if i < 3 else big  # used where L > i
        column = np.where(largest > i, below, above)
        q[:, (i + 1) % 4] = np.where(largest == i, big, column)  # w, x, y, z order
    return q
