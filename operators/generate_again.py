# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.generate_again: send a finished task once more, seed and all."""

from __future__ import annotations

import bpy

from .. import preferences, session
from ..client.errors import GatewayError
from ..client.task_rows import RowState
from .generate import can_send, wait_property
from .returns import OperatorReturn


class GEN404_OT_generate_again(bpy.types.Operator):
    """Generate a finished 404 task again: same prompt or image, model, parameters and seed"""

    bl_idname = "gen404.generate_again"
    bl_label = "Generate Again (404 Gen)"
    bl_description = (
        "Send a finished task of this session again with the same prompt or image, model, "
        "parameters and seed (a new, paid task); from a menu, the latest finished one"
    )
    bl_options = {"REGISTER"}

    job_id: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Task", description="The finished task to repeat; empty: the latest one"
    )
    wait: wait_property()  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not can_send(cls, context):
            return False
        if not any(e.can_generate_again for e in session.get_session().entries.values()):
            cls.poll_message_set("No finished task of this session to generate again")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> OperatorReturn:
        tasks = session.get_session()
        key = self.job_id
        if not key:
            done = [e for e in tasks.entries.values() if e.can_generate_again]
            key = done[-1].job_id if done else ""
        try:
            row = tasks.entries.get(key)
            if row is not None and not row.can_generate_again:
                raise GatewayError(
                    f"'{row.label}' has not finished: only a finished task can be generated again."
                )
            settings = preferences.job_settings(context)
            entry = tasks.generate_again(key, settings)
        except GatewayError as exc:
            self.report({"ERROR"}, f"404 Gen: {exc}")
            return {"CANCELLED"}
        if not self.wait:
            self.report(
                {"INFO"}, f"404 Gen: generating '{entry.label}' again ({entry.settings_text})"
            )
            return {"FINISHED"}
        entry = tasks.wait(entry.job_id, settings.deadline_s + 120.0)
        if entry.state is RowState.DONE:
            self.report({"INFO"}, f"404 Gen: '{entry.object_name}' is in the scene")
            return {"FINISHED"}
        self.report({"ERROR"}, f"404 Gen: {entry.status_text()}")
        return {"CANCELLED"}
