"""JobRunner: generation jobs on daemon worker threads, reported through a queue.

A worker submits, polls, downloads and parses; it never touches bpy. Blender's
main thread drains ``events`` from a timer. Each job ends with exactly one of
READY, FAILED or CANCELLED, and nothing is emitted after it.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .endpoints import validate_base_url
from .errors import PREFS_HINT, GatewayError, TaskDeadlineError, redact
from .gateway import GatewayClient
from .status import GatewayState, TaskStatus


class Phase(enum.StrEnum):
    SUBMITTING = "submitting"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    PARTIAL = "partial"
    DOWNLOADING = "downloading"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_PHASES = frozenset({Phase.READY, Phase.FAILED, Phase.CANCELLED})

_PHASE_OF_STATE = {
    GatewayState.NO_RESULT: Phase.QUEUED,
    GatewayState.IN_PROGRESS: Phase.IN_PROGRESS,
    GatewayState.PARTIAL_RESULT: Phase.PARTIAL,
    GatewayState.SUCCESS: Phase.DOWNLOADING,
    GatewayState.FAILURE: Phase.FAILED,
}


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: a prompt or an image, never both."""

    prompt: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_name: str = ""
    image_mime: str = ""
    seed: int | None = None

    def validate(self) -> None:
        has_prompt, has_image = bool(self.prompt and self.prompt.strip()), bool(self.image)
        if has_prompt and has_image:
            raise GatewayError("Give either a prompt or an image, not both.")
        if not has_prompt and not has_image:
            raise GatewayError("Enter a prompt or choose an image to generate from.")


@dataclass(frozen=True)
class JobSettings:
    """A snapshot of the preferences a job runs with (taken on the main thread)."""

    base_url: str
    api_key: str = field(repr=False)
    timeout_s: float = 30.0
    deadline_s: float = 600.0
    poll_interval_s: float = 1.0
    result_format: str = "ply"
    http2: bool = True
    download_on_partial: bool = False
    """Download as soon as one worker succeeded instead of waiting for Success."""


@dataclass(frozen=True)
class JobEvent:
    """One change of a job, as plain values. READY carries the parsed result in payload."""

    job_id: str
    phase: Phase
    task_id: str | None = None
    results: int = 0
    message: str = ""
    payload: object = field(default=None, repr=False)
    result_bytes: int = 0

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


class _Cancelled(Exception):
    """The job was cancelled while the worker was busy."""


@dataclass
class _Job:
    job_id: str
    request: GenerationRequest
    settings: JobSettings
    started: float
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    task_id: str | None = None
    finished: bool = False
    thread: threading.Thread | None = None


def default_client_factory(settings: JobSettings) -> GatewayClient:
    return GatewayClient(
        settings.base_url, settings.api_key, timeout=settings.timeout_s, http2=settings.http2
    )


def _progress_message(status: TaskStatus) -> str:
    if status.state is GatewayState.NO_RESULT:
        return "Waiting in the gateway's queue"
    if status.state is GatewayState.IN_PROGRESS:
        return "Generating"
    if status.state is GatewayState.PARTIAL_RESULT:
        return f"{status.results} result(s) ready, waiting for the other workers"
    return "Downloading the result"


