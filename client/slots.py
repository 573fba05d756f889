# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sending tasks when the account has room for them, one at a time and in order.

The gateway refuses a task with 429 ``concurrent_limit`` while the account runs as
many as it may, and with 503 (queue full, prices not loaded) while it is busy;
neither charges anything. A refused task is not lost: it stays queued here,
"Waiting for a free slot", and is sent again as soon as another task of this
runner ends (most likely the one that held the slot), or after a backoff for
tasks the account runs elsewhere. Busy answers are sent again after a backoff.

The runner's jobs take turns in one line, in the order they were made: one
add_task at a time, and while the head of the line waits for a slot the others
wait behind it without asking. Fifty tasks at once (a batch) then cost fifty
accepted add_task calls and about one refusal per slot that frees, sent in order;
without the line every waiting task asked again whenever one ended (20 tasks on
2 slots: 182 add_task calls, sent in any order), a burst the gateway's per-address
limit refuses too. A job gives up only when the line did not move (no task of the
runner ended, none was sent) for its deadline, and its deadline starts again when
it is sent: the last of fifty is not failed for having waited its turn.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections.abc import Callable, Iterator

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
WAITING_TEXT = (
    f"{WAITING_MESSAGE}: your 404 account runs as many tasks as it may; "
    "this one is sent when one of them ends"
)
STEP_S = 0.25

Place = tuple[int, str]
"""A job's place in the line: (its order, its id)."""


def no_slot(deadline_s: float) -> GatewayError:
    return GatewayError(
        "Your 404 account runs as many tasks as it may at once, and no slot came free "
        f"within {deadline_s:g} s, so this task was not sent. Generate again when your "
        "other tasks have ended."
    )


class Slots:
    """The line of jobs about to send add_task, and what wakes them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.ended = 0
        self._line: list[Place] = []
        self.full = False
        """The gateway's latest answer to the line was concurrent_limit."""
        self.moved_at = time.monotonic()
        """When the line formed, or a task of the runner last ended or was sent."""

    def task_ended(self, *, freed: bool = True) -> None:
        """A job ended; ``freed``: it had a task on the gateway, so a slot may be free."""
        if not freed:
            return
        with self._changed:
            self.ended += 1
            self.moved_at = time.monotonic()
            self._changed.notify_all()

    @contextlib.contextmanager
    def place(self, place: Place) -> Iterator[None]:
        """A place in the line for the block, by the job's order."""
        with self._changed:
            if not self._line:
                self.moved_at = time.monotonic()
            bisect.insort(self._line, place)
        try:
            yield
        finally:
            with self._changed:
                self._line.remove(place)
                self._changed.notify_all()

    def answered(self, *, full: bool) -> None:
        """The gateway took a task (the line moves on) or found the account full."""
        with self._changed:
            self.full = full
            if not full:
                self.moved_at = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the line last moved."""
        return time.monotonic() - self.moved_at

    def wait_turn(
        self, place: Place, cancel: threading.Event, give_up_s: float, on_full: Callable[[], object]
    ) -> bool:
        """Until ``place`` heads the line; True if it had to wait. ``on_full`` is called
        once if the account is found full meanwhile. Raises Cancelled, or GatewayError
        when the line did not move for ``give_up_s``."""
        waited = told = False
        while True:
            with self._changed:
                while not (
                    cancel.is_set()
                    or self._line[0] == place
                    or self.idle_for() > give_up_s
                    or (self.full and not told)
                ):
                    self._changed.wait(STEP_S)
                    waited = True
                head, stalled = self._line[0] == place, self.idle_for() > give_up_s
            if cancel.is_set():
                raise Cancelled
            if stalled:  # even at the head: asking again would only be refused
                raise no_slot(give_up_s)
            if head:
                return waited
            told = True  # outside the lock: reporting takes the job's own lock
            on_full()

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
    """add_task (``steps.submit``) in the job's turn, held back while the account has no
    free slot and sent again while the gateway is busy."""
    place, give_up_s = (job.order, job.job_id), job.settings.deadline_s
    with slots.place(place):
        waits = busy = 0
        waited = slots.wait_turn(
            place, job.cancel, give_up_s, lambda: emit(Phase.WAITING_SLOT, WAITING_TEXT)
        )
        while True:
            if waited:  # the gateway's ten minutes start when it is sent, and so do ours
                job.deadline = time.monotonic() + job.settings.deadline_s
                waited = False
            seen = slots.ended
            try:
                task_id = steps.submit(client, job, policy, on_retry)
            except AccountLimitError as error:
                if error.kind == CONCURRENT_LIMIT:
                    slots.answered(full=True)
                    left = give_up_s - slots.idle_for()
                    if left <= 0:
                        raise no_slot(give_up_s) from error
                    waits += 1
                    emit(Phase.WAITING_SLOT, WAITING_TEXT)
                    pause = min(SLOT_WAIT_MAX_S, SLOT_WAIT_FIRST_S * 2 ** (waits - 1), left)
                    slots.wait(seen, pause, job.cancel)
                    waited = True
                    continue
                if error.kind in BUSY_KINDS:
                    busy += 1
                    pause = policy.delay(busy, error.retry_after)
                    if busy >= policy.max_attempts or pause >= job.deadline - time.monotonic():
                        raise
                    on_retry(error, pause)
                    if policy.wait(job.cancel, pause):
                        raise Cancelled from None
                    continue
                raise
            slots.answered(full=False)
            return task_id
