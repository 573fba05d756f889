# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A thumbnail of a splat cloud: an orthographic front view of its colours, with numpy.

The view is Blender's Front view of the imported object (the same up-axis rule
as an import, so a 404 result, +Y up, stands upright): image right is Blender +X,
image up is Blender +Z, and the camera looks along +Y. Each splat is a Gaussian
footprint, its covariance projected onto the image plane (plus a little blur, as
3DGS renderers add, so that tiny splats still cover a pixel), its colour the SH DC
term, its opacity the sigmoid of the stored logit. Splats are composited front to
back in depth-sorted chunks, the transmittance of every pixel carried from chunk
to chunk, which is the back-to-front "over" of a splat renderer. The cost is
capped: at most ``MAX_SPLATS`` splats (an even subsample beyond) and footprints no
wider than ``MAX_RADIUS`` pixels.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..splats.axes import frame_quaternion, rotation_matrix
from ..splats.cloud import SplatCloud
from ..splats.upright import AUTO, import_up

THUMB_SIZE = 128
MAX_SPLATS = 250_000
"""Splats drawn at most; a larger cloud is subsampled evenly (a thumbnail needs no more)."""
MAX_RADIUS = 12
"""Pixels: a footprint reaches at most this far from its centre (3 sigma)."""
RADII = (1, 2, 3, 4, 6, 8, MAX_RADIUS)
"""Footprint sizes: splats of one size are drawn together as one numpy array."""
CHUNK_FOOTPRINTS = 1_000_000
"""Pixel footprints composited per step: bounds the memory of a step."""
MARGIN = 0.06
"""Share of the picture left empty on each side."""
BLUR = 0.3
"""Pixels² added to each projected covariance (3DGS's anti-aliasing low-pass)."""
MIN_ALPHA = 1.0 / 255.0
OPAQUE = 1e-3
"""A pixel whose transmittance fell below this takes no more splats."""
SH_C0 = 0.28209479177387814


def view_matrix(file_up: str, file_frame: str) -> np.ndarray:
    """3x3: a cloud's values -> Blender axes, stood up as an import stands it."""
    up = import_up(AUTO, file_up, file_frame)
    return np.asarray(rotation_matrix(frame_quaternion(up)), dtype=np.float64)


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotation matrices of unit quaternions (N, 4) w, x, y, z."""
    w, x, y, z = (q[:, i].astype(np.float64) for i in range(4))
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def framing(u: np.ndarray, v: np.ndarray, pad: float, size: int) -> tuple[float, float, float]:
    """(centre u, centre v, pixels per unit) that fit the bulk of the points, each
    grown by ``pad``, in the picture; the outermost 0.5 % on each side (stray
    floaters) may fall outside."""
    lo_u, hi_u = np.quantile(u, [0.005, 0.995]) if len(u) > 200 else (u.min(), u.max())
    lo_v, hi_v = np.quantile(v, [0.005, 0.995]) if len(v) > 200 else (v.min(), v.max())
    extent = max(float(hi_u - lo_u), float(hi_v - lo_v), 1e-6) + 2 * pad
    return float(lo_u + hi_u) / 2, float(lo_v + hi_v) / 2, size * (1 - 2 * MARGIN) / extent


def splat_thumbnail(cloud: SplatCloud, size: int = THUMB_SIZE) -> np.ndarray:
    """An (size, size, 4) uint8 RGBA picture of ``cloud``, top row first; transparent
    where no splat covers the picture."""
    if cloud.count > MAX_SPLATS:
        step = -(-cloud.count // MAX_SPLATS)
        index = np.arange(0, cloud.count, step)
    else:
        index = np.arange(cloud.count)
    m = view_matrix(cloud.file_up, cloud.file_frame)
    positions = cloud.positions[index].astype(np.float64) @ m.T
    alpha = 1.0 / (1.0 + np.exp(-cloud.opacity_logit[index].astype(np.float64)))
    log_scales = cloud.log_scales[index].astype(np.float64)
    colours = np.clip(0.5 + SH_C0 * cloud.sh_dc[index].astype(np.float64), 0.0, 1.0)
    good = (
        np.isfinite(positions).all(1)
        & np.isfinite(log_scales).all(1)
        & np.isfinite(colours).all(1)
        & (alpha >= MIN_ALPHA)
    )
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    if not good.any():
        return rgba
    positions, alpha, colours = positions[good], alpha[good], colours[good]
    log_scales, rotations = log_scales[good], cloud.rotations[index][good]
    pad = 2.0 * float(np.exp(np.median(np.clip(log_scales.max(1), -30.0, 10.0))))
    cu, cv, ppu = framing(positions[:, 0], positions[:, 2], pad, size)
    px = (positions[:, 0] - cu) * ppu + size / 2
    py = size / 2 - (positions[:, 2] - cv) * ppu  # rows go down, Blender +Z goes up
    a, b, c = _projected_covariances(rotations, log_scales, m, ppu)
    order = np.argsort(positions[:, 1], kind="stable")  # nearest first: the camera is at -Y
    picture = _composite(px, py, a, b, c, alpha, colours, order, size)
    return picture


def _projected_covariances(
    rotations: np.ndarray, log_scales: np.ndarray, m: np.ndarray, ppu: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image-plane covariance (a, b; b, c) of each splat, in pixels², with the blur."""
    q = rotations.astype(np.float64)
    norm = np.linalg.norm(q, axis=1)
    bad = ~np.isfinite(norm) | (norm < 1e-12)
    q[bad], norm[bad] = (1.0, 0.0, 0.0, 0.0), 1.0
    turned = np.einsum("ij,njk->nik", m, quaternion_matrices(q / norm[:, None]))
    variances = np.exp(2.0 * np.clip(log_scales, -30.0, 10.0)) * ppu * ppu
    right, up = turned[:, 0, :], -turned[:, 2, :]  # image x; image y points down
    a = (right * right * variances).sum(1) + BLUR
    b = (right * up * variances).sum(1)
    c = (up * up * variances).sum(1) + BLUR
    # A footprint wider than MAX_RADIUS is shrunk to it (a stray giant splat).
    largest = (a + c) / 2 + np.sqrt(((a - c) / 2) ** 2 + b * b)
    shrink = np.minimum(1.0, (MAX_RADIUS / 3.0) ** 2 / largest)
    return a * shrink, b * shrink, c * shrink


