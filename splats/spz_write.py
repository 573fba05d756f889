# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write SPZ: Niantic's flavour (version 3, gzip, RUB) or 404's (version 2, zstd, PLY frame).

The cloud comes in the PLY frame, as every reader returns it, with its up axis
already where the flavour wants it (the export operator asks for -Y up for
Niantic's, whose RUB then has +Y up, and +Y up for 404's). Niantic's flavour turns
it into RUB here (y and z negated, rotations and SH with them, ``frames.py``);
404's writes the values as they are.

Quantisation, whole arrays at a time (never a loop over splats):

- positions: 24-bit signed fixed point; ``fractionalBits`` is the largest (at most
  ``MAX_FRACTIONAL_BITS``) that fits the cloud's extent, so small scenes keep
  their detail and large ones fit;
- alphas: the activated opacity as u8; colours: ``0.5 + 0.15 f_dc`` as u8;
- scales: ``(log + 10) * 16`` as u8;
- rotations: version 3 "smallest three" (10 bits a component, the largest rebuilt
  from the unit norm), version 2 x, y, z as u8 with w >= 0;
- SH: ``128 + 128 x`` as u8, by default rounded to 5-bit buckets for degree 1 and
  4-bit for the rest as Niantic's library does (``sh_bits=(8, 8)`` keeps 8 bits).
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import zstandard

from .cloud import SplatCloud
from .frames import to_ply_frame
from .quantize import SPZ_COLOR_SCALE

__all__ = ["GEN404", "MAX_FRACTIONAL_BITS", "NIANTIC", "fractional_bits", "write_spz"]

NIANTIC, GEN404 = "NIANTIC", "GEN404"
"""The two flavours: upstream's (v3 gzip RUB) and 404's (v2 zstd, PLY frame)."""

MAX_FRACTIONAL_BITS = 20
"""Finest position step written (about a millionth); beyond it float32 positions of
typical scenes have no more precision to keep."""

_MAGIC = 0x5053474E
_MAX_24 = (1 << 23) - 1
_SQRT1_2 = np.sqrt(0.5)
_DEFAULT_SH_BITS = {NIANTIC: (5, 4), GEN404: (8, 8)}


def write_spz(
    cloud: SplatCloud,
    flavour: str = NIANTIC,
    *,
    version: int | None = None,
    sh_bits: tuple[int, int] | None = None,
    antialiased: bool = False,
) -> bytes:
    """The SPZ file of ``cloud`` (PLY frame) in ``flavour``; ValueError if it cannot be.

    ``version`` 2 writes Niantic's flavour for readers of versions 1-2 only (spz-js);
    404's flavour is always version 2.
    """
    if flavour not in _DEFAULT_SH_BITS:
        raise ValueError(f"SPZ flavour {flavour!r} is not {NIANTIC} or {GEN404}")
    default = 3 if flavour == NIANTIC else 2
    version = default if version is None else version
    if version not in ((2, 3) if flavour == NIANTIC else (2,)):
        raise ValueError(f"{flavour} SPZ is not written as version {version}")
    positions = np.array(cloud.positions, dtype=np.float64)
    rotations = np.array(cloud.rotations, dtype=np.float64)
    sh_rest = np.array(cloud.sh_rest, dtype=np.float64)
    if flavour == NIANTIC:  # RDF -> RUB: the same diagonal flip both ways
        to_ply_frame(positions, rotations, sh_rest, "RUB")

    bits = fractional_bits(positions)
    n, degree = cloud.count, cloud.sh_degree
    header = struct.pack("<IIIBBBB", _MAGIC, version, n, degree, bits, 0x1 if antialiased else 0, 0)
    arrays = [
        _positions(positions, bits),
        _u8(_sigmoid(cloud.opacity_logit.astype(np.float64)) * 255),
        _u8((0.5 + SPZ_COLOR_SCALE * cloud.sh_dc.astype(np.float64)) * 255),
        _u8((cloud.log_scales.astype(np.float64) + 10) * 16),
        _smallest_three(rotations) if version >= 3 else _first_three(rotations),
        _sh(sh_rest, sh_bits or _DEFAULT_SH_BITS[flavour]),
    ]
    payload = b"".join([header, *arrays])
    if flavour == NIANTIC:
        return gzip.compress(payload, compresslevel=6, mtime=0)
    return zstandard.ZstdCompressor(level=10).compress(payload)


