# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decode WebP images with Blender's own image loader (main thread only).

A SOG's splats are stored in lossless WebP images; ``splats/sog.py`` decodes
everything else without bpy and takes this as its ``decode_webp``. Blender has
decoded WebP since 3.4, so no image library needs to ship with the add-on.
Blender's loader is not thread-safe: call this on the main thread (a worker
hands it over through ``splats.main_thread.MainThreadCalls``). It holds the
GIL while it decodes, so the least work is done here: ``sog_decode`` runs the
rest on another thread meanwhile.

Two ways in, the fastest the release has, both from memory (no temporary file):

- Blender ≥ 5.2: ``imbuf.load_from_buffer`` and the ImBuf's own byte buffer
  (``with_buffer``), the file's bytes as decoded;
- older: an image datablock packed from the bytes, read as Non-Color with
  straight alpha so no colour transform or premultiplication touches the
  values. Blender gives 8-bit pixels as floats b·(1/255); times 255 in float32
  that is b or a hair above it, never below, so truncating gives b back.

Blender's rows run bottom to top and are flipped. tests/blender/test_import_sog.py
checks every byte value through each way, and SOG imports against splat-transform's
own decode.
"""

from __future__ import annotations

import threading
from typing import Any

import bpy
import imbuf
import numpy as np

IMBUF_PIXELS = hasattr(getattr(imbuf, "types", None), "ImBuf") and hasattr(
    imbuf.types.ImBuf, "with_buffer"
)
"""Blender 5.2 and later: an ImBuf's pixels are readable without an image datablock."""


def decode_webp(data: bytes) -> np.ndarray:
    """WebP file bytes -> (H, W, 4) uint8 RGBA, top row first. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("Blender's image loader runs on the main thread only")
    return _by_imbuf(data) if IMBUF_PIXELS else _by_image(data)


def _by_imbuf(data: bytes) -> np.ndarray:
    buffer: Any = imbuf.load_from_buffer(data)  # type: ignore[attr-defined]
    try:
        if buffer.buffer_type != "BYTE":
            raise ValueError(f"Blender decoded it to {buffer.buffer_type} pixels, not bytes")
        with buffer.with_buffer() as view:
            pixels = np.asarray(view)
            if pixels.ndim != 3 or pixels.shape[2] != 4:
                raise ValueError(f"Blender decoded it to {pixels.shape} pixels, not RGBA")
            return np.ascontiguousarray(pixels[::-1])
    finally:
        buffer.free()


def _by_image(data: bytes) -> np.ndarray:
    image: Any = bpy.data.images.new("gen404-webp", 1, 1)
    try:
        image.source = "FILE"
        image.filepath = "//gen404-webp.webp"
        image.pack(data=data, data_len=len(data))  # loads from memory, not from that path
        image.colorspace_settings.name = "Non-Color"
        image.alpha_mode = "STRAIGHT"
        width, height = int(image.size[0]), int(image.size[1])  # loads the pixels
        if width == 0 or height == 0 or not image.has_data:
            raise ValueError("Blender could not decode it as an image")
        pixels = np.empty((height, width, 4), np.float32)
        image.pixels.foreach_get(pixels.ravel())
    finally:
        bpy.data.images.remove(image)
    out = np.empty((height, width, 4), np.uint8)
    np.multiply(pixels[::-1], np.float32(255), out=out, casting="unsafe")  # truncates
    return out
