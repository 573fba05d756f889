# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Thumbnails of cached results: where they live, and making one (worker side, no bpy).

A thumbnail is ``<user folder>/thumbnails/<task id>.png``, its name made from a
validated task id only. A splat result is read with at most ``MAX_SPLATS`` of its
splats, an even subsample taken block by block while the file streams (a binary
PLY is never held whole), so a 10-million-splat result costs no more than a small
one to draw; a download claiming more splats than any 404 result has is refused
unread. A GLB result is drawn from its triangles.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..client.endpoints import check_task_id
from ..client.generation import GLB_FORMAT
from ..client.glb import MAX_RESULT_SPLATS, result_claim
from ..splats.cloud import SplatCloud, SplatFormatError
from ..splats.reader import open_rows
from .glb_mesh import read_glb_triangles
from .mesh_view import mesh_thumbnail
from .png import write_png
from .splat_view import MAX_SPLATS, THUMB_SIZE, splat_thumbnail

THUMBNAILS = "thumbnails"


def thumbnails_folder(user_folder: str | os.PathLike[str]) -> Path:
    return Path(user_folder) / THUMBNAILS


def thumbnail_path(user_folder: str | os.PathLike[str], task_id: str) -> Path:
    """Where a task's thumbnail lives; raises GatewayError for anything but a task id."""
    return thumbnails_folder(user_folder) / f"{check_task_id(task_id)}.png"


def read_sample(path: str | os.PathLike[str], limit: int = MAX_SPLATS) -> SplatCloud:
    """At most ``limit`` splats of a splat file, evenly spread over it (every k-th)."""
    path = Path(path)
    claimed = result_claim(path)
    if claimed is not None and claimed > MAX_RESULT_SPLATS:
        raise SplatFormatError(f"it claims {claimed:,} splats, more than any 404 result")
    source = open_rows(path)
    try:
        step = max(1, -(-source.count // limit))
        parts: dict[str, list[np.ndarray]] = {
            "positions": [],
            "log_scales": [],
            "rotations": [],
            "opacity_logit": [],
            "sh_dc": [],
        }
        for start in range(0, source.count, source.block_rows):
            stop = min(start + source.block_rows, source.count)
            block = source.block(start, stop)
            rows = slice((-start) % step, stop - start, step)
            for name, kept in parts.items():
                kept.append(np.asarray(getattr(block, name)[rows], dtype=np.float32))
        file_up, file_frame = source.file_up, source.file_frame
    finally:
        source.close()
    if not parts["positions"]:
        raise SplatFormatError("it holds no splats")
    a = {name: np.ascontiguousarray(np.concatenate(p)) for name, p in parts.items()}
    return SplatCloud(
        positions=a["positions"],
        log_scales=a["log_scales"],
        rotations=a["rotations"],
        opacity_logit=a["opacity_logit"],
        sh_dc=a["sh_dc"],
        sh_rest=np.zeros((len(a["positions"]), 0, 3), dtype=np.float32),
        file_up=file_up,
        file_frame=file_frame,
    )


def render(result: str | os.PathLike[str], size: int = THUMB_SIZE) -> np.ndarray:
    """The (size, size, 4) RGBA thumbnail of a result file (splats or a GLB mesh)."""
    result = Path(result)
    if result.suffix == f".{GLB_FORMAT}":
        return mesh_thumbnail(*read_glb_triangles(result), size=size)
    return splat_thumbnail(read_sample(result), size=size)


def make_thumbnail(
    result: str | os.PathLike[str], out: str | os.PathLike[str], size: int = THUMB_SIZE
) -> Path:
    """Render ``result`` and write it to ``out`` as a PNG (atomically). Raises
    OSError, SplatFormatError or GlbError (both ValueError) when it cannot."""
    return write_png(out, render(result, size))