def _composite(
    px: np.ndarray,
    py: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    alpha: np.ndarray,
    colours: np.ndarray,
    order: np.ndarray,
    size: int,
) -> np.ndarray:
    """Front-to-back compositing of the footprints, ``order`` nearest first."""
    largest = (a + c) / 2 + np.sqrt(((a - c) / 2) ** 2 + b * b)
    reach = np.ceil(3.0 * np.sqrt(largest))
    radius = np.asarray(RADII)[np.searchsorted(RADII, np.minimum(reach, MAX_RADIUS))]
    footprint = (2 * radius + 1) ** 2
    det = a * c - b * b
    inv = np.stack([c / det, -b / det, a / det], axis=1)
    transmittance = np.ones(size * size)
    colour = np.zeros((size * size, 3))
    spent = np.cumsum(footprint[order])
    starts = np.searchsorted(spent, np.arange(0, spent[-1], CHUNK_FOOTPRINTS), side="right")
    bounds = [*np.unique(starts).tolist(), len(order)]
    for lo, hi in itertools.pairwise(bounds):
        chunk = order[lo:hi]
        pixel, weight, splat, rank = _footprints(chunk, radius, px, py, inv, alpha, size)
        if len(pixel) == 0:
            continue
        keep = transmittance[pixel] > OPAQUE
        pixel, weight, splat, rank = pixel[keep], weight[keep], splat[keep], rank[keep]
        if len(pixel) == 0:
            continue
        sort = np.lexsort((rank, pixel))
        pixel, weight, splat = pixel[sort], weight[sort], splat[sort]
        log_t = np.log1p(-weight)
        running = np.cumsum(log_t)
        first = np.ones(len(pixel), dtype=bool)
        first[1:] = pixel[1:] != pixel[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(pixel)), 0))
        before = running - log_t - (running[group_start] - log_t[group_start])
        share = weight * np.exp(before) * transmittance[pixel]
        for channel in range(3):
            colour[:, channel] += np.bincount(
                pixel, share * colours[splat, channel], minlength=size * size
            )
        transmittance *= np.exp(np.bincount(pixel, log_t, minlength=size * size))
    coverage = 1.0 - transmittance
    straight = colour / np.maximum(coverage, 1e-12)[:, None]
    rgba = np.concatenate([straight, coverage[:, None]], axis=1)
    rgba = np.clip(np.rint(rgba * 255.0), 0, 255).astype(np.uint8)
    rgba[coverage * 255.0 < 0.5, :3] = 0
    return rgba.reshape(size, size, 4)


def _footprints(
    chunk: np.ndarray,
    radius: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    inv: np.ndarray,
    alpha: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (pixel, weight, splat, depth rank) that the splats of ``chunk`` touch."""
    rank_of = np.empty(len(px), dtype=np.int64)
    rank_of[chunk] = np.arange(len(chunk))
    parts: list[tuple[np.ndarray, ...]] = []
    for r in RADII:
        splats = chunk[radius[chunk] == r]
        if len(splats) == 0:
            continue
        offsets = np.arange(-r, r + 1)
        dx, dy = np.meshgrid(offsets, offsets)
        ix = np.floor(px[splats])[:, None].astype(np.int64) + dx.ravel()[None, :]
        iy = np.floor(py[splats])[:, None].astype(np.int64) + dy.ravel()[None, :]
        ddx = ix + 0.5 - px[splats][:, None]
        ddy = iy + 0.5 - py[splats][:, None]
        k = inv[splats]
        power = k[:, :1] * ddx * ddx + 2 * k[:, 1:2] * ddx * ddy + k[:, 2:] * ddy * ddy
        weight = np.minimum(alpha[splats][:, None] * np.exp(-0.5 * power), 0.99)
        inside = (weight >= MIN_ALPHA) & (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
        owner = np.broadcast_to(splats[:, None], ix.shape)[inside]
        parts.append((iy[inside] * size + ix[inside], weight[inside], owner, rank_of[owner]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0), empty, empty
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]
