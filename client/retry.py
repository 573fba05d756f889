# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""When, and how long to wait before, asking the gateway again.

A wait happens on the job's cancel Event, never in ``time.sleep``, so Cancel (and
Blender quitting) interrupts it at once; no wait runs past the task's deadline.
Which calls may be repeated is the caller's choice: status and result downloads on
any passing fault, ``add_task`` only when the request provably never left.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import Cancelled, GatewayError

log = logging.getLogger(__name__)

T = TypeVar("T")


def wait_on(cancel: threading.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless cancelled first; True when cancelled."""
    return cancel.wait(max(0.0, seconds))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring Retry-After.

    ``wait`` and ``clock`` are there for tests: a fake ``wait`` records the delays and
    returns at once, so retry timing is checked without sleeping.
    """

    base_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 8.0
    jitter: float = 0.5
    """Backoff delays are scaled by a random factor in [1 - jitter, 1]; Retry-After
    waits get up to ``jitter / 5`` added, so twenty throttled jobs do not return at once."""
    max_attempts: int = 8
    """Attempts of one status poll or download, the first included."""
    max_submit_attempts: int = 3
    """Attempts of add_task, made only while the request provably never left."""
    max_retry_after_s: float = 300.0
    wait: Callable[[threading.Event, float], bool] = wait_on
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            wanted = min(max(retry_after, 0.0), self.max_retry_after_s)
            return wanted * (1 + self.jitter / 5 * self.rng.random())
        step = min(self.max_delay_s, self.base_s * self.factor ** max(0, attempt - 1))
        return step * (1 - self.jitter * self.rng.random())


def retry_message(error: GatewayError, pause: float) -> str:
    """What the user sees while a retry is pending."""
    shown = f"{pause:.0f}" if pause >= 1.5 else f"{pause:.1f}"
    return f"{error.message.rstrip('.')} — trying again in {shown} s"


def call_with_retry(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    cancel: threading.Event,
    deadline: float,
    may_retry: Callable[[GatewayError], bool] = lambda error: error.retryable,
    attempts: int | None = None,
    on_retry: Callable[[GatewayError, float], None] | None = None,
) -> T:
    """``call()`` until it succeeds, a fault is final, attempts run out or the deadline
    (on ``policy.clock``) would pass; then its last GatewayError is raised as is.

    A Retry-After longer than the time left ends it at once: the server has said not
    to come back before then. Raises Cancelled when ``cancel`` is set.
    """
    limit = attempts if attempts is not None else policy.max_attempts
    attempt = 0
    while True:
        if cancel.is_set():
            raise Cancelled
        attempt += 1
        try:
            return call()
        except GatewayError as error:
            if not may_retry(error) or attempt >= limit:
                raise
            pause = policy.delay(attempt, error.retry_after)
            remaining = deadline - policy.clock()
            if remaining <= 0 or (error.retry_after is not None and pause > remaining):
                raise
            pause = min(pause, remaining)
            log.info("gen404: attempt %d failed (%s); retrying in %.2f s", attempt, error, pause)
            if on_retry is not None:
                on_retry(error, pause)
            if policy.wait(cancel, pause):
                raise Cancelled from None
