# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Calls a worker thread hands to the main thread and waits for: no bpy here.

Some work can only run on Blender's main thread (its image loader decodes a
SOG's WebP images). A worker that meets such a step wraps the function with
``MainThreadCalls.wrap``: called on the main thread it runs at once; called on
any other thread it is queued and the worker waits, while the main thread's
timer runs ``serve`` to carry the queued calls out.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


class CallsClosed(RuntimeError):
    """The main thread stopped serving (the import ended or was cancelled)."""


class _Call:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # handed back to the worker that asked
            self.error = exc
        finally:
            self.done.set()


class MainThreadCalls:
    """A queue of calls from workers, served on the main thread."""

    def __init__(self) -> None:
        self._queue: queue.Queue[_Call] = queue.Queue()
        self._closed = threading.Event()

    def wrap(self, fn: Callable[..., R]) -> Callable[..., R]:
        """``fn`` made callable from any thread; it always runs on the main thread."""

        def call(*args: Any) -> R:
            if threading.current_thread() is threading.main_thread():
                return fn(*args)
            if self._closed.is_set():
                raise CallsClosed("the import ended before this step could run")
            pending = _Call(fn, args)
            self._queue.put(pending)
            while not pending.done.wait(0.1):
                if self._closed.is_set():
                    raise CallsClosed("the import ended before this step could run")
            if pending.error is not None:
                raise pending.error
            return pending.result  # type: ignore[no-any-return]

        return call

    def serve(self, budget: float = 0.1, linger: float = 0.003, wait: float = 0.0) -> int:
        """Run queued calls on this (the main) thread; how many ran.

        Keeps going while calls arrive within ``linger`` seconds of each other (a
        worker asks again as soon as it has an answer) until ``budget`` seconds
        are spent, so a few short calls take one timer tick, not one each. With
        ``wait`` it first blocks that long for a call (a script or benchmark that
        has nothing else to do; a timer tick never waits).
        """
        started, ran = time.perf_counter(), 0
        while time.perf_counter() - started < budget:
            try:
                pending = self._queue.get(timeout=wait) if wait else self._queue.get_nowait()
            except queue.Empty:
                break
            pending.run()
            ran += 1
            wait = linger
        return ran

    def close(self) -> None:
        """Stop serving: waiting and later calls raise CallsClosed."""
        self._closed.set()
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                return
            pending.error = CallsClosed("the import ended before this step could run")
            pending.done.set()
