# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Byte encodings shared by the compressed formats (SPZ, .splat), as lookup tables.

A byte has 256 values, so decoding any per-byte field is one table lookup per
value: exact, vectorised, and the maths (logs, logits) runs 256 times, not N.
Results are the raw, pre-activation values a 3DGS PLY stores.
"""

from __future__ import annotations

import numpy as np

from .cloud import SH_C0

OPACITY_EPS = 1e-6
"""Alpha bytes 0 and 255 mean "at most/at least half a step from 0/1"; their logit
would be ±inf, so alpha is clamped to [eps, 1 - eps] first (logit ±13.8), as
splat-transform does. Re-encoding sigmoid(±13.8) gives back 0 and 255."""

OPAQUE_LOGIT = float(np.log((1 - OPACITY_EPS) / OPACITY_EPS))
"""The logit used for "fully opaque" (points without an opacity of their own)."""

_BYTES = np.arange(256, dtype=np.float64)


def _table(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32)


def opacity_logit_from_alpha(alpha: np.ndarray) -> np.ndarray:
    """Logit of an activated opacity in 0..1, clamped off the asymptotes (float64)."""
    a = np.clip(alpha, OPACITY_EPS, 1 - OPACITY_EPS)
    return np.log(a / (1 - a))


U8_OPACITY_LOGIT = _table(opacity_logit_from_alpha(_BYTES / 255))
"""Alpha byte -> opacity logit."""

SPZ_COLOR_SCALE = 0.15
"""SPZ stores f_dc as 0.5 + 0.15 f_dc in 0..1 (not SH_C0), keeping out-of-gamut DC."""

SPZ_DC = _table((_BYTES / 255 - 0.5) / SPZ_COLOR_SCALE)
"""SPZ colour byte -> f_dc."""

SPZ_LOG_SCALE = _table(_BYTES / 16 - 10)
"""SPZ scale byte -> log of the standard deviation."""

RGB_DC = _table((_BYTES / 255 - 0.5) / SH_C0)
"""Display colour byte (.splat, point-cloud PLYs) -> f_dc, so that colors() gives it back."""
