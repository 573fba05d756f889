# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The progress of running tasks in Blender's status bar, set by the session's pump.

Main thread only. Without a window (background mode, the ``bpy`` module) nothing is
drawn, but the line is still kept in ``current`` so scripts and tests can read it.
How each task ended is said by the end reports (``session.report_ended``), not here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import bpy

from .client.task_rows import TaskEntry

PREFIX = "404 Gen: "
MAX_SHOWN = 3
"""Tasks named one by one; more are counted."""

current: str | None = None
"""The line last shown (None: the status bar is Blender's own)."""


def status_line(entries: Iterable[TaskEntry], now: float | None = None) -> str | None:
    """One line for the running tasks, e.g. ``404 Gen: 'robot' In progress (12 s)``."""
    running = [e for e in entries if not e.finished]
    if not running:
        return None
    now = time.monotonic() if now is None else now
    parts = [f"'{e.label}' {e.status_text()} ({e.elapsed(now):.0f} s)" for e in running]
    shown = " · ".join(parts[:MAX_SHOWN])
    more = len(parts) - MAX_SHOWN
    if more > 0:
        shown += f" · {more} more"
    count = f"{len(running)} tasks: " if len(running) > 1 else ""
    return PREFIX + count + shown


def show(text: str | None) -> None:
    """Put ``text`` in the status bar of every window (None gives it back to Blender).
    Does nothing when the line has not changed; never raises."""
    global current
    if text == current:
        return
    current = text
    if bpy.app.background:
        return
    wm: Any = bpy.context.window_manager
    for window in wm.windows if wm is not None else ():
        try:
            with bpy.context.temp_override(window=window, workspace=window.workspace):
                window.workspace.status_text_set(text)
        except (RuntimeError, AttributeError, TypeError):
            pass  # a window closing as we draw: the next tick tries again
