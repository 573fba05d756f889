# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Long text in a panel or popup: wrapped between words, never clipped. Drawing only."""

from __future__ import annotations

import textwrap
from typing import Any


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken between words."""
    return textwrap.wrap(text, max(12, width), break_on_hyphens=False) or [""]


def draw_wrapped(
    layout: Any, text: str, width: int, *, icon: str = "NONE", alert: bool = False
) -> None:
    """``text`` in full, over as many lines as it needs (a label clips at the panel edge)."""
    col = layout.column(align=True)
    col.alert = alert
    for i, line in enumerate(wrap(text, width)):
        col.label(text=line, icon=icon if i == 0 or icon == "NONE" else "BLANK1")
