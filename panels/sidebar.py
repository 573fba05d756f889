"""The 3D Viewport sidebar tab "404": input, Generate, and this session's tasks.

Drawing only: no side effects here.
"""

from __future__ import annotations

import time
from typing import Any

import bpy

from .. import preferences, properties, session
from ..client.prompts import prompt_problem
from ..client.task_rows import RowState


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def draw_blockers(layout: Any, context: bpy.types.Context) -> bool:
    """Say what stops generation and how to fix it; True when nothing does."""
    ok = True
    if not bpy.app.online_access:
        box = layout.box()
        box.label(text="Online access is disabled", icon="ERROR")
        box.label(text="Enable Preferences → System → Network → Allow Online Access")
        box.operator("screen.userpref_show", text="Open Preferences").section = "SYSTEM"
        ok = False
    if not preferences.api_key(context):
        box = layout.box()
        box.label(text="No API key set", icon="ERROR")
        box.label(text="Enter it in Preferences → Add-ons → 404 Gen")
        box.label(text="or set GEN404_API_KEY")
        op = box.operator("preferences.addon_show", text="Open Add-on Preferences")
        op.module = preferences.ADDON_ID
        ok = False
    return ok


class VIEW3D_PT_gen404(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "404"
    bl_label = "404 Gen"

    def draw(self, context: bpy.types.Context) -> None:
        # Layout calls are keyed by strings (properties, operator ids, icons) that no
        # type checker can follow: the UI code treats the layout as Any.
        layout: Any = self.layout
        state = context.window_manager.gen404  # type: ignore[union-attr]
        ready = draw_blockers(layout, context)

        layout.row().prop(state, "input_mode", expand=True)
        if state.input_mode == "TEXT":
            layout.prop(state, "prompt", text="")
            problem = prompt_problem(state.prompt) if state.prompt.strip() else None
            if problem:
                layout.label(text=problem, icon="ERROR")
            can_generate = ready and bool(state.prompt.strip()) and problem is None
        else:
            layout.prop(state, "image_path", text="")
            icon_id = properties.image_preview_id(bpy.path.abspath(state.image_path))
            if icon_id:
                layout.template_icon(icon_value=icon_id, scale=6.0)
            can_generate = ready and bool(state.image_path.strip())

        row = layout.row()
        row.scale_y = 1.4
        row.enabled = can_generate
        op = row.operator("gen404.generate", text="Generate", icon="PLAY")
        if state.input_mode == "TEXT":
            op.prompt = state.prompt
        else:
            op.image_path = state.image_path


class VIEW3D_PT_gen404_tasks(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "404"
    bl_label = "Tasks"
    bl_parent_id = "VIEW3D_PT_gen404"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        entries = list(session.get_session().entries.values())
        problem = session.get_session().journal_problem
        if problem:
            layout.label(text=problem, icon="ERROR")
        if not entries:
            layout.label(text="No tasks yet in this session")
            return
        now = time.monotonic()
        for entry in reversed(entries):
            box = layout.box()
            row = box.row()
            icon = "FONT_DATA" if entry.kind == "prompt" else "IMAGE_DATA"
            row.label(text=entry.label, icon=icon)
            row.label(text=_elapsed(entry.elapsed(now)))
            if not entry.finished:
                cancel = row.operator("gen404.cancel_task", text="", icon="X")
                cancel.job_id = entry.job_id
            elif entry.state.resume_label is not None:
                resume = row.operator(
                    "gen404.resume_task", text=entry.state.resume_label, icon="RECOVER_LAST"
                )
                resume.job_id = entry.job_id
            status = box.row()
            status.alert = entry.state is RowState.FAILED
            status.label(text=entry.status_text())
        if any(e.finished for e in entries):
            layout.operator("gen404.clear_tasks", icon="TRASH")


classes = (VIEW3D_PT_gen404, VIEW3D_PT_gen404_tasks)
