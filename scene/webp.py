# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decode WebP images with Blender's own image loader (main thread only).

A SOG's splats are stored in lossless WebP images; ``splats/sog.py`` decodes
everything else without bpy and takes this as its ``decode_webp``. Blender has
decoded WebP since 3.4, so no image library needs to ship with the add-on.
Blender's loader is not thread-safe: call this on the main thread (a worker
hands it over through ``splats.main_thread.MainThreadCalls``).

Exact bytes: the image is read as Non-Color with straight alpha, so no colour
transform or premultiplication touches the values; Blender gives 8-bit pixels
as floats b/255, turned back with x*255 rounded; its rows run bottom to top
and are flipped. The unit tests check this against Pillow byte for byte.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any

import bpy
import numpy as np


def decode_webp(data: bytes) -> np.ndarray:
    """WebP file bytes -> (H, W, 4) uint8 RGBA, top row first. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("Blender's image loader runs on the main thread only")
    handle, path = tempfile.mkstemp(prefix="gen404-", suffix=".webp")
    image: Any = None
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        image = bpy.data.images.load(path, check_existing=False)
        image.colorspace_settings.name = "Non-Color"
        image.alpha_mode = "STRAIGHT"
        width, height = int(image.size[0]), int(image.size[1])  # loads the pixels
        if width == 0 or height == 0 or not image.has_data:
            raise ValueError("Blender could not decode it as an image")
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        if image is not None:
            bpy.data.images.remove(image)
        os.unlink(path)
    pixels *= 255.0
    pixels += 0.5
    out = np.empty((height, width, 4), np.uint8)
    np.copyto(out, pixels.reshape(height, width, 4)[::-1], casting="unsafe")
    return out
