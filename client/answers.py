# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading the gateway's answers: bodies within a cap, JSON, and what escapes a request.

Everything here turns a hostile or broken answer into a GatewayError (or Cancelled):
a body is unpacked a bounded piece at a time and read no further than its cap, a
JSON answer nested deeper than Python goes is "not JSON", and an exception the
HTTP libraries let out over a server's odd value is a retryable GatewayError.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx

from .bodies import UnreadableBody, unpacked
from .deadlines import bounded
from .errors import PREFS_HINT, Cancelled, GatewayError, error_from_response, server_message
from .transport import H2Error, size_text


@contextlib.contextmanager
def failures(
    host: str,
    doing: str,
    end: float,
    cancel: threading.Event | None,
    transport_error: Callable[[BaseException, str], GatewayError],
) -> Iterator[None]:
    """Bound the block's network I/O by ``end`` and ``cancel``; turn what escapes
    into Cancelled or a GatewayError (an answer too odd to read included)."""
    allowed = end - time.monotonic()
    try:
        with bounded(end, cancel):
            yield
    except (httpx.HTTPError, H2Error) as exc:
        if cancel is not None and cancel.is_set():
            raise Cancelled from None
        error = transport_error(exc, doing)
        if time.monotonic() >= end:
            error = GatewayError(
                f"The gateway at {host} did not answer within "
                f"{round(max(allowed, 0.0), 1):g} s while {doing}: check your connection, "
                "or try again later.",
                retryable=True,
                unsent=error.unsent,
            )
        raise error from exc
    except (ValueError, RecursionError, OverflowError, LookupError) as exc:
        # the HTTP libraries choking on a server's odd value (a header, a frame)
        raise GatewayError(
            f"The gateway at {host} sent an answer the add-on cannot read while "
            f"{doing} ({type(exc).__name__}): try again later.",
            retryable=True,
        ) from exc


def body_pieces(response: httpx.Response, host: str, doing: str) -> Iterator[bytes]:
    """The body, unpacked a bounded piece at a time (see bodies.py)."""
    encoding = response.headers.get("content-encoding", "")
    try:
        yield from unpacked(response.iter_raw(), encoding)
    except UnreadableBody as exc:
        raise GatewayError(
            f"The gateway at {host} sent an answer the add-on cannot read while "
            f"{doing} ({exc}): try again later.",
            retryable=True,
        ) from None


def read_body(
    response: httpx.Response, limit: int, host: str, doing: str, *, refuse: bool
) -> bytes:
    """At most ``limit`` unpacked bytes of the body, reading no further. Past it:
    GatewayError when ``refuse``, else the first ``limit`` bytes (an error page)."""
    parts: list[bytes] = []
    size = 0
    try:
        for piece in body_pieces(response, host, doing):
            if size + len(piece) > limit:
                if refuse:
                    raise GatewayError(
                        f"The gateway at {host} sent an answer larger than "
                        f"{size_text(limit)} while {doing}: it may be misbehaving; "
                        "try again later.",
                        retryable=True,
                    )
                parts.append(piece[: limit - size])
                break
            parts.append(piece)
            size += len(piece)
    except GatewayError:
        if refuse:
            raise  # an error page that cannot be unpacked still says its status
    return b"".join(parts)


def json_answer(
    response: httpx.Response, body: bytes, host: str, secret: str, *, retryable: bool
) -> object:
    """The decoded JSON of ``body``, or GatewayError quoting its start (key masked)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python goes
        content_type = response.headers.get("content-type", "")
        snippet = server_message(body, content_type, secret=secret)
        raise GatewayError(
            f"The gateway at {host} sent an answer that is not JSON "
            f"({snippet[:120] or 'empty'}): "
            "it may be down or behind a proxy; try again later.",
            status_code=response.status_code,
            retryable=retryable,
        ) from None


def status_error(response: httpx.Response, body: bytes, secret: str) -> GatewayError:
    """The GatewayError of a non-200 answer (see errors.error_from_response)."""
    return error_from_response(
        response.status_code,
        body,
        response.headers.get("content-type", ""),
        retry_after=response.headers.get("retry-after"),
        secret=secret,
    )


def cut_short(host: str, got: int, declared: int) -> GatewayError:
    return GatewayError(
        f"The download from {host} was cut short ({got} of {declared} bytes): try again.",
        retryable=True,
    )


def too_large(size: int, limit: int) -> GatewayError:
    return GatewayError(
        f"The result ({size_text(size)} or more) is larger than the download limit of "
        f"{size_text(limit)}: raise the limit in {PREFS_HINT} if you trust the gateway."
    )
