# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""What several operators declare alike: the task they act on, ``wait`` for scripts, the
seed, their ``bl_options`` and tooltip, and the check of the operators that send a task.

Each factory is one property's whole definition, so an operator states which it
has in one line and a change to the wording reaches every operator that has it.
"""

from __future__ import annotations

from typing import Any

import bpy

from .. import preferences
from ..client.generation import RANDOM_SEED

WAIT_FOR_OBJECT = "Block until the object is in the scene (for scripts and background mode)"


def call_argument(name: str, description: str) -> Any:
    """A string that each call gives (a button, a script) and the next call never
    inherits: a menu entry without it gets the empty default."""
    return bpy.props.StringProperty(name=name, description=description, options={"SKIP_SAVE"})


def task_property(description: str) -> Any:
    """``job_id``: the key of a row of this session's task list."""
    return bpy.props.StringProperty(name="Task", description=description)


def wait_property(description: str = WAIT_FOR_OBJECT) -> Any:
    """``wait``: a script blocks until the work is done (no timer runs while it does)."""
    return bpy.props.BoolProperty(
        name="Wait", description=description, default=False, options={"SKIP_SAVE"}
    )


def seed_property(description: str) -> Any:
    """``seed`` of the operators that send: -1 (the default) draws one, which the result
    records; any other value is sent."""
    return bpy.props.IntProperty(name="Seed", description=description, default=RANDOM_SEED)


def can_send(cls: Any, context: bpy.types.Context) -> bool:
    """Offline or without a key nothing can be sent: a greyed button says why."""
    problem = preferences.blocker(context)
    if problem:
        cls.poll_message_set(problem)
        return False
    return True


class Gen404Operator(bpy.types.Operator):
    """The base of the operators an artist calls: registered, so each call shows in the
    Info editor's log. A base is never registered itself."""

    bl_options = {"REGISTER"}
    menu_icon = "NONE"
    """The icon of its entry in a menu that lists a family of operators."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """The docstring is the tooltip, as Blender makes it without ``bl_description``,
        but joined into one line: a long one wraps in the source, not in the tooltip. An
        operator whose tooltip is computed sets ``bl_description`` itself."""
        super().__init_subclass__(**kwargs)
        if "bl_description" not in cls.__dict__:
            cls.bl_description = " ".join((cls.__doc__ or "").split())


class SendingOperator(Gen404Operator):
    """The base of the operators that send a paid task: greyed when nothing can be sent."""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return can_send(cls, context)
