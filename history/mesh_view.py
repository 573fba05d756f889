# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A thumbnail of a mesh: an orthographic front view of its triangles, with numpy.

The same view as a splat thumbnail (``splat_view``): Blender's Front view of the
imported mesh (glTF is +Y up, turned as Blender's glTF importer turns it). Each
triangle is filled with its colour, lit by a light from the front, upper left,
both sides alike (a clay look: textures are not decoded); a depth buffer keeps
the nearest. Drawn at twice the size and averaged down, so edges are smooth.
Triangles are drawn in groups of like size, each group as one numpy array.
"""

from __future__ import annotations

import numpy as np

from ..splats.axes import frame_quaternion, rotation_matrix
from .splat_view import MARGIN, THUMB_SIZE

SUPERSAMPLE = 2
AMBIENT = 0.35
LIGHT = np.array([-0.4, -1.0, 0.7]) / np.linalg.norm([-0.4, -1.0, 0.7])
"""Towards the light, in Blender's axes: in front (the camera is at -Y), upper left."""
CHUNK_PIXELS = 1_000_000
"""Pixel tests per step: bounds the memory of a step."""


def mesh_thumbnail(
    triangles: np.ndarray, colours: np.ndarray, size: int = THUMB_SIZE
) -> np.ndarray:
    """An (size, size, 4) uint8 RGBA picture of triangles (T, 3, 3) in glTF's axes with
    colours (T, 3), top row first; transparent where no triangle is."""
    big = size * SUPERSAMPLE
    turned = np.asarray(triangles, dtype=np.float64) @ rotation_matrix(frame_quaternion("Y")).T
    finite = np.isfinite(turned).all(axis=(1, 2))
    turned, colours = turned[finite], np.asarray(colours, dtype=np.float64)[finite]
    if len(turned) == 0:
        return np.zeros((size, size, 4), dtype=np.uint8)
    u, v, depth = turned[..., 0], turned[..., 2], turned[..., 1]
    extent = max(float(u.max() - u.min()), float(v.max() - v.min()), 1e-9)
    ppu = big * (1 - 2 * MARGIN) / extent
    sx = (u - (u.max() + u.min()) / 2) * ppu + big / 2
    sy = big / 2 - (v - (v.max() + v.min()) / 2) * ppu
    normal = np.cross(turned[:, 1] - turned[:, 0], turned[:, 2] - turned[:, 0])
    length = np.linalg.norm(normal, axis=1)
    light = np.abs(normal @ LIGHT) / np.maximum(length, 1e-30)
    lit = colours * (AMBIENT + (1 - AMBIENT) * light)[:, None]
    nearest = np.full(big * big, np.inf)
    owner = np.full(big * big, -1, dtype=np.int64)
    x0 = np.ceil(sx.min(1) - 0.5).astype(np.int64)
    y0 = np.ceil(sy.min(1) - 0.5).astype(np.int64)
    span = np.maximum(
        np.floor(sx.max(1) - 0.5).astype(np.int64) - x0, np.floor(sy.max(1) - 0.5) - y0
    )
    side = 1
    lower = -1
    while lower < big:
        group = np.flatnonzero((span >= lower) & (span < side) & (length > 0))
        step = max(1, CHUNK_PIXELS // (side * side))
        for start in range(0, len(group), step):
            chunk = group[start : start + step]
            _draw(chunk, side, x0, y0, sx, sy, depth, big, nearest, owner)
        lower, side = side, side * 2
    covered = owner >= 0
    rgb = np.zeros((big * big, 3))
    rgb[covered] = lit[owner[covered]]
    alpha = covered.astype(np.float64)
    pixels = np.concatenate([rgb * alpha[:, None], alpha[:, None]], axis=1)
    pixels = pixels.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 4).mean(axis=(1, 3))
    coverage = pixels[..., 3:]
    pixels[..., :3] /= np.maximum(coverage, 1e-12)
    return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)


def _draw(
    chunk: np.ndarray,
    side: int,
    x0: np.ndarray,
    y0: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    depth: np.ndarray,
    big: int,
    nearest: np.ndarray,
    owner: np.ndarray,
) -> None:
    """Test the pixel centres of each triangle's box (``side`` wide) and keep, per pixel,
    the nearest triangle in ``nearest``/``owner``."""
    steps = np.arange(side)
    gx = (x0[chunk][:, None, None] + steps[None, None, :]).repeat(side, axis=1)
    gy = (y0[chunk][:, None, None] + steps[None, :, None]).repeat(side, axis=2)
    gx, gy = gx.reshape(len(chunk), -1), gy.reshape(len(chunk), -1)
    cx, cy = gx + 0.5, gy + 0.5
    (ax, bx, qx), (ay, by, qy) = (sx[chunk].T[:, :, None], sy[chunk].T[:, :, None])
    denom = (by - qy) * (ax - qx) + (qx - bx) * (ay - qy)
    denom = np.where(np.abs(denom) < 1e-12, np.nan, denom)
    l0 = ((by - qy) * (cx - qx) + (qx - bx) * (cy - qy)) / denom
    l1 = ((qy - ay) * (cx - qx) + (ax - qx) * (cy - qy)) / denom
    l2 = 1.0 - l0 - l1
    eps = -1e-9
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
    inside &= (gx >= 0) & (gx < big) & (gy >= 0) & (gy < big)
    if not inside.any():
        return
    d = depth[chunk]
    z = l0 * d[:, :1] + l1 * d[:, 1:2] + l2 * d[:, 2:]
    pixel = (gy * big + gx)[inside]
    z = z[inside]
    tri = np.broadcast_to(chunk[:, None], gx.shape)[inside]
    order = np.lexsort((z, pixel))
    pixel, z, tri = pixel[order], z[order], tri[order]
    first = np.ones(len(pixel), dtype=bool)
    first[1:] = pixel[1:] != pixel[:-1]
    pixel, z, tri = pixel[first], z[first], tri[first]
    nearer = z < nearest[pixel]
    nearest[pixel[nearer]] = z[nearer]
    owner[pixel[nearer]] = tri[nearer]
