# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The History: one row per result the task journal knows, across sessions (no bpy).

Rows are the journal's finished tasks, newest first: those with a result (ready,
whether imported or not) and the failed ones (shown greyed). The journal keeps a
task 7 days after it last changed and at most 500 (``journal.prune``), the cache
keeps results within its size budget: a row says whether its file is still there.
What the History's buttons do without Blender is here too: find a task, the
request that generates it again, the folder to open, and removing a result.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..client.endpoints import check_task_id, is_uuid
from ..client.errors import GatewayError
from ..client.generation import GLB_FORMAT, RANDOM_SEED, describe
from ..client.journal import FAILED, READY, JournalEntry, open_journal
from ..client.models import GenerationRequest
from ..client.task_rows import params_from_json
from .thumbnails import thumbnail_path, thumbnails_folder

SHOWN_STATES = (READY, FAILED)


class HistoryError(GatewayError):
    """A History action that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class HistoryRow:
    """One result of any session, as plain values (nothing of Blender's)."""

    task_id: str
    label: str
    kind: str
    """``prompt`` or ``image``."""
    prompt: str
    image_name: str
    model: str
    seed: int | None
    """None when unknown (a task of an older add-on, sent with a random seed)."""
    model_params: dict[str, object] | None = field(hash=False, compare=False)
    submitted_at: float
    fmt: str
    failed: bool
    message: str
    imported: bool
    object_name: str
    result_file: str
    cached: bool
    """The result file is still in the cache: Import Again needs no network."""
    thumbnail: str
    has_thumbnail: bool

    @property
    def date_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.submitted_at))

    @property
    def settings_text(self) -> str:
        return describe(self.model, self.seed, self.model_params)

    @property
    def is_mesh(self) -> bool:
        return self.fmt == GLB_FORMAT

    @property
    def again_problem(self) -> str | None:
        """Why this row cannot be generated again from the journal alone (None: it can)."""
        return image_not_kept(self.label, self.image_name) if self.kind == "image" else None


def image_not_kept(label: str, image_name: str) -> str:
    named = f" ({image_name})" if image_name and image_name != label else ""
    return (
        f"The image of '{label}'{named} is not kept after the session it was sent in "
        "(only its name is): choose it again as the sidebar's Image to generate from it."
    )


def row_of(entry: JournalEntry, user_folder: str | os.PathLike[str]) -> HistoryRow:
    """The row of a journalled task (checks the cache and the thumbnail on disk)."""
    result = open_journal(user_folder).result_file(entry)
    thumbnail = thumbnail_path(user_folder, entry.task_id)
    return HistoryRow(
        task_id=entry.task_id,
        label=entry.label or entry.prompt or entry.image_name or entry.task_id,
        kind=entry.kind,
        prompt=entry.prompt,
        image_name=entry.image_name,
        model=entry.model,
        seed=None if entry.seed == RANDOM_SEED else entry.seed,
        model_params=params_from_json(entry.model_params),
        submitted_at=entry.submitted_at,
        fmt=entry.fmt,
        failed=entry.state == FAILED,
        message=entry.message,
        imported=entry.imported,
        object_name=entry.object_name,
        result_file=str(result),
        cached=entry.state == READY and result.is_file(),
        thumbnail=str(thumbnail),
        has_thumbnail=thumbnail.is_file(),
    )


def read_rows(user_folder: str | os.PathLike[str]) -> list[HistoryRow]:
    """Every finished task of every session with a result or a failure, newest first."""
    entries = open_journal(user_folder).entries()
    shown = [e for e in entries if e.state in SHOWN_STATES]
    return [row_of(e, user_folder) for e in reversed(shown)]


def find_entry(user_folder: str | os.PathLike[str], task_id: str = "") -> JournalEntry:
    """The journal's entry of ``task_id`` (empty: the newest result); HistoryError if none."""
    journal = open_journal(user_folder)
    if not task_id:
        finished = [e for e in journal.entries() if e.state in SHOWN_STATES]
        if not finished:
            raise HistoryError("The History is empty: no result has been generated yet.")
        return finished[-1]
    try:
        task_id = check_task_id(task_id)
    except GatewayError as exc:
        raise HistoryError(str(exc)) from exc
    entry = journal.get(task_id)
    if entry is None:
        raise HistoryError(
            f"No task {task_id} in the History: it was removed, or forgotten a week after it ended."
        )
    return entry


def cached_result(user_folder: str | os.PathLike[str], entry: JournalEntry) -> Path:
    """The entry's result in the cache; HistoryError saying why it cannot be imported."""
    label = entry.label or entry.task_id
    if entry.state != READY:
        why = f": {entry.message}" if entry.message else ""
        raise HistoryError(f"'{label}' has no result to import (it {entry.state}{why}).")
    path = open_journal(user_folder).result_file(entry)
    if not path.is_file():
        raise HistoryError(
            f"The result of '{label}' is no longer in the cache (removed to keep the cache "
            "within its size in the add-on's preferences, or deleted): it cannot be imported "
            "again. Generate Again makes a new one (a new, paid task)."
        )
    return path


def again_request(entry: JournalEntry) -> GenerationRequest:
    """The request that generates a journalled prompt task again: prompt, model,
    parameters and seed as they were. HistoryError for an image task (its image is
    not kept) or an entry without a prompt."""
    label = entry.label or entry.task_id
    if entry.kind == "image":
        raise HistoryError(image_not_kept(label, entry.image_name))
    if not entry.prompt.strip():
        raise HistoryError(f"The journal holds no prompt for '{label}': type it in the sidebar.")
    return GenerationRequest(
        prompt=entry.prompt,
        seed=None if entry.seed == RANDOM_SEED else entry.seed,
        model=entry.model,
        model_params=params_from_json(entry.model_params),
    )


def result_folder(user_folder: str | os.PathLike[str]) -> Path:
    """The folder to show for a result: the result cache, or the user folder before
    anything was downloaded."""
    results = open_journal(user_folder).results
    return results if results.is_dir() else Path(user_folder)


def removal_warning(entry: JournalEntry) -> str | None:
    """What to confirm before removing ``entry``: a result that was never imported is
    paid for and exists nowhere else (None: nothing to ask)."""
    if entry.state != READY or entry.imported:
        return None
    label = entry.label or entry.task_id
    return f"'{label}' was paid for and is in no scene: this deletes its only copy."


def remove(user_folder: str | os.PathLike[str], task_id: str) -> list[Path]:
    """Forget a finished task and delete its cached result and thumbnail; the files that
    went. HistoryError for a task still running on the gateway (cancel it first)."""
    entry = find_entry(user_folder, task_id)
    if entry.active:
        raise HistoryError(
            f"'{entry.label or entry.task_id}' is still running: cancel it in the Tasks list "
            "first (removing it would lose a paid task)."
        )
    journal = open_journal(user_folder)
    journal.forget(entry.task_id)
    gone = []
    for path in (journal.result_file(entry), thumbnail_path(user_folder, entry.task_id)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            gone.append(path)
    return gone


def sweep_thumbnails(user_folder: str | os.PathLike[str], keep: set[str]) -> int:
    """Delete thumbnails of tasks the journal no longer knows; how many went."""
    removed = 0
    with contextlib.suppress(OSError):
        for path in thumbnails_folder(user_folder).glob("*.png"):
            if is_uuid(path.stem) and path.stem not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    return removed
