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
    before the next call. Close the source when done.
    """

    count: int
    sh_degree: int
    has_normals: bool
    extra_names: tuple[str, ...]
    warnings: list[str]
    block_rows: int

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
