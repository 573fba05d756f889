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

from .client.jobs import GenerationRequest, JobEvent, JobRunner, JobSettings, Phase
from .scene import builder
from .scene.prepare import DisplayArrays, prepare
from .splats.reader import read_splat_file

log = logging.getLogger(__name__)

IMPORTING = "importing"
DONE = "done"
_ENDED = {DONE, Phase.FAILED.value, Phase.CANCELLED.value}
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
        return _PHASE_WORDS.get(self.phase, self.phase)

    def elapsed(self, now: float | None = None) -> float:
        end = self.ended if self.ended is not None else (now or time.monotonic())
        return max(0.0, end - self.started)


def parse_result(path: Path) -> DisplayArrays:
    """Worker-side: a downloaded result -> arrays ready for the scene (404 is +Y up)."""
    return prepare(read_splat_file(path), "Y")


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

    # -- main-thread API -------------------------------------------------------
    def submit(
        self, request: GenerationRequest, settings: JobSettings, label: str, kind: str, host: str
    ) -> TaskEntry:
        job_id = self.runner.submit(request, settings)
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
        self.entries = {k: e for k, e in self.entries.items() if not e.finished}
        _redraw()

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
        arrays = event.payload
        if not isinstance(arrays, DisplayArrays):
            raise TypeError("the worker delivered no splat data")
        scene, view_layer = bpy.context.scene, bpy.context.view_layer
        assert scene is not None and view_layer is not None
        properties = {
            "task_id": entry.task_id,
            "gateway": entry.host,
            entry.kind: entry.label,
        }
        obj = builder.build_object(scene, view_layer, arrays, entry.label, properties=properties)
        entry.object_name = obj.name
        entry.phase = DONE
        entry.message = f"{arrays.cloud.count} splats"
        with contextlib.suppress(RuntimeError):  # no undo stack in background mode
            bpy.ops.ed.undo_push(message=f"404 Gen: {entry.label}")

    # -- timer -----------------------------------------------------------------
    def ensure_timer(self) -> None:
        if not bpy.app.timers.is_registered(self.timer):
            bpy.app.timers.register(self.timer, first_interval=self.TICK_ACTIVE)

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
