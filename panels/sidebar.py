# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The 3D Viewport sidebar tab "404": input, Generate, and this session's tasks.

Drawing only: no side effects here.
"""

from __future__ import annotations

import time
from typing import Any

import bpy

from .. import preferences, properties, session
from ..client.generation import model_problem
from ..client.prompts import MAX_LENGTH, MIN_LENGTH, prompt_problem
from ..client.task_rows import RowState
from ..image_upload import path_problem
from ..operators.generate import take_choices
from .batch import draw_batch
from .choices import draw_choices
from .sidebar_tab import SidebarPanel, SidebarSubPanel
from .text import draw_wrapped

PROMPT_PLACEHOLDER = "Describe an object, e.g. mechanic robot"
IMAGE_PLACEHOLDER = "A PNG, JPEG or WebP image of one object"
DETAILS_STATES = frozenset({RowState.FAILED, RowState.PAUSED})
"""Rows whose message matters enough for a Details popup."""


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def line_width(context: bpy.types.Context) -> int:
    """About how many characters fit on a line of the sidebar (36 without a region)."""
    region = getattr(context, "region", None)
    prefs = getattr(context, "preferences", None)
    scale = prefs.system.ui_scale if prefs is not None else 1.0
    if region is None or region.width <= 1:
        return 36
    return max(16, int(region.width / (7.0 * scale)) - 4)


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


def input_problem(state: Any) -> tuple[str | None, bool]:
    """Why Generate cannot take the sidebar's input yet, and whether that is an error
    (a bad prompt or path) rather than a hint (nothing typed yet); (None, False) if it can."""
    if state.input_mode == "TEXT":
        problem = model_problem(state.model, has_prompt=True)
        if problem:
            return problem, True
        if not state.prompt.strip():
            return f"Type a prompt ({MIN_LENGTH} to {MAX_LENGTH} characters) to generate", False
        return prompt_problem(state.prompt), True
    if not state.image_path.strip():
        return "Choose an image to generate from", False
    return path_problem(state.image_path), True


class VIEW3D_PT_gen404(SidebarPanel):
    bl_label = "404 Gen"

    def draw(self, context: bpy.types.Context) -> None:
        # Layout calls are keyed by strings (properties, operator ids, icons) that no
        # type checker can follow: the UI code treats the layout as Any.
        layout: Any = self.layout
        state = context.window_manager.gen404  # type: ignore[union-attr]
        ready = draw_blockers(layout, context)
        width = line_width(context)

        layout.row().prop(state, "input_mode", expand=True)
        if state.input_mode == "BATCH":
            draw_batch(layout, state, ready, width)
            return
        if state.input_mode == "TEXT":
            layout.prop(state, "prompt", text="", placeholder=PROMPT_PLACEHOLDER)
        else:
            layout.prop(state, "image_path", text="", placeholder=IMAGE_PLACEHOLDER)
            icon_id = properties.image_preview_id(bpy.path.abspath(state.image_path))
            if icon_id:
                layout.template_icon(icon_value=icon_id, scale=6.0)
        draw_choices(layout, state)
        problem, is_error = input_problem(state)
        if problem and is_error:
            draw_wrapped(layout, problem, width, icon="ERROR", alert=True)

        row = layout.row()
        row.scale_y = 1.4
        row.enabled = ready and problem is None  # offline, no key: the operator's poll says why
        op = row.operator("gen404.generate", text="Generate", icon="PLAY")
        if state.input_mode == "TEXT":
            op.prompt = state.prompt
        else:
            op.image_path = state.image_path
        take_choices(op, state)
        if ready and problem and not is_error:
            layout.label(text=problem, icon="INFO")


def draw_task(layout: Any, entry: Any, now: float, width: int) -> None:
    """One row of the task list: what, how long, its button, and its whole message."""
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
    box.label(text=entry.settings_text)
    draw_wrapped(box, entry.status_text(), width, alert=entry.state is RowState.FAILED)
    if entry.can_generate_again:
        again = box.operator("gen404.generate_again", text="Generate Again", icon="FILE_REFRESH")
        again.job_id = entry.job_id
    if entry.state in DETAILS_STATES:
        details = box.operator("gen404.task_details", text="Details", icon="INFO")
        details.job_id = entry.job_id


class VIEW3D_PT_gen404_tasks(SidebarSubPanel):
    bl_label = "Tasks"

    def draw(self, context: bpy.types.Context) -> None:
        layout: Any = self.layout
        entries = list(session.get_session().entries.values())
        problem = session.get_session().journal_problem
        width = line_width(context)
        if problem:
            draw_wrapped(layout, problem, width, icon="ERROR")
        if not entries:
            layout.label(text="No tasks yet in this session")
            return
        now = time.monotonic()
        for entry in reversed(entries):
            draw_task(layout, entry, now, width)
        if any(e.finished for e in entries):
            layout.operator("gen404.clear_tasks", icon="TRASH")


classes = (VIEW3D_PT_gen404, VIEW3D_PT_gen404_tasks)
