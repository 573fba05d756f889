# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""What 404's gateway can generate today: its models, their parameters, and seeds.

Plain values and checks, no I/O: the operator, the sidebar and the client all ask
here, so a request the gateway would refuse is refused before anything is sent.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

SPLAT_MODEL = "404-3dgs"
MESH_MODEL = "404-mesh"
MESH_V2_MODEL = "404-mesh-v2"
MODELS = (SPLAT_MODEL, MESH_MODEL, MESH_V2_MODEL)
DEFAULT_MODEL = SPLAT_MODEL
MESH_MODELS = frozenset({MESH_MODEL, MESH_V2_MODEL})
"""Image only, and the result is a textured GLB mesh."""
MODEL_LABELS = {
    SPLAT_MODEL: "Gaussian splats",
    MESH_MODEL: "Mesh",
    MESH_V2_MODEL: "Mesh v2",
}

PIPELINE_TYPES = ("1024", "1024_cascade", "1536_cascade")
TEXTURE_SIZES = (1024, 2048, 4096)
FACE_COUNT_MIN = 20_000
FACE_COUNT_MAX = 2_000_000
MODEL_PARAMS_LIMIT = 1024
"""Bytes of the JSON object ``model_params`` the gateway takes."""
PARAMS_OF_MODEL = {MESH_V2_MODEL: ("pipeline_type", "texture_size", "face_count")}

SEED_MIN = -(2**31)
SEED_MAX = 2**31 - 1
RANDOM_SEED = -1
"""The gateway's "choose one" (it never says which): never sent by the add-on."""
GLB_FORMAT = "glb"
VARIANTS_SUFFIX = ".zip"
"""A format ending so (``spz.zip``) is every variant of a task in one ZIP (``all=true``)."""


def is_mesh_model(model: str) -> bool:
    return model in MESH_MODELS


def result_format_for(model: str, preferred: str) -> str:
    """The format a task's result arrives in: a GLB for the mesh models."""
    return GLB_FORMAT if is_mesh_model(model) else preferred


def model_problem(model: str, *, has_prompt: bool) -> str | None:
    """Why ``model`` cannot take this input; None when it can."""
    if model not in MODELS:
        return f"Unknown model {model!r}: use one of {', '.join(MODELS)}."
    if has_prompt and is_mesh_model(model):
        return (
            f"The {model} model makes meshes from images only: choose an image, "
            f"or use {SPLAT_MODEL} to generate from a prompt."
        )
    return None


def seed_problem(seed: int) -> str | None:
    """Why ``seed`` cannot be sent; None for a signed 32-bit integer."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        return "The seed must be a whole number."
    if not SEED_MIN <= seed <= SEED_MAX:
        return f"The seed {seed} is out of range: use {SEED_MIN} to {SEED_MAX} (-1: random)."
    return None


def draw_seed() -> int:
    """A seed chosen here, so the result can be made again (the gateway never tells)."""
    return secrets.randbelow(SEED_MAX + 1)


def params_problem(model: str, params: Mapping[str, object] | None) -> str | None:
    """Why ``params`` are not right for ``model``; None when they are (or there are none)."""
    if not params:
        return None
    allowed = PARAMS_OF_MODEL.get(model, ())
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        return f"The {model} model takes no parameter {', '.join(unknown)}."
    pipeline = params.get("pipeline_type")
    if pipeline is not None and pipeline not in PIPELINE_TYPES:
        return f"Pipeline {pipeline!r} is unknown: use one of {', '.join(PIPELINE_TYPES)}."
    texture = params.get("texture_size")
    if texture is not None and texture not in TEXTURE_SIZES:
        return f"Texture size {texture!r} is unknown: use one of 1024, 2048 or 4096."
    faces = params.get("face_count")
    if faces is not None and (
        isinstance(faces, bool)
        or not isinstance(faces, int)
        or not FACE_COUNT_MIN <= faces <= FACE_COUNT_MAX
    ):
        return f"The face count must be {FACE_COUNT_MIN:,} to {FACE_COUNT_MAX:,} (got {faces})."
    if len(encode_params(params)) > MODEL_PARAMS_LIMIT:
        return f"The model parameters exceed the gateway's {MODEL_PARAMS_LIMIT} bytes."
    return None


def encode_params(params: Mapping[str, object]) -> str:
    """``model_params`` as compact JSON (the multipart field; the JSON body nests it)."""
    return json.dumps(dict(params), separators=(",", ":"), sort_keys=True)


def describe(model: str, seed: int | None, params: Mapping[str, object] | None = None) -> str:
    """One line for the task list: model, seed and parameters."""
    parts = [model]
    if seed is not None:
        parts.append(f"seed {seed}")
    for key, value in (params or {}).items():
        parts.append(f"{key} {value}")
    return " · ".join(parts)


def task_options(model: str | None, params: dict[str, object] | None) -> dict[str, object]:
    """add_task's optional ``model`` and ``model_params`` (left out when not given)."""
    options: dict[str, object] = {}
    if model:
        options["model"] = model
    if params:
        options["model_params"] = dict(params)
    return options


def variants_format(fmt: str) -> str:
    """The format of a ZIP of ``fmt`` results: every variant of a task at once."""
    return fmt + VARIANTS_SUFFIX


def is_variants_format(fmt: str) -> bool:
    return fmt.endswith(VARIANTS_SUFFIX)


def member_format(fmt: str) -> str:
    """The format of one result: that of a ZIP's entries for a variants format."""
    return fmt.removesuffix(VARIANTS_SUFFIX)


def result_params(task_id: str, fmt: str) -> dict[str, str]:
    """get_result's query for a result format (a mesh model's GLB has no format to choose;
    a variants format asks for the ZIP of them all)."""
    if is_variants_format(fmt):
        return {**result_params(task_id, member_format(fmt)), "all": "true"}
    if fmt == GLB_FORMAT:  # a mesh model's result is its GLB: no splat format to choose
        return {"id": task_id}
    params = {"id": task_id, "format": fmt}
    if fmt == "ply":
        params["compress"] = "0"
    return params
