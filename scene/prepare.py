# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The numpy half of building a splat object: which attributes, and how rows fill them (no bpy).

A splat object stores the file's values as they are, nothing twice and nothing
derived: positions turned into Blender's frame (so that the mesh is where the
splats are, for selection, snapping, bounds and other modifiers), and the
rotations, log scales, opacity logits and SH coefficients raw, in the file's
frame. The display (``display/mesh.py``) derives rotation, size, opacity and colour
on the fly, only for the splats it draws; an export gives the file's values
back bit for bit.

``fill`` copies a RowSource block by block straight into the destination arrays
(normally views of Blender's own attribute memory, see ``builder.py``). Groups of
float32 values that lie side by side in a record (a quaternion, a scale) move as
whole records through a void view: one copy for the group, several times faster
than a float copy per component.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..splats.axes import frame_quaternion
from ..splats.cloud import SH_REST_COUNT
from ..splats.rows import RowBlock, RowSource

FILL_WORKERS = min(
    4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
"""Threads filling Blender's attributes (the CPUs this process may use, at most 4): the
first writes into Blender's fresh memory and the maths share out well (1M splats of SH
degree 0 on 2 CPUs: 34 ms on one thread, 20 ms on two; more threads than CPUs is slower)."""
EXTRA_PREFIX = "extra_"
MAX_NAME = 63
"""Blender's limit on attribute names, in bytes."""
MAX_EXTRAS = 64
"""Extra properties kept as attributes: each costs Blender an attribute (about 0.7 ms
on the main thread); files with thousands (malformed or hostile) keep the first ones."""


@dataclass(frozen=True)
class Attribute:
    """One point attribute of a splat object: Blender's type and float32 components."""

    name: str
    kind: str  # FLOAT, FLOAT_VECTOR, QUATERNION, FLOAT4
    width: int


def sh_rest_name(k: int) -> str:
    """Higher SH coefficient k (all three channels), in the file's frame."""
    return f"sh_rest_{k}"


def extra_name(name: str) -> str:
    return (EXTRA_PREFIX + name).encode("utf-8")[:MAX_NAME].decode("utf-8", "ignore")


def attribute_plan(source: RowSource) -> tuple[list[Attribute], dict[str, str], list[str]]:
    """The attributes a splat object of ``source`` gets (``position`` first).

    Also the attribute name of each kept extra property, and a warning for each
    extra that cannot be kept.
    """
    head = [
        Attribute("position", "FLOAT_VECTOR", 3),
        Attribute("file_rotation", "QUATERNION", 4),
        Attribute("log_scale", "FLOAT_VECTOR", 3),
        Attribute("opacity_logit", "FLOAT", 1),
        Attribute("sh_dc", "FLOAT_VECTOR", 3),
    ]
    return plan_after(source, head, sh_rest_name)


def plan_after(
    source: RowSource, head: list[Attribute], sh_name: Callable[[int], str]
) -> tuple[list[Attribute], dict[str, str], list[str]]:
    """``head``, then one attribute per higher SH coefficient (named by ``sh_name``),
    the normals if the file has them and its extra properties (with their names and
    warnings): the part both kinds of splat object share."""
    plan = [
        *head,
        *(Attribute(sh_name(k), "FLOAT_VECTOR", 3) for k in range(SH_REST_COUNT[source.sh_degree])),
    ]
    if source.has_normals:
        plan.append(Attribute("file_normal", "FLOAT_VECTOR", 3))
    extras, warnings = extra_attributes(source, plan)
    return plan, extras, warnings


def extra_attributes(source: RowSource, plan: list[Attribute]) -> tuple[dict[str, str], list[str]]:
    """Append a float attribute to ``plan`` for each extra property of ``source``.

    Returns the attribute name of each kept extra, and a warning for each one
    whose name cannot be kept (too long to tell apart from another).
    """
    extras: dict[str, str] = {}
    warnings = []
    taken = {a.name for a in plan}
    names = source.extra_names
    if len(names) > MAX_EXTRAS:
        warnings.append(
            f"The file has {len(names):,} extra properties; the first {MAX_EXTRAS} were kept "
            f"as attributes and {len(names) - MAX_EXTRAS:,} were dropped ({names[MAX_EXTRAS]!r} "
            "onwards)."
        )
        names = names[:MAX_EXTRAS]
    for name in names:
        key = extra_name(name)
        if key in taken:
            warnings.append(f"Extra property {name!r} was not kept: its name is too long.")
            continue
        taken.add(key)
        extras[name] = key
        plan.append(Attribute(key, "FLOAT", 1))
    return extras, warnings


def position_axes(up_axis: str) -> tuple[tuple[int, float], ...]:
    """For each Blender axis, the file axis it comes from and its sign (a quarter turn about X).

    +Y up: (x, y, z) = (x, -z, y); -Y up: (x, z, -y); +Z up: unchanged.
    """
    c, s = (float(v) for v in frame_quaternion(up_axis)[:2])
    angle = 2 * math.atan2(s, c)
    cos, sin = round(math.cos(angle)), round(math.sin(angle))
    if sin == 0:
        return ((0, 1.0), (1, float(cos)), (2, float(cos)))
    return ((0, 1.0), (2, float(-sin)), (1, float(sin)))


def write_rows(
    block: RowBlock,
    out: Mapping[str, np.ndarray],
    rows: slice,
    axes: tuple[tuple[int, float], ...],
    extras: Mapping[str, str],
) -> None:
    """Copy one block into ``out[name][rows]`` (float32 arrays of shape (N, width))."""
    position = out["position"][rows]
    for dst, (src, sign) in enumerate(axes):
        if sign < 0:
            np.negative(block.positions[:, src], out=position[:, dst], casting="unsafe")
        else:
            np.copyto(position[:, dst], block.positions[:, src], casting="unsafe")
    copy_group(block.rotations, out["file_rotation"][rows])
    copy_group(block.log_scales, out["log_scale"][rows])
    np.copyto(out["opacity_logit"][rows, 0], block.opacity_logit, casting="unsafe")
    copy_group(block.sh_dc, out["sh_dc"][rows])
    fill_after(block, out, rows, extras, sh_rest_name)


def fill_after(
    block: RowBlock,
    out: Mapping[str, np.ndarray],
    rows: slice,
    extras: Mapping[str, str],
    sh_name: Callable[[int], str],
) -> None:
    """The rows of ``plan_after``'s attributes: higher SH (named by ``sh_name``), normals
    and extras, as stored, for either kind of splat object."""
    for k in range(block.sh_rest.shape[1]):
        copy_group(block.sh_rest[:, k], out[sh_name(k)][rows])
    if block.normals is not None:
        copy_group(block.normals, out["file_normal"][rows])
    for name, key in extras.items():
        np.copyto(out[key][rows, 0], block.extra[name], casting="unsafe")


_F32 = np.dtype(np.float32)


def copy_group(source: np.ndarray, target: np.ndarray) -> None:
    """target (n, w) float32 C-contiguous <- source (n, w), any dtype and strides.

    Native float32 components side by side move as one w*4-byte record per row.
    """
    w = source.shape[1]
    if source.dtype == _F32 and source.strides[1] == 4 and w > 1:
        record = f"V{4 * w}"
        np.copyto(target.view(record)[:, 0], source.view(record)[:, 0])
        return
    for j in range(w):
        np.copyto(target[:, j], source[:, j], casting="unsafe")


def fill(
    source: RowSource,
    out: Mapping[str, np.ndarray],
    up_axis: str,
    extras: Mapping[str, str],
) -> np.ndarray:
    """Copy every row of ``source`` into ``out``, block by block (``fill_blocks``); the
    rows not finite."""
    axes = position_axes(up_axis)
    shown = shown_names(out)

    def fill_rows(start: int, stop: int) -> np.ndarray:
        with np.errstate(over="ignore"):  # doubles beyond float32 become ±inf, as in ply.py
            write_rows(source.block(start, stop), out, slice(start, stop), axes, extras)
        return non_finite_rows(out, shown, start, stop)

    return fill_blocks(source, fill_rows)


def shown_names(out: Mapping[str, np.ndarray]) -> list[str]:
    """The attributes a non-finite value makes a splat unusable in (not normals, extras)."""
    return [name for name in out if not name.startswith((EXTRA_PREFIX, "file_normal"))]


def fill_blocks(
    source: RowSource, fill_rows: Callable[[int, int], np.ndarray], workers: int | None = None
) -> np.ndarray:
    """Run ``fill_rows(start, stop)`` on every block of ``source``, on this thread and up
    to ``workers - 1`` helpers (default ``FILL_WORKERS``) taking blocks in turn; the
    rows it reports (not finite), in order. The first exception stops the others'
    next blocks and is raised here.

    numpy lets go of the GIL inside each operation, so threads share the work
    when there is arithmetic to do (and first writes into fresh memory, which
    the kernel serves per thread).
    """
    workers = FILL_WORKERS if workers is None else workers
    step = source.block_rows
    blocks = [(start, min(start + step, source.count)) for start in range(0, source.count, step)]
    found: list[np.ndarray] = [np.empty(0, np.int64)] * len(blocks)
    turns = itertools.count()  # next() on it is atomic: each block is taken once
    failed: list[BaseException] = []

    def take_blocks() -> None:
        for index in turns:
            if index >= len(blocks) or failed:
                return
            try:
                found[index] = fill_rows(*blocks[index])
            except BaseException as exc:  # raised on the calling thread below
                failed.append(exc)
                return

    helpers = [
        threading.Thread(target=take_blocks, name="gen404-fill", daemon=True)
        for _ in range(max(0, min(workers, len(blocks)) - 1))
    ]
    for helper in helpers:
        helper.start()
    take_blocks()
    for helper in helpers:
        helper.join()
    if failed:
        raise failed[0]
    return np.concatenate(found) if found else np.empty(0, np.int64)


def non_finite_rows(
    out: Mapping[str, np.ndarray], names: Sequence[str], start: int, stop: int
) -> np.ndarray:
    """Indices of rows ``start:stop`` with a NaN or infinity in any of ``names``.

    Checked right after the block was written, while it is in the CPU cache: a
    clean block (nearly always) costs a min and a max per attribute (the fastest
    reductions numpy has) and nothing more.
    """
    rows = slice(start, stop)
    # The least and the greatest value are finite only if every value is (NaN spreads).
    dirty = [
        name
        for name in names
        if not (np.isfinite(out[name][rows].min()) and np.isfinite(out[name][rows].max()))
    ]
    if not dirty:
        return np.empty(0, np.int64)
    finite = np.ones(stop - start, bool)
    for name in dirty:
        finite &= np.isfinite(out[name][rows]).all(axis=1)
    return np.flatnonzero(~finite) + start
