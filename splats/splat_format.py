# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read the ``.splat`` web-viewer format: 32 bytes a splat, no header.

Each record (little endian): position 3 x f32, scale 3 x f32 (the standard
deviation itself, not its log), colour R G B A as bytes (display colour and
activated opacity), rotation 4 bytes w x y z, each ``(q - 128) / 128``. It comes
from antimatter15's viewer and is written from PLY without any change of axes,
so it is already in the PLY frame; its viewer shows -Y up (``upright.py``). Only
degree-0 colour survives in it.

The values are turned back into what a 3DGS PLY stores (log scales, opacity
logits, f_dc), with one vectorised pass per field.
"""

from __future__ import annotations

import numpy as np

from .cloud import SplatCloud, SplatFormatError
from .quantize import RGB_DC, U8_OPACITY_LOGIT
from .upright import UPRIGHT

__all__ = ["RECORD", "read_dot_splat"]

RECORD = np.dtype(
    [("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rotation", "u1", 4)]
)
"""One .splat record; its itemsize is 32."""

MIN_SCALE = 1e-30
"""Zero or negative scales (broken writers) would give log -inf/NaN; they become this."""


def read_dot_splat(data: bytes | bytearray | memoryview | np.ndarray) -> SplatCloud:
    """Decode a .splat file into a SplatCloud (SH degree 0, PLY frame)."""
    buf = memoryview(data)  # type: ignore[arg-type]  # numpy arrays are buffers too
    if buf.ndim != 1 or buf.itemsize != 1:
        buf = buf.cast("B")
    size = len(buf)
    if size == 0:
        raise SplatFormatError("The .splat file is empty. Download or export it again.")
    if size % RECORD.itemsize:
        raise SplatFormatError(
            f"A .splat file is a whole number of 32-byte splats, but this one has {size:,} "
            f"bytes ({size // RECORD.itemsize:,} splats and {size % RECORD.itemsize} bytes "
            "over): it is cut off or not a .splat file."
        )
    records = np.frombuffer(buf, dtype=RECORD)
    n = len(records)
    scales = records["scale"].astype(np.float32)
    usable = scales > 0  # False for NaN too
    bad_scales = scales.size - int(np.count_nonzero(usable))
    log_scales = np.log(np.where(usable, scales, np.float32(MIN_SCALE)))
    rgba = records["rgba"]
    rotations = (records["rotation"].astype(np.float32) - np.float32(128)) / np.float32(128)
    cloud = SplatCloud(
        positions=np.ascontiguousarray(records["position"], dtype=np.float32),
        log_scales=log_scales,
        rotations=rotations,
        opacity_logit=U8_OPACITY_LOGIT[rgba[:, 3]],
        sh_dc=RGB_DC[rgba[:, :3]],
        sh_rest=np.zeros((n, 0, 3), dtype=np.float32),
        **UPRIGHT["splat"].declared(),
    )
    if bad_scales:
        cloud.warnings.append(
            f"{bad_scales:,} values of scale in the .splat were zero, negative or not a "
            "number; those splats were made vanishingly small."
        )
    return cloud
