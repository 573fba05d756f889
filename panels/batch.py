# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sidebar's Batch mode: a text of prompts, the model and seed, "Generate N".

Drawing only. The text is chosen by name (prop_search over the file's texts) and
checked on each redraw as the operator checks it, so a bad line shows before
anything can be sent.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..client.errors import GatewayError
from ..client.generation import RANDOM_SEED
from ..client.prompt_list import MAX_PROMPTS, read_batch
from ..operators.generate_batch import take_batch_choices
from .choices import draw_choices
from .text import draw_wrapped

HINT = "One prompt per line (blank lines are skipped)"
MAX_TEXT_LINES = 1000
"""A longer text is refused without reading it on every redraw."""


def batch_problem(state: Any) -> tuple[int, str | None, bool]:
    """(prompts in the batch, why it cannot be sent, whether that is an error rather
    than a hint); (count, None, False) when it can."""
    if not state.batch_text:
        return 0, "Choose a text: write the prompts in the Text Editor", False
    text = bpy.data.texts.get(state.batch_text)
    if text is None:
        return 0, f"There is no text named '{state.batch_text}'", True
    if len(text.lines) > MAX_TEXT_LINES:
        return 0, f"The text has {len(text.lines)} lines: at most {MAX_PROMPTS} prompts", True
    try:
        seed = RANDOM_SEED if state.random_seed else state.seed
        requests = read_batch(text.as_string(), state.model, seed)
    except GatewayError as exc:
        return 0, str(exc), True
    return len(requests), None, False


def draw_batch(layout: Any, state: Any, ready: bool, width: int) -> None:
    """The Batch mode below the mode switch; ``ready``: nothing blocks sending."""
    layout.prop_search(state, "batch_text", bpy.data, "texts", text="", icon="TEXT")
    layout.label(text=HINT, icon="INFO")
    draw_choices(layout, state, fit=False)
    count, problem, is_error = batch_problem(state)
    if problem and is_error:
        draw_wrapped(layout, problem, width, icon="ERROR", alert=True)
    elif count and not state.random_seed:
        layout.label(text=f"Seeds {state.seed} to {state.seed + count - 1}, in prompt order")
    row = layout.row()
    row.scale_y = 1.4
    row.enabled = ready and problem is None  # offline, no key: the operator's poll says why
    text = f"Generate {count}" if count else "Generate Batch"
    op = row.operator("gen404.generate_batch", text=text, icon="PLAY")
    take_batch_choices(op, state)
    if ready and problem and not is_error:
        layout.label(text=problem, icon="INFO")
