# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A batch's results laid out in its grid as each one lands (on the main thread).

The arithmetic is grid_layout's; here each new result is measured (its world
bounds, children included) and moved into its cell, and the batch's earlier
results, found again by name, move with their cells when a larger one made the
grid grow. A result imported again while its first copy is still in its cell
stays at the cursor, as any import does.
"""

from __future__ import annotations

from typing import Any

import bpy

from .fit import tree, world_bounds
from .grid_layout import Cell


def place(view_layer: bpy.types.ViewLayer, obj: Any, cell: object) -> bool:
    """Move ``obj``, a result just built at the cursor, into ``cell`` (a grid_layout
    Cell, or None for a result that is not a batch's). Returns whether it moved."""
    if not isinstance(cell, Cell):
        return False
    grid = cell.grid
    first = bpy.data.objects.get(grid.names.get(cell.index, ""))
    if first is not None and first != obj:
        return False
    obj.location.z = grid.height  # built at the cursor, which may have moved since
    view_layer.update()  # matrix_world of what was just created
    bounds = world_bounds(tree(obj))
    if bounds is None:  # nothing to measure: its origin stands for it
        low = high = tuple(obj.matrix_world.translation)
    else:
        low, high = tuple(bounds[0]), tuple(bounds[1])
    size = (float(high[0] - low[0]), float(high[1] - low[1]))
    centre = (float(high[0] + low[0]) / 2, float(high[1] + low[1]) / 2)
    grid.names[cell.index] = obj.name
    for index, (dx, dy) in grid.land(cell.index, size, centre).items():
        moved = bpy.data.objects.get(grid.names.get(index, ""))
        if moved is not None:  # one the artist deleted leaves its cell empty
            moved.location.x += dx
            moved.location.y += dy
    view_layer.update()
    return True
