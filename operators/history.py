# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The History's operators: import again, generate again, copy the task id, open the
folder, remove, refresh. Each takes a task id (empty: the newest result), so scripts
and F3 reach them as the panel's buttons do; each resolves its inputs, calls one
function and reports."""

from __future__ import annotations

from typing import Any

import bpy

from .. import history_view, preferences, session
from ..client.endpoints import host_of
from ..client.errors import GatewayError
from ..client.journal import JournalEntry
from ..client.task_rows import DOWNLOADED, RowState, TaskEntry
from ..history import rows as history
from .options import Gen404Operator, SendingOperator, call_argument, wait_property
from .outcome import done, failed, started
from .returns import OperatorReturn

IMPORT_TIMEOUT_S = 300.0


def session_rows(task_id: str) -> list[TaskEntry]:
    """This session's task-list rows of a task, newest last."""
    return [r for r in session.get_session().entries.values() if r.task_id == task_id]


def kept_request(task_id: str) -> TaskEntry | None:
    """The finished row of this session whose request (image included) is still held."""
    kept = [r for r in session_rows(task_id) if r.can_generate_again]
    return kept[-1] if kept else None


def again_problem(row: history.HistoryRow) -> str | None:
    """Why the History cannot generate ``row`` again (an earlier session's image)."""
    return None if kept_request(row.task_id) else row.again_problem


class HistoryOperator(Gen404Operator):
    """The base of the History's operators on one task."""

    task_id: call_argument(  # type: ignore[valid-type]
        "Task ID", "The task of the History to act on; empty: the newest result"
    )

    def entry(self) -> JournalEntry:
        """The task's History entry (raises a GatewayError saying why there is none)."""
        return history.find_entry(preferences.user_folder(), self.task_id)


class GEN404_OT_history_import(HistoryOperator):
    """Import a result of any session again from the local cache, as a new object: no network,
    nothing is paid again; from a menu, the newest result"""

    bl_idname = "gen404.history_import"
    bl_label = "Import Again from History (404 Gen)"
    menu_icon = "IMPORT"

    wait: wait_property()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        tasks.start()
        try:
            entry = self.entry()
            history.cached_result(preferences.user_folder(), entry)
            rows = session_rows(entry.task_id)
            if any(not r.finished for r in rows):
                raise history.HistoryError(f"'{entry.label}' is being imported already.")
            ready = [r for r in rows if r.state in DOWNLOADED]
            row = ready[-1] if ready else tasks.add_from_journal(entry, RowState.DONE, "")
            row = tasks.resume(row.job_id)
            if row.state is RowState.PAUSED:
                raise history.HistoryError(row.message)
        except GatewayError as exc:
            return failed(self, exc)
        return started(self, row, self.wait, IMPORT_TIMEOUT_S, f"importing '{row.label}'")


class GEN404_OT_history_generate_again(HistoryOperator, SendingOperator):
    """Send a task of any session again with the same prompt, model, parameters and seed (a new,
    paid task); an image is kept only in the session it was sent in. From a menu, the newest
    result"""

    bl_idname = "gen404.history_generate_again"
    bl_label = "Generate Again from History (404 Gen)"
    menu_icon = "FILE_REFRESH"

    wait: wait_property()  # type: ignore[valid-type]

    @classmethod
    def description(cls, context: bpy.types.Context, properties: Any) -> str:
        """An earlier session's image task: the tooltip of its greyed button says why."""
        for row in history_view.rows():
            if row.task_id == properties.task_id:
                return again_problem(row) or cls.bl_description
        return cls.bl_description

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        try:
            entry = self.entry()
            settings = preferences.sending_settings(context)
            kept = kept_request(entry.task_id)
            if kept is not None:  # this session's task: its image is still in memory
                row = tasks.generate_again(kept.job_id, settings)
            else:
                request = history.again_request(entry)
                host = host_of(settings.base_url)
                row = tasks.submit(request, settings, entry.label, entry.kind, host)
        except GatewayError as exc:
            return failed(self, exc)
        timeout = settings.deadline_s + 120.0
        return started(self, row, self.wait, timeout, f"generating again '{row.label}'")


class GEN404_OT_history_copy_id(HistoryOperator):
    """Copy a result's 404 task id to the clipboard (for 404's support, or a script); from a menu,
    the newest result's"""

    bl_idname = "gen404.history_copy_id"
    bl_label = "Copy Task ID from History (404 Gen)"
    menu_icon = "COPYDOWN"

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        try:
            entry = self.entry()
        except GatewayError as exc:
            return failed(self, exc)
        context.window_manager.clipboard = entry.task_id  # type: ignore[union-attr]
        return done(self, f"copied the task id {entry.task_id}")


class GEN404_OT_history_open_folder(Gen404Operator):
    """Show the folder of downloaded results in the system's file browser (each result is named
    after its task id)"""

    bl_idname = "gen404.history_open_folder"
    bl_label = "Open Results Folder (404 Gen)"
    menu_icon = "FILE_FOLDER"

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        folder = history.result_folder(preferences.user_folder())
        bpy.ops.wm.path_open(filepath=str(folder))
        return done(self, f"opened {folder}")


class GEN404_OT_history_remove(HistoryOperator):
    """Forget a finished task and delete its downloaded result and thumbnail (objects already in a
    scene stay); from a menu, the newest result"""

    bl_idname = "gen404.history_remove"
    bl_label = "Remove from History (404 Gen)"
    menu_icon = "TRASH"

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        """A result never imported is paid for and exists nowhere else: ask first."""
        try:
            entry = self.entry()
        except GatewayError as exc:
            return failed(self, exc)
        self.task_id = entry.task_id
        warning = history.removal_warning(entry)
        if warning is None:
            return self.execute(context)
        wm: Any = context.window_manager
        return wm.invoke_confirm(  # type: ignore[no-any-return]
            self,
            event,
            title="Remove a Result Never Imported?",
            message=warning,
            confirm_text="Remove",
            icon="WARNING",
        )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        try:
            entry = self.entry()
            if any(not r.finished for r in session_rows(entry.task_id)):
                raise history.HistoryError(
                    f"'{entry.label}' is running or being imported: wait for it, or cancel it."
                )
            history.remove(preferences.user_folder(), entry.task_id)
        except GatewayError as exc:
            return failed(self, exc)
        for row in session_rows(entry.task_id):  # its rows in the Tasks list go with it
            tasks.entries.pop(row.job_id, None)
        history_view.forget(entry.task_id)
        return done(self, f"removed '{entry.label}' from the History")


class GEN404_OT_history_refresh(Gen404Operator):
    """Read the History again (other Blenders on this computer add to it) and make missing
    thumbnails in the background; from a script with wait, until they are made"""

    bl_idname = "gen404.history_refresh"
    bl_label = "Refresh History (404 Gen)"
    menu_icon = "FILE_REFRESH"

    wait: wait_property(  # type: ignore[valid-type]
        "Block until the rows are read and the thumbnails made (scripts)"
    )
    timeout: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Timeout", description="Stop waiting after this many seconds", default=120.0
    )

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        if not self.wait:
            history_view.service().refresh(force=True)
            return {"FINISHED"}
        if not history_view.sync(self.timeout):
            self.report({"WARNING"}, f"404 Gen: thumbnails still being made at {self.timeout:g} s")
            return {"CANCELLED"}
        return {"FINISHED"}


classes = (
    GEN404_OT_history_import,
    GEN404_OT_history_generate_again,
    GEN404_OT_history_copy_id,
    GEN404_OT_history_open_folder,
    GEN404_OT_history_remove,
    GEN404_OT_history_refresh,
)
