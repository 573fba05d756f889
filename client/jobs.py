# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

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
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import records, slots, steps
from .cache import ResultCache
from .endpoints import check_task_id, host_of, validate_base_url
from .errors import ENV_HINT, Cancelled, GatewayError, TaskOver, redact
from .folders import results_folder
from .gateway import GatewayClient, key_problem
from .journal import open_journal
from .models import (
    RESULT_FORMATS,
    TERMINAL_PHASES,
    GenerationRequest,
    JobEvent,
    JobSettings,
    Phase,
)
from .pool import ClientPool
from .retry import RetryPolicy, retry_message
from .steps import Job

log = logging.getLogger(__name__)

RESUME_GRACE_S = 60.0
"""A resumed task past its original deadline is polled this long before giving up."""
KEPT = "The task is kept and resumes when the add-on starts again."
"""Said when a submitted (paid) task fails on a passing fault: the journal keeps it
unfinished, so the next start picks it up."""


def default_client_factory(settings: JobSettings) -> GatewayClient:
    return GatewayClient(
        settings.base_url, settings.api_key, timeout=settings.timeout_s, http2=settings.http2
    )


class JobRunner:
    """Runs generation jobs in the background; results and progress arrive on ``events``.

    ``parse`` gets the result's bytes, ``parse_file`` (preferred when given) the path of
    the cached file and the download limit (a bound for what it unpacks); either runs
    on the worker thread. Jobs of one runner share one HTTP client per gateway and key.
    """

    def __init__(
        self,
        parse: Callable[[bytes], object] | None = None,
        client_factory: Callable[[JobSettings], GatewayClient] | None = None,
        *,
        parse_file: Callable[[Path, int], object] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if parse is None and parse_file is None:
            raise TypeError("JobRunner needs parse or parse_file")
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self._parse = parse
        self._parse_file = parse_file
        self._retry = retry or RetryPolicy()
        self._pool = ClientPool(client_factory or default_client_factory)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = slots.Slots()
        """Wakes jobs waiting for a free slot of the account when another job ends."""

    # -- main-thread API -------------------------------------------------------
    def submit(self, request: GenerationRequest, settings: JobSettings, *, label: str = "") -> str:
        """Start a job; returns its local id. Raises GatewayError at once, before any
        request, for a job that cannot be sent (prompt and image, neither, bad URL, a
        missing or malformed API key, unknown format)."""
        request = request.with_seed()  # drawn here: every result knows its seed
        request.validate()
        fmt = request.download_format(settings.result_format)  # GLB, a ZIP of variants...
        settings = dataclasses.replace(settings, result_format=fmt)
        self._check_settings(settings, needs_key=True)
        label = label or (request.prompt or "").strip() or request.image_name
        job = Job(
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

        A journalled task keeps its format (``settings`` gives the gateway, key,
        timeouts and folders) and its deadline counts from its submission, with at
        least RESUME_GRACE_S left. The key goes only to the gateway ``settings`` name:
        a task journalled for another gateway raises GatewayError (it waits, paused)
        unless its result is already in the cache. It becomes this process's: raises
        ``records.HeldElsewhere`` when another live Blender follows it.
        """
        task_id = check_task_id(task_id)
        entry = open_journal(settings.user_folder).get(task_id)
        submitted_at = time.time()
        if entry is not None:
            settings = dataclasses.replace(settings, result_format=entry.fmt)
            label = label or entry.label
            submitted_at = entry.submitted_at
        cache = ResultCache(results_folder(settings.user_folder), settings.cache_max_bytes)
        cached = cache.get(task_id, settings.result_format) is not None
        self._check_settings(settings, needs_key=not cached)
        if entry is not None and not cached:
            self._check_same_gateway(entry.base_url, settings.base_url)
        if entry is not None and not entry.imported:  # an imported one is nobody's to follow
            records.claim(settings.user_folder, task_id)
        left = submitted_at + settings.deadline_s - time.time()
        grace = min(RESUME_GRACE_S, settings.deadline_s)
        job = Job(
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

    @staticmethod
    def mark_imported(user_folder: str, task_id: str, object_name: str) -> None:
        """The main thread built the task's result into a scene: journal it (the journal
        is written by the client layer only, see records.py)."""
        records.record_imported(user_folder, task_id, object_name)

    @staticmethod
    def earlier_tasks(user_folder: str) -> records.EarlierTasks:
        """Tasks of earlier sessions: to import, and to resume (old ended ones pruned,
        those another live Blender follows left out)."""
        return records.earlier_tasks(user_folder)

    @staticmethod
    def release_tasks(user_folder: str) -> None:
        """Stop owning this process's journalled tasks (after ``shutdown``): another
        Blender on the same user folder may take them over from now on."""
        records.release(user_folder)

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

    @staticmethod
    def _check_same_gateway(journalled: str, configured: str) -> None:
        """A task is resumed only on the gateway the user has set: never send the key
        to a host read from the journal (a file anyone on the machine may edit)."""
        try:
            same = validate_base_url(journalled) == validate_base_url(configured)
        except GatewayError:
            same = False
        if not same:
            raise GatewayError(
                f"This task was sent to {host_of(journalled)}, not to the gateway set now "
                f"({host_of(configured)}): the API key goes only to the gateway set in "
                f"{ENV_HINT}. Set it to {journalled} to resume this task."
            )

    def _start(self, job: Job) -> str:
        job.thread = threading.Thread(
            target=self._work, args=(job,), name=f"gen404-job-{job.job_id[:8]}", daemon=True
        )
        with self._lock:
            self._jobs[job.job_id] = job
        job.thread.start()
        return job.job_id

    def _emit(
        self,
        job: Job,
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

    def _notify_retry(self, job: Job) -> Callable[[GatewayError, float], None]:
        def notify(error: GatewayError, pause: float) -> None:
            self._emit(
                job,
                job.phase,
                results=job.results,
                message=retry_message(error, pause),
                journal=False,
            )

        return notify

    def _progress(self, job: Job) -> steps.Emit:
        return lambda phase, results, message: self._emit(
            job, phase, results=results, message=message
        )

    @staticmethod
    def _journal_update(job: Job, **changes: object) -> None:
        records.record_change(job.settings.user_folder, job.task_id or "", **changes)

    @staticmethod
    def _journal_new(job: Job) -> None:
        assert job.task_id is not None
        records.record_submitted(
            job.task_id,
            job.settings,
            job.request,
            label=job.label,
            submitted_at=job.submitted_at,
            cancelled=job.user_cancelled,
        )

    def _work(self, job: Job) -> None:
        client: GatewayClient | None = None
        settings = job.settings
        try:
            cache = ResultCache(results_folder(settings.user_folder), settings.cache_max_bytes)
            if job.task_id is None:
                self._emit(job, Phase.SUBMITTING, message="Sending the request to the gateway")
                client = self._pool.acquire(settings)
                task_id = slots.submit_when_free(
                    client,
                    job,
                    self._retry,
                    self._notify_retry(job),
                    self._slots,
                    lambda phase, message: self._emit(job, phase, message=message),
                )
                with job.lock:  # cancel() reads task_id under the same lock
                    job.task_id = task_id
                    self._journal_new(job)
            else:
                self._emit(job, Phase.QUEUED, message="Resuming: asking the gateway")
            task_id = job.task_id
            steps.check_cancel(job)
            path = cache.get(task_id, settings.result_format)
            if path is None:
                client = client or self._pool.acquire(settings)
                results = steps.poll(
                    client, job, self._retry, self._notify_retry(job), self._progress(job)
                )
                self._emit(
                    job, Phase.DOWNLOADING, results=results, message="Downloading the result"
                )
                path = steps.download(client, job, self._retry, self._notify_retry(job), cache)
            steps.check_cancel(job)
            payload = self._read(path, settings.max_download_bytes)
            steps.check_cancel(job)
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
        except TaskOver as exc:  # the gateway said so: the task is over
            self._emit(job, Phase.FAILED, message=exc.message)
        except GatewayError as exc:
            self._end_kept(job, exc.message)
        except Exception as exc:  # a bug: still end the job visibly
            log.exception("gen404: job %s failed unexpectedly", job.job_id)
            self._end_kept(job, f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            if client is not None:
                self._pool.release(client)
            with self._lock:
                self._jobs.pop(job.job_id, None)
            self._slots.task_ended(freed=job.task_id is not None)

    def _end_kept(self, job: Job, message: str) -> None:
        """End the job FAILED; a submitted (paid) task stays unfinished in the journal,
        to resume: only the gateway's word (TaskOver) ends a task for good."""
        if not job.task_id:
            self._emit(job, Phase.FAILED, message=message)
            return
        message = redact(f"{message.rstrip('.')}. {KEPT}", job.settings.api_key)
        self._journal_update(job, message=message)  # before the event: tests and
        self._emit(job, Phase.FAILED, message=message, journal=False)  # UI see both

    def _read(self, path: Path, max_bytes: int) -> object:
        try:
            if self._parse_file is not None:
                return self._parse_file(path, max_bytes)
            assert self._parse is not None
            return self._parse(path.read_bytes())
        except Cancelled:
            raise
        except Exception as exc:
            raise TaskOver(f"The result could not be read: {exc}") from exc
