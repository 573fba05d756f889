# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The gateway's prompt rules, checked before anything is sent."""

from __future__ import annotations

import re

MIN_LENGTH = 3
MAX_LENGTH = 384
_ALLOWED = re.compile(r"[A-Za-z0-9 .,'():;/?!+%-]")


def prompt_problem(prompt: str) -> str | None:
    """What is wrong with ``prompt`` for the gateway, in words; None when it is fine."""
    text = prompt.strip()
    if len(text) < MIN_LENGTH:
        return f"The prompt is too short: use at least {MIN_LENGTH} characters."
    if len(text) > MAX_LENGTH:
        return (
            f"The prompt is too long ({len(text)} characters): shorten it to {MAX_LENGTH} or fewer."
        )
    bad = sorted({ch for ch in text if not _ALLOWED.fullmatch(ch)})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        return (
            f"The prompt contains characters the gateway refuses: {shown}. "
            "Use ASCII letters (A-Z, a-z: no accents), digits, spaces and "
            ". , ' ( ) : ; / ? ! + % - only."
        )
    return None