class JobRunner:
    """Runs generation jobs in the background; results and progress arrive on ``events``."""

    def __init__(
        self,
        parse: Callable[[bytes], object],
        client_factory: Callable[[JobSettings], GatewayClient] | None = None,
    ) -> None:
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self._parse = parse
        self._client_factory = client_factory or default_client_factory
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    # -- main-thread API -------------------------------------------------------
    def submit(self, request: GenerationRequest, settings: JobSettings) -> str:
        """Start a job; returns its local id. Raises GatewayError at once for a job that
        cannot be sent (prompt and image, neither, bad URL, no API key)."""
        request.validate()
        validate_base_url(settings.base_url)
        if not settings.api_key.strip():
            raise GatewayError(f"No API key is set: enter it in {PREFS_HINT}.")
        job = _Job(str(uuid.uuid4()), request, settings, time.monotonic())
        job.thread = threading.Thread(
            target=self._work, args=(job,), name=f"gen404-job-{job.job_id[:8]}", daemon=True
        )
        with self._lock:
            self._jobs[job.job_id] = job
        job.thread.start()
        return job.job_id

    def cancel(self, job_id: str) -> bool:
        """Stop a job now: CANCELLED is emitted here, once. False if it had already ended."""
        job = self._jobs.get(job_id)
        if job is None:
            return False
        job.cancel.set()
        return self._emit(job, Phase.CANCELLED, message="Cancelled")

    def is_active(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        return job is not None and not job.finished

    def active_jobs(self) -> list[str]:
        with self._lock:
            return [job_id for job_id, job in self._jobs.items() if not job.finished]

    def shutdown(self, timeout: float = 2.0) -> None:
        """Cancel every job and wait up to ``timeout`` seconds in all for the workers."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.cancel(job.job_id)
        end = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, end - time.monotonic()))

    # -- worker ----------------------------------------------------------------
    def _emit(
        self,
        job: _Job,
        phase: Phase,
        *,
        results: int = 0,
        message: str = "",
        payload: object = None,
        result_bytes: int = 0,
    ) -> bool:
        """Queue an event unless the job has ended; the ending event marks it ended."""
        with job.lock:
            if job.finished:
                return False
            if phase in TERMINAL_PHASES:
                job.finished = True
            message = redact(message, job.settings.api_key)
            event = JobEvent(
                job.job_id, phase, job.task_id, results, message, payload, result_bytes
            )
            self.events.put(event)
            return True

    def _work(self, job: _Job) -> None:
        client: GatewayClient | None = None
        try:
            self._emit(job, Phase.SUBMITTING, message="Sending the request to the gateway")
            client = self._client_factory(job.settings)
            job.task_id = self._submit(client, job.request)
            self._check_cancel(job)
            results = self._poll(client, job, job.task_id)
            self._emit(job, Phase.DOWNLOADING, results=results, message="Downloading the result")
            data = client.get_result(job.task_id, job.settings.result_format)
            self._check_cancel(job)
            try:
                payload = self._parse(data)
            except Exception as exc:
                raise GatewayError(f"The result could not be read: {exc}") from exc
            self._emit(
                job,
                Phase.READY,
                results=results,
                payload=payload,
                result_bytes=len(data),
                message=f"Done ({len(data)} bytes)",
            )
        except _Cancelled:
            pass
        except GatewayError as exc:
            self._emit(job, Phase.FAILED, message=exc.message)
        except Exception as exc:  # a bug: still end the job visibly
            self._emit(job, Phase.FAILED, message=f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            if client is not None:
                client.close()
            with self._lock:
                self._jobs.pop(job.job_id, None)

    @staticmethod
    def _submit(client: GatewayClient, request: GenerationRequest) -> str:
        if request.image:
            return client.add_image_task(
                request.image, request.image_name, request.image_mime, request.seed
            )
        return client.add_text_task((request.prompt or "").strip(), request.seed)

    @staticmethod
    def _check_cancel(job: _Job) -> None:
        if job.cancel.is_set():
            raise _Cancelled

    def _poll(self, client: GatewayClient, job: _Job, task_id: str) -> int:
        """Poll until there is something to download; returns the result count."""
        settings = job.settings
        deadline = job.started + settings.deadline_s
        last: tuple[GatewayState, int] | None = None
        while True:
            status = client.get_status(task_id)
            self._check_cancel(job)
            if status.state is GatewayState.FAILURE:
                raise GatewayError(f"The gateway could not generate this: {status.reason}.")
            if status.state is GatewayState.SUCCESS:
                return max(status.results, last[1] if last else 0, 1)
            if (status.state, status.results) != last:
                last = (status.state, status.results)
                phase = _PHASE_OF_STATE[status.state]
                self._emit(job, phase, results=status.results, message=_progress_message(status))
            has_result = status.state is GatewayState.PARTIAL_RESULT and status.results > 0
            if has_result and settings.download_on_partial:
                return status.results
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if has_result:  # better a finished variant than nothing
                    return status.results
                raise TaskDeadlineError(
                    f"No result after {settings.deadline_s:g} s (the gateway still reports "
                    f"'{status.state.value}'): it may be busy; try again later."
                )
            if job.cancel.wait(min(settings.poll_interval_s, remaining)):
                raise _Cancelled
