# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Task states as the gateway reports them on /get_status."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .errors import GatewayError, redact


class GatewayState(enum.Enum):
    NO_RESULT = "NoResult"
    IN_PROGRESS = "InProgress"
    PARTIAL_RESULT = "PartialResult"
    SUCCESS = "Success"
    FAILURE = "Failure"


@dataclass(frozen=True)
class TaskStatus:
    """One /get_status answer. ``results``: successes so far (at least 1 for SUCCESS)."""

    state: GatewayState
    results: int = 0
    reason: str = ""

    @property
    def done(self) -> bool:
        return self.state in (GatewayState.SUCCESS, GatewayState.FAILURE)


_PARTIAL = re.compile(r"PartialResult\((\d{1,6})\)")
"""Up to three workers run a task: a count of more than six digits is no count."""
REASON_LIMIT = 300

_SIMPLE = {
    "NoResult": GatewayState.NO_RESULT,
    "InProgress": GatewayState.IN_PROGRESS,
    "Success": GatewayState.SUCCESS,
    "Failure": GatewayState.FAILURE,
}


def parse_status(payload: object, *, secret: str = "") -> TaskStatus:
    """The TaskStatus of a decoded /get_status body; unknown fields are ignored.

    Anything odd is a (retryable) GatewayError, never another exception; ``secret``
    (the API key) is masked in what it quotes."""
    if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
        raise GatewayError(
            "The gateway sent a task status the add-on cannot read (no 'status' field).",
            retryable=True,
        )
    raw: str = payload["status"].strip()
    if raw in _SIMPLE:
        state = _SIMPLE[raw]
        if state is GatewayState.FAILURE:
            reason = payload.get("reason")
            text = reason.strip() if isinstance(reason, str) and reason.strip() else ""
            text = redact(" ".join(text.split()), secret)
            if len(text) > REASON_LIMIT:
                text = text[: REASON_LIMIT - 1].rstrip() + "…"
            return TaskStatus(state, reason=text or "no reason given")
        return TaskStatus(state, results=1 if state is GatewayState.SUCCESS else 0)
    match = _PARTIAL.fullmatch(raw)
    if match:
        return TaskStatus(GatewayState.PARTIAL_RESULT, results=int(match.group(1)))
    raw = redact(raw, secret)
    shown = raw if len(raw) <= 60 else raw[:59] + "…"
    raise GatewayError(  # retryable: a passing glitch, or a state the next poll leaves
        f"The gateway reported an unknown task status {shown!r}: the add-on may need an update.",
        retryable=True,
    )