def fractional_bits(positions: np.ndarray) -> int:
    """The most fractional bits whose 24-bit fixed point holds every coordinate."""
    extent = float(np.max(np.abs(positions))) if positions.size else 0.0
    if not np.isfinite(extent):
        raise ValueError("positions hold NaN or infinity; SPZ cannot store them")
    bits = MAX_FRACTIONAL_BITS
    while bits > 0 and round(extent * 2.0**bits) > _MAX_24:
        bits -= 1
    if round(extent * 2.0**bits) > _MAX_24:
        raise ValueError(
            f"a coordinate of {extent:,.0f} is beyond what SPZ's 24-bit positions hold "
            f"({_MAX_24:,}); scale the object down first"
        )
    return bits


def _u8(values: np.ndarray) -> bytes:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8).tobytes()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def _positions(positions: np.ndarray, bits: int) -> bytes:
    fixed = np.rint(positions * 2.0**bits).astype("<i4")
    return fixed.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()


def _unit(q: np.ndarray) -> np.ndarray:
    """(N, 4) w, x, y, z made unit; a zero quaternion becomes the identity."""
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    zero = norm[:, 0] < 1e-12
    out = q / np.where(norm > 1e-12, norm, 1.0)
    out[zero] = (1.0, 0.0, 0.0, 0.0)
    return out


def _first_three(rotations: np.ndarray) -> bytes:
    """Version 2: x, y, z of the unit quaternion with w >= 0, each as (v + 1) * 127.5."""
    q = _unit(rotations)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return _u8((q[:, 1:] + 1.0) * 127.5)


def _smallest_three(rotations: np.ndarray) -> bytes:
    """Version 3: index of the largest component (x=0, y=1, z=2, w=3) in bits 30-31 and
    the other three as 9-bit magnitude + sign bit, the highest index in the lowest bits."""
    wxyz = _unit(rotations)
    xyzw = np.concatenate([wxyz[:, 1:], wxyz[:, :1]], axis=1)
    largest = np.argmax(np.abs(xyzw), axis=1)
    rows = np.arange(len(xyzw))
    xyzw *= np.where(xyzw[rows, largest] < 0, -1.0, 1.0)[:, None]  # the largest is positive
    magnitude = np.minimum(np.rint(np.abs(xyzw) / _SQRT1_2 * 511), 511).astype(np.uint32)
    field = magnitude | np.where(xyzw < 0, np.uint32(0x200), np.uint32(0))
    packed = largest.astype(np.uint32) << np.uint32(30)
    for i in range(4):
        slot = np.where(i > largest, 3 - i, 2 - i)  # the decoder's field of component i
        mine = largest != i
        shift = (np.maximum(slot, 0) * 10).astype(np.uint32)
        packed |= np.where(mine, field[:, i], np.uint32(0)) << shift
    return packed.astype("<u4").tobytes()


def _sh(sh_rest: np.ndarray, bits: tuple[int, int]) -> bytes:
    """(N, K, 3) coefficients as 128 + 128 x, degree 1 in buckets of 2^(8 - bits[0]),
    the higher degrees of 2^(8 - bits[1]), clamped to 0..255."""
    if sh_rest.shape[1] == 0:
        return b""
    q = np.rint(sh_rest * 128.0) + 128.0
    bucket = np.full(sh_rest.shape[1], float(1 << (8 - bits[1])))
    bucket[:3] = float(1 << (8 - bits[0]))
    step = bucket[None, :, None]
    q = np.floor((q + step / 2) / step) * step
    return np.clip(q, 0, 255).astype(np.uint8).tobytes()
