# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Register and unregister every class, in order and in reverse (imports bpy)."""

from __future__ import annotations

import bpy

from . import history_view, operators, preferences, properties, session
from .panels import history, menus, object_panel, sidebar
from .scene import display

_classes = (
    preferences.GEN404_AddonPreferences,
    properties.GEN404_SessionProperties,
    *operators.classes,
    *menus.classes,
    *sidebar.classes,
    *history.classes,
    *object_panel.classes,
)


def register() -> None:
    for cls in _classes:
        bpy.utils.register_class(cls)
    properties.register()
    history_view.register()
    menus.register()
    # Earlier sessions' tasks resume on the first tick, not here: no I/O in register().
    bpy.app.timers.register(session.first_tick, first_interval=0.0)
    # Splat display groups saved by an older version are upgraded when a file loads,
    # and once for the file already open (bpy.data is off limits inside register()).
    bpy.app.handlers.load_post.append(display.upgrade_existing)
    bpy.app.timers.register(_upgrade_open_file, first_interval=0.0)


def _upgrade_open_file() -> None:
    display.upgrade_existing()


def unregister() -> None:
    if bpy.app.timers.is_registered(session.first_tick):
        bpy.app.timers.unregister(session.first_tick)
    if bpy.app.timers.is_registered(_upgrade_open_file):
        bpy.app.timers.unregister(_upgrade_open_file)
    if display.upgrade_existing in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(display.upgrade_existing)
    session.shutdown()
    menus.unregister()
    history_view.unregister()
    properties.unregister()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
