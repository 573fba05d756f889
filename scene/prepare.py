"""The numpy half of building a splat object: safe on a worker thread (no bpy).

Everything here is computed from a SplatCloud before the main thread copies the
arrays into Blender, so the main-thread part of an import is only ``foreach_set``.
Each step is a handful of vectorised float32 passes (the sRGB curve through a
table, the quarter-turn axis change as column copies): at a million splats the
whole preparation stays in the tens of milliseconds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..splats.axes import frame_quaternion, quat_multiply, rotation_matrix
from ..splats.cloud import SplatCloud
from .colors import dc_to_display

ATTRIBUTE_TYPES: dict[str, str] = {
    "position": "FLOAT_VECTOR",
    "rotation": "QUATERNION",
    "scale": "FLOAT_VECTOR",
    "opacity": "FLOAT",
    "color": "FLOAT_COLOR",
    "palette": "INT",
    "opacity_logit": "FLOAT",
    "sh_dc": "FLOAT_VECTOR",
    "file_normal": "FLOAT_VECTOR",
}
"""Point attributes of a splat object. Besides these: ``sh_rest_<k>`` (FLOAT_VECTOR,
one per higher SH coefficient, file frame) and ``extra_<name>`` (FLOAT)."""

EXTRA_PREFIX = "extra_"
MAX_NAME = 63
"""Blender's limit on attribute names, in bytes."""


@dataclass(frozen=True)
class CloudSummary:
    """What is left to know about the source cloud once its arrays are handed over."""

    count: int
    sh_degree: int


@dataclass(eq=False)
class DisplayArrays:
    """A cloud's per-splat arrays in Blender's frame, ready for ``foreach_set``.

    ``layers`` maps attribute names to arrays (``sh_rest`` is the raw (N, K, 3)
    block, written as one attribute per coefficient). The builder takes each
    array out as it copies it into Blender, so the numpy and the Blender copies
    of the data never coexist in full: building consumes the object.
    """

    up_axis: str
    count: int
    sh_degree: int
    layers: dict[str, np.ndarray]
    warnings: list[str] = field(default_factory=list)

    @property
    def cloud(self) -> CloudSummary:
        """Count and SH degree (the arrays themselves live in ``layers``)."""
        return CloudSummary(self.count, self.sh_degree)


CHUNK = 1 << 16
"""Rows per step: every temporary fits in the CPU cache and is reused, so a big
cloud costs its outputs' memory and nothing more (fresh memory is slow to touch)."""
THREADS = 2
"""Chunks run on this many threads (numpy releases the GIL in its loops)."""


def prepare(cloud: SplatCloud, up_axis: str = "Y") -> DisplayArrays:
    """Convert axes and apply the activations (sigmoid, exp, normalise, sRGB decode).

    Raw values (``opacity_logit``, ``sh_dc``, ``sh_rest``, normals, extras) are
    passed on as they are, in the file's frame, for export and view-dependent
    colour. Drop ``cloud`` afterwards to free what only it still holds.
    """
    frame = frame_quaternion(up_axis)
    n = cloud.count
    layers: dict[str, np.ndarray] = {}
    if cloud.sh_rest.shape[1]:
        layers["sh_rest"] = cloud.sh_rest  # biggest first: the builder frees it first
    out = {
        "position": np.empty((n, 3), dtype=np.float32),
        "rotation": np.empty((n, 4), dtype=np.float32),
        "scale": np.empty((n, 3), dtype=np.float32),
        "opacity": np.empty(n, dtype=np.float32),
        "color": np.empty((n, 4), dtype=np.float32),
        "palette": np.empty(n, dtype=np.int32),
    }
    turn = _frame_matrix(frame)

    def fill(rows: slice) -> None:
        o: dict[str, Any] = {key: value[rows] for key, value in out.items()}
        _positions(cloud.positions[rows], turn, o["position"])
        _rotations(cloud.rotations[rows], frame, o["rotation"])
        np.exp(cloud.log_scales[rows], out=o["scale"])
        np.negative(cloud.opacity_logit[rows], out=o["opacity"])
        np.exp(o["opacity"], out=o["opacity"])
        o["opacity"] += 1.0
        np.reciprocal(o["opacity"], out=o["opacity"])
        dc_to_display(cloud.sh_dc[rows], o["color"], o["palette"])

    chunks = [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]
    if len(chunks) > 1 and THREADS > 1:
        with ThreadPoolExecutor(THREADS, thread_name_prefix="gen404 prepare") as pool:
            list(pool.map(fill, chunks))
    else:
        for rows in chunks:
            fill(rows)
    layers.update(out)
    layers["opacity_logit"] = cloud.opacity_logit
    layers["sh_dc"] = cloud.sh_dc
    if cloud.normals is not None:
        layers["file_normal"] = cloud.normals
    warnings = list(getattr(cloud, "warnings", []))
    for name, values in cloud.extra.items():
        key = _extra_name(name)
        if key in layers:
            warnings.append(f"Extra property {name!r} was not kept: its name is too long.")
            continue
        layers[key] = np.asarray(values, dtype=np.float32).reshape(n)
    return DisplayArrays(
        up_axis=up_axis,
        count=n,
        sh_degree=cloud.sh_degree,
        layers=layers,
        warnings=warnings,
    )


def _extra_name(name: str) -> str:
    return (EXTRA_PREFIX + name).encode("utf-8")[:MAX_NAME].decode("utf-8", "ignore")


def _frame_matrix(frame: np.ndarray) -> np.ndarray:
    m = rotation_matrix(frame)
    m[np.abs(m) < 1e-12] = 0.0  # exact quarter turns: no 1e-16 leaking between axes
    return m


def _positions(positions: np.ndarray, m: np.ndarray, out: np.ndarray) -> None:
    """Positions into Blender's frame; a quarter turn is column copies, not a matmul."""
    if np.all(np.isin(m, (-1.0, 0.0, 1.0))) and np.all(np.abs(m).sum(axis=1) == 1):
        for row in range(3):
            col = int(np.flatnonzero(m[row])[0])
            np.multiply(positions[:, col], np.float32(m[row, col]), out=out[:, row])
        return
    np.matmul(positions.astype(np.float32), m.T.astype(np.float32), out=out)


def _rotations(rotations: np.ndarray, frame: np.ndarray, out: np.ndarray) -> None:
    """Unit w, x, y, z turned into Blender's frame; a zero quaternion becomes the identity."""
    q = rotations.astype(np.float32, copy=False)
    norm = np.sqrt(np.einsum("ij,ij->i", q, q))
    zero = norm < 1e-12
    if zero.any():
        q = q.copy()
        q[zero] = (1.0, 0.0, 0.0, 0.0)
        norm[zero] = 1.0
    c, s = np.float32(frame[0]), np.float32(frame[1])
    if frame[2] or frame[3] or abs(c) < 1e-3:
        out[:] = quat_multiply(frame.astype(np.float32), q / norm[:, None])
        return
    if s == 0:
        np.divide(q, norm[:, None], out=out)
        return
    # frame (c, s, 0, 0) ⊗ q, written out: a turn about X mixes w with x and y with z.
    scale = np.divide(c, norm, out=norm)
    ratio = s / c
    w, x, y, z = (q[:, i] for i in range(4))
    for dst, (a, b, sign) in enumerate(((w, x, -1), (x, w, 1), (y, z, -1), (z, y, 1))):
        column = out[:, dst]
        np.multiply(b, np.float32(sign * ratio), out=column)
        column += a
        column *= scale
