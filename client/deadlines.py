# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A whole request within a deadline, and Cancel seen within a second, under httpx.

httpx's timeouts count per socket operation: a server sending a byte every 0.4 s
keeps a request with a 1 s timeout alive forever, and a read blocked on a stalled
server does not look at Cancel until its timeout. So the client's sockets go
through ``BoundedBackend``: while a thread works inside ``bounded(deadline,
cancel)``, every read waits in slices of at most ``SLICE_S``, and between slices
(and before every read, write, connect or TLS handshake) the deadline and the
cancel event are checked. A request past its deadline, or cancelled, ends with an
httpcore error raised from the socket; the caller (``GatewayClient``) tells which
it was from ``current()``.

A stopped read ends its connection (httpcore gives it up), on HTTP/2 for every
request sharing it: the others see a broken connection, a passing fault they
retry. Only a read is sliced: a write (at most an image upload) and a connect
wait their own timeout, capped by the time left.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpcore

SLICE_S = 0.25
"""Longest a read waits before looking at the deadline and Cancel again."""
WRITE_PIECE = 64 * 1024


@dataclass(frozen=True)
class Bounds:
    deadline: float = math.inf
    """On time.monotonic()."""
    cancel: threading.Event | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    @property
    def expired(self) -> bool:
        return self.left() <= 0

    def check(self, error: type[httpcore.NetworkError | httpcore.TimeoutException]) -> None:
        """Raise ``error`` (an httpcore error, so httpcore cleans up) when stopped."""
        if self.cancelled:
            raise httpcore.ReadError("the request was cancelled")
        if self.expired:
            raise error("the request ran out of time")

    def cap(self, timeout: float | None) -> float:
        """``timeout`` (None: no limit) shortened to the time left."""
        left = max(self.left(), 0.001)
        return left if timeout is None else min(timeout, left)


_local = threading.local()


def current() -> Bounds | None:
    """The bounds of the request this thread is making, if any."""
    return getattr(_local, "bounds", None)


@contextlib.contextmanager
def bounded(deadline: float, cancel: threading.Event | None = None) -> Iterator[Bounds]:
    """Bound this thread's network I/O inside the block (an outer bound still holds)."""
    outer = current()
    if outer is not None:
        deadline = min(deadline, outer.deadline)
        cancel = cancel or outer.cancel
    bounds = Bounds(deadline, cancel)
    _local.bounds = bounds
    try:
        yield bounds
    finally:
        _local.bounds = outer


class BoundedStream(httpcore.NetworkStream):
    """A network stream whose waits obey the calling thread's Bounds."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounds = current()
        if bounds is None:
            return self._inner.read(max_bytes, timeout)
        idle_end = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            bounds.check(httpcore.ReadTimeout)
            now = time.monotonic()
            if now >= idle_end:
                raise httpcore.ReadTimeout("no data within the timeout")
            wait = min(SLICE_S, idle_end - now, max(bounds.left(), 0.001))
            try:
                return self._inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                continue  # nothing came in this slice (a TLS record is resumable)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounds = current()
        if bounds is None:
            self._inner.write(buffer, timeout)
            return
        view = memoryview(buffer)
        for start in range(0, max(len(buffer), 1), WRITE_PIECE):
            bounds.check(httpcore.WriteTimeout)
            self._inner.write(bytes(view[start : start + WRITE_PIECE]), bounds.cap(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounds = current()
        if bounds is not None:
            bounds.check(httpcore.ConnectTimeout)
            timeout = bounds.cap(timeout)
        return BoundedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class BoundedBackend(httpcore.NetworkBackend):
    """Wraps httpcore's backend: every stream it opens is a BoundedStream."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounds = current()
        if bounds is not None:
            bounds.check(httpcore.ConnectTimeout)
            timeout = bounds.cap(timeout)
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return BoundedStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        return BoundedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_transports(transports: Iterable[object]) -> int:
    """Put BoundedBackend under each httpx transport's connection pool (httpx offers no
    option for it); returns how many were wrapped. Must run before any connection."""
    wrapped = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, BoundedBackend):
            pool._network_backend = BoundedBackend(backend)  # type: ignore[union-attr]
            wrapped += 1
    return wrapped
