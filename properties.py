# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sidebar state on the window manager: session-only, never saved into a .blend."""

from __future__ import annotations

import os

import bpy
import bpy.utils.previews

from . import model_choices as model_props
from .props import flag, whole

_previews: bpy.utils.previews.ImagePreviewCollection | None = None


def image_preview_id(path: str) -> int:
    """Icon id of a preview of the image at ``path`` (0 if there is none)."""
    if _previews is None or not path:
        return 0
    preview = _previews.get(path)
    return preview.icon_id if preview is not None else 0


def _load_preview(self: GEN404_SessionProperties, _context: bpy.types.Context) -> None:
    # Loading happens here, on the main thread when the path changes, never in draw().
    path = bpy.path.abspath(self.image_path)
    if _previews is not None and path and path not in _previews and os.path.isfile(path):
        _previews.load(path, path, "IMAGE")


class GEN404_SessionProperties(bpy.types.PropertyGroup):
    model: model_props.model_property()  # type: ignore[valid-type]
    pipeline_type: model_props.pipeline_property()  # type: ignore[valid-type]
    texture_size: model_props.texture_property()  # type: ignore[valid-type]
    face_count: model_props.faces_property()  # type: ignore[valid-type]
    random_seed: flag(  # type: ignore[valid-type]
        "Random Seed",
        "Draw a new seed for each generation (the add-on draws it and records it, so the "
        "result can be made again)",
        default=True,
    )
    seed: whole("Seed", "The same seed, input and model give the same result", 0)  # type: ignore[valid-type]
    variants: model_props.variants_property()  # type: ignore[valid-type]
    fit_to_placeholder: model_props.fit_property(  # type: ignore[valid-type]
        "With a mesh selected when the generation starts, scale the result to its bounds, "
        "centred and set on their bottom",
        default=True,
    )
    input_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Input",
        description="Generate from a text prompt, from an image, or from several prompts",
        items=[
            ("TEXT", "Text", "Generate from a text prompt", "FONT_DATA", 0),
            ("IMAGE", "Image", "Generate from an image", "IMAGE_DATA", 1),
            ("BATCH", "Batch", "Generate several prompts, one per line of a text", "TEXT", 2),
        ],
        default="TEXT",
    )
    prompt: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Prompt",
        description="What to generate, e.g. 'mechanic robot' (3-384 characters)",
    )
    image_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Image",
        description="A PNG, JPEG or WebP image of the object to generate",
        subtype="FILE_PATH",
        update=_load_preview,
    )
    batch_text: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Prompts",
        description="The text (Text Editor) whose lines are the batch's prompts, one per line "
        "(kept by name)",
    )
    history_shown: whole(  # type: ignore[valid-type]
        "Results Shown", "How many of the newest results the History shows", 5, min=1, max=500
    )
    history_failed: flag("Show Failed", "List failed tasks in the History too (greyed)")  # type: ignore[valid-type]


def register() -> None:
    global _previews
    _previews = bpy.utils.previews.new()
    bpy.types.WindowManager.gen404 = bpy.props.PointerProperty(  # type: ignore[attr-defined]
        type=GEN404_SessionProperties
    )


def unregister() -> None:
    global _previews
    del bpy.types.WindowManager.gen404  # type: ignore[attr-defined]
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
