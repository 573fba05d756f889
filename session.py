# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""This Blender session's generation tasks, kept on the main thread, and the pump.

Workers (client.jobs) put plain events on a queue; one ``bpy.app.timers`` callback
drains it, updates the task list, redraws the sidebar and builds finished
results into the scene. Scripts (``wait=True``) drive the same handler directly,
since no timer runs while a script blocks. The rows themselves, their states and
wording need no bpy: they are ``client.task_rows``'s.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
import uuid
from collections.abc import Callable
from typing import Any

import bpy

from . import preferences, result_import, status_bar
from .client.endpoints import host_of
from .client.errors import GatewayError
from .client.generation import RANDOM_SEED
from .client.jobs import JobRunner
from .client.journal import JournalEntry
from .client.models import GenerationRequest, JobEvent, JobSettings, Phase
from .client.records import HeldElsewhere
from .client.task_rows import (
    DOWNLOADED,
    WAITING,
    RowState,
    TaskEntry,
    params_from_json,
)
from .client.variants import read_result
from .redraw import redraw_3d_views

log = logging.getLogger(__name__)


class Session:
    """The task list and its runner; one per loaded add-on."""

    TICK_ACTIVE = 0.1
    TICK_IDLE_REDRAW = 1.0

    def __init__(self) -> None:
        self.runner = JobRunner(parse_file=read_result)  # also a task's ZIP of variants
        self.entries: dict[str, TaskEntry] = {}
        self._last_redraw = 0.0
        # One bound method for the timer: each attribute access makes a new one, and
        # bpy.app.timers recognises a registered callback by identity.
        self.timer = self.pump
        self.longest_tick_s = 0.0
        """The longest pump tick that imported nothing (a responsiveness figure)."""
        self.started = False
        self.journal_problem = ""
        self._unreported: list[str] = []
        """Job ids of tasks that ended and are still to be reported in the status bar."""
        self.reports: list[tuple[str, str]] = []
        """The latest status-bar reports (level, text), newest last."""

    # -- the journal: tasks of earlier sessions --------------------------------
    def start(self) -> None:
        """Pick up the journal once: resume unfinished tasks, list results not imported.

        Runs on the first timer tick after the add-on loads (never in register()),
        or when a script first needs it (wait_all, generate)."""
        if self.started:
            return
        self.started = True
        journal = self.runner.earlier_tasks(preferences.user_folder())
        self.journal_problem = journal.problem
        for entry in journal.ready:
            self.add_from_journal(entry, RowState.READY_TO_IMPORT, "downloaded earlier")
        for entry in journal.unfinished:
            row = self.add_from_journal(entry, RowState.PAUSED, "")
            if self._resume(row.job_id)[1]:  # another Blender took it first: its own
                del self.entries[row.job_id]
        redraw_3d_views()

    def add_from_journal(self, entry: JournalEntry, state: RowState, message: str) -> TaskEntry:
        ago = max(0.0, time.time() - entry.submitted_at)
        row = TaskEntry(
            job_id=f"journal-{uuid.uuid4().hex}",  # a row key, never a task id
            label=entry.label or entry.prompt or entry.image_name or entry.task_id,
            kind=entry.kind,
            host=host_of(entry.base_url),
            started=time.monotonic() - ago,
            state=state,
            task_id=entry.task_id,
            results=entry.results,
            message=message,
            ended=time.monotonic() if state is RowState.READY_TO_IMPORT else None,
            seed=None if entry.seed == RANDOM_SEED else entry.seed,
            model=entry.model,
            model_params=params_from_json(entry.model_params),
        )
        self.entries[row.job_id] = row
        return row

    def resume(self, key: str) -> TaskEntry:
        """Run a journalled or finished task again (poll, or read it from the cache) and
        import it: a finished one imports again from the cache without the network.

        Never submits it again. When it cannot run now (offline, no key, another
        running Blender follows it), it stays in the list as paused, and in the journal."""
        return self._resume(key)[0]

    def _resume(self, key: str) -> tuple[TaskEntry, bool]:
        """``resume``, and whether another running Blender follows the task."""
        row = self.entries[key]
        downloaded = row.state in DOWNLOADED  # in the cache: no network
        try:
            if not bpy.app.online_access and not downloaded:
                raise GatewayError(preferences.OFFLINE_MESSAGE)
            try:
                settings = preferences.job_settings()
            except GatewayError:
                if not downloaded:
                    raise
                settings = preferences.job_settings(require_key=False)
            job_id = self.runner.resume(row.task_id, settings, label=row.label)
        except GatewayError as exc:
            row.state, row.message, row.ended = RowState.PAUSED, str(exc), time.monotonic()
            return row, isinstance(exc, HeldElsewhere)
        del self.entries[key]
        row.job_id, row.state, row.message, row.ended = job_id, RowState.QUEUED, "", None
        self.entries[job_id] = row
        self.ensure_timer()
        return row, False

    # -- main-thread API -------------------------------------------------------
    def submit(
        self, request: GenerationRequest, settings: JobSettings, label: str, kind: str, host: str
    ) -> TaskEntry:
        self.start()
        request = request.with_seed()  # drawn here, so the row knows it (the runner keeps it)
        job_id = self.runner.submit(request, settings, label=label)
        entry = TaskEntry(
            job_id=job_id,
            label=label,
            kind=kind,
            host=host,
            seed=request.seed,
            model=request.model,
            model_params=request.model_params,
            request=request,
        )
        self.entries[job_id] = entry
        self.ensure_timer()
        redraw_3d_views()
        return entry

    def cancel(self, job_id: str) -> None:
        self.runner.cancel(job_id)
        self.drain()

    def cancel_all(self) -> int:
        running = [e.job_id for e in self.entries.values() if not e.finished]
        for job_id in running:
            self.runner.cancel(job_id)
        self.drain()
        return len(running)

    def clear_finished(self) -> None:
        """Drop ended rows; results still waiting to be imported stay listed."""
        self.entries = {
            k: e for k, e in self.entries.items() if not e.finished or e.state in WAITING
        }
        redraw_3d_views()

    def waiting(self) -> list[TaskEntry]:
        """Journalled tasks that wait for the user: ready to import, or paused."""
        return [e for e in self.entries.values() if e.state in WAITING]

    def active(self) -> list[TaskEntry]:
        return [e for e in self.entries.values() if not e.finished]

    def wait(self, job_id: str, timeout: float) -> TaskEntry:
        """Block until the task has ended (scripts, background mode); drives the pump."""
        entry = self.entries[job_id]
        if not self._drive(lambda: entry.finished, timeout):
            self.runner.cancel(job_id)
            self.drain()
            entry.state, entry.message = RowState.FAILED, "Timed out waiting"
        with contextlib.suppress(ValueError):  # the waiting operator reports it itself
            self._unreported.remove(job_id)
        return entry

    def wait_all(self, timeout: float) -> bool:
        """Block until every task has ended; False if some were still running at ``timeout``."""
        self.start()
        return self._drive(lambda: not self.active(), timeout)

    def _drive(self, done: Callable[[], bool], timeout: float) -> bool:
        """Apply worker events as they arrive until ``done()``; False on timeout."""
        end = time.monotonic() + timeout
        while not done():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            try:
                event = self.runner.events.get(timeout=min(0.5, remaining))
            except queue.Empty:
                continue
            self.handle(event)
        return True

    def drain(self, max_imports: int | None = None) -> int:
        """Apply every queued event; stop after ``max_imports`` imports (None: no limit).

        Returns the number of imports done."""
        imports = 0
        while max_imports is None or imports < max_imports:
            try:
                event = self.runner.events.get_nowait()
            except queue.Empty:
                break
            if event.phase is Phase.READY:
                imports += 1
            self.handle(event)
        return imports

    def handle(self, event: JobEvent) -> None:
        """Apply one worker event. Never raises: a failure ends that task visibly."""
        entry = self.entries.get(event.job_id)
        if entry is None or entry.finished:
            return
        try:
            self._apply(entry, event)
        except Exception as exc:  # an import bug must not kill the pump
            log.exception("gen404: handling %s failed", event.phase)
            entry.state, entry.message = RowState.FAILED, f"{type(exc).__name__}: {exc}"
        if entry.finished and entry.ended is None:
            entry.ended = time.monotonic()
        if entry.finished:
            self._unreported.append(entry.job_id)
        redraw_3d_views()

    def report_ended(self) -> None:
        """Say in the status bar how each task that ended since the last call ended."""
        pending, self._unreported = self._unreported, []
        for job_id in pending:
            entry = self.entries.get(job_id)
            if entry is None:
                continue
            report = end_report(entry)
            self.reports = [*self.reports[-19:], report]
            show_report(*report)

    def _apply(self, entry: TaskEntry, event: JobEvent) -> None:
        entry.follow(event.phase, event.task_id, event.results, event.message)
        if entry.state is not RowState.IMPORTING:
            return
        try:
            placed = result_import.place(entry, event.payload)
        except result_import.ImportFailed as exc:  # the scene is as it was; the file stays
            entry.state, entry.message = RowState.FAILED, str(exc)
            return
        entry.object_name, entry.message = placed.name, placed.message
        entry.state = RowState.DONE
        self.runner.mark_imported(preferences.user_folder(), entry.task_id, placed.name)
        with contextlib.suppress(RuntimeError):  # no undo stack in background mode
            bpy.ops.ed.undo_push(message=f"404 Gen: {entry.label}")

    def generate_again(self, key: str, settings: JobSettings) -> TaskEntry:
        """Send a finished task's request once more: prompt or image, model, parameters
        and seed as they were (a new, paid task). Raises GatewayError when not possible."""
        row = self.entries.get(key)
        if row is None or row.request is None:
            raise GatewayError(
                "Only a task generated in this session can be generated again "
                "(its prompt or image is kept in memory only): generate it from the sidebar."
            )
        return self.submit(row.request, settings, row.label, row.kind, host_of(settings.base_url))

    # -- timer -----------------------------------------------------------------
    def ensure_timer(self) -> None:
        if not bpy.app.timers.is_registered(self.timer):
            # persistent: keep running when another .blend is loaded
            bpy.app.timers.register(self.timer, first_interval=self.TICK_ACTIVE, persistent=True)

    def pump(self) -> float | None:
        """The timer callback: short, never blocking, never raising."""
        started = time.perf_counter()
        imported = False
        try:
            imported = self.drain(max_imports=1) > 0
            self.report_ended()
            status_bar.show(status_bar.status_line(self.active()))
            now = time.monotonic()
            if self.active() and now - self._last_redraw >= self.TICK_IDLE_REDRAW:
                self._last_redraw = now
                redraw_3d_views()  # elapsed times tick on
        except Exception:
            log.exception("gen404: pump failed")
        if not imported:
            self.longest_tick_s = max(self.longest_tick_s, time.perf_counter() - started)
        if self.active() or not self.runner.events.empty():
            return self.TICK_ACTIVE
        return None

    def shutdown(self) -> None:
        """Stop the timer and every worker; unfinished tasks end as cancelled."""
        if bpy.app.timers.is_registered(self.timer):
            bpy.app.timers.unregister(self.timer)
        self.runner.shutdown(timeout=2.0)
        with contextlib.suppress(Exception):  # never in the way of Blender quitting
            self.runner.release_tasks(preferences.user_folder())
        now = time.monotonic()
        for entry in self.active():
            entry.state, entry.message, entry.ended = RowState.CANCELLED, "Cancelled", now
        status_bar.show(None)


