# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rows of the sidebar's task list: their states and what each says. No bpy here.

A row follows its job's client ``Phase`` while the job runs, then takes states of
its own that the runner knows nothing about: being imported, done, or (from the
journal of an earlier session) ready to import or paused. One enum holds them all
so panels, operators and tests compare members, never strings. It lives in
client/ beside the phases it extends, where the no-bpy rule is already enforced,
so the rows and their wording are tested in plain Python.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field

from .generation import DEFAULT_MODEL, describe
from .models import GenerationRequest, Phase

WORKER_RESULTS = 3
"""Up to three gateway workers run each task."""


class RowState(enum.StrEnum):
    """Every state of a task row. A client phase keeps its value here."""

    SUBMITTING = Phase.SUBMITTING.value
    WAITING_SLOT = Phase.WAITING_SLOT.value
    """The account has no free slot: held here, sent when one of its tasks ends."""
    QUEUED = Phase.QUEUED.value
    IN_PROGRESS = Phase.IN_PROGRESS.value
    PARTIAL = Phase.PARTIAL.value
    DOWNLOADING = Phase.DOWNLOADING.value
    IMPORTING = "importing"
    """The worker delivered the result (``Phase.READY``); the main thread builds it."""
    DONE = "done"
    FAILED = Phase.FAILED.value
    CANCELLED = Phase.CANCELLED.value
    READY_TO_IMPORT = "ready_to_import"
    """From the journal: downloaded in an earlier session, not yet in a scene."""
    PAUSED = "paused"
    """From the journal: unfinished, but it cannot resume now (offline, no key)."""

    @classmethod
    def of_phase(cls, phase: Phase) -> RowState:
        """The row state for a job's phase: a ready result is being imported."""
        return cls.IMPORTING if phase is Phase.READY else cls(phase.value)

    @property
    def finished(self) -> bool:
        """Nothing runs for the row any more (though the user may resume it)."""
        return self in ENDED

    @property
    def resume_label(self) -> str | None:
        """The row's resume button text; None for a row that has no such button."""
        return RESUME_LABELS.get(self)


ENDED = frozenset(
    {
        RowState.DONE,
        RowState.FAILED,
        RowState.CANCELLED,
        RowState.READY_TO_IMPORT,
        RowState.PAUSED,
    }
)
WAITING = frozenset({RowState.READY_TO_IMPORT, RowState.PAUSED})
"""Journalled rows that wait for the user; clearing finished rows keeps them."""
DOWNLOADED = frozenset({RowState.READY_TO_IMPORT, RowState.DONE})
"""Rows whose result is in the cache: resuming them needs no network."""
RESUME_LABELS = {
    RowState.READY_TO_IMPORT: "Import",
    RowState.PAUSED: "Resume",
    RowState.DONE: "Import Again",
}

_WORDS = {
    RowState.SUBMITTING: "Submitting",
    RowState.WAITING_SLOT: "Waiting for a free slot",
    RowState.QUEUED: "Queued",
    RowState.IN_PROGRESS: "In progress",
    RowState.DOWNLOADING: "Downloading",
    RowState.IMPORTING: "Importing",
    RowState.DONE: "Done",
    RowState.READY_TO_IMPORT: "Ready to import",
    RowState.CANCELLED: "Cancelled",
}


def status_text(state: RowState, results: int = 0, message: str = "") -> str:
    """The status line of a row in ``state``."""
    if state is RowState.PARTIAL:
        return f"{results} of {WORKER_RESULTS} results"
    if state is RowState.FAILED:
        return f"Failed: {message}"
    if state is RowState.PAUSED:
        return f"Paused: {message}"
    return _WORDS[state]


@dataclass
class TaskEntry:
    """One row of the task list. Plain values only: no Blender ID references."""

    job_id: str
    """The row's key: the runner's job id while a job runs for it (a row read from the
    journal has a key of its own until it resumes); the gateway's id is ``task_id``."""
    label: str
    kind: str  # "prompt" or "image"
    host: str
    started: float = field(default_factory=time.monotonic)
    state: RowState = RowState.SUBMITTING
    task_id: str = ""
    results: int = 0
    message: str = ""
    ended: float | None = None
    object_name: str = ""
    placeholder: str = ""
    """The name of the mesh the result is fitted to ("": none); a name, not an ID
    reference, so it survives undo and file loads while the task runs."""
    grid_cell: object = field(default=None, repr=False)
    """A batch's task: its cell in the batch's grid (``scene.grid_layout.Cell``)."""
    up_axis: str = "Y"
    seed: int | None = None
    """The seed the task was sent with (drawn by the add-on when the artist asked for random)."""
    model: str = DEFAULT_MODEL
    model_params: dict[str, object] | None = None
    request: GenerationRequest | None = field(default=None, repr=False)
    """What was sent (image bytes included): "Generate Again" sends it once more."""

    @property
    def settings_text(self) -> str:
        """Model, seed and parameters on one line."""
        return describe(self.model, self.seed, self.model_params)

    @property
    def can_generate_again(self) -> bool:
        """A finished task whose request is known can be sent again, seed and all."""
        return self.state is RowState.DONE and self.request is not None

    @property
    def finished(self) -> bool:
        return self.state.finished

    def status_text(self) -> str:
        return status_text(self.state, self.results, self.message)

    def elapsed(self, now: float | None = None) -> float:
        end = self.ended if self.ended is not None else (now or time.monotonic())
        return max(0.0, end - self.started)

    def follow(self, phase: Phase, task_id: str | None, results: int, message: str) -> None:
        """Take on what a worker event says: a ready result becomes IMPORTING."""
        if task_id:
            self.task_id = task_id
        self.results = max(self.results, results)
        self.message = message
        self.state = RowState.of_phase(phase)


def result_properties(entry: TaskEntry) -> dict[str, str | int | float]:
    """The custom properties of a result object: what made it, never the key."""
    properties: dict[str, str | int | float] = {
        "task_id": entry.task_id,
        "gateway": entry.host,
        entry.kind: entry.label,
        "model": entry.model,
    }
    if entry.seed is not None:
        properties["seed"] = entry.seed
    if entry.model_params:
        properties["model_params"] = json.dumps(entry.model_params, sort_keys=True)
    return properties


def params_from_json(text: str) -> dict[str, object] | None:
    """Model parameters journalled as JSON text (None when there are none)."""
    try:
        params = json.loads(text) if text else None
    except ValueError:
        return None
    return params if isinstance(params, dict) else None
