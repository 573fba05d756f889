"""This Blender session's generation tasks, kept on the main thread, and the pump.

Workers (client.jobs) put plain events on a queue; one ``bpy.app.timers`` callback
drains it, updates the task list, redraws the sidebar and builds finished
results into the scene. Scripts (``wait=True``) drive the same handler directly,
since no timer runs while a script blocks.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from . import preferences
from .client.endpoints import host_of
from .client.errors import GatewayError
from .client.jobs import JobRunner
from .client.journal import JournalEntry
from .client.models import GenerationRequest, JobEvent, JobSettings, Phase
from .scene import builder
from .splats.cloud import SplatCloud
from .splats.reader import read_splat_file

log = logging.getLogger(__name__)

IMPORTING = "importing"
DONE = "done"
READY_TO_IMPORT = "ready_to_import"
"""From the journal: downloaded in an earlier session, not yet in a scene."""
PAUSED = "paused"
"""From the journal: unfinished, but it cannot resume now (offline, no key)."""
_ENDED = {DONE, Phase.FAILED.value, Phase.CANCELLED.value, READY_TO_IMPORT, PAUSED}
_WORKER_RESULTS = 3
"""Up to three gateway workers run each task."""

_PHASE_WORDS = {
    Phase.SUBMITTING.value: "Submitting",
    Phase.QUEUED.value: "Queued",
    Phase.IN_PROGRESS.value: "In progress",
    Phase.DOWNLOADING.value: "Downloading",
    Phase.READY.value: "Importing",
    IMPORTING: "Importing",
    DONE: "Done",
    READY_TO_IMPORT: "Ready to import",
    Phase.CANCELLED.value: "Cancelled",
}


@dataclass
class TaskEntry:
    """One row of the task list. Plain values only: no Blender ID references."""

    job_id: str
    label: str
    kind: str  # "prompt" or "image"
    host: str
    started: float = field(default_factory=time.monotonic)
    phase: str = Phase.SUBMITTING.value
    task_id: str = ""
    results: int = 0
    message: str = ""
    ended: float | None = None
    object_name: str = ""
    up_axis: str = "Y"

    @property
    def finished(self) -> bool:
        return self.phase in _ENDED

    def status_text(self) -> str:
        if self.phase == Phase.PARTIAL.value:
            return f"{self.results} of {_WORKER_RESULTS} results"
        if self.phase == Phase.FAILED.value:
            return f"Failed: {self.message}"
        if self.phase == PAUSED:
            return f"Paused: {self.message}"
        return _PHASE_WORDS.get(self.phase, self.phase)

    def elapsed(self, now: float | None = None) -> float:
        end = self.ended if self.ended is not None else (now or time.monotonic())
        return max(0.0, end - self.started)


def parse_result(path: Path) -> SplatCloud:
    """Worker-side: a downloaded result, read and decoded for the scene."""
    return read_splat_file(path)


def _redraw() -> None:
    wm = bpy.context.window_manager
    for window in wm.windows if wm else ():
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


class Session:
    """The task list and its runner; one per loaded add-on."""

    TICK_ACTIVE = 0.1
    TICK_IDLE_REDRAW = 1.0

    def __init__(self) -> None:
        self.runner = JobRunner(parse_file=parse_result)
        self.entries: dict[str, TaskEntry] = {}
        self._last_redraw = 0.0
        # One bound method for the timer: each attribute access makes a new one, and
        # bpy.app.timers recognises a registered callback by identity.
        self.timer = self.pump
        self.longest_tick_s = 0.0
        """The longest pump tick that imported nothing (a responsiveness figure)."""
        self.started = False
        self.journal_problem = ""

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
            self._add_from_journal(entry, READY_TO_IMPORT, "downloaded earlier")
        for entry in journal.unfinished:
            self.resume(self._add_from_journal(entry, PAUSED, "").job_id)
        _redraw()

    def _add_from_journal(self, entry: JournalEntry, phase: str, message: str) -> TaskEntry:
        ago = max(0.0, time.time() - entry.submitted_at)
        row = TaskEntry(
            job_id=entry.task_id,  # re-keyed to a job id once it runs
            label=entry.label or entry.prompt or entry.image_name or entry.task_id,
            kind=entry.kind,
            host=host_of(entry.base_url),
            started=time.monotonic() - ago,
            phase=phase,
            task_id=entry.task_id,
            results=entry.results,
            message=message,
            ended=time.monotonic() if phase == READY_TO_IMPORT else None,
        )
        self.entries[row.job_id] = row
        return row

    def resume(self, key: str) -> TaskEntry:
        """Run a journalled or finished task again (poll, or read it from the cache) and
        import it: a finished one imports again from the cache without the network.

        Never submits it again. When it cannot run now (offline, no key), it stays
        in the list as paused, and in the journal."""
        row = self.entries[key]
        downloaded = row.phase in (READY_TO_IMPORT, DONE)  # in the cache: no network
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
            row.phase, row.message, row.ended = PAUSED, str(exc), time.monotonic()
            return row
        del self.entries[key]
        row.job_id, row.phase, row.message, row.ended = job_id, Phase.QUEUED.value, "", None
        self.entries[job_id] = row
        self.ensure_timer()
        return row

    # -- main-thread API -------------------------------------------------------
    def submit(
        self, request: GenerationRequest, settings: JobSettings, label: str, kind: str, host: str
    ) -> TaskEntry:
        self.start()
        job_id = self.runner.submit(request, settings, label=label)
        entry = TaskEntry(job_id=job_id, label=label, kind=kind, host=host)
        self.entries[job_id] = entry
        self.ensure_timer()
        _redraw()
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
        keep = (READY_TO_IMPORT, PAUSED)
        self.entries = {k: e for k, e in self.entries.items() if not e.finished or e.phase in keep}
        _redraw()

    def waiting(self) -> list[TaskEntry]:
        """Journalled tasks that wait for the user: ready to import, or paused."""
        return [e for e in self.entries.values() if e.phase in (READY_TO_IMPORT, PAUSED)]

    def active(self) -> list[TaskEntry]:
        return [e for e in self.entries.values() if not e.finished]

    def wait(self, job_id: str, timeout: float) -> TaskEntry:
        """Block until the task has ended (scripts, background mode); drives the pump."""
        entry = self.entries[job_id]
        if not self._drive(lambda: entry.finished, timeout):
            self.runner.cancel(job_id)
            self.drain()
            entry.phase, entry.message = Phase.FAILED.value, "Timed out waiting"
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
            entry.phase, entry.message = Phase.FAILED.value, f"{type(exc).__name__}: {exc}"
        if entry.finished and entry.ended is None:
            entry.ended = time.monotonic()
        _redraw()

    def _apply(self, entry: TaskEntry, event: JobEvent) -> None:
        if event.task_id:
            entry.task_id = event.task_id
        entry.results = max(entry.results, event.results)
        entry.message = event.message
        if event.phase is not Phase.READY:
            entry.phase = event.phase.value
            return
        entry.phase = IMPORTING
        cloud = event.payload
        if not isinstance(cloud, SplatCloud):
            raise TypeError("the worker delivered no splat data")
        scene, view_layer = bpy.context.scene, bpy.context.view_layer
        assert scene is not None and view_layer is not None
        properties = {
            "task_id": entry.task_id,
            "gateway": entry.host,
            entry.kind: entry.label,
        }
        obj = builder.build_object(
            scene, view_layer, cloud, entry.label, up_axis="Y", properties=properties
        )  # 404's results are +Y up
        entry.object_name = obj.name
        entry.phase = DONE
        self.runner.mark_imported(preferences.user_folder(), entry.task_id, obj.name)
        entry.message = f"{cloud.count} splats"
        with contextlib.suppress(RuntimeError):  # no undo stack in background mode
            bpy.ops.ed.undo_push(message=f"404 Gen: {entry.label}")

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
            now = time.monotonic()
            if self.active() and now - self._last_redraw >= self.TICK_IDLE_REDRAW:
                self._last_redraw = now
                _redraw()  # elapsed times tick on
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
        now = time.monotonic()
        for entry in self.active():
            entry.phase, entry.message, entry.ended = Phase.CANCELLED.value, "Cancelled", now


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
