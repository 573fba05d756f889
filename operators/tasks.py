# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Operators on the task list: cancel, resume or import, clear, and wait."""

from __future__ import annotations

import time
from typing import Any

import bpy

from .. import session
from ..client.task_rows import RowState
from .options import Gen404Operator, task_property
from .outcome import done, failed
from .returns import OperatorReturn


class GEN404_OT_cancel_task(Gen404Operator):
    """Stop a running 404 task; from a menu, stop every running one"""

    bl_idname = "gen404.cancel_task"
    bl_label = "Cancel Tasks (404 Gen)"

    job_id: task_property("The task to cancel; empty cancels every running task")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        if self.job_id:
            tasks.cancel(self.job_id)
            return {"FINISHED"}
        return done(self, f"cancelled {tasks.cancel_all()} task(s)")


RESUME_DESCRIPTIONS = {
    RowState.READY_TO_IMPORT: (
        "Import this result, downloaded in an earlier session, from the local cache: "
        "no network, nothing is paid again"
    ),
    RowState.DONE: (
        "Import this result once more from the local cache, as a new object: "
        "no network, nothing is paid again"
    ),
    RowState.PAUSED: (
        "Ask the gateway again about this paused task and import it when it is ready; "
        "it is never submitted (or paid) again"
    ),
}


class GEN404_OT_resume_task(Gen404Operator):
    """Import results downloaded in an earlier session and resume paused 404 tasks (never submits
    them again); from a menu, all of them"""

    bl_idname = "gen404.resume_task"
    bl_label = "Resume Tasks (404 Gen)"

    job_id: task_property("The task to resume; empty resumes every waiting one")  # type: ignore[valid-type]

    @classmethod
    def description(cls, context: bpy.types.Context, properties: Any) -> str:
        """One button, three jobs: the tooltip says what this row's button does."""
        entry = session.get_session().entries.get(properties.job_id)
        if entry is not None and entry.state in RESUME_DESCRIPTIONS:
            return RESUME_DESCRIPTIONS[entry.state]
        return cls.bl_description

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        tasks.start()
        keys = [self.job_id] if self.job_id else [e.job_id for e in tasks.waiting()]
        rows = [tasks.resume(key) for key in keys if key in tasks.entries]
        paused = [row for row in rows if row.state is RowState.PAUSED]
        if paused:
            return failed(self, paused[0].status_text())
        return done(self, f"resumed {len(rows)} task(s)")


class GEN404_OT_clear_tasks(Gen404Operator):
    """Remove finished, failed and cancelled tasks from the 404 task list"""

    bl_idname = "gen404.clear_tasks"
    bl_label = "Clear Finished Tasks (404 Gen)"

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        session.get_session().clear_finished()
        return {"FINISHED"}


WAIT_TICK_S = 0.25


class GEN404_OT_wait_all(Gen404Operator):
    """Wait until every running 404 task has ended and been imported. From a menu or F3 it shows
    progress and Esc stops the waiting (not the tasks); from a script it blocks, for background
    mode"""

    bl_idname = "gen404.wait_all"
    bl_label = "Wait for Tasks (404 Gen)"

    timeout: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Timeout",
        description="Give up waiting after this many seconds",
        default=600.0,
        min=0.0,
    )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        if tasks.wait_all(self.timeout):
            return {"FINISHED"}
        self.report(
            {"ERROR"},
            f"404 Gen: {len(tasks.active())} task(s) still running after {self.timeout:g} s",
        )
        return {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        """From the UI: wait in a modal handler, so Blender stays live and Esc reaches us."""
        tasks = session.get_session()
        tasks.start()
        running = len(tasks.active())
        if not running:
            return done(self, "no task is running")
        wm: Any = context.window_manager
        self._total, self._end = running, time.monotonic() + self.timeout
        self._timer = wm.event_timer_add(WAIT_TICK_S, window=context.window)
        wm.progress_begin(0, running)
        wm.modal_handler_add(self)
        _show_waiting(context, running, running)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        return wait_step(self, context, event.type)


def wait_step(op: Any, context: bpy.types.Context, event_type: str) -> OperatorReturn:
    """One event of the modal wait: Esc stops waiting, a tick checks the tasks."""
    running = len(session.get_session().active())
    if event_type == "ESC":
        _end_wait(op, context)
        op.report({"INFO"}, f"404 Gen: stopped waiting; {running} task(s) keep running")
        return {"CANCELLED"}
    if event_type != "TIMER":
        return {"PASS_THROUGH"}  # the artist keeps working while we wait
    if not running:
        _end_wait(op, context)
        return done(op, "every task has ended")
    if time.monotonic() >= op._end:
        _end_wait(op, context)
        op.report({"WARNING"}, f"404 Gen: {running} task(s) still running; stopped waiting")
        return {"CANCELLED"}
    op._total = max(op._total, running)
    wm: Any = context.window_manager
    wm.progress_update(op._total - running)
    _show_waiting(context, running, op._total)
    return {"PASS_THROUGH"}


def _show_waiting(context: bpy.types.Context, running: int, total: int) -> None:
    workspace: Any = context.workspace
    if workspace is not None:
        workspace.status_text_set(
            f"404 Gen: waiting for {running} of {total} task(s) — Esc stops waiting "
            "(the tasks keep running)"
        )


def _end_wait(op: Any, context: bpy.types.Context) -> None:
    wm: Any = context.window_manager
    if op._timer is not None:
        wm.event_timer_remove(op._timer)
        op._timer = None
    wm.progress_end()
    workspace: Any = context.workspace
    if workspace is not None:
        workspace.status_text_set(None)
