# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.generate: submit a text->3D or image->3D task (from the panel, F3 or a script)."""

from __future__ import annotations

import os
from typing import Any

import bpy

from .. import model_choices, preferences, session
from ..client.endpoints import host_of
from ..client.errors import GatewayError
from ..client.generation import RANDOM_SEED, model_problem, seed_problem
from ..client.models import GenerationRequest, input_problem
from ..client.prompts import prompt_problem
from ..image_upload import ImageUploadError, prepare_upload
from ..scene import fit
from .options import SendingOperator, seed_property, wait_property
from .outcome import failed, started
from .returns import OperatorReturn

NAME_LIMIT = 60
"""Blender names hold 63 bytes; a prompt or file name is cut before that, at a word."""


def cut_at_word(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` shortened to ``limit`` characters at the last space, mid-word only for one
    long word."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else ""
    return (cut or text[:limit]).rstrip(" ,.;:-")


def object_name_for(prompt: str, image_path: str) -> str:
    """A readable object name: the prompt, or the image's file name without extension."""
    if prompt.strip():
        return cut_at_word(" ".join(prompt.split()))
    name = os.path.splitext(os.path.basename(bpy.path.abspath(image_path)))[0]
    return cut_at_word(name) or "image"


class GEN404_OT_generate(SendingOperator):
    """Generate a 3D Gaussian splat from a text prompt or an image, or a textured mesh from an
    image, with the 404.xyz gateway; it appears at the 3D cursor when ready"""

    bl_idname = "gen404.generate"
    bl_label = "Generate Gaussian Splat (404 Gen)"

    prompt: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Prompt", description="What to generate (3-384 characters)"
    )
    image_path: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Image",
        description="Image to generate from (PNG, JPEG or WebP)",
        subtype="FILE_PATH",
    )
    seed: seed_property(  # type: ignore[valid-type]
        "The seed to generate with (a signed 32-bit integer); -1 draws a random "
        "one, which the result records so it can be made again"
    )
    model: model_choices.model_property()  # type: ignore[valid-type]
    pipeline_type: model_choices.pipeline_property()  # type: ignore[valid-type]
    texture_size: model_choices.texture_property()  # type: ignore[valid-type]
    face_count: model_choices.faces_property()  # type: ignore[valid-type]
    variants: model_choices.variants_property()  # type: ignore[valid-type]
    fit_to_placeholder: model_choices.fit_property(  # type: ignore[valid-type]
        "With a mesh selected, scale the result to its bounds, centred and set on their "
        "bottom (the mesh is remembered by name)",
        default=False,
    )
    wait: wait_property()  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        if not self.prompt and not self.image_path:
            # From F3 or a menu: take the sidebar's input, or ask for a prompt.
            state = context.window_manager.gen404  # type: ignore[union-attr]
            take_choices(self, state)
            if state.input_mode == "IMAGE" and state.image_path:
                self.image_path = state.image_path
            elif state.input_mode == "TEXT" and state.prompt.strip():
                self.prompt = state.prompt
            else:
                return context.window_manager.invoke_props_dialog(self)  # type: ignore[union-attr, return-value]
        return self.execute(context)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        layout.prop(self, "prompt")
        layout.prop(self, "model")
        layout.prop(self, "seed")
        layout.prop(self, "variants")

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        try:
            request, label, kind = self._request()
            settings = preferences.sending_settings(context)
            entry = session.get_session().submit(
                request, settings, label, kind, host_of(settings.base_url)
            )
            if self.fit_to_placeholder:
                entry.placeholder = fit.placeholder_name(context)
        except (GatewayError, ImageUploadError) as exc:
            return failed(self, exc)
        timeout = settings.deadline_s + 120.0
        return started(self, entry, self.wait, timeout, f"generating '{label}'")

    def _request(self) -> tuple[GenerationRequest, str, str]:
        prompt, image_path = self.prompt.strip(), self.image_path.strip()
        # Checked before the image is read: the same rule GenerationRequest enforces.
        problem = input_problem(bool(prompt), bool(image_path)) or model_problem(
            self.model, has_prompt=bool(prompt)
        )
        if problem:
            raise GatewayError(problem)
        # -1 (the default): the add-on draws a seed and records it; any other value is sent.
        seed = None if self.seed == RANDOM_SEED else self.seed
        problem = seed_problem(self.seed)
        if problem:
            raise GatewayError(problem)
        choices = {
            "model": self.model,
            "model_params": model_choices.model_params(self),
            "variants": self.variants,
        }
        label = object_name_for(prompt, image_path)
        if prompt:
            problem = prompt_problem(prompt)
            if problem:
                raise GatewayError(problem)
            return GenerationRequest(prompt=prompt, seed=seed, **choices), label, "prompt"
        upload = prepare_upload(image_path)
        request = GenerationRequest(
            image=upload.data,
            image_name=upload.filename,
            image_mime=upload.mime,
            seed=seed,
            **choices,  # type: ignore[arg-type]
        )
        return request, label, "image"


def take_choices(op: Any, state: Any) -> None:
    """Copy the sidebar's model, parameters, seed and variants onto the operator ``op``."""
    op.model = state.model
    op.pipeline_type = state.pipeline_type
    op.texture_size = state.texture_size
    op.face_count = state.face_count
    op.fit_to_placeholder = state.fit_to_placeholder
    op.variants = state.variants
    op.seed = RANDOM_SEED if state.random_seed else state.seed
