# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Splats as blocks of rows: what the builder copies into Blender, a block at a time.

A RowBlock is rows ``start:stop`` of a cloud as array views of any dtype and
stride: slices of a SplatCloud, or views into a chunk of a PLY file's bytes just
read (``ply_rows``). Consumers cast while they copy, so a file's values reach
their destination without an intermediate float32 table. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .cloud import SplatCloud

BLOCK_ROWS = 1 << 15
"""Rows per block of an in-memory cloud: each block's temporaries stay in the CPU cache."""


@dataclass
class RowBlock:
    """Rows of a cloud in the file's frame, raw (pre-activation) values, as in SplatCloud.

    Shapes: positions, log_scales, sh_dc, normals (n, 3); rotations (n, 4) w, x, y, z
    as stored; opacity_logit (n,); sh_rest (n, K, 3); extras (n,). Any dtype, any strides.
    """

    positions: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray
    opacity_logit: np.ndarray
    sh_dc: np.ndarray
    sh_rest: np.ndarray
    normals: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.opacity_logit)


class RowSource(Protocol):
    """A cloud to copy block by block: its shape up front, its rows on demand.

    The arrays ``block`` returns may be views of a reused buffer: use them
    before the same thread's next call. Several threads may call ``block`` at
    once (each gets its own buffer). Close the source when done.
    """

    count: int
    sh_degree: int
    has_normals: bool
    extra_names: tuple[str, ...]
    warnings: list[str]
    block_rows: int
    file_up: str
    """The file's own up axis by its format's convention (see ``SplatCloud``, ``upright``)."""
    file_frame: str
    """The axes the rows were converted from into the PLY frame ("RDF": none)."""

    def block(self, start: int, stop: int) -> RowBlock: ...

    def close(self) -> None: ...


class CloudRows:
    """A SplatCloud already in memory, handed out as views of its arrays."""

    block_rows = BLOCK_ROWS

    def __init__(self, cloud: SplatCloud) -> None:
        self.cloud = cloud
        self.count = cloud.count
        self.sh_degree = cloud.sh_degree
        self.has_normals = cloud.normals is not None
        self.extra_names = tuple(cloud.extra)
        self.warnings = list(cloud.warnings)
        self.file_up = cloud.file_up
        self.file_frame = cloud.file_frame

    def block(self, start: int, stop: int) -> RowBlock:
        c, rows = self.cloud, slice(start, stop)
        return RowBlock(
            positions=c.positions[rows],
            log_scales=c.log_scales[rows],
            rotations=c.rotations[rows],
            opacity_logit=c.opacity_logit[rows],
            sh_dc=c.sh_dc[rows],
            sh_rest=c.sh_rest[rows],
            normals=c.normals[rows] if c.normals is not None else None,
            extra={name: np.asarray(v).reshape(self.count)[rows] for name, v in c.extra.items()},
        )

    def close(self) -> None:
        """Nothing to release: the cloud is the caller's."""


def rows_except(source: RowSource, drop: np.ndarray) -> SplatCloud:
    """Every row of ``source`` but those in ``drop`` (sorted indices), as a cloud in memory.

    For the rare file with broken rows: the builder found them while copying, and
    copies again from this instead.
    """
    keep = np.ones(source.count, bool)
    keep[drop] = False
    parts: list[RowBlock] = []
    for start in range(0, source.count, source.block_rows):
        stop = min(start + source.block_rows, source.count)
        block, mask = source.block(start, stop), keep[start:stop]
        parts.append(
            RowBlock(
                positions=block.positions[mask].astype(np.float32),
                log_scales=block.log_scales[mask].astype(np.float32),
                rotations=block.rotations[mask].astype(np.float32),
                opacity_logit=block.opacity_logit[mask].astype(np.float32),
                sh_dc=block.sh_dc[mask].astype(np.float32),
                sh_rest=block.sh_rest[mask].astype(np.float32),
                normals=None if block.normals is None else block.normals[mask].astype(np.float32),
                extra={k: v[mask].astype(np.float32) for k, v in block.extra.items()},
            )
        )

    def joined(name: str) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate([getattr(p, name) for p in parts]))

    return SplatCloud(
        positions=joined("positions"),
        log_scales=joined("log_scales"),
        rotations=joined("rotations"),
        opacity_logit=joined("opacity_logit"),
        sh_dc=joined("sh_dc"),
        sh_rest=joined("sh_rest"),
        normals=joined("normals") if source.has_normals else None,
        extra={k: np.concatenate([p.extra[k] for p in parts]) for k in source.extra_names},
        warnings=list(source.warnings),
        file_up=source.file_up,
        file_frame=source.file_frame,
    )
