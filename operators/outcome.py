# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""How an operator that started a task or could not ends: the report and what it returns."""

from __future__ import annotations

from typing import Any

from .. import session
from ..client.task_rows import RowState, TaskEntry
from .returns import OperatorReturn


def failed(op: Any, problem: Exception | str) -> OperatorReturn:
    """Nothing was done, or the task failed: say why (the message names what to do)."""
    op.report({"ERROR"}, f"404 Gen: {problem}")
    return {"CANCELLED"}


def done(op: Any, news: str) -> OperatorReturn:
    """The operator did what it was asked: say what."""
    op.report({"INFO"}, f"404 Gen: {news}")
    return {"FINISHED"}


def started(op: Any, entry: TaskEntry, wait: bool, timeout: float, news: str) -> OperatorReturn:
    """Report a task that was started (``news``), or wait for it (scripts) and report how
    it ended."""
    if not wait:
        return done(op, news)
    entry = session.get_session().wait(entry.job_id, timeout)
    if entry.state is RowState.DONE:
        return done(op, f"'{entry.object_name}' is in the scene")
    return failed(op, entry.status_text())
