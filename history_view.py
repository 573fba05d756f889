# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The History panel's state on the main thread: its rows and their thumbnails' previews.

One ``HistoryService`` (``history/service.py``) per loaded add-on reads the rows
and makes thumbnails on worker threads. A timer, registered with the add-on,
asks it to refresh when the journal or the cache changed (two ``stat`` calls a
second), loads finished thumbnails into a ``bpy.utils.previews`` collection and
redraws the sidebar; the panel only reads. Scripts, which no timer serves while
they run, call ``sync``.
"""

from __future__ import annotations

import logging

import bpy
import bpy.utils.previews

from . import preferences
from .history.rows import HistoryRow
from .history.service import HistoryService
from .redraw import redraw_3d_views

log = logging.getLogger(__name__)

TICK_IDLE_S = 1.0
TICK_BUSY_S = 0.2

_previews: bpy.utils.previews.ImagePreviewCollection | None = None
_service: HistoryService | None = None


def service() -> HistoryService:
    """The History's worker for the add-on's user folder (made on first use)."""
    global _service
    if _service is None:
        _service = HistoryService(preferences.user_folder())
    return _service


def rows() -> list[HistoryRow]:
    """The rows as last read, newest first (nothing read yet: empty); drawing only."""
    return _service.rows() if _service is not None else []


def problem(task_id: str) -> str:
    """Why the thumbnail of ``task_id`` could not be made ("" when nothing went wrong)."""
    return _service.problems.get(task_id, "") if _service is not None else ""


def preview(task_id: str) -> bpy.types.ImagePreview | None:
    return _previews.get(task_id) if _previews is not None else None


def preview_id(task_id: str) -> int:
    """The icon id of a row's thumbnail; 0 while it is being made (or in background mode,
    where Blender has no icons)."""
    found = preview(task_id)
    return found.icon_id if found is not None else 0


def _load(task_id: str, path: str) -> None:
    if _previews is None:
        return
    if task_id in _previews:
        del _previews[task_id]
    _previews.load(task_id, path, "IMAGE", True)


def forget(task_id: str) -> None:
    """A removed result: its preview and row go now."""
    if _previews is not None and task_id in _previews:
        del _previews[task_id]
    if _service is not None:
        _service.drop(task_id)
    redraw_3d_views()


def apply_changes() -> bool:
    """Load the thumbnails made since the last call into the previews (main thread);
    True when something changed."""
    if _service is None:
        return False
    changed, made = _service.take_changes()
    shown = {row.task_id: row for row in _service.rows()}
    for task_id in made:
        if task_id in shown:
            _load(task_id, shown[task_id].thumbnail)
    if changed and _previews is not None:
        for row in shown.values():
            if row.has_thumbnail and row.task_id not in _previews:
                _load(row.task_id, row.thumbnail)
    return changed or bool(made)


def sync(timeout: float = 60.0) -> bool:
    """Read the rows and make their thumbnails now, and wait (scripts, background mode);
    False when that took longer than ``timeout``."""
    history = service()
    history.refresh(force=True)
    done = history.wait(timeout)
    apply_changes()
    redraw_3d_views()
    return done


def tick() -> float | None:
    """The timer: refresh when the journal or the cache changed, load new previews."""
    try:
        history = service()
        history.refresh()
        if apply_changes():
            redraw_3d_views()
        return TICK_BUSY_S if history.busy() else TICK_IDLE_S
    except Exception:  # never let the timer die: the History would freeze
        log.exception("gen404: updating the History failed")
        return TICK_IDLE_S


def register() -> None:
    global _previews
    _previews = bpy.utils.previews.new()
    # The first tick comes after loading: no file I/O in register().
    bpy.app.timers.register(tick, first_interval=TICK_IDLE_S, persistent=True)


def unregister() -> None:
    global _previews, _service
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    if _service is not None:
        _service.shutdown()
        _service = None
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
