# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sending a task when the account has room for it.

The gateway refuses a task with 429 ``concurrent_limit`` while the account runs
as many as it may, and with 503 (queue full, prices not loaded) while it is busy;
neither charges anything. A refused task is not lost: it stays queued here,
"Waiting for a free slot", and is sent again as soon as another task of this
runner ends (most likely the one that held the slot), or after a backoff for
tasks the account runs elsewhere. Busy answers are sent again after a backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import steps
from .errors import Cancelled, GatewayError
from .gateway import GatewayClient
from .limits import BUSY_KINDS, CONCURRENT_LIMIT, AccountLimitError
from .models import Phase
from .retry import RetryPolicy
from .steps import Job

SLOT_WAIT_FIRST_S = 5.0
SLOT_WAIT_MAX_S = 60.0
"""Without a task of ours ending, ask again after 5, 10, 20, 40, 60, 60... seconds."""
WAITING_MESSAGE = "Waiting for a free slot"
STEP_S = 0.25


class Slots:
    """Counts the runner's jobs that ended, and wakes the jobs waiting for a slot."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.ended = 0

    def task_ended(self) -> None:
        with self._changed:
            self.ended += 1
            self._changed.notify_all()

    def wait(self, seen: int, seconds: float, cancel: threading.Event) -> None:
        """Until a job ends after ``seen`` was read, or ``seconds`` pass. Raises Cancelled."""
        end = time.monotonic() + seconds
        with self._changed:
            while self.ended == seen:
                if cancel.is_set():
                    raise Cancelled
                left = end - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(min(STEP_S, left))
        if cancel.is_set():
            raise Cancelled


def submit_when_free(
    client: GatewayClient,
    job: Job,
    policy: RetryPolicy,
    on_retry: steps.OnRetry,
    slots: Slots,
    emit: Callable[[Phase, str], object],
) -> str:
    """add_task (``steps.submit``), held back while the account has no free slot and sent
    again while the gateway is busy; the job's deadline counts again from its sending."""
    waits = busy = 0
    waited = False
    while True:
        seen = slots.ended
        try:
            task_id = steps.submit(client, job, policy, on_retry)
        except AccountLimitError as error:
            remaining = job.deadline - time.monotonic()
            if error.kind == CONCURRENT_LIMIT:
                if remaining <= 0:
                    raise GatewayError(
                        f"{error.message.split(' (')[0]}: no slot came free within the "
                        f"task's deadline ({job.settings.deadline_s:g} s), so it was not sent. "
                        "Generate again when your other tasks have ended."
                    ) from error
                waits += 1
                pause = min(SLOT_WAIT_MAX_S, SLOT_WAIT_FIRST_S * 2 ** (waits - 1), remaining)
                emit(
                    Phase.WAITING_SLOT,
                    f"{WAITING_MESSAGE}: your 404 account runs as many tasks as it may; "
                    "this one is sent when one of them ends",
                )
                waited = True
                slots.wait(seen, pause, job.cancel)
                continue
            if error.kind in BUSY_KINDS:
                busy += 1
                pause = policy.delay(busy, error.retry_after)
                if busy >= policy.max_attempts or pause >= remaining:
                    raise
                on_retry(error, pause)
                if policy.wait(job.cancel, pause):
                    raise Cancelled from None
                continue
            raise
        if waited:  # the gateway's ten minutes start now, and so do ours
            job.deadline = time.monotonic() + job.settings.deadline_s
        return task_id
