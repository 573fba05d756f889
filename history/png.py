# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small PNG writer (8-bit RGBA, zlib from the standard library), atomic on disk.

Thumbnails are written on a worker thread and loaded by Blender on the main
thread: a file only ever appears whole (``client.atomic``: a temporary file
beside it, then ``os.replace``), so Blender never reads half a picture.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..client.atomic import write_atomically

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(rgba: np.ndarray) -> bytes:
    """An (H, W, 4) uint8 array, top row first, as PNG bytes (no filtering: tiny images)."""
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) uint8 array, got {rgba.dtype} {rgba.shape}")
    height, width = rgba.shape[:2]
    rows = np.zeros((height, 1 + width * 4), dtype=np.uint8)  # filter byte 0: "None"
    rows[:, 1:] = rgba.reshape(height, width * 4)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)),
            _chunk(b"IEND", b""),
        )
    )


def write_png(path: str | os.PathLike[str], rgba: np.ndarray) -> Path:
    """Write ``rgba`` to ``path`` as a PNG, atomically; creates the folder. Raises OSError."""
    path = Path(path)
    data = png_bytes(rgba)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data)
    return path
