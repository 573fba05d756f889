"""Colour conversions for splat display (numpy only).

Splat colours are display-referred sRGB values; Blender's colour attributes and
material colours are scene-linear, so they go through the sRGB transfer curve.
With the "Standard" view transform a render then shows the file's own values.
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055).astype(np.float32)


PALETTE_LEVELS = 5
"""Levels per channel of the Solid-mode palette (125 colours)."""


def palette_index(srgb: np.ndarray) -> np.ndarray:
    """Palette entry (int32) of each display colour (N, 3) in 0..1."""
    q = np.clip((srgb * PALETTE_LEVELS).astype(np.int32), 0, PALETTE_LEVELS - 1)
    return (q[:, 0] * PALETTE_LEVELS + q[:, 1]) * PALETTE_LEVELS + q[:, 2]


def palette_srgb(index: int) -> tuple[float, float, float]:
    """Centre of a palette entry, display-referred."""
    r, rem = divmod(index, PALETTE_LEVELS * PALETTE_LEVELS)
    g, b = divmod(rem, PALETTE_LEVELS)
    return tuple((c + 0.5) / PALETTE_LEVELS for c in (r, g, b))  # type: ignore[return-value]
