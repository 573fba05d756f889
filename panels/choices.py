# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The model, parameter and seed choices of the sidebar's modes. Drawing only."""

from __future__ import annotations

from typing import Any

from ..client.generation import MESH_V2_MODEL


def draw_choices(layout: Any, state: Any, *, fit: bool = True) -> None:
    """The model, 404-mesh-v2's parameters, the seed and, with ``fit`` (a single
    generation, not a batch), all variants and fitting to a placeholder."""
    layout.prop(state, "model", text="")
    if state.model == MESH_V2_MODEL:
        box = layout.box()
        box.prop(state, "pipeline_type")
        box.prop(state, "texture_size")
        box.prop(state, "face_count")
    if fit:  # a single generation (not a batch): its variants, fitted to a placeholder
        layout.prop(state, "variants")
        layout.prop(state, "fit_to_placeholder")
    row = layout.row(align=True)
    row.prop(state, "random_seed", text="", icon="FILE_REFRESH" if state.random_seed else "LOCKED")
    if state.random_seed:
        row.label(text="Random seed (recorded with the result)")
    else:
        row.prop(state, "seed")
