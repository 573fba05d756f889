# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""One job's exchanges with the gateway, each retried as it may be: add_task only
while it provably never left, status polls and downloads on any passing fault.

Run on the job's worker thread (``jobs.JobRunner``); no bpy.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cache import ResultCache
from .downloads import download_result
from .errors import Cancelled, GatewayError, TaskDeadlineError, TaskOver
from .gateway import GatewayClient, TaskCall
from .generation import is_variants_format
from .models import GenerationRequest, JobSettings, Phase, phase_of, progress_message
from .retry import RetryPolicy, call_with_retry
from .status import GatewayState, TaskStatus

DOWNLOAD_GRACE_S = 60.0
"""A result found just before the deadline may still be fetched this long after it."""

LAST_POLL_S = 5.0
"""The poll that finds the deadline passed (and reports the task's last state) gets
this long, however little of the job's time is left."""

OnRetry = Callable[[GatewayError, float], None]
Emit = Callable[[Phase, int, str], object]
"""Report progress: phase, results so far, message."""
_made = itertools.count()


@dataclass
class Job:
    """One job's state, shared by the runner (main thread) and its worker."""

    job_id: str
    request: GenerationRequest | None
    settings: JobSettings
    deadline: float
    """On time.monotonic()."""
    label: str = ""
    submitted_at: float = field(default_factory=time.time)
    resumed: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    task_id: str | None = None
    phase: Phase = Phase.SUBMITTING
    results: int = 0
    finished: bool = False
    user_cancelled: bool = False
    """Cancelled by the user (journalled as cancelled), not by a runner shutting down
    (left as it was, so the task resumes next time)."""
    thread: threading.Thread | None = None
    order: int = field(default_factory=lambda: next(_made))
    """Jobs are sent in the order they were made (on the main thread): see slots.py."""


def submit(client: GatewayClient, job: Job, policy: RetryPolicy, on_retry: OnRetry) -> str:
    """add_task, repeated only while no byte of it can have reached the gateway."""
    request = job.request
    assert request is not None

    def send() -> str:
        call = TaskCall(
            model=request.model,
            model_params=request.model_params,
            cancel=job.cancel,
            deadline=job.deadline,
        )
        if request.image:
            image = request.image, request.image_name, request.image_mime
            return client.add_image_task(*image, request.seed, **call)
        return client.add_text_task((request.prompt or "").strip(), request.seed, **call)

    try:
        return call_with_retry(
            send,
            policy=policy,
            cancel=job.cancel,
            deadline=job.deadline,
            may_retry=lambda error: error.unsent and error.retryable,
            attempts=policy.max_submit_attempts,
            on_retry=on_retry,
        )
    except GatewayError as error:
        if error.unsent or error.status_code not in (None, 200):
            raise  # it never arrived, or the gateway answered (and refused): no charge
        raise GatewayError(
            f"{error.message.rstrip('.')}. The gateway may have received the request, "
            "so it was not sent again (that could charge you twice): if no result "
            "appears in your 404 account, generate again."
        ) from error


def check_cancel(job: Job) -> None:
    if job.cancel.is_set():
        raise Cancelled


def poll(
    client: GatewayClient, job: Job, policy: RetryPolicy, on_retry: OnRetry, emit: Emit
) -> int:
    """Poll until there is something to download; returns the result count."""
    settings = job.settings
    task_id = job.task_id or ""
    variants = is_variants_format(settings.result_format)  # all of them: wait for Success
    last: tuple[GatewayState, int] | None = None
    while True:
        status = call_with_retry(
            lambda: client.get_status(
                task_id,
                cancel=job.cancel,
                deadline=max(job.deadline, time.monotonic() + LAST_POLL_S),
            ),
            policy=policy,
            cancel=job.cancel,
            deadline=job.deadline,
            on_retry=on_retry,
        )
        check_cancel(job)
        if status.state is GatewayState.FAILURE:
            raise TaskOver(
                f"The gateway could not generate this: {status.reason}. Generate again; "
                "if it fails again, try a simpler prompt or image, or later."
            )
        if status.state is GatewayState.SUCCESS:
            return max(status.results, last[1] if last else 0, 1)
        if (status.state, status.results) != last:
            last = (status.state, status.results)
            phase = phase_of(status)
            emit(phase, status.results, progress_message(status))
        has_result = status.state is GatewayState.PARTIAL_RESULT and status.results > 0
        if has_result and settings.download_on_partial and not variants:
            return status.results
        remaining = job.deadline - time.monotonic()
        if remaining <= 0:
            if has_result:  # better a finished variant than nothing
                return status.results
            raise deadline_error(job, status)
        if job.cancel.wait(min(settings.poll_interval_s, remaining)):
            raise Cancelled


def deadline_error(job: Job, status: TaskStatus) -> TaskDeadlineError:
    state = status.state.value
    if job.resumed and status.state is GatewayState.NO_RESULT:
        return TaskDeadlineError(
            f"The gateway no longer knows this task (it still reports '{state}'): it "
            "keeps results only about 5 minutes after they are made. Generate again."
        )
    return TaskDeadlineError(
        f"No result after {job.settings.deadline_s:g} s (the gateway still reports "
        f"'{state}'): it may be busy; try again later."
    )


def download(
    client: GatewayClient, job: Job, policy: RetryPolicy, on_retry: OnRetry, cache: ResultCache
) -> Path:
    """The result into ``cache``, retried on passing faults (a little past the deadline)."""
    settings = job.settings
    task_id = job.task_id or ""
    deadline = max(job.deadline, time.monotonic() + DOWNLOAD_GRACE_S)
    return call_with_retry(
        lambda: download_result(
            client,
            task_id,
            settings.result_format,
            cache,
            max_bytes=settings.max_download_bytes,
            cancel=job.cancel,
            deadline=deadline,
        ),
        policy=policy,
        cancel=job.cancel,
        deadline=max(job.deadline, policy.clock() + DOWNLOAD_GRACE_S),
        on_retry=on_retry,
    )
