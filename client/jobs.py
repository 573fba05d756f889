"""JobRunner: generation jobs on daemon worker threads, reported through a queue.

A worker submits, journals the task id, polls, downloads into the result cache
and parses; it never touches bpy. Blender's main thread drains ``events`` from a
timer. Each job ends with exactly one of READY, FAILED or CANCELLED, and nothing
is emitted after it.

Nothing paid for is lost: the task id is journalled before polling begins, status
polls and downloads are retried on passing faults (``retry.py``), ``add_task``
only when the request provably never left, and ``resume`` picks a journalled task
up again after a restart without submitting it twice.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cache import DEFAULT_CACHE_BYTES, ResultCache
from .downloads import DEFAULT_MAX_DOWNLOAD_BYTES, download_result
from .endpoints import check_task_id, validate_base_url
from .errors import Cancelled, GatewayError, TaskDeadlineError, redact
from .folders import default_user_folder, results_folder
from .gateway import RESULT_FORMATS, GatewayClient, key_problem
from .journal import CANCELLED, SUBMITTED, JournalEntry, TaskJournal, open_journal
from .pool import ClientPool
from .retry import RetryPolicy, call_with_retry, retry_message
from .status import GatewayState, TaskStatus

log = logging.getLogger(__name__)

DOWNLOAD_GRACE_S = 60.0
"""A result found just before the deadline may still be fetched this long after it."""
RESUME_GRACE_S = 60.0
"""A resumed task past its original deadline is polled this long before giving up."""
KEPT = "The task is kept and resumes when the add-on starts again."
"""Said when a submitted (paid) task fails on a passing fault: the journal keeps it
unfinished, so the next start picks it up."""


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


def input_problem(has_prompt: bool, has_image: bool) -> str | None:
    """The gateway takes a prompt or an image, never both or neither: say which is wrong."""
    if has_prompt and has_image:
        return "Give either a prompt or an image, not both: the gateway refuses both at once."
    if not has_prompt and not has_image:
        return "Enter a prompt or choose an image to generate from."
    return None


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: a prompt or an image, never both."""

    prompt: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_name: str = ""
    image_mime: str = ""
    seed: int | None = None

    def validate(self) -> None:
        problem = input_problem(bool(self.prompt and self.prompt.strip()), bool(self.image))
        if problem:
            raise GatewayError(problem)

    @property
    def kind(self) -> str:
        return "image" if self.image else "prompt"


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
    user_folder: str = field(default_factory=lambda: str(default_user_folder()))
    """Journal, result cache and partial downloads live here. In Blender:
    ``bpy.utils.extension_path_user(__package__, create=True)``."""
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    cache_max_bytes: int = DEFAULT_CACHE_BYTES


@dataclass(frozen=True)
class JobEvent:
    """One change of a job, as plain values. READY carries the parsed result in payload
    and the cached file in ``result_path``."""

    job_id: str
    phase: Phase
    task_id: str | None = None
    results: int = 0
    message: str = ""
    payload: object = field(default=None, repr=False)
    result_bytes: int = 0
    result_path: str = ""

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


