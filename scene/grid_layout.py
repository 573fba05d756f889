# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a batch's results go: a grid in prompt order, spaced by their bounds. No bpy.

Cell ``index`` is row ``index // columns``, column ``index % columns``; columns run
along +X from the 3D cursor at submit time, rows along -Y (top view: reading order).
Results land at different times and sizes, so every cell is as wide and as deep as
the largest result landed so far plus a gap: when a larger one lands, the grid
grows and the earlier results move with their cells. Each result's bounds are
centred in its cell, so no two overlap (in X and Y); its origin stands at the
cursor's height at submit time, as a single result's stands at the cursor's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

GAP_RATIO = 0.25
"""The gap between cells, as a share of the largest result's width or depth."""
MIN_GAP = 0.1
"""The gap for results with (almost) no extent, in scene units."""
SAME = 1e-9

XY = tuple[float, float]


def columns_for(count: int, columns: int = 0) -> int:
    """Columns of a grid of ``count`` cells: ``columns`` if given (> 0), else about square."""
    if columns > 0:
        return max(1, min(columns, count))
    return max(1, math.ceil(math.sqrt(count)))


@dataclass
class Grid:
    """One batch's grid: its origin, and its results that landed (by prompt index)."""

    count: int
    columns: int
    origin: XY
    height: float = 0.0
    """The cursor's Z at submit time: every result's origin is put at this height."""
    sizes: dict[int, XY] = field(default_factory=dict)
    """Width (X) and depth (Y) of each landed result's bounds."""
    centres: dict[int, XY] = field(default_factory=dict)
    """Where each landed result's bounds are centred now."""
    names: dict[int, str] = field(default_factory=dict)
    """The object each landed result became (a name: IDs do not outlive undo)."""

    def cell_size(self) -> XY:
        """Width and depth of every cell: the largest landed result plus a gap."""
        width = max((w for w, _ in self.sizes.values()), default=0.0)
        depth = max((d for _, d in self.sizes.values()), default=0.0)
        gap = max(MIN_GAP, GAP_RATIO * max(width, depth))
        return width + gap, depth + gap

    def centre(self, index: int) -> XY:
        """The centre of cell ``index`` as the grid stands."""
        row, column = divmod(index, self.columns)
        width, depth = self.cell_size()
        return self.origin[0] + column * width, self.origin[1] - row * depth

    def land(self, index: int, size: XY, centre: XY) -> dict[int, XY]:
        """Result ``index`` landed with bounds of ``size``, centred at ``centre``: the
        shift (dx, dy) of every landed result that must move, this one's included."""
        if not 0 <= index < self.count:
            raise IndexError(f"cell {index} of a grid of {self.count}")
        self.sizes[index] = (max(0.0, size[0]), max(0.0, size[1]))
        self.centres[index] = centre
        shifts = {}
        for i, (x, y) in self.centres.items():
            tx, ty = self.centre(i)
            if abs(tx - x) > SAME or abs(ty - y) > SAME:
                shifts[i] = (tx - x, ty - y)
                self.centres[i] = (tx, ty)
        return shifts


@dataclass(frozen=True)
class Cell:
    """A batch task's place: its grid and its prompt's index (kept on the task's row)."""

    grid: Grid
    index: int
