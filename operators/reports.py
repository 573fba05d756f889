# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.report and gen404.task_details: messages where an artist sees them.

A timer (the session's pump) has no operator to call ``self.report`` on, and a
report made by an operator that a script calls synchronously stays with that
script (Blender prints it and clears it). Reports of a *modal* operator belong to
the window manager, which shows them in the status bar and the Info log. So
``gen404.report``, invoked in a window, reports from its first modal tick and
ends; executed without a window (background mode, ``bpy`` module) it reports at
once, which Blender prints to the terminal.
"""

from __future__ import annotations

from typing import Any

import bpy

from .. import session
from ..client.task_rows import RowState
from ..panels.text import draw_wrapped
from .returns import OperatorReturn

LEVELS = [
    ("INFO", "Info", "Something ended well"),
    ("WARNING", "Warning", "Something needs attention"),
    ("ERROR", "Error", "Something failed"),
]


class GEN404_OT_report(bpy.types.Operator):
    """Show a message of the 404 add-on in the status bar and the Info log"""

    bl_idname = "gen404.report"
    bl_label = "Report (404 Gen)"
    bl_description = "Show a message of the 404 add-on in the status bar and the Info log"
    bl_options = {"INTERNAL"}

    level: bpy.props.EnumProperty(name="Level", items=LEVELS, default="INFO")  # type: ignore[valid-type]
    message: bpy.props.StringProperty(name="Message")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        self.report({self.level}, self.message)
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        wm: Any = context.window_manager
        self._timer = wm.event_timer_add(0.0, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        wm: Any = context.window_manager
        wm.event_timer_remove(self._timer)
        self.report({self.level}, self.message)
        return {"FINISHED"}


WHAT_TO_DO = {
    RowState.FAILED: "Generate again from the sidebar; the message above says what to change.",
    RowState.PAUSED: "Fix what the message says, then press Resume: the task is not sent again.",
}


class GEN404_OT_task_details(bpy.types.Operator):
    """Show the whole message of a 404 task, and what to do about it"""

    bl_idname = "gen404.task_details"
    bl_label = "Task Details (404 Gen)"
    bl_description = "Show the whole message of this 404 task, and what to do about it"
    bl_options = {"INTERNAL"}

    job_id: bpy.props.StringProperty(name="Task")  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorReturn:
        wm: Any = context.window_manager
        return wm.invoke_popup(self, width=460)  # type: ignore[no-any-return]

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        entry = session.get_session().entries.get(self.job_id)
        if entry is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"404 Gen: {entry.label}: {entry.status_text()}")
        return {"FINISHED"}

    def draw(self, context: bpy.types.Context) -> None:
        draw_details(self.layout, self.job_id)


def draw_details(layout: Any, job_id: str) -> None:
    entry = session.get_session().entries.get(job_id)
    if entry is None:
        layout.label(text="This task is no longer in the list")
        return
    layout.label(text=entry.label, icon="FONT_DATA" if entry.kind == "prompt" else "IMAGE_DATA")
    draw_wrapped(layout, entry.status_text(), 70, alert=entry.state is RowState.FAILED)
    hint = WHAT_TO_DO.get(entry.state)
    if hint:
        draw_wrapped(layout, hint, 70, icon="INFO")
    if entry.task_id:
        layout.label(text=f"Task {entry.task_id} on {entry.host}")
