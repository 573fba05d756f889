# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""GatewayError: a failure talking to the gateway, worded for the user.

Every message says what happened and what to do, and carries the server's own
words when it sent any. No message ever contains the API key.
"""

from __future__ import annotations

import email.utils
import http
import json
import re
import time

PREFS_HINT = "Preferences → Add-ons → 404 Gen"
ENV_HINT = f"{PREFS_HINT} (or GEN404_GATEWAY_URL)"
MESSAGE_LIMIT = 300


class GatewayError(Exception):
    """A user-facing error; ``status_code`` is the HTTP status when there was one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
        unsent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        """Seconds the server asked us to wait (Retry-After), if it said."""
        self.retryable = retryable
        """A passing fault (5xx, 429, timeout, broken connection): asking again may work."""
        self.unsent = unsent
        """The request provably never reached the server (no connection, no TLS session),
        so even a paid call (add_task) can be sent again without risking a double charge."""

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class TaskOver(GatewayError):
    """The task can come to nothing more: the gateway reported it failed or has no
    result for it, or its result cannot be read. Only this ends a submitted task as
    failed in the journal; any other fault leaves it to resume."""


class TaskDeadlineError(TaskOver):
    """The task did not finish within the add-on's own deadline (the gateway never says)."""


class Cancelled(Exception):
    """The job was cancelled (or the runner is stopping) while a worker was busy."""


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx are passing faults; 501 and 505 say "never", not "not now"."""
    return status in (408, 429) or (500 <= status < 600 and status not in (501, 505))


def _key_pattern(secret: str) -> re.Pattern[str]:
    """``secret`` in any case; a UUID key also without its hyphens."""
    forms = {secret.strip()}
    if len(secret.strip()) == 36 and secret.count("-") == 4:
        forms.add(secret.strip().replace("-", ""))
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.I)


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` masked, whatever its case.

    Mask before cutting a text short: a cut can leave part of a key nothing matches."""
    if not secret or not secret.strip():
        return text
    return _key_pattern(secret).sub("<api key>", text)


def server_message(body: bytes, content_type: str = "", *, secret: str = "") -> str:
    """The server's own words: JSON ``message``, else the text (HTML tags dropped), with
    ``secret`` masked, then trimmed."""
    text = body.decode("utf-8", "replace").strip()
    if "json" in content_type or text.startswith("{"):
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
            payload = None
        if isinstance(payload, dict):
            found = payload.get("message") or payload.get("error")
            if isinstance(found, str) and found.strip():
                text = found
    if "html" in content_type or text.startswith("<"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
    text = redact(" ".join(text.split()), secret)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1].rstrip() + "…"
    return text


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(
    status: int,
    body: bytes,
    content_type: str = "",
    *,
    retry_after: str | None = None,
    secret: str = "",
) -> GatewayError:
    """The GatewayError for a non-200 answer, keeping the server's message."""
    msg = server_message(body, content_type, secret=secret)
    if not msg:
        try:
            msg = http.HTTPStatus(status).phrase
        except ValueError:
            msg = "no message"
    wait = parse_retry_after(retry_after)
    detail = msg.removeprefix("Bad request: ")
    if status == 401 and "missing" in msg.lower():
        text = f"No API key was sent ({msg}): enter your key in {PREFS_HINT}."
    elif status == 401:
        text = f"The gateway refused the API key ({msg}): check it in {PREFS_HINT}."
    elif status == 400 and "api key" in msg.lower():
        text = (
            f"The API key is not valid ({detail}): a key looks like "
            f"123e4567-e89b-12d3-a456-426614174000. Check it in {PREFS_HINT}."
        )
    elif status == 400:
        text = f"The gateway rejected the request: {detail}"
    elif status == 402:
        text = f"Your 404 balance is used up ({msg}): top it up at 404.xyz, then try again."
    elif status == 404:
        text = (
            f"The gateway has no result for this task ({msg}). It keeps results only "
            "about 5 minutes: generate again."
        )
    elif status == 413:
        text = f"The upload is too large ({msg}): use an image under 2 MiB, e.g. a JPEG or WebP."
    elif status == 429:
        when = f"{wait:.0f} s" if wait is not None else "a minute"
        text = f"The gateway is limiting requests ({msg}): wait {when} and try again."
    elif status == 503:
        text = f"The gateway is busy ({msg}): try again in a few minutes."
    elif 500 <= status < 600:
        text = f"The gateway had a problem (HTTP {status}: {msg}): try again later."
    else:
        text = f"The gateway answered HTTP {status}: {msg}"
    kind = TaskOver if status == 404 else GatewayError
    return kind(text, status_code=status, retry_after=wait, retryable=is_retryable_status(status))
