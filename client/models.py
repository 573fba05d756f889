# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client's values: what to generate, the settings a job runs with, its phases and
the events it reports. Plain data, no I/O, no bpy, no httpx: every other client
module (and the add-on's main-thread code) imports them from here.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from . import generation
from .errors import GatewayError
from .folders import default_user_folder
from .status import GatewayState, TaskStatus

SPLAT_FORMATS = ("ply", "spz")
"""The formats a splat task may be downloaded in (the preference's choice)."""
SINGLE_FORMATS = (*SPLAT_FORMATS, generation.GLB_FORMAT)
RESULT_FORMATS = (*SINGLE_FORMATS, *map(generation.variants_format, SINGLE_FORMATS))
"""The formats of a result file: GLB comes only from the mesh models, ``*.zip`` holds
every variant of a task (``spz.zip``: a ZIP of SPZ files)."""
DEFAULT_CACHE_BYTES = 2 * 1024**3
DEFAULT_MAX_DOWNLOAD_BYTES = 1024**3


class Phase(enum.StrEnum):
    SUBMITTING = "submitting"
    WAITING_SLOT = "waiting_slot"
    """The account runs as many tasks as it may: held here, sent when a slot frees."""
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    PARTIAL = "partial"
    DOWNLOADING = "downloading"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_PHASES = frozenset({Phase.READY, Phase.FAILED, Phase.CANCELLED})

_PHASE_OF_STATE = {
    GatewayState.NO_RESULT: Phase.QUEUED,
    GatewayState.IN_PROGRESS: Phase.IN_PROGRESS,
    GatewayState.PARTIAL_RESULT: Phase.PARTIAL,
    GatewayState.SUCCESS: Phase.DOWNLOADING,
    GatewayState.FAILURE: Phase.FAILED,
}


def phase_of(status: TaskStatus) -> Phase:
    """The job phase a gateway status means."""
    return _PHASE_OF_STATE[status.state]


def progress_message(status: TaskStatus) -> str:
    """What the user reads while a task is on the gateway's side."""
    if status.state is GatewayState.NO_RESULT:
        return "Waiting in the gateway's queue"
    if status.state is GatewayState.IN_PROGRESS:
        return "Generating"
    if status.state is GatewayState.PARTIAL_RESULT:
        return f"{status.results} result(s) ready, waiting for the other workers"
    return "Downloading the result"


def input_problem(has_prompt: bool, has_image: bool) -> str | None:
    """The gateway takes a prompt or an image, never both or neither: say which is wrong."""
    if has_prompt and has_image:
        return "Give either a prompt or an image, not both: the gateway refuses both at once."
    if not has_prompt and not has_image:
        return "Enter a prompt or choose an image to generate from."
    return None


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: a prompt or an image, never both."""

    prompt: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_name: str = ""
    image_mime: str = ""
    seed: int | None = None
    """Sent as is; None (or -1) draws one here before sending (``with_seed``)."""
    model: str = generation.DEFAULT_MODEL
    model_params: dict[str, object] | None = field(default=None, hash=False)
    """Sent as the JSON object ``model_params`` (404-mesh-v2's pipeline, texture, faces)."""
    variants: bool = False
    """Download every worker's result (a ZIP, once the task is done), not only the first."""

    def validate(self) -> None:
        has_prompt = bool(self.prompt and self.prompt.strip())
        problem = (
            input_problem(has_prompt, bool(self.image))
            or generation.model_problem(self.model, has_prompt=has_prompt)
            or generation.params_problem(self.model, self.model_params)
            or (generation.seed_problem(self.seed) if self.seed is not None else None)
        )
        if problem:
            raise GatewayError(problem)

    def with_seed(self) -> GenerationRequest:
        """This request with a seed of its own: a random one is drawn here, never left to
        the gateway (which never says which it chose), so the result can be made again."""
        if self.seed is not None and self.seed != generation.RANDOM_SEED:
            return self
        return dataclasses.replace(self, seed=generation.draw_seed())

    def download_format(self, preferred: str) -> str:
        """The format of this task's download: the model dictates GLB for meshes, else the
        preference's splat format; the ZIP of them all with ``variants``."""
        if generation.is_mesh_model(self.model):
            fmt = generation.GLB_FORMAT
        elif preferred in SPLAT_FORMATS:
            fmt = preferred
        else:
            raise GatewayError(f"A splat task cannot be downloaded as {preferred!r}.")
        return generation.variants_format(fmt) if self.variants else fmt

    @property
    def kind(self) -> str:
        return "image" if self.image else "prompt"


@dataclass(frozen=True)
class JobSettings:
    """A snapshot of the preferences a job runs with (taken on the main thread)."""

    base_url: str
    api_key: str = field(repr=False)
    timeout_s: float = 30.0
    deadline_s: float = 600.0
    poll_interval_s: float = 1.0
    result_format: str = "ply"
    http2: bool = True
    download_on_partial: bool = False
    """Download as soon as one worker succeeded instead of waiting for Success."""
    user_folder: str = field(default_factory=lambda: str(default_user_folder()))
    """Journal, result cache and partial downloads live here. In Blender:
    ``bpy.utils.extension_path_user(__package__, create=True)``."""
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    cache_max_bytes: int = DEFAULT_CACHE_BYTES


@dataclass(frozen=True)
class JobEvent:
    """One change of a job, as plain values. READY carries the parsed result in payload
    and the cached file in ``result_path``."""

    job_id: str
    """The runner's local id of the job (never a gateway task id)."""
    phase: Phase
    task_id: str | None = None
    """The gateway's id of the task, once add_task answered."""
    results: int = 0
    message: str = ""
    payload: object = field(default=None, repr=False)
    result_bytes: int = 0
    result_path: str = ""

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES
