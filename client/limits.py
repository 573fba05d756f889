# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""The account's limits and billing, as the gateway answers them.

The gateway names them in a JSON body ``{"error": kind, "message": ...}`` (some
in text): each becomes an AccountLimitError whose ``kind`` tells the job what to
do, and whose message tells the artist what to do.

| status | kind | the job |
|---|---|---|
| 401 | ``login_required`` | stops: log in to 404 |
| 402 | ``insufficient_balance`` | stops, no retry: top up |
| 429 | ``concurrent_limit`` | waits "for a free slot", sends again when a task ends |
| 429 | ``daily_limit`` | stops at once: no more today |
| 503 | ``queue_full``, ``pricing_unavailable`` | sends again after a backoff |
"""

from __future__ import annotations

import json

from .errors import GatewayError, redact, server_message

LOGIN_REQUIRED = "login_required"
INSUFFICIENT_BALANCE = "insufficient_balance"
CONCURRENT_LIMIT = "concurrent_limit"
DAILY_LIMIT = "daily_limit"
QUEUE_FULL = "queue_full"
PRICING_UNAVAILABLE = "pricing_unavailable"
BUSY_KINDS = frozenset({QUEUE_FULL, PRICING_UNAVAILABLE})
"""The gateway refused for now (nothing was charged): sending again later is safe."""
ACCOUNT = "your 404 account at 404.xyz"


class AccountLimitError(GatewayError):
    """A refusal that names its kind (one of the constants above)."""

    def __init__(self, message: str, *, kind: str, status_code: int, retryable: bool) -> None:
        super().__init__(message, status_code=status_code, retryable=retryable)
        self.kind = kind


def error_kind(status: int, body: bytes) -> str | None:
    """The kind the gateway named in its answer, if any (JSON ``error``, or in the text)."""
    text = body[:4096].decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return payload["error"].strip().lower()
    lowered = text.lower()
    if status == 503 and "queue is full" in lowered:
        return QUEUE_FULL
    for kind in (PRICING_UNAVAILABLE, LOGIN_REQUIRED, CONCURRENT_LIMIT, DAILY_LIMIT):
        if kind in lowered:
            return kind
    return None


def account_error(status: int, body: bytes, *, secret: str = "") -> AccountLimitError | None:
    """The AccountLimitError for an answer about the account's limits; None for others."""
    kind = error_kind(status, body)
    said = redact(server_message(body, "application/json"), secret) or kind or ""
    if status == 401 and kind == LOGIN_REQUIRED:
        text = (
            f"The gateway asks this account to log in ({said}): log in to {ACCOUNT}, "
            "then generate again."
        )
        retryable = False
    elif status == 402 and kind in (INSUFFICIENT_BALANCE, None):
        text = (
            f"Your 404 balance is too low for this task ({said}): top it up in {ACCOUNT}, "
            "then generate again. Nothing was charged."
        )
        retryable = False
    elif status == 429 and kind == CONCURRENT_LIMIT:
        text = (
            f"Your 404 account runs as many tasks as it may at once ({said}): this one waits "
            "for a free slot and is sent when one of them ends."
        )
        retryable = False  # not the same request again now: the job waits for a slot
    elif status == 429 and kind == DAILY_LIMIT:
        text = (
            f"Your 404 account has reached today's limit ({said}): generate again tomorrow, "
            f"or raise the limit in {ACCOUNT}."
        )
        retryable = False
    elif status == 503 and kind in BUSY_KINDS:
        what = "task queue is full" if kind == QUEUE_FULL else "prices are not loaded yet"
        text = (
            f"The gateway is busy ({said}): its {what}. The add-on sends the task again "
            "after a pause, until its deadline; cancel it to try later instead."
        )
        retryable = True
    else:
        return None
    return AccountLimitError(
        text, kind=kind or INSUFFICIENT_BALANCE, status_code=status, retryable=retryable
    )
