# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A SOG's texels to splat values: the maths of ``sog.py``'s format notes, no bpy.

Every stored value is a byte or a 16-bit code, so each attribute is a table
built in float64 as splat-transform 3.7.0 computes it, rounded to float32 once,
then gathered: the results equal its decode value for value.

Speed: the add-on calls these on a helper thread while the main thread runs
Blender's image loader, which holds the GIL for whole images at a time. numpy
releases the GIL inside each call, so each step is a few calls over whole arrays
(a loop over small chunks would wait for the GIL at every call). Indices are in
range by construction, so gathers use ``mode="clip"``, which spares numpy's
bounds-checked, buffered path, and index arrays are 1-D or contiguous, numpy's
fast paths.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

_SQRT2 = math.sqrt(2.0)


def position_tables(mins: np.ndarray, maxs: np.ndarray) -> np.ndarray:
    """(3, 65536) float32: each axis's 16-bit code lerped in log space, then undone."""
    steps = np.arange(65536, dtype=np.float64) / 65535
    tables = np.empty((3, 65536), np.float32)
    for axis in range(3):
        span = (maxs[axis] - mins[axis]) or 1.0
        v = mins[axis] + span * steps
        tables[axis] = np.sign(v) * np.expm1(np.abs(v))
    return tables


def positions(low: np.ndarray, high: np.ndarray, tables: np.ndarray, out: np.ndarray) -> None:
    """out (N, 3) <- the tables at the 16-bit codes ``low | high << 8`` of each axis."""
    codes = high.astype(np.uint16)
    codes <<= 8
    codes |= low  # whole texels at once: contiguous arrays are numpy's fast path
    for axis in range(3):
        out[:, axis] = np.take(tables[axis], codes[:, axis], mode="clip")


@cache
def _rotation_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stored components' values (float64, float32), a² + b² by byte pair, slot masks."""
    value = (np.arange(256, dtype=np.float64) / 255 * 2 - 1) / _SQRT2
    square = value * value
    # a² + b² at the little-endian uint16 a | b << 8 of two bytes.
    pair_sum = np.add.outer(square, square).ravel()
    # By tag: the bytes below the largest's slot s = tag - 252 ((1 << 8s) - 1).
    masks = np.zeros(256, np.uint32)
    masks[252:] = [0, 0xFF, 0xFFFF, 0xFFFFFF]
    return square, value.astype(np.float32), pair_sum, masks


def rotations(quats: np.ndarray, out: np.ndarray) -> None:
    """out (N, 4) <- w, x, y, z of smallest-three texels; an unknown tag gives the identity.

    The three stored components are ``(c/255·2 - 1)/√2``; the largest, at slot
    ``s = tag - 252``, is ``√(1 - (a² + b² + c²))`` summed in that order in float64
    as splat-transform does. The other slots take the stored bytes in order: on the
    texel as one little-endian word, the bytes from slot s up move up one byte.
    """
    square, value, pair_sum, masks = _rotation_tables()
    q = np.ascontiguousarray(quats)
    n = len(q)
    rest = np.take(pair_sum, q.view("<u2")[:, 0], mode="clip")
    rest += np.take(square, q[:, 2], mode="clip")
    np.subtract(1.0, rest, out=rest)
    np.maximum(rest, 0.0, out=rest)
    np.sqrt(rest, out=rest)
    tag = q[:, 3]
    word = q.view("<u4")[:, 0] & np.uint32(0xFFFFFF)  # a | b << 8 | c << 16
    below = np.take(masks, tag, mode="clip")
    codes = word & below
    codes |= (word & ~below) << np.uint32(8)  # the largest's slot: a byte left free
    np.take(value, codes.view(np.uint8).reshape(n, 4), out=out, mode="clip")
    slots = np.arange(-252, 4 * n - 252, 4, dtype=np.intp)
    slots += tag  # row * 4 + tag - 252: where the largest goes
    unknown_rows = tag < 252
    unknown = np.flatnonzero(unknown_rows) if unknown_rows.any() else None
    if unknown is not None:
        slots[unknown] = unknown * 4  # in its own row; replaced by the identity below
    np.put(out, slots, rest.astype(np.float32))
    if unknown is not None:
        out[unknown] = (1.0, 0.0, 0.0, 0.0)


def lookup(tables: list[np.ndarray], texels: np.ndarray, out: np.ndarray) -> None:
    """out (N, len(tables)) <- column c is ``tables[c]`` (256 entries) at texel channel c."""
    for column, table in enumerate(tables):  # a 1-D index: numpy's fast path
        out[:, column] = np.take(table, texels[:, column], mode="clip")


def inverse_sigmoid_table() -> np.ndarray:
    y = np.clip(np.arange(256, dtype=np.float64) / 255, 1e-6, 1 - 1e-6)
    return np.log(y / (1 - y)).astype(np.float32)


def lerp_table(low: float, high: float) -> np.ndarray:
    return (low + (high - low) * (np.arange(256, dtype=np.float64) / 255)).astype(np.float32)


def palette(entries: np.ndarray, count: int, table: np.ndarray) -> np.ndarray:
    """(count + 1, K·3) float32: palette entries' RGB bytes through ``table``, then a zero row.

    ``entries`` is (rows, K, 4) uint8 (RGBA texels); entries past its end read as
    byte 0, and the zero row is what labels past the palette gather.
    """
    k = entries.shape[1]
    out = np.empty((count + 1, k, 3), np.float32)
    rows = min(count, len(entries))
    # RGB as 3-byte records (a byte-wise copy of 3 of 4 is slow), then a contiguous index.
    rgb = np.empty((rows, k, 3), np.uint8)
    np.copyto(rgb.reshape(-1, 3).view("V3"), entries[:rows].reshape(-1, 4)[:, :3].view("V3"))
    np.take(table, rgb, out=out[:rows], mode="clip")
    out[rows:count] = table[0]
    out[count] = 0.0
    return out.reshape(count + 1, k * 3)


def gather_sh(palette_rows: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    """out (N, K·3) <- each splat's palette row; a label past the palette, the zero last row."""
    # R | G << 8 is the first little-endian uint16 of each (contiguous) RGBA texel.
    label = np.ascontiguousarray(labels).view("<u2")[:, 0]
    np.take(palette_rows, label, axis=0, out=out, mode="clip")  # one call: no GIL waits
