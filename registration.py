"""Register and unregister every class, in order and in reverse (imports bpy)."""

from __future__ import annotations

import bpy

from . import operators, preferences, properties, session
from .panels import menus, sidebar

_classes = (
    preferences.GEN404_AddonPreferences,
    properties.GEN404_SessionProperties,
    *operators.classes,
    *menus.classes,
    *sidebar.classes,
)


def register() -> None:
    for cls in _classes:
        bpy.utils.register_class(cls)
    properties.register()
    menus.register()
    # Earlier sessions' tasks resume on the first tick, not here: no I/O in register().
    bpy.app.timers.register(session.first_tick, first_interval=0.0)


def unregister() -> None:
    if bpy.app.timers.is_registered(session.first_tick):
        bpy.app.timers.unregister(session.first_tick)
    session.shutdown()
    menus.unregister()
    properties.unregister()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
