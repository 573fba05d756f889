# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The model, seed and variants choices shared by the sidebar state and the generate operator."""

from __future__ import annotations

from typing import Any

from .client.generation import (
    FACE_COUNT_MAX,
    FACE_COUNT_MIN,
    MESH_V2_MODEL,
    MODEL_LABELS,
    PIPELINE_TYPES,
    SPLAT_MODEL,
    TEXTURE_SIZES,
)
from .props import choice, flag, whole

MODEL_DESCRIPTIONS = {
    SPLAT_MODEL: "Text or image → Gaussian splats",
    "404-mesh": "Image only → a textured mesh (GLB)",
    MESH_V2_MODEL: "Image only → a textured mesh (GLB), with pipeline, texture and face count",
}
MODEL_ITEMS = [
    (model, f"{MODEL_LABELS[model]} ({model})", MODEL_DESCRIPTIONS[model], index)
    for index, model in enumerate(MODEL_LABELS)
]
PIPELINE_ITEMS = [
    ("1024", "1024", "Generate at 1024"),
    ("1024_cascade", "1024 Cascade", "1024, refined in a cascade"),
    ("1536_cascade", "1536 Cascade", "1536, refined in a cascade"),
]
assert tuple(item[0] for item in PIPELINE_ITEMS) == PIPELINE_TYPES
TEXTURE_ITEMS = [
    (str(size), f"{size} px", f"A {size} by {size} pixel texture") for size in TEXTURE_SIZES
]
DEFAULT_PIPELINE = "1024_cascade"
DEFAULT_TEXTURE = "2048"
DEFAULT_FACES = 200_000


def model_property(**extra: Any) -> Any:
    return choice(
        "Model",
        "404's model: Gaussian splats from text or an image, or a mesh from an image",
        MODEL_ITEMS,
        SPLAT_MODEL,
        **extra,
    )


def pipeline_property() -> Any:
    return choice("Pipeline", "404-mesh-v2's generation pipeline", PIPELINE_ITEMS, DEFAULT_PIPELINE)


def texture_property() -> Any:
    return choice("Texture Size", "404-mesh-v2's texture size", TEXTURE_ITEMS, DEFAULT_TEXTURE)


def faces_property() -> Any:
    return whole(
        "Faces",
        f"404-mesh-v2's face count ({FACE_COUNT_MIN:,} to {FACE_COUNT_MAX:,})",
        DEFAULT_FACES,
        min=FACE_COUNT_MIN,
        max=FACE_COUNT_MAX,
        step=1000,
    )


def variants_property() -> Any:
    return flag(
        "All Variants",
        "Import every worker's result (up to three variants, side by side in a collection of "
        "their own), once all are done: First Result Early does not apply",
    )


def fit_property(description: str, default: bool) -> Any:
    """Fitting the result to a selected mesh (a placeholder)."""
    return flag("Fit to Selected Mesh", description, default)


def model_params(holder: Any) -> dict[str, object] | None:
    """The model_params of ``holder``'s choices (sidebar state or operator); None for a
    model without parameters."""
    if holder.model != MESH_V2_MODEL:
        return None
    return {
        "pipeline_type": holder.pipeline_type,
        "texture_size": int(holder.texture_size),
        "face_count": int(holder.face_count),
    }
