# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Colour conversions for splat display (numpy only).

Splat colours are display-referred sRGB values: what a splat viewer writes to the
screen, the end of a camera and training pipeline, not light. Blender works in
scene-linear light and turns it into screen values with the scene's *view
transform*. The conversion chosen here is the inverse of the *Standard* view
(the sRGB transfer curve): with Standard, an opaque splat shows exactly the value
stored in its file. Blender's default view transforms (AgX, Filmic) are tone
mappers for high-dynamic-range light; run on colours that are already tone
mapped they wash them out and shift hues, and no colour can be pre-distorted to
undo that for saturated values (AgX never reaches the sRGB primaries). So the
colours are linearised with the sRGB curve and the import switches the scene to
Standard (see ``builder.use_standard_view``).
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


def palette_srgb(index: int) -> tuple[float, float, float]:
    """Centre of a palette entry, display-referred."""
    r, rem = divmod(index, PALETTE_LEVELS * PALETTE_LEVELS)
    g, b = divmod(rem, PALETTE_LEVELS)
    return tuple((c + 0.5) / PALETTE_LEVELS for c in (r, g, b))  # type: ignore[return-value]
