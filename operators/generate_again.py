# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""gen404.generate_again: send a finished task once more, seed and all."""

from __future__ import annotations

import bpy

from .. import preferences, session
from ..client.errors import GatewayError
from .options import SendingOperator, task_property, wait_property
from .outcome import failed, started
from .returns import OperatorReturn


class GEN404_OT_generate_again(SendingOperator):
    """Send a finished task of this session again with the same prompt or image, model, parameters
    and seed (a new, paid task); from a menu, the latest finished one"""

    bl_idname = "gen404.generate_again"
    bl_label = "Generate Again (404 Gen)"

    job_id: task_property("The finished task to repeat; empty: the latest one")  # type: ignore[valid-type]
    wait: wait_property()  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not super().poll(context):
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
            settings = preferences.sending_settings(context)
            entry = tasks.generate_again(key, settings)
        except GatewayError as exc:
            return failed(self, exc)
        news = f"generating '{entry.label}' again ({entry.settings_text})"
        return started(self, entry, self.wait, settings.deadline_s + 120.0, news)