@dataclass
class _Job:
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
    """Runs generation jobs in the background; results and progress arrive on ``events``.

    ``parse`` gets the result's bytes, ``parse_file`` (preferred when given) the path of
    the cached file; either runs on the worker thread. Jobs of one runner share one
    HTTP client per gateway and key.
    """

    def __init__(
        self,
        parse: Callable[[bytes], object] | None = None,
        client_factory: Callable[[JobSettings], GatewayClient] | None = None,
        *,
        parse_file: Callable[[Path], object] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if parse is None and parse_file is None:
            raise TypeError("JobRunner needs parse or parse_file")
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self._parse = parse
        self._parse_file = parse_file
        self._retry = retry or RetryPolicy()
        self._pool = ClientPool(client_factory or default_client_factory)
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    # -- main-thread API -------------------------------------------------------
    def submit(self, request: GenerationRequest, settings: JobSettings, *, label: str = "") -> str:
        """Start a job; returns its local id. Raises GatewayError at once, before any
        request, for a job that cannot be sent (prompt and image, neither, bad URL, a
        missing or malformed API key, unknown format)."""
        request.validate()
        self._check_settings(settings, needs_key=True)
        label = label or (request.prompt or "").strip() or request.image_name
        job = _Job(
            str(uuid.uuid4()),
            request,
            settings,
            time.monotonic() + settings.deadline_s,
            label=label,
        )
        return self._start(job)

    def resume(self, task_id: str, settings: JobSettings, *, label: str = "") -> str:
        """Pick up a task submitted earlier (journal, another session) without sending it
        again: read it from the cache if it is there, else poll and download. Returns
        the local job id; events flow as for ``submit``.

        A journalled task keeps its own gateway URL and format (``settings`` gives the
        key, timeouts and folders) and its deadline counts from its submission, with
        at least RESUME_GRACE_S left.
        """
        task_id = check_task_id(task_id)
        entry = open_journal(settings.user_folder).get(task_id)
        submitted_at = time.time()
        if entry is not None:
            settings = dataclasses.replace(
                settings, base_url=entry.base_url, result_format=entry.fmt
            )
            label = label or entry.label
            submitted_at = entry.submitted_at
        cache = ResultCache(results_folder(settings.user_folder), settings.cache_max_bytes)
        cached = cache.get(task_id, settings.result_format) is not None
        self._check_settings(settings, needs_key=not cached)
        left = submitted_at + settings.deadline_s - time.time()
        grace = min(RESUME_GRACE_S, settings.deadline_s)
        job = _Job(
            str(uuid.uuid4()),
            None,
            settings,
            time.monotonic() + max(left, grace),
            label=label or task_id,
            submitted_at=submitted_at,
            resumed=True,
            task_id=task_id,
        )
        if entry is None:  # e.g. a script resuming an id it kept: journal it from now on
            self._journal_new(job)
        return self._start(job)

    def cancel(self, job_id: str) -> bool:
        """Stop a job now: CANCELLED is emitted here, once. False if it had already ended."""
        job = self._jobs.get(job_id)
        if job is None:
            return False
        job.user_cancelled = True
        job.cancel.set()
        return self._emit(job, Phase.CANCELLED, message="Cancelled")

    def is_active(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        return job is not None and not job.finished

    def active_jobs(self) -> list[str]:
        with self._lock:
            return [job_id for job_id, job in self._jobs.items() if not job.finished]

    def task_of(self, job_id: str) -> str | None:
        """The gateway's task id of a running job (None before add_task answered)."""
        job = self._jobs.get(job_id)
        return job.task_id if job else None

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop every job and wait up to ``timeout`` seconds in all for the workers.

        Unlike ``cancel``, this leaves journalled tasks as they are, so they resume
        when the add-on starts again (Blender quitting, the add-on being disabled).
        """
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
            self._emit(
                job,
                Phase.CANCELLED,
                message="Stopped; the task resumes when the add-on starts again",
                journal=False,
            )
        end = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, end - time.monotonic()))
        self._pool.close_all()  # also unblocks a worker still inside a request

    # -- worker ----------------------------------------------------------------
    @staticmethod
    def _check_settings(settings: JobSettings, *, needs_key: bool) -> None:
        validate_base_url(settings.base_url)
        if settings.result_format not in RESULT_FORMATS:
            raise GatewayError(f"Unknown result format {settings.result_format!r}.")
        problem = key_problem(settings.api_key) if needs_key else None
        if problem:
            raise GatewayError(problem)

    def _start(self, job: _Job) -> str:
        job.thread = threading.Thread(
            target=self._work, args=(job,), name=f"gen404-job-{job.job_id[:8]}", daemon=True
        )
        with self._lock:
            self._jobs[job.job_id] = job
        job.thread.start()
        return job.job_id

    def _emit(
        self,
        job: _Job,
        phase: Phase,
        *,
        results: int = 0,
        message: str = "",
        payload: object = None,
        result_bytes: int = 0,
        result_path: str = "",
        journal: bool = True,
    ) -> bool:
        """Queue an event unless the job has ended (the ending event marks it ended) and
        record the new state in the journal."""
        with job.lock:
            if job.finished:
                return False
            if phase in TERMINAL_PHASES:
                job.finished = True
            job.phase, job.results = phase, max(job.results, results)
            message = redact(message, job.settings.api_key)
            if journal and job.task_id and phase is not Phase.SUBMITTING:
                changes: dict[str, object] = {"state": phase.value, "message": message}
                changes["results"] = job.results
                if result_path:
                    changes["result_path"] = result_path
                self._journal_update(job, **changes)
            event = JobEvent(
                job.job_id, phase, job.task_id, results, message, payload, result_bytes, result_path
            )
            self.events.put(event)
            return True

    def _notify_retry(self, job: _Job) -> Callable[[GatewayError, float], None]:
        def notify(error: GatewayError, pause: float) -> None:
            self._emit(
                job,
                job.phase,
                results=job.results,
                message=retry_message(error, pause),
                journal=False,
            )

        return notify

    @staticmethod
    def _journal(job: _Job) -> TaskJournal:
        return open_journal(job.settings.user_folder)

    def _journal_update(self, job: _Job, **changes: object) -> None:
        """Best effort: a journal that cannot be written must not fail a paid task."""
        try:
            self._journal(job).update(job.task_id or "", **changes)
        except (GatewayError, ValueError, TypeError, OSError) as exc:
            log.warning("gen404: journal update of task %s failed: %s", job.task_id, exc)

    def _journal_new(self, job: _Job) -> None:
        """Write the task id down before polling: from here on a crash loses nothing."""
        assert job.task_id is not None
        request = job.request
        entry = JournalEntry(
            task_id=job.task_id,
            base_url=job.settings.base_url,
            kind=request.kind if request else "prompt",
            label=job.label,
            prompt=(request.prompt or "").strip() if request and not request.image else "",
            image_name=request.image_name if request and request.image else "",
            fmt=job.settings.result_format,
            state=CANCELLED if job.user_cancelled else SUBMITTED,
            submitted_at=job.submitted_at,
        )
        try:
            saved = self._journal(job).record(entry)
        except (GatewayError, ValueError, TypeError, OSError) as exc:
            log.warning("gen404: task %s cannot be journalled: %s", job.task_id, exc)
            saved = False
        if not saved:
            log.warning("gen404: task %s is not journalled", job.task_id)

    def _work(self, job: _Job) -> None:
        client: GatewayClient | None = None
        settings = job.settings
        try:
            cache = ResultCache(results_folder(settings.user_folder), settings.cache_max_bytes)
            if job.task_id is None:
                self._emit(job, Phase.SUBMITTING, message="Sending the request to the gateway")
                client = self._pool.acquire(settings)
                task_id = self._submit(client, job)
                with job.lock:  # cancel() reads task_id under the same lock
                    job.task_id = task_id
                    self._journal_new(job)
            else:
                self._emit(job, Phase.QUEUED, message="Resuming: asking the gateway")
            task_id = job.task_id
            self._check_cancel(job)
            path = cache.get(task_id, settings.result_format)
            if path is None:
                client = client or self._pool.acquire(settings)
                results = self._poll(client, job, task_id)
                self._emit(
                    job, Phase.DOWNLOADING, results=results, message="Downloading the result"
                )
                path = self._download(client, job, task_id, cache)
            self._check_cancel(job)
            payload = self._read(path)
            self._check_cancel(job)
            size = path.stat().st_size
            self._emit(
                job,
                Phase.READY,
                results=max(job.results, 1),
                payload=payload,
                result_bytes=size,
                result_path=str(path),
                message=f"Done ({size} bytes)",
            )
        except Cancelled:
            pass
        except GatewayError as exc:
            if exc.retryable and job.task_id:  # paid for, and only the network gave out
                message = redact(f"{exc.message.rstrip('.')}. {KEPT}", settings.api_key)
                self._journal_update(job, message=message)  # before the event: tests and
                self._emit(job, Phase.FAILED, message=message, journal=False)  # UI see both
            else:
                self._emit(job, Phase.FAILED, message=exc.message)
        except Exception as exc:  # a bug: still end the job visibly
            log.exception("gen404: job %s failed unexpectedly", job.job_id)
            self._emit(job, Phase.FAILED, message=f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            if client is not None:
                self._pool.release(client)
            with self._lock:
                self._jobs.pop(job.job_id, None)

    def _submit(self, client: GatewayClient, job: _Job) -> str:
        """add_task, repeated only while no byte of it can have reached the gateway."""
        request = job.request
        assert request is not None

        def send() -> str:
            if request.image:
                return client.add_image_task(
                    request.image, request.image_name, request.image_mime, request.seed
                )
            return client.add_text_task((request.prompt or "").strip(), request.seed)

        try:
            return call_with_retry(
                send,
                policy=self._retry,
                cancel=job.cancel,
                deadline=job.deadline,
                may_retry=lambda error: error.unsent and error.retryable,
                attempts=self._retry.max_submit_attempts,
                on_retry=self._notify_retry(job),
            )
        except GatewayError as error:
            if error.unsent or error.status_code not in (None, 200):
                raise  # it never arrived, or the gateway answered (and refused): no charge
            raise GatewayError(
                f"{error.message.rstrip('.')}. The gateway may have received the request, "
                "so it was not sent again (that could charge you twice): if no result "
                "appears in your 404 account, generate again."
            ) from error

    @staticmethod
    def _check_cancel(job: _Job) -> None:
        if job.cancel.is_set():
            raise Cancelled

    def _poll(self, client: GatewayClient, job: _Job, task_id: str) -> int:
        """Poll until there is something to download; returns the result count."""
        settings = job.settings
        last: tuple[GatewayState, int] | None = None
        while True:
            status = call_with_retry(
                lambda: client.get_status(task_id),
                policy=self._retry,
                cancel=job.cancel,
                deadline=job.deadline,
                on_retry=self._notify_retry(job),
            )
            self._check_cancel(job)
            if status.state is GatewayState.FAILURE:
                raise GatewayError(
                    f"The gateway could not generate this: {status.reason}. Generate again; "
                    "if it fails again, try a simpler prompt or image, or later."
                )
            if status.state is GatewayState.SUCCESS:
                return max(status.results, last[1] if last else 0, 1)
            if (status.state, status.results) != last:
                last = (status.state, status.results)
                phase = _PHASE_OF_STATE[status.state]
                self._emit(job, phase, results=status.results, message=_progress_message(status))
            has_result = status.state is GatewayState.PARTIAL_RESULT and status.results > 0
            if has_result and settings.download_on_partial:
                return status.results
            remaining = job.deadline - time.monotonic()
            if remaining <= 0:
                if has_result:  # better a finished variant than nothing
                    return status.results
                raise self._deadline_error(job, status)
            if job.cancel.wait(min(settings.poll_interval_s, remaining)):
                raise Cancelled

    @staticmethod
    def _deadline_error(job: _Job, status: TaskStatus) -> TaskDeadlineError:
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

    def _download(self, client: GatewayClient, job: _Job, task_id: str, cache: ResultCache) -> Path:
        settings = job.settings
        return call_with_retry(
            lambda: download_result(
                client,
                task_id,
                settings.result_format,
                cache,
                max_bytes=settings.max_download_bytes,
                cancel=job.cancel,
            ),
            policy=self._retry,
            cancel=job.cancel,
            deadline=max(job.deadline, self._retry.clock() + DOWNLOAD_GRACE_S),
            on_retry=self._notify_retry(job),
        )

    def _read(self, path: Path) -> object:
        try:
            if self._parse_file is not None:
                return self._parse_file(path)
            assert self._parse is not None
            return self._parse(path.read_bytes())
        except Cancelled:
            raise
        except Exception as exc:
            raise GatewayError(f"The result could not be read: {exc}") from exc
