# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Below the gateway calls: TLS trust, one-at-a-time use of a shared HTTP/2 connection,
and transport failures in words a user can act on (and whether they may be retried).
"""

from __future__ import annotations

import collections
import contextlib
import os
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .deadlines import bound_transports
from .endpoints import url_hint
from .errors import Cancelled, GatewayError, redact

try:  # httpcore lets some of h2's own errors through (e.g. a body shorter than declared)
    from h2.exceptions import H2Error
except ImportError:  # no h2: HTTP/1.1 only, and nothing to catch

    class H2Error(Exception):  # type: ignore[no-redef]
        pass


TURN_WAIT_TIMEOUTS = 3
"""A request waits this many network timeouts for its turn on a shared HTTP/2
connection: the one before it may spend one connecting, one sending, one reading."""


CANCEL_CHECK_S = 0.25


class ConnectionTurns:
    """First come, first served use of one shared HTTP/2 connection.

    httpcore's synchronous HTTP/2 keeps one h2 state machine per connection and
    changes it from every thread using the connection without a common lock: a
    request's start (stream id, headers), a download's reading and acknowledging
    of its body, and the reading of the socket on behalf of all streams. Two
    threads at once can send frames out of order or twice, and one stream's read
    timeout or broken read marks the connection failed for every stream on it, an
    add_task waiting for its answer included (which is never sent again). So each
    step that touches the connection (a request up to its whole answer, a
    download's next piece, closing a response) takes a turn; waiters are served
    in order, so a long download cannot starve the others.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._waiting: collections.deque[object] = collections.deque()
        self._busy = False

    def acquire(self, timeout: float, cancel: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` for the turn; False when none came, or ``cancel`` was
        set (looked at every CANCEL_CHECK_S)."""
        me = object()
        end = time.monotonic() + timeout
        with self._cond:
            self._waiting.append(me)
            while self._busy or self._waiting[0] is not me:
                remaining = end - time.monotonic()
                if remaining <= 0 or (cancel is not None and cancel.is_set()):
                    self._waiting.remove(me)
                    self._cond.notify_all()  # the next in line may be first now
                    return False
                self._cond.wait(min(remaining, CANCEL_CHECK_S))
            self._waiting.popleft()
            self._busy = True
            return True

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    @contextlib.contextmanager
    def turn(self, timeout: float, busy: GatewayError) -> Iterator[None]:
        """Hold a turn for the block; raise ``busy`` when none came within ``timeout``."""
        if not self.acquire(timeout):
            raise busy
        try:
            yield
        finally:
            self.release()


@contextlib.contextmanager
def turn_of(
    turns: ConnectionTurns | None,
    host: str,
    wait: float,
    unsent: bool,
    *,
    wait_anyway: bool = False,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """A turn of ``turns`` for the block (none to take when ``turns`` is None).

    A turn not given within ``wait`` is a retryable error (``unsent`` when the request
    has not started); with ``wait_anyway`` (closing a response) the block runs
    regardless. Cancelled when ``cancel`` is set while waiting.
    """
    if turns is None:
        yield
        return
    got = turns.acquire(wait, cancel=cancel)
    if not got and cancel is not None and cancel.is_set() and not wait_anyway:
        raise Cancelled
    if not got and not wait_anyway:
        raise GatewayError(
            f"The connection to {host} stayed busy for {wait:g} s: try again.",
            retryable=True,
            unsent=unsent,  # then nothing of this request has left
        )
    try:
        yield
    finally:
        if got:
            turns.release()


def ssl_context() -> ssl.SSLContext:
    """A verifying TLS context trusting the system store, certifi, and SSL_CERT_FILE/DIR.

    httpx 0.28 with ``trust_env`` *replaces* its CA bundle with SSL_CERT_FILE; here
    the file is *added*, so a company proxy's CA (or a test CA) works without
    losing the public CAs the real gateway needs.
    """
    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass
    cafile = os.environ.get("SSL_CERT_FILE", "")
    capath = os.environ.get("SSL_CERT_DIR", "")
    try:
        if cafile and os.path.isfile(cafile):
            ctx.load_verify_locations(cafile=cafile)
        if capath and os.path.isdir(capath):
            ctx.load_verify_locations(capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise GatewayError(
            f"The certificates in SSL_CERT_FILE/SSL_CERT_DIR cannot be read ({exc}): "
            "fix or unset those environment variables."
        ) from exc
    return ctx


def _is_cert_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def transport_error(
    exc: BaseException, *, host: str, timeout: float, doing: str, secret: str
) -> GatewayError:
    """The user's words for a failed exchange, and whether it may be tried again.

    ``unsent`` only where no byte of the request can have left: the TCP connect or
    the TLS handshake failed (refused, DNS, reset during the handshake, timeout
    while connecting) or no connection became free. A read/write error or a timeout
    after that may follow a request the gateway has already acted on.
    """
    reason = redact(str(exc) or type(exc).__name__, secret)
    unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    retryable = True
    if isinstance(exc, httpx.ConnectError) and _is_cert_error(exc):
        retryable = False  # fail closed: waiting does not make a certificate trusted
        text = (
            f"The certificate of {host} is not trusted ({reason}). Check the gateway URL; "
            "behind a company proxy, set SSL_CERT_FILE to its CA certificate."
        )
    elif isinstance(exc, httpx.TimeoutException):
        text = (
            f"The gateway at {host} did not answer within {timeout:g} s while {doing}: "
            "check your connection, or try again later."
        )
    elif isinstance(exc, httpx.ConnectError):
        text = (
            f"Cannot reach the gateway at {host}: {reason}. Check your internet "
            f"connection and {url_hint(os.environ)}."
        )
    elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | H2Error):
        text = f"The connection to {host} broke while {doing} ({reason}): try again."
    else:
        retryable = isinstance(exc, httpx.TransportError)
        text = f"Talking to the gateway at {host} failed while {doing}: {reason}"
    return GatewayError(text, retryable=retryable, unsent=unsent)


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def content_length(response: httpx.Response) -> int | None:
    raw = response.headers.get("content-length", "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 19 else None  # int() refuses 4300+ digits


def http_client(
    base_url: str, timeout: float, http2: bool, headers: dict[str, str], connections: int
) -> tuple[httpx.Client, bool]:
    """The httpx client for one gateway, and whether it speaks HTTP/2.

    Asks for unpacked answers only: whatever comes packed anyway is unpacked a
    bounded piece at a time (bodies.py), never by httpx in one go. Every socket
    waits within the request's deadline and sees Cancel (deadlines.py).
    """
    options: dict[str, Any] = {
        "base_url": base_url,
        "timeout": httpx.Timeout(timeout),
        "trust_env": True,
        "verify": ssl_context(),
        "headers": {**headers, "accept-encoding": "identity"},
        "follow_redirects": False,
        "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    }
    try:
        try:
            client = httpx.Client(http2=http2, **options)
        except ImportError:  # no h2 package: HTTP/1.1 works just as well
            client = httpx.Client(http2=False, **options)
            http2 = False
    except (ImportError, ValueError, httpx.InvalidURL) as exc:
        # e.g. ALL_PROXY=socks5://... without the socksio package, or a proxy URL
        # httpx cannot use: the environment's fault, said in its words.
        raise GatewayError(
            f"The proxy set in the environment cannot be used ({exc}): fix or unset "
            "ALL_PROXY / HTTPS_PROXY in the environment Blender starts from."
        ) from None
    bound_transports([client._transport, *client._mounts.values()])
    return client, http2
