# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every write of the task journal, in one place (the client layer).

The job runner records a task when add_task answered and follows it (state,
results, message); the main thread reports an import through
``JobRunner.mark_imported`` and reads earlier tasks through
``JobRunner.earlier_tasks``, which land here. Writes are best effort: a journal
that cannot be written is logged and said once (``problem``), never a failed task.

Another Blender on the same user folder shares the journal: each task is followed
(resumed, imported) by the one process that owns it (``claim``); tasks another live
Blender owns are left out of ``earlier_tasks``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .errors import GatewayError
from .generation import encode_params
from .journal import CANCELLED, SUBMITTED, JournalEntry, close_journal, open_journal
from .models import GenerationRequest, JobSettings

log = logging.getLogger(__name__)

_WRITE_ERRORS = (GatewayError, ValueError, TypeError, OSError)


class HeldElsewhere(GatewayError):
    """Another running Blender follows this task: this one leaves it alone."""


@dataclass(frozen=True)
class EarlierTasks:
    """What the journal holds from earlier sessions, after forgetting old ended tasks."""

    ready: list[JournalEntry] = field(default_factory=list)
    """Downloaded, not yet imported, the file still cached."""
    unfinished: list[JournalEntry] = field(default_factory=list)
    """Still on the gateway's side: resume polling them."""
    problem: str = ""


def record_submitted(
    task_id: str,
    settings: JobSettings,
    request: GenerationRequest | None,
    *,
    label: str,
    submitted_at: float,
    cancelled: bool = False,
) -> bool:
    """Write the task id down before polling: from here on a crash loses nothing."""
    entry = JournalEntry(
        task_id=task_id,
        base_url=settings.base_url,
        kind=request.kind if request else "prompt",
        label=label,
        prompt=(request.prompt or "").strip() if request and not request.image else "",
        image_name=request.image_name if request and request.image else "",
        fmt=settings.result_format,
        state=CANCELLED if cancelled else SUBMITTED,
        submitted_at=submitted_at,
    )
    if request is not None:  # what "Generate Again" and the row need: seed, model, params
        entry.model = request.model
        entry.seed = request.seed if request.seed is not None else entry.seed
        entry.model_params = encode_params(request.model_params) if request.model_params else ""
    try:
        saved = open_journal(settings.user_folder).record(entry)
    except _WRITE_ERRORS as exc:
        log.warning("gen404: task %s cannot be journalled: %s", task_id, exc)
        return False
    if not saved:
        log.warning("gen404: task %s is not journalled", task_id)
    return saved


def record_change(user_folder: str, task_id: str, **changes: object) -> None:
    """Follow a journalled task (state, results, message, result path)."""
    try:
        open_journal(user_folder).update(task_id, **changes)
    except _WRITE_ERRORS as exc:
        log.warning("gen404: journal update of task %s failed: %s", task_id, exc)


def record_imported(user_folder: str, task_id: str, object_name: str) -> None:
    """The task's result is in a scene now: it no longer waits to be imported."""
    record_change(user_folder, task_id, imported=True, object_name=object_name)


def claim(user_folder: str, task_id: str) -> None:
    """Make a journalled task this process's to resume or import; raises HeldElsewhere
    when another live Blender follows it (or the journal stays locked)."""
    journal = open_journal(user_folder)
    try:
        if journal.claim(task_id):
            return
    except OSError as exc:
        raise HeldElsewhere(
            f"The task journal is busy ({exc.strerror or exc}): try again in a moment."
        ) from exc
    entry = journal.get(task_id)
    pid = f" (process {entry.owner_pid})" if entry and entry.owner_pid else ""
    raise HeldElsewhere(f"Another Blender{pid} is following this task; it imports it there.")


def release(user_folder: str) -> None:
    """This process stops following its tasks (Blender quits, the add-on is disabled):
    another Blender may take them over."""
    close_journal(user_folder)


def earlier_tasks(user_folder: str, *, now: float | None = None) -> EarlierTasks:
    """Forget old ended tasks, then list those to import and those to resume, leaving
    out the tasks another live Blender follows."""
    journal = open_journal(user_folder)
    try:
        journal.prune(now=time.time() if now is None else now)
    except _WRITE_ERRORS as exc:
        log.warning("gen404: pruning the task journal failed: %s", exc)
    ready = [e for e in journal.ready_to_import() if not journal.held_elsewhere(e)]
    unfinished = [e for e in journal.unfinished() if not journal.held_elsewhere(e)]
    return EarlierTasks(ready, unfinished, journal.problem or "")