def end_report(entry: TaskEntry) -> tuple[str, str]:
    """The status-bar report of a task that ended: (level, text)."""
    if entry.state is RowState.DONE:
        return "INFO", f"404 Gen: '{entry.object_name or entry.label}' is in the scene"
    if entry.state is RowState.FAILED:
        return "ERROR", f"404 Gen: '{entry.label}' failed: {entry.message}"
    return "INFO", f"404 Gen: '{entry.label}': {entry.status_text()}"


def show_report(level: str, text: str) -> None:
    """Show a report in the status bar (through ``gen404.report``); never raises."""
    wm: Any = bpy.context.window_manager
    window = wm.windows[0] if wm is not None and len(wm.windows) else None
    ops: Any = bpy.ops  # our own operators: not in the type stubs
    try:
        if window is not None and not bpy.app.background:
            with bpy.context.temp_override(window=window):
                ops.gen404.report("INVOKE_DEFAULT", level=level, message=text)
        else:
            ops.gen404.report("EXEC_DEFAULT", level=level, message=text)
    except (RuntimeError, AttributeError):
        pass  # an ERROR report raises once shown (or printed); unregistered: nothing to do


_session: Session | None = None


def first_tick() -> None:
    """Registered as a one-shot timer by register(): resume journalled tasks."""
    try:
        get_session().start()
    except Exception:
        log.exception("gen404: resuming earlier tasks failed")


def get_session() -> Session:
    global _session
    if _session is None:
        _session = Session()
    return _session


def shutdown() -> None:
    global _session
    if _session is not None:
        _session.shutdown()
        _session = None
