# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The numpy half of Blender 5.3's own Gaussian splats: attributes and values (no bpy).

Blender 5.3 draws a ``POINTCLOUD`` of type ``GAUSSIAN_SPLAT`` itself. Its own
PLY importer (``wm.ply_import``) fills it with these attributes, in the file's
frame (no axis turn), and this module writes exactly the same values, so an
object from either importer is interchangeable with the other:

- ``position``: the centre, as stored;
- ``scale``: the standard deviation per local axis, ``exp`` of the file's log scale;
- ``rotation`` (QUATERNION): w, x, y, z normalised; a zero quaternion is the identity;
- ``radiance:base`` (FLOAT4): the degree-0 SH coefficients as stored, and the
  opacity after the sigmoid;
- ``radiance:sh_k`` (FLOAT_VECTOR): higher SH coefficient k, (R, G, B).

Normals and any other property are kept as point attributes too (``file_normal``,
``extra_<name>``), as on older Blenders.

``native_cloud`` is the way back, for an export: the file's conventions from
Blender's values (log scales, opacity logits, SH channel by channel).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..splats.cloud import SH_REST_COUNT, SplatCloud
from ..splats.rows import RowBlock, RowSource
from .prepare import (
    Attribute,
    copy_group,
    fill_after,
    fill_blocks,
    non_finite_rows,
    plan_after,
    shown_names,
)

RADIANCE_BASE = "radiance:base"
"""Blender's name for (f_dc_0, f_dc_1, f_dc_2, opacity) of a native splat."""
OPACITY_RANGE = (float(np.finfo(np.float32).tiny), 1.0 - 2.0**-24)
"""The opacities an export takes logits of: 0 and 1 (no finite logit) become the
nearest float32 values that have one (logits of about -87.3 and +16.6)."""
MIN_SCALE = float(np.finfo(np.float32).tiny)
"""The smallest standard deviation an export takes the log of (a zero has none)."""


def radiance_sh_name(k: int) -> str:
    """Blender's name for higher SH coefficient k (all three channels)."""
    return f"radiance:sh_{k}"


def native_plan(source: RowSource) -> tuple[list[Attribute], dict[str, str], list[str]]:
    """What ``prepare.attribute_plan`` gives, for a native splat object: Blender's own
    attributes first, then the higher SH, normals and extra properties."""
    blenders = [
        Attribute("position", "FLOAT_VECTOR", 3),
        Attribute("scale", "FLOAT_VECTOR", 3),
        Attribute("rotation", "QUATERNION", 4),
        Attribute(RADIANCE_BASE, "FLOAT4", 4),
    ]
    return plan_after(source, blenders, radiance_sh_name)


def write_native_rows(
    block: RowBlock,
    out: Mapping[str, np.ndarray],
    rows: slice,
    extras: Mapping[str, str],
) -> None:
    """Copy one block into ``out[name][rows]`` with Blender's conventions.

    The maths runs on contiguous float32 (the scale and rotation destinations
    themselves, a scratch column for the opacity): numpy's vectorised ``exp`` and
    friends take only contiguous arrays, and on strided ones (the file's records,
    the alpha column of ``radiance:base``) are several times slower.
    """
    copy_group(block.positions, out["position"][rows])
    scale = out["scale"][rows]
    if block.log_scales.dtype == np.float32:
        copy_group(block.log_scales, scale)
        flat = scale.reshape(-1)
        np.exp(flat, out=flat)
    else:  # exp in the file's precision, then rounded, as before
        np.exp(block.log_scales, out=scale, casting="unsafe")
    _normalise_rotations(block.rotations, out["rotation"][rows])
    base = out[RADIANCE_BASE][rows]
    copy_group(block.sh_dc, base[:, :3])
    alpha = np.negative(block.opacity_logit, dtype=np.float32, casting="unsafe")
    np.exp(alpha, out=alpha)
    alpha += 1.0
    np.reciprocal(alpha, out=alpha)
    base[:, 3] = alpha
    fill_after(block, out, rows, extras, radiance_sh_name)


_ONES4 = np.ones(4, np.float32)


def _normalise_rotations(source: np.ndarray, rotation: np.ndarray) -> None:
    """rotation (n, 4) <- source / its length; a zero quaternion becomes the identity."""
    copy_group(source, rotation)
    norm = np.square(rotation) @ _ONES4  # a matrix product: several times einsum's speed
    np.sqrt(norm, out=norm)
    zero = norm == 0.0
    if zero.any():
        norm[zero] = 1.0
        rotation[zero] = (1.0, 0.0, 0.0, 0.0)
    rotation /= norm[:, None]


def fill_native(
    source: RowSource,
    out: Mapping[str, np.ndarray],
    extras: Mapping[str, str],
) -> np.ndarray:
    """Copy every row of ``source`` into ``out``, block by block; the rows not finite
    (see ``prepare.fill``: NaN in the file, or a scale whose exp overflows)."""
    shown = shown_names(out)

    def fill_rows(start: int, stop: int) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):  # ±inf and NaN: found below
            write_native_rows(source.block(start, stop), out, slice(start, stop), extras)
        return non_finite_rows(out, shown, start, stop)

    return fill_blocks(source, fill_rows)


def opacity_logit(alpha: np.ndarray) -> np.ndarray:
    """The logit of each opacity (float64), the ends clamped to ``OPACITY_RANGE``."""
    p = np.clip(np.asarray(alpha, dtype=np.float64), *OPACITY_RANGE)
    p = np.where(np.isnan(p), 0.5, p)  # no opacity at all: half
    return np.log(p) - np.log1p(-p)


def native_cloud(
    position: np.ndarray,
    scale: np.ndarray,
    rotation: np.ndarray,
    base: np.ndarray,
    sh: list[np.ndarray],
    normals: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> SplatCloud:
    """The file values of a native splat point cloud, in its own frame.

    Arguments are its attributes: ``position``, ``scale`` (N, 3), ``rotation`` (N, 4),
    ``radiance:base`` (N, 4), ``radiance:sh_k`` (N, 3) for k = 0, 1, ... (as many
    as make whole SH degrees are used), ``file_normal`` and the extra properties by
    file name. Rotations are kept as stored (an export normalises them).
    """
    n = len(position)
    k = max(c for c in SH_REST_COUNT.values() if c <= len(sh))
    sh_rest = np.stack(sh[:k], axis=1) if k else np.zeros((n, 0, 3), np.float32)
    log_scales = np.log(np.maximum(scale.astype(np.float64), MIN_SCALE))
    return SplatCloud(
        positions=np.ascontiguousarray(position, dtype=np.float32),
        log_scales=log_scales.astype(np.float32),
        rotations=np.ascontiguousarray(rotation, dtype=np.float32),
        opacity_logit=opacity_logit(base[:, 3]).astype(np.float32),
        sh_dc=np.ascontiguousarray(base[:, :3], dtype=np.float32),
        sh_rest=np.ascontiguousarray(sh_rest, dtype=np.float32),
        normals=None if normals is None else np.ascontiguousarray(normals, dtype=np.float32),
        extra={key: np.ascontiguousarray(v, dtype=np.float32) for key, v in (extra or {}).items()},
    )
