# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Copy splat rows straight into a Blender geometry's attribute memory.

Meshes and point clouds keep each attribute as one packed array; numpy views of
those arrays let ``prepare.fill`` and ``native_prepare.fill_native`` write rows
where Blender reads them, with no full-size copy in between.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np

from ..splats.cloud import SplatFormatError
from ..splats.rows import CloudRows, RowSource, rows_except
from .prepare import Attribute

_FOREACH_KEY = {
    "FLOAT": "value",
    "QUATERNION": "value",
    "FLOAT_VECTOR": "vector",
    "FLOAT4": "vector",
}

Filler = Callable[[dict[str, np.ndarray]], np.ndarray]
"""Writes every row into ``out[name]``, float32 arrays of shape (N, width); returns the
indices of rows holding a NaN or infinity."""


def attribute_views(data: Any, count: int, plan: list[Attribute]) -> dict[str, np.ndarray] | None:
    """(N, width) float32 numpy views of a geometry's attribute arrays, or None.

    An attribute element's RNA pointer is its address in the attribute's array;
    the views are made only if the first and last elements are exactly where a
    packed float32 array puts them (else None, and the caller copies with
    ``foreach_set``). Valid until the attributes change: use them at once.
    """
    if count == 0:
        return None
    views = {}
    for attr in plan:
        elements = data.attributes[attr.name].data
        first, last = elements[0].as_pointer(), elements[count - 1].as_pointer()
        if not first or last - first != (count - 1) * 4 * attr.width:
            return None
        block = (ctypes.c_float * (count * attr.width)).from_address(first)
        views[attr.name] = np.ctypeslib.as_array(block).reshape(count, attr.width)
    return views


def fill_attributes(data: Any, count: int, plan: list[Attribute], fill: Filler) -> np.ndarray:
    """Run ``fill`` on views of ``data``'s attributes (created beforehand), or copy after;
    what ``fill`` returns (the rows that are not finite).

    Without direct access, ``fill`` writes into numpy arrays that ``foreach_set``
    then copies in, one attribute at a time.
    """
    views = attribute_views(data, count, plan)
    if views is not None:
        return fill(views)
    arrays = {a.name: np.empty((count, a.width), np.float32) for a in plan}
    bad = fill(arrays)
    for attr in plan:
        values = arrays.pop(attr.name).ravel()
        data.attributes[attr.name].data.foreach_set(_FOREACH_KEY[attr.kind], values)
    return bad


def finite_rows(source: RowSource, bad: np.ndarray) -> CloudRows:
    """``source`` without the rows in ``bad``; refused if that leaves nothing."""
    if bad.size == source.count:
        raise SplatFormatError(
            f"every one of its {source.count:,} splats holds NaN or infinite values, so "
            "there is nothing to show. The file is corrupt: export or download it again."
        )
    return CloudRows(rows_except(source, bad))


def dropped(count: int) -> str:
    return (
        f"{count:,} splat{'s' if count != 1 else ''} with NaN or infinite values "
        f"{'were' if count != 1 else 'was'} left out (the file is partly corrupt)."
    )
